/**
 * DAVE protocol frame layout (dave.md §9.1, §9.3): the interleaved media frame followed by the
 * supplemental data `tag(8) ‖ ULEB128 nonce ‖ ULEB128 (offset, size) pairs ‖ u8 S ‖ FA FA`.
 * Pure byte codec: no crypto, no state.
 */
import {
  DAVE_GENERATION_SHIFT_BITS,
  DAVE_MAGIC_MARKER,
  DAVE_MAX_SUPPLEMENTAL_BYTES,
  DAVE_SUPPLEMENTAL_FIXED_BYTES,
  DAVE_TAG_BYTES,
} from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { readUleb128, uleb128Size, writeUleb128, type Uleb128Read } from './uleb128.js';

const MARKER_HI = DAVE_MAGIC_MARKER >> 8;
const MARKER_LO = DAVE_MAGIC_MARKER & 0xff;

/** True for the Opus silence frame `F8 FF FE` (constants OPUS_SILENCE_FRAME, dave.md §9.6). */
export function isOpusSilence(frame: Uint8Array): boolean {
  return isOpusSilenceAt(frame, 0, frame.length);
}

/** isOpusSilence() of the frame `bytes[offset, offset + length)` (no view made for it). */
export function isOpusSilenceAt(bytes: Uint8Array, offset: number, length: number): boolean {
  return length === 3 && bytes[offset] === 0xf8 && bytes[offset + 1] === 0xff && bytes[offset + 2] === 0xfe;
}

/** Why a frame is not a usable protocol frame: no `FA FA` trailer at all, or a broken one. */
export type FrameParseFailure = 'not-protocol-frame' | 'malformed';

/** Parse result, reusable across frames (`createParsedFrame`) so the hot path does not allocate. */
export interface ParsedFrame {
  /** Bytes of the interleaved media frame: frame.length − S. */
  mediaLength: number;
  /** Offset of the 8-byte truncated tag. */
  tagOffset: number;
  /** Truncated nonce (u32). */
  nonce: number;
  /** Unencrypted ranges as flat [offset, size, offset, size, …]; empty for Opus. */
  ranges: number[];
}

export function createParsedFrame(): ParsedFrame {
  return { mediaLength: 0, tagOffset: 0, nonce: 0, ranges: [] };
}

const scratch: Uleb128Read = { value: 0, low32: 0, next: 0 };

/**
 * libdave `ParseFrame` (dave.md §9.3). Ranges are bounded by the media part (the whitepaper's
 * rule), slightly stricter than libdave's whole-frame bound: no conforming encryptor produces a
 * range reaching into its own trailer.
 */
export function parseProtocolFrame(frame: Uint8Array, out: ParsedFrame): 'ok' | FrameParseFailure {
  const len = frame.length;
  if (len < DAVE_SUPPLEMENTAL_FIXED_BYTES) return 'not-protocol-frame';
  if (frame[len - 1] !== MARKER_LO || frame[len - 2] !== MARKER_HI) return 'not-protocol-frame';
  const s = frame[len - 3]!;
  if (s < DAVE_SUPPLEMENTAL_FIXED_BYTES || s > len) return 'malformed';
  const mediaLength = len - s;
  const tagOffset = mediaLength;
  const end = len - 3;
  if (!readUleb128(frame, tagOffset + DAVE_TAG_BYTES, end, scratch)) return 'malformed';
  const nonce = scratch.low32;
  const ranges = out.ranges;
  ranges.length = 0;
  let pos = scratch.next;
  let previousEnd = 0;
  while (pos < end) {
    if (!readUleb128(frame, pos, end, scratch)) return 'malformed';
    const offset = scratch.value;
    if (!readUleb128(frame, scratch.next, end, scratch)) return 'malformed';
    const size = scratch.value;
    pos = scratch.next;
    // Ascending, non-overlapping, inside the media part.
    if (offset < previousEnd || offset + size > mediaLength) return 'malformed';
    previousEnd = offset + size;
    ranges.push(offset, size);
  }
  out.mediaLength = mediaLength;
  out.tagOffset = tagOffset;
  out.nonce = nonce;
  return 'ok';
}

/**
 * Full key generation from the 8-bit generation carried in a nonce, relative to a reference
 * generation that may exceed 255 (dave.md §9.4 `wrapGeneration`): the smallest generation ≥ the
 * reference's 256-block whose low byte is `generation8`, moving to the next block on wrap.
 */
export function wrapGeneration(reference: number, generation8: number): number {
  const low = reference % 256;
  const block = Math.floor(reference / 256) + (generation8 < low ? 1 : 0);
  return block * 256 + generation8;
}

/** The 8-bit generation carried in a truncated nonce. */
export function nonceGeneration(nonce: number): number {
  return nonce >>> DAVE_GENERATION_SHIFT_BITS;
}

