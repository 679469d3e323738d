/**
 * Reading an MP4/M4A file's (ISO BMFF, ISO/IEC 14496-12) length, title and artist: the boxes
 * `moov › mvhd` (or the first audio track's `mdhd`), `moov › mvex › mehd` for fragmented files,
 * the iTunes tags `moov › udta › meta › ilst` (else QuickTime's `moov › udta › ©nam`). One home
 * for the node's loadtracks and the player's fileInput (player/inputs/file-info.ts). Pure over
 * bytes: `mp4InfoFollowing` follows the moov a file keeps after its media data through the
 * caller's reader (a file handle, Range requests).
 */
import { readBe32 } from '../util/bytes.js';

/**
 * The most of a moov the caller should read (and `mp4InfoFollowing` reads): a moov is mostly sample
 * tables, about 1 % of the file; the boxes read here come before them or are small.
 */
export const MP4_MOOV_MAX_BYTES = 4 * 1024 * 1024;

export interface Mp4Info {
  durationMs?: number;
  title?: string;
  artist?: string;
  /**
   * 'complete': the input held the whole moov (nothing more to read). A range: the input held
   * no whole moov but showed where to read one, offsets from the input's first byte: a moov box
   * the input cuts (`size` capped at MP4_MOOV_MAX_BYTES), or the place after an mdat the input
   * ends in (`size` = the most to read there; the file may end sooner). Read those bytes once and
   * call `mp4Info` on them (input may start at any top-level box). Absent: no moov to be found.
   */
  moov?: 'complete' | { offset: number; size: number };
}

/** Four-character box types as big-endian words (`©` is the byte 0xA9). */
const fourcc = (s: string): number =>
  ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>> 0;
const BOX = {
  moov: fourcc('moov'),
  mvhd: fourcc('mvhd'),
  trak: fourcc('trak'),
  mdia: fourcc('mdia'),
  mdhd: fourcc('mdhd'),
  hdlr: fourcc('hdlr'),
  mvex: fourcc('mvex'),
  mehd: fourcc('mehd'),
  udta: fourcc('udta'),
  meta: fourcc('meta'),
  ilst: fourcc('ilst'),
  data: fourcc('data'),
  name: fourcc('\u00a9nam'),
  artist: fourcc('\u00a9ART'),
  albumArtist: fourcc('aART'),
} as const;
const SOUND_HANDLER = fourcc('soun');
/** iTunes `data` well-known type 1: UTF-8 text without a terminator. */
const DATA_TYPE_UTF8 = 1;

interface Box {
  type: number;
  /** The header's length (8, or 16 with a 64-bit largesize). */
  header: number;
  /** The whole box's length; undefined for size 0 ("to the end of the file"). */
  size: number | undefined;
}

/** The header at `pos` (unsigned sizes): 'cut' when `buf` ends inside it, 'bad' for an impossible size. */
function readBox(buf: Uint8Array, pos: number): Box | 'cut' | 'bad' {
  if (pos + 8 > buf.length) return 'cut';
  const size32 = readBe32(buf, pos) >>> 0;
  const type = readBe32(buf, pos + 4) >>> 0;
  if (size32 === 0) return { type, header: 8, size: undefined };
  if (size32 !== 1) return size32 < 8 ? 'bad' : { type, header: 8, size: size32 };
  if (pos + 16 > buf.length) return 'cut';
  const size = uint64(buf, pos + 8);
  return size < 16 || size > Number.MAX_SAFE_INTEGER ? 'bad' : { type, header: 16, size };
}

/** A big-endian 64-bit unsigned integer (exact up to 2^53). */
function uint64(buf: Uint8Array, pos: number): number {
  return (readBe32(buf, pos) >>> 0) * 0x1_0000_0000 + (readBe32(buf, pos + 4) >>> 0);
}

/** The boxes wholly inside `body` as (type, body) pairs; stops at the first cut or malformed one. */
function* children(body: Uint8Array): Generator<[number, Uint8Array]> {
  for (let pos = 0; pos < body.length;) {
    const box = readBox(body, pos);
    if (typeof box === 'string') return;
    // Inside a box, size 0 runs to the end of the parent.
    const end = pos + (box.size ?? body.length - pos);
    if (end > body.length) return;
    yield [box.type, body.subarray(pos + box.header, end)];
    pos = end;
  }
}

function child(body: Uint8Array, type: number): Uint8Array | undefined {
  for (const [t, b] of children(body)) if (t === type) return b;
  return undefined;
}

