/**
 * ID3 tags, the title/artist carriers of MP3 files (and, in the wild, in front of FLAC): ID3v2
 * (2.2, 2.3, 2.4) at the start, ID3v1 in the last 128 bytes. Reads untrusted bytes: never throws,
 * reads only inside the array, returns what it could read.
 */
import { readBe32, startsWithAscii } from '../util/bytes.js';

/** What a tag says of a track. */
export interface Id3Tags {
  title?: string;
  artist?: string;
  isrc?: string;
}

const HEADER_BYTES = 10;
/** ID3v1's fixed size at the end of a file. */
export const ID3V1_BYTES = 128;
/** A tag value longer than this is cut (as ffprobe's tags are in media-info.ts). */
const MAX_VALUE_CHARS = 512;

function syncsafe(bytes: Uint8Array, at: number): number {
  // Each byte holds 7 bits; a set high bit (a writer's bug) is ignored rather than trusted.
  return (
    (bytes[at]! & 0x7f) * 0x200000 +
    ((bytes[at + 1]! & 0x7f) << 14) +
    ((bytes[at + 2]! & 0x7f) << 7) +
    (bytes[at + 3]! & 0x7f)
  );
}

function isId3v2(bytes: Uint8Array, at = 0): boolean {
  return (
    at + HEADER_BYTES <= bytes.length &&
    startsWithAscii(bytes, 'ID3', at) &&
    bytes[at + 3]! >= 2 &&
    bytes[at + 3]! <= 4
  );
}

/**
 * The bytes the ID3v2 tag at the start of `bytes` takes (header, body, the v2.4 footer), 0 when
 * there is none. It may be more than `bytes` holds: the audio starts there.
 */
export function id3v2TagSize(bytes: Uint8Array): number {
  if (!isId3v2(bytes)) return 0;
  const footer = bytes[3] === 4 && (bytes[5]! & 0x10) !== 0 ? HEADER_BYTES : 0;
  return HEADER_BYTES + syncsafe(bytes, 6) + footer;
}

/** Undoes unsynchronisation: every 0xFF 0x00 pair back to 0xFF. */
function resync(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    out[n++] = bytes[i]!;
    if (bytes[i] === 0xff && bytes[i + 1] === 0x00) i++;
  }
  return out.subarray(0, n);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** UTF-16 by its BOM (little-endian without one); an odd trailing byte is dropped. */
function utf16(bytes: Uint8Array, bigEndian: boolean): string {
  let from = 0;
  let be = bigEndian;
  if (bytes[0] === 0xfe && bytes[1] === 0xff) [from, be] = [2, true];
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) [from, be] = [2, false];
  const even = bytes.subarray(from, from + ((bytes.length - from) & ~1));
  // utf-16be needs full ICU in TextDecoder: swap to little-endian instead.
  const le = be ? even.slice() : even;
  if (be) for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return new TextDecoder('utf-16le').decode(le);
}

/**
 * A text frame's value (encoding byte, then text): 0 Latin-1, 1 UTF-16 with BOM, 2 UTF-16BE,
 * 3 UTF-8. v2.4's several values (NUL-separated) are joined with '/', v2.3's own separator.
 */
function textValue(data: Uint8Array): string | undefined {
  if (data.length < 1) return undefined;
  const body = data.subarray(1);
  let text: string;
  switch (data[0]) {
    case 0:
      text = latin1(body);
      break;
    case 1:
      text = utf16(body, false);
      break;
    case 2:
      text = utf16(body, true);
      break;
    case 3:
      text = new TextDecoder().decode(body);
      break;
    default:
      return undefined;
  }
  // Each UTF-16 value may carry its own BOM; a stray one is not part of the text.
  const values = text
    .split('\0')
    .map((v) => v.replace(/^\ufeff/, '').trim())
    .filter((v) => v !== '');
  return values.length === 0 ? undefined : values.join('/').slice(0, MAX_VALUE_CHARS);
}

const FRAME_KEYS: Readonly<Record<string, keyof Id3Tags>> = {
  TIT2: 'title',
  TT2: 'title',
  TPE1: 'artist',
  TP1: 'artist',
  TSRC: 'isrc',
  TRC: 'isrc',
};

/**
 * The title (TIT2/TT2), artist (TPE1/TP1) and ISRC (TSRC/TRC) of the ID3v2 tag at the start of
 * `bytes`; a tag cut short by the end of `bytes` gives the frames before the cut. Compressed or
 * encrypted frames are skipped.
 */
