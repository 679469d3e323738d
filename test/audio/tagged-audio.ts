/**
 * Tiny ID3v2, MPEG audio and FLAC writers for the probe tests and fuzz seeds, written from the
 * specs (id3.org 2.2/2.3/2.4, ISO 11172-3 headers, the Xing/VBRI layouts, the FLAC format)
 * independently of the readers: frame sizes are given by the caller, not computed.
 */
import { concatBytes } from '../player/containers.js';

export { concatBytes };

export type Id3Version = 2 | 3 | 4;
export type TextEncoding = 0 | 1 | 2 | 3;

function be(value: number, bytes: number): number[] {
  return Array.from({ length: bytes }, (_, i) => (value >>> (8 * (bytes - 1 - i))) & 0xff);
}

function syncsafe(value: number): number[] {
  return [(value >>> 21) & 0x7f, (value >>> 14) & 0x7f, (value >>> 7) & 0x7f, value & 0x7f];
}

/** A text frame's body: encoding byte, then `text` in it (1: UTF-16LE with BOM, 2: UTF-16BE). */
export function textBody(encoding: TextEncoding, text: string): Uint8Array {
  let body: number[];
  if (encoding === 0) body = [...text].map((c) => c.charCodeAt(0) & 0xff);
  else if (encoding === 3) body = [...new TextEncoder().encode(text)];
  else {
    const units = Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
    body =
      encoding === 1
        ? [0xff, 0xfe, ...units.flatMap((u) => [u & 0xff, u >>> 8])]
        : units.flatMap((u) => [u >>> 8, u & 0xff]);
  }
  return Uint8Array.from([encoding, ...body]);
}

/** One frame: v2.2 has a 3-byte id and size; v2.3 a 32-bit size; v2.4 a syncsafe one. */
export function id3Frame(version: Id3Version, id: string, body: Uint8Array, format = 0): Uint8Array {
  const idBytes = [...id].map((c) => c.charCodeAt(0));
  if (version === 2) return Uint8Array.from([...idBytes, ...be(body.length, 3), ...body]);
  const size = version === 3 ? be(body.length, 4) : syncsafe(body.length);
  return Uint8Array.from([...idBytes, ...size, 0, format, ...body]);
}

/** A whole tag: header (syncsafe size), an optional extended header, frames, padding, v2.4 footer. */
export function id3Tag(
  version: Id3Version,
  frames: readonly Uint8Array[],
  options: { flags?: number; extended?: Uint8Array; padding?: number; footer?: boolean } = {},
): Uint8Array {
  const body = concatBytes([...(options.extended ? [options.extended] : []), ...frames]);
  const size = body.length + (options.padding ?? 0);
  const flags = (options.flags ?? 0) | (options.extended ? 0x40 : 0) | (options.footer ? 0x10 : 0);
  const header = Uint8Array.from([0x49, 0x44, 0x33, version, 0, flags, ...syncsafe(size)]);
  const footer = options.footer
    ? [Uint8Array.from([0x33, 0x44, 0x49, version, 0, flags, ...syncsafe(size)])]
    : [];
  return concatBytes([header, body, new Uint8Array(options.padding ?? 0), ...footer]);
}

/** ID3v1: "TAG", title, artist (30 bytes each, NUL-padded), then album/year/comment/genre. */
export function id3v1(title: string, artist: string): Uint8Array {
  const out = new Uint8Array(128);
  out.set([0x54, 0x41, 0x47]);
  out.set(new TextEncoder().encode(title).subarray(0, 30), 3);
  out.set(new TextEncoder().encode(artist).subarray(0, 30), 33);
  out[127] = 255;
  return out;
}

/** Header fields by their spec bit values (version: 3 = MPEG 1, 2 = MPEG 2, 0 = MPEG 2.5; layer: 1 = III). */
export interface HeaderBits {
  version?: number;
  layer?: number;
  crc?: boolean;
  bitrateIndex?: number;
  rateIndex?: number;
  padding?: boolean;
  mono?: boolean;
}

export function mpegHeader(bits: HeaderBits = {}): Uint8Array {
  const version = bits.version ?? 3;
  const layer = bits.layer ?? 1;
  return Uint8Array.from([
    0xff,
    0xe0 | (version << 3) | (layer << 1) | (bits.crc ? 0 : 1),
    ((bits.bitrateIndex ?? 9) << 4) | ((bits.rateIndex ?? 0) << 2) | (bits.padding ? 2 : 0),
    bits.mono ? 0xc0 : 0x00,
  ]);
}

