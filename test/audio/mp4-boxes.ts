/**
 * A small ISO BMFF (MP4/M4A) box builder for the mp4-info tests and fuzz target: just the boxes
 * src/audio/mp4-info.ts reads, with the fields around them laid out as real writers do.
 */
import { concatBytes } from '../../src/util/bytes.js';

/** A four-character type as bytes (`©` is the byte 0xA9, as in iTunes' ©nam). */
function typeBytes(type: string): Uint8Array {
  if (type.length !== 4) throw new Error(`box type ${type} is not 4 characters`);
  return Uint8Array.from(type, (c) => c.charCodeAt(0));
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

export function u64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v));
  return b;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A box with a 32-bit size. */
export function box(type: string, ...body: Uint8Array[]): Uint8Array {
  const content = concatBytes(...body);
  return concatBytes(u32(8 + content.length), typeBytes(type), content);
}

/** A box with size 1 and a 64-bit largesize after its type. */
export function largeBox(type: string, ...body: Uint8Array[]): Uint8Array {
  const content = concatBytes(...body);
  return concatBytes(u32(1), typeBytes(type), u64(16 + content.length), content);
}

/** A box with size 0: it runs to the end of the file (or of its parent). */
export function openBox(type: string, ...body: Uint8Array[]): Uint8Array {
  return concatBytes(u32(0), typeBytes(type), ...body);
}

/** A full box: version (1 byte) and flags (3 bytes) before the fields. */
export function fullBox(type: string, version: number, ...fields: Uint8Array[]): Uint8Array {
  return box(type, u32(version << 24), ...fields);
}

export function ftyp(brand = 'M4A '): Uint8Array {
  return box('ftyp', typeBytes(brand), u32(0x200), typeBytes('isom'), typeBytes('iso2'));
}

export function mdat(bytes: number, fill = 0x21): Uint8Array {
  return box('mdat', new Uint8Array(bytes).fill(fill));
}

/** mvhd: times, timescale and duration (32-bit in version 0, 64-bit times and duration in 1), then rate…next_track_ID. */
export function mvhd(version: 0 | 1, timescale: number, duration: number | bigint): Uint8Array {
  const times =
    version === 0
      ? [u32(0), u32(0), u32(timescale), u32(Number(duration))]
      : [u64(0), u64(0), u32(timescale), u64(duration)];
  return fullBox(
    'mvhd',
    version,
    ...times,
    u32(0x10000),
    Uint8Array.of(1, 0),
    new Uint8Array(10 + 36 + 24),
    u32(2),
  );
}

/** mdhd: as mvhd's first fields, then language and pre_defined. */
export function mdhd(version: 0 | 1, timescale: number, duration: number | bigint): Uint8Array {
  const times =
    version === 0
      ? [u32(0), u32(0), u32(timescale), u32(Number(duration))]
      : [u64(0), u64(0), u32(timescale), u64(duration)];
  return fullBox('mdhd', version, ...times, Uint8Array.of(0x55, 0xc4, 0, 0));
}

export function hdlr(handler: string): Uint8Array {
  return fullBox('hdlr', 0, u32(0), typeBytes(handler), new Uint8Array(12), Uint8Array.of(0));
}

/** A track: trak › mdia › (mdhd, hdlr), with a sample table stand-in. */
export function trak(handler: string, header: Uint8Array): Uint8Array {
  return box(
    'trak',
    box('tkhd', new Uint8Array(84)),
    box('mdia', header, hdlr(handler), box('minf', box('stbl', new Uint8Array(40)))),
  );
}

/** An ilst item (©nam, ©ART, aART…) with one `data` child of the given well-known type. */
export function item(type: string, value: string | Uint8Array, dataType = 1): Uint8Array {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  return box(type, box('data', u32(dataType), u32(0), bytes));
}

/** A QuickTime user-data text item (udta › ©nam in .mov files): length, language, text. */
export function qtText(type: string, value: string | Uint8Array, language = 0x55c4): Uint8Array {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  return box(
    type,
    Uint8Array.of(bytes.length >> 8, bytes.length & 0xff, language >> 8, language & 0xff),
    bytes,
  );
}

/** udta › meta (a full box when `fullHeader`, as Apple writes it) › hdlr, ilst. */
export function udta(items: Uint8Array[], fullHeader = true): Uint8Array {
  const meta = [hdlr('mdir'), box('ilst', ...items)];
  return box('udta', fullHeader ? fullBox('meta', 0, ...meta) : box('meta', ...meta));
}

/** mvex › (mehd with `fragmentDuration` if given), trex. */
export function mvex(fragmentDuration?: number): Uint8Array {
  return box(
    'mvex',
    ...(fragmentDuration === undefined ? [] : [fullBox('mehd', 0, u32(fragmentDuration))]),
    fullBox('trex', 0, new Uint8Array(20)),
  );
}

/** A usual moov: mvhd, one sound track, tags. */
export function moov(
  opts: { version?: 0 | 1; timescale?: number; duration?: number; title?: string; artist?: string } = {},
): Uint8Array {
  const { version = 0, timescale = 1000, duration = 3000, title = 'Song', artist = 'Band' } = opts;
  return box(
    'moov',
    mvhd(version, timescale, duration),
    trak('soun', mdhd(0, 44100, (duration * 44100) / timescale)),
    udta([item('\u00a9nam', title), item('\u00a9ART', artist)]),
  );
}