/** Top-level box types are four printable ASCII characters; anything else is not an MP4 box. */
function printableType(type: number): boolean {
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (type >>> shift) & 0xff;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * The top-level boxes an input may start with (a file's first box, or one after an mdat): a text
 * or ID3 file would otherwise pass for a box of printable type and a huge size.
 */
const FIRST_BOXES = new Set(
  [
    'ftyp',
    'styp',
    'moov',
    'mdat',
    'free',
    'skip',
    'wide',
    'pdin',
    'moof',
    'mfra',
    'meta',
    'uuid',
    'sidx',
    'udta',
  ].map(fourcc),
);

/**
 * The length an `mvhd` or `mdhd` body gives, ms (both: version/flags, then for version 0 32-bit
 * creation, modification, timescale, duration; version 1 the times and duration 64-bit).
 * Undefined when cut, zero, or all ones (unknown).
 */
function headerDurationMs(body: Uint8Array): number | undefined {
  const version = body[0];
  let timescale: number;
  let duration: number;
  if (version === 0 && body.length >= 20) {
    timescale = readBe32(body, 12) >>> 0;
    duration = readBe32(body, 16) >>> 0;
    if (duration === 0xffffffff) return undefined;
  } else if (version === 1 && body.length >= 32) {
    timescale = readBe32(body, 20) >>> 0;
    if (readBe32(body, 24) === -1 && readBe32(body, 28) === -1) return undefined;
    duration = uint64(body, 24);
  } else return undefined;
  return timescale === 0 || duration === 0 ? undefined : (duration * 1000) / timescale;
}

/** The fragment duration of an `mehd` body (movie timescale units); undefined when cut or zero. */
function fragmentDuration(body: Uint8Array): number | undefined {
  const version = body[0];
  const duration =
    version === 0 && body.length >= 8
      ? readBe32(body, 4) >>> 0
      : version === 1 && body.length >= 12
        ? uint64(body, 4)
        : 0;
  return duration === 0 ? undefined : duration;
}

/** The movie timescale of an `mvhd` body (units per second); 0 when cut. */
function movieTimescale(body: Uint8Array): number {
  if (body[0] === 0 && body.length >= 16) return readBe32(body, 12) >>> 0;
  if (body[0] === 1 && body.length >= 24) return readBe32(body, 20) >>> 0;
  return 0;
}

/** The first audio (`soun` handler) track's `mdhd` length, ms. */
function audioTrackDurationMs(moov: Uint8Array): number | undefined {
  for (const [type, trak] of children(moov)) {
    if (type !== BOX.trak) continue;
    const mdia = child(trak, BOX.mdia);
    if (mdia === undefined) continue;
    const hdlr = child(mdia, BOX.hdlr);
    // hdlr: version/flags, pre_defined, handler_type.
    if (hdlr === undefined || hdlr.length < 12 || readBe32(hdlr, 8) >>> 0 !== SOUND_HANDLER) continue;
    const mdhd = child(mdia, BOX.mdhd);
    return mdhd === undefined ? undefined : headerDurationMs(mdhd);
  }
  return undefined;
}

/**
 * A moov's length, ms. A fragmented file (an `mvex`) keeps only its first fragment's samples, if
 * any, in the moov, so mvhd and mdhd say too little: only `mehd` (the whole length) is taken.
 */
function moovDurationMs(moov: Uint8Array): number | undefined {
  const mvhd = child(moov, BOX.mvhd);
  const mvex = child(moov, BOX.mvex);
  if (mvex !== undefined) {
    const mehd = child(mvex, BOX.mehd);
    const duration = mehd === undefined ? undefined : fragmentDuration(mehd);
    const timescale = mvhd === undefined ? 0 : movieTimescale(mvhd);
    return duration === undefined || timescale === 0 ? undefined : (duration * 1000) / timescale;
  }
  return (mvhd === undefined ? undefined : headerDurationMs(mvhd)) ?? audioTrackDurationMs(moov);
}

/** An ilst item's text: its first `data` child of type 1 (UTF-8) past the 8-byte type/locale header. */
function itemText(item: Uint8Array): string | undefined {
  const data = child(item, BOX.data);
  if (data === undefined || data.length < 8 || readBe32(data, 0) !== DATA_TYPE_UTF8) return undefined;
  const text = new TextDecoder().decode(data.subarray(8)).replace(/\0+$/, '').trim();
  return text.length > 0 ? text : undefined;
}

/**
 * A QuickTime user-data text item's text (udta › ©nam directly, as .mov writers put it): a 16-bit
 * length, a 16-bit language, the text. Packed ISO 639 languages (>= 0x400) mean UTF-8; older Mac
 * language codes mean Mac Roman, taken only when it is plain ASCII.
 */
function quickTimeText(body: Uint8Array): string | undefined {
  if (body.length < 4) return undefined;
  const length = (body[0]! << 8) | body[1]!;
  const language = (body[2]! << 8) | body[3]!;
  if (4 + length > body.length) return undefined;
  const bytes = body.subarray(4, 4 + length);
  if (language < 0x400 && bytes.some((b) => b >= 0x80)) return undefined;
  const text = new TextDecoder().decode(bytes).replace(/\0+$/, '').trim();
  return text.length > 0 ? text : undefined;
}

/** Title and artist from `udta › meta › ilst` (©nam, ©ART, else aART), else udta's own ©nam and ©ART. */
function moovTags(moov: Uint8Array): { title?: string; artist?: string } {
  const udta = child(moov, BOX.udta);
  if (udta === undefined) return {};
  let title: string | undefined;
  let artist: string | undefined;
  let albumArtist: string | undefined;
  for (const [type, item] of children(ilstOf(udta))) {
    if (type === BOX.name) title ??= itemText(item);
    else if (type === BOX.artist) artist ??= itemText(item);
    else if (type === BOX.albumArtist) albumArtist ??= itemText(item);
  }
  artist ??= albumArtist;
  for (const [type, item] of children(udta)) {
    if (type === BOX.name) title ??= quickTimeText(item);
    else if (type === BOX.artist) artist ??= quickTimeText(item);
  }
  return { ...(title === undefined ? {} : { title }), ...(artist === undefined ? {} : { artist }) };
}

/** `udta › meta › ilst`'s body; empty when there is none. */
function ilstOf(udta: Uint8Array): Uint8Array {
  let meta = child(udta, BOX.meta);
  if (meta === undefined) return new Uint8Array(0);
  // Apple's meta is a full box (version/flags first); QuickTime-style writers omit those 4 bytes.
  // A child's size is never 0 there, so a zero first word is the version/flags.
  if (meta.length >= 4 && readBe32(meta, 0) === 0) meta = meta.subarray(4);
  return child(meta, BOX.ilst) ?? new Uint8Array(0);
}

function moovInfo(moov: Uint8Array): Mp4Info {
  const durationMs = moovDurationMs(moov);
  return { ...(durationMs === undefined ? {} : { durationMs }), ...moovTags(moov) };
}

/**
 * What `input` tells of an MP4/M4A file: a file's first bytes, or any later run of its top-level
 * boxes (such as the range `moov` points at). Walks the top-level boxes (ftyp, free, mdat, moof…)
 * to the moov; a moov the input cuts gives what its whole children tell, and where to read it.
 * Never throws; an input that is not MP4 gives `{}`.
 */
export function mp4Info(input: Uint8Array): Mp4Info {
  const lookAt = (offset: number): Mp4Info =>
    offset > Number.MAX_SAFE_INTEGER ? {} : { moov: { offset, size: MP4_MOOV_MAX_BYTES } };
  let pos = 0;
  while (pos < input.length) {
    const box = readBox(input, pos);
    if (box === 'cut') {
      // A header cut at the start is MP4 only if it shows a first box's type (a cut largesize).
      const shown = input.length >= 8 && FIRST_BOXES.has(readBe32(input, 4) >>> 0);
      return pos === 0 && !shown ? {} : lookAt(pos);
    }
    if (box === 'bad' || !printableType(box.type) || (pos === 0 && !FIRST_BOXES.has(box.type))) return {};
    const end = box.size === undefined ? undefined : pos + box.size;
    if (box.type === BOX.moov) {
      // Size 0 (to the end of the file) is taken to end with the input.
      const body = input.subarray(pos + box.header, Math.min(end ?? input.length, input.length));
      const info = moovInfo(body);
      if (end === undefined || end <= input.length) return { ...info, moov: 'complete' };
      return { ...info, moov: { offset: pos, size: Math.min(end - pos, MP4_MOOV_MAX_BYTES) } };
    }
    if (end === undefined) return {}; // the last box (an mdat to the end): no moov after it
    pos = end;
  }
  // The input ends at or inside a box that is not the moov (an mdat, a moof…): look after it.
  return pos === 0 ? {} : lookAt(pos);
}

/** How many reads past the head `mp4InfoFollowing` makes before giving up (mdat, moov; a few more for odd files). */
const MAX_FOLLOWS = 4;

/** Reads up to `length` bytes from `from` (fewer at the end; undefined when it cannot). */
export type ByteRangeReader = (from: number, length: number) => Promise<Uint8Array | undefined>;

/**
 * The info of an MP4/M4A of `size` bytes whose first bytes are `head`: then, for a moov after the
 * mdat or one longer than the head, the range the bytes point at (at most MP4_MOOV_MAX_BYTES each
 * time, MAX_FOLLOWS times) through `read` (a file, or Range requests). `moov` is 'complete' or
 * absent (a moov past the cap, or none: what was read is kept).
 */
export async function mp4InfoFollowing(
  head: Uint8Array,
  size: number,
  read: ByteRangeReader,
): Promise<Mp4Info> {
  let from = 0;
  let length = head.length;
  let info = mp4Info(head);
  for (let follows = 0; follows < MAX_FOLLOWS; follows++) {
    const moov = info.moov;
    if (moov === 'complete') return info;
    if (moov === undefined) break;
    const nextFrom = from + moov.offset;
    // Only onwards: a range that reads nothing new (a moov longer than the cap) ends the walk.
    if (nextFrom >= size || (moov.offset === 0 && moov.size <= length)) break;
    from = nextFrom;
    length = moov.size;
    const bytes = await read(from, Math.min(length, size - from));
    if (bytes === undefined) break;
    const next = mp4Info(bytes);
    // A whole moov is the answer; a cut one adds what it tells to what came before.
    info =
      next.moov === 'complete'
        ? next
        : {
            durationMs: next.durationMs ?? info.durationMs,
            title: next.title ?? info.title,
            artist: next.artist ?? info.artist,
            moov: next.moov,
          };
  }
  // Nothing more will be read: no range to hand on, and no keys for what is unknown.
  const { durationMs, title, artist } = info;
  return {
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { artist }),
  };
}