/** One frame of `bytes` bytes (the caller knows its size from the spec), body filled with `fill`. */
export function mpegFrame(bytes: number, bits: HeaderBits = {}, fill = 0x55): Uint8Array {
  const frame = new Uint8Array(bytes).fill(fill);
  frame.set(mpegHeader(bits));
  return frame;
}

/** MPEG 1 layer III, 128 kbps, 44.1 kHz, stereo, no padding: 417 bytes, 1152 samples. */
export const MP3_128K_FRAME = 417;

/**
 * A first frame carrying a Xing (or Info) header after the side information (`sideBytes`: 32 for
 * MPEG 1 stereo, 17 MPEG 1 mono or MPEG 2 stereo, 9 MPEG 2 mono): flags, frames, bytes.
 */
export function xingFrame(
  bytes: number,
  bits: HeaderBits,
  sideBytes: number,
  frames: number | undefined,
  magic: 'Xing' | 'Info' = 'Xing',
): Uint8Array {
  const frame = mpegFrame(bytes, bits, 0);
  const at = 4 + (bits.crc ? 2 : 0) + sideBytes;
  frame.set(
    [...magic].map((c) => c.charCodeAt(0)),
    at,
  );
  frame.set(be(frames === undefined ? 0 : 1, 4), at + 4);
  if (frames !== undefined) frame.set(be(frames, 4), at + 8);
  return frame;
}

/** A first frame carrying a VBRI header (Fraunhofer), 32 bytes after the 4-byte header. */
export function vbriFrame(bytes: number, bits: HeaderBits, frames: number): Uint8Array {
  const frame = mpegFrame(bytes, bits, 0);
  frame.set([0x56, 0x42, 0x52, 0x49, 0, 1, 0x04, 0x60, 0, 75, ...be(123_456, 4), ...be(frames, 4)], 36);
  return frame;
}

/** A FLAC metadata block header + body. */
export function flacBlock(type: number, body: Uint8Array, last = false): Uint8Array {
  return concatBytes([Uint8Array.from([(last ? 0x80 : 0) | type, ...be(body.length, 3)]), body]);
}

/** STREAMINFO (34 bytes): block sizes, frame sizes, then rate (20 bits), channels, bits, samples (36). */
export function streamInfo(sampleRate: number, totalSamples: number, channels = 2, bits = 16): Uint8Array {
  const out = new Uint8Array(34);
  out.set([0x10, 0x00, 0x10, 0x00]); // min/max block size 4096
  const hi = Math.floor(totalSamples / 2 ** 32);
  out[10] = sampleRate >>> 12;
  out[11] = (sampleRate >>> 4) & 0xff;
  out[12] = ((sampleRate & 0x0f) << 4) | ((channels - 1) << 1) | ((bits - 1) >>> 4);
  out[13] = (((bits - 1) & 0x0f) << 4) | (hi & 0x0f);
  out.set(be(totalSamples >>> 0, 4), 14);
  return out;
}

/** A Vorbis comment list (all lengths u32 little-endian), no framing bit (FLAC's). */
export function vorbisComment(vendor: string, comments: readonly string[]): Uint8Array {
  const le = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  const enc = new TextEncoder();
  const parts: number[] = [...le(enc.encode(vendor).length), ...enc.encode(vendor), ...le(comments.length)];
  for (const c of comments) parts.push(...le(enc.encode(c).length), ...enc.encode(c));
  return Uint8Array.from(parts);
}

/** `fLaC`, STREAMINFO, an optional VORBIS_COMMENT, then a PADDING block marked last, then `audio`. */
export function flacFile(
  sampleRate: number,
  totalSamples: number,
  comments?: readonly string[],
  audio: Uint8Array = new Uint8Array(64).fill(0xaa),
): Uint8Array {
  return concatBytes([
    Uint8Array.from([0x66, 0x4c, 0x61, 0x43]),
    flacBlock(0, streamInfo(sampleRate, totalSamples)),
    ...(comments === undefined ? [] : [flacBlock(4, vorbisComment('reference libFLAC 1.4.3', comments))]),
    flacBlock(1, new Uint8Array(16), true),
    audio,
  ]);
}