function rangesSize(ranges: readonly number[]): number {
  let size = 0;
  for (const value of ranges) size += uleb128Size(value);
  return size;
}

/** Total protocol frame size for `mediaLength` media bytes. */
export function protocolFrameSize(
  mediaLength: number,
  nonce: number,
  ranges: readonly number[] = [],
): number {
  return mediaLength + DAVE_SUPPLEMENTAL_FIXED_BYTES + uleb128Size(nonce) + rangesSize(ranges);
}

/**
 * Writes `ULEB(nonce) ‖ ranges ‖ S ‖ FA FA` at `offset` (just after the 8-byte tag) and returns
 * the end offset. Opus frames call it with no ranges.
 */
export function writeTrailer(
  out: Uint8Array,
  offset: number,
  nonce: number,
  ranges: readonly number[] = [],
): number {
  const supplemental =
    DAVE_SUPPLEMENTAL_FIXED_BYTES + uleb128Size(nonce) + (ranges.length === 0 ? 0 : rangesSize(ranges));
  if (supplemental > DAVE_MAX_SUPPLEMENTAL_BYTES) {
    throw new VoxcordError('DAVE_ENCRYPT_FAILED', 'DAVE supplemental data exceeds 255 bytes');
  }
  let pos = writeUleb128(nonce >>> 0, out, offset);
  for (const value of ranges) pos = writeUleb128(value, out, pos);
  out[pos++] = supplemental;
  out[pos++] = MARKER_HI;
  out[pos++] = MARKER_LO;
  return pos;
}

/**
 * Assembles a protocol frame from an interleaved media frame (ciphertext already in place of the
 * encrypted ranges), the 8-byte tag, the nonce and the unencrypted ranges.
 */
export function buildProtocolFrame(
  media: Uint8Array,
  tag: Uint8Array,
  nonce: number,
  ranges: readonly number[] = [],
): Uint8Array {
  if (tag.length !== DAVE_TAG_BYTES) throw new VoxcordError('INVALID_ARGUMENT', 'DAVE tag must be 8 bytes');
  validateRanges(ranges, media.length);
  const out = new Uint8Array(protocolFrameSize(media.length, nonce, ranges));
  out.set(media, 0);
  out.set(tag, media.length);
  writeTrailer(out, media.length + DAVE_TAG_BYTES, nonce, ranges);
  return out;
}

function validateRanges(ranges: readonly number[], mediaLength: number): void {
  if (ranges.length % 2 !== 0)
    throw new VoxcordError('INVALID_ARGUMENT', 'ranges must be (offset, size) pairs');
  let previousEnd = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const offset = ranges[i]!;
    const size = ranges[i + 1]!;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < previousEnd || size < 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'ranges must be ascending and non-overlapping');
    }
    previousEnd = offset + size;
    if (previousEnd > mediaLength) throw new VoxcordError('INVALID_ARGUMENT', 'range beyond the media frame');
  }
}

/**
 * Splits an interleaved media frame into AAD (unencrypted ranges, concatenated) and the encrypted
 * bytes (everything else, concatenated). `mediaLength` bounds the media part of `frame`.
 */
export function splitRanges(
  frame: Uint8Array,
  mediaLength: number,
  ranges: readonly number[],
): { aad: Uint8Array; encrypted: Uint8Array } {
  let aadLength = 0;
  for (let i = 1; i < ranges.length; i += 2) aadLength += ranges[i]!;
  const aad = new Uint8Array(aadLength);
  const encrypted = new Uint8Array(mediaLength - aadLength);
  let a = 0;
  let e = 0;
  let pos = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const offset = ranges[i]!;
    const size = ranges[i + 1]!;
    encrypted.set(frame.subarray(pos, offset), e);
    e += offset - pos;
    aad.set(frame.subarray(offset, offset + size), a);
    a += size;
    pos = offset + size;
  }
  encrypted.set(frame.subarray(pos, mediaLength), e);
  return { aad, encrypted };
}

/** Inverse of `splitRanges`: puts the AAD back at the ranges and `encrypted` into the gaps. */
export function joinRanges(aad: Uint8Array, encrypted: Uint8Array, ranges: readonly number[]): Uint8Array {
  const out = new Uint8Array(aad.length + encrypted.length);
  let a = 0;
  let e = 0;
  let pos = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const offset = ranges[i]!;
    const size = ranges[i + 1]!;
    out.set(encrypted.subarray(e, e + offset - pos), pos);
    e += offset - pos;
    out.set(aad.subarray(a, a + size), offset);
    a += size;
    pos = offset + size;
  }
  out.set(encrypted.subarray(e), pos);
  return out;
}