export function readId3v2(bytes: Uint8Array): Id3Tags {
  if (!isId3v2(bytes)) return {};
  const version = bytes[3]!;
  const flags = bytes[5]!;
  // v2.2's bit 6 is compression, with no defined scheme: nothing to read.
  if (version === 2 && (flags & 0x40) !== 0) return {};
  let body = bytes.subarray(HEADER_BYTES, Math.min(bytes.length, HEADER_BYTES + syncsafe(bytes, 6)));
  // Tag-wide unsynchronisation (v2.2/2.3); v2.4 marks it per frame.
  if (version < 4 && (flags & 0x80) !== 0) body = resync(body);
  let pos = 0;
  if (version >= 3 && (flags & 0x40) !== 0 && body.length >= 4) {
    // The extended header: v2.3's size excludes its own 4 bytes, v2.4's (syncsafe) includes them.
    pos = version === 3 ? 4 + (readBe32(body, 0) >>> 0) : syncsafe(body, 0);
  }
  const walk = readFrames(body, pos, version, flags, false);
  if (version !== 4 || !walk.broken) return walk.tags;
  // Some writers (old iTunes among them) put plain 32-bit frame sizes in v2.4 tags: when the
  // syncsafe walk lands on something that is not a frame, the plain one is tried.
  const plain = readFrames(body, pos, version, flags, true);
  return plain.broken ? walk.tags : plain.tags;
}

/**
 * The frames of a tag body from `pos`; `broken` when the walk met bytes that are neither a frame
 * nor padding (not when it ran past the bytes read).
 */
function readFrames(
  body: Uint8Array,
  from: number,
  version: number,
  flags: number,
  plainSizes: boolean,
): { tags: Id3Tags; broken: boolean } {
  const tags: Id3Tags = {};
  const idBytes = version === 2 ? 3 : 4;
  const frameHeader = version === 2 ? 6 : 10;
  for (let pos = from; pos + frameHeader <= body.length;) {
    // Padding is zeros to the end; a zero inside a frame's data means the sizes were misread.
    if (body[pos] === 0) return { tags, broken: body.subarray(pos).some((b) => b !== 0) };
    const id = latin1(body.subarray(pos, pos + idBytes));
    if (!/^[A-Z0-9]+$/.test(id)) return { tags, broken: true };
    let size: number;
    if (version === 2) size = (body[pos + 3]! << 16) | (body[pos + 4]! << 8) | body[pos + 5]!;
    else if (version === 3 || plainSizes) size = readBe32(body, pos + 4) >>> 0;
    else size = syncsafe(body, pos + 4);
    const format = version === 2 ? 0 : body[pos + 9]!;
    const start = pos + frameHeader;
    pos = start + size;
    const key = FRAME_KEYS[id];
    if (key === undefined || tags[key] !== undefined) continue;
    if (pos > body.length) break; // cut short by the end of the bytes read
    let data = body.subarray(start, pos);
    if (version === 3) {
      if ((format & 0xc0) !== 0) continue; // compressed or encrypted
      if ((format & 0x20) !== 0) data = data.subarray(1); // group id
    } else if (version === 4) {
      if ((format & 0x0c) !== 0) continue; // compressed or encrypted
      if ((format & 0x40) !== 0) data = data.subarray(1); // group id
      if ((format & 0x02) !== 0 || (flags & 0x80) !== 0) data = resync(data.subarray(format & 0x01 ? 4 : 0));
      else if ((format & 0x01) !== 0) data = data.subarray(4); // data length indicator
    }
    const value = textValue(data);
    if (value !== undefined) tags[key] = value;
  }
  return { tags, broken: false };
}

/** Title and artist of an ID3v1 tag in the last 128 bytes of `tail` (a file's end); {} when none. */
export function readId3v1(tail: Uint8Array): Id3Tags {
  if (!hasId3v1(tail)) return {};
  const tag = tail.subarray(tail.length - ID3V1_BYTES);
  const field = (from: number): string | undefined => {
    const raw = tag.subarray(from, from + 30);
    const end = raw.indexOf(0);
    const value = latin1(end < 0 ? raw : raw.subarray(0, end)).trim();
    return value === '' ? undefined : value;
  };
  const title = field(3);
  const artist = field(33);
  return { ...(title === undefined ? {} : { title }), ...(artist === undefined ? {} : { artist }) };
}

/** Whether the last 128 bytes of `tail` are an ID3v1 tag. */
export function hasId3v1(tail: Uint8Array): boolean {
  const at = tail.length - ID3V1_BYTES;
  return at >= 0 && tail[at] === 0x54 && tail[at + 1] === 0x41 && tail[at + 2] === 0x47;
}
