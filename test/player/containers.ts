/**
 * Tiny Ogg and WebM writers for the demuxer tests, written from the specs (RFC 3533 / RFC 7845,
 * Matroska EBML) independently of the demuxers: the CRC here is computed bit by bit.
 */
import { concatBytes as joinBytes } from '../../src/util/bytes.js';

function crcBitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

/** util/bytes' concatBytes over an array of parts. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return joinBytes(...parts);
}

export function oggPage(options: {
  flags: number;
  serial: number;
  sequence: number;
  granule?: bigint;
  laces: number[];
  body: Uint8Array;
}): Uint8Array {
  const header = new Uint8Array(27 + options.laces.length);
  const view = new DataView(header.buffer);
  header.set([0x4f, 0x67, 0x67, 0x53], 0);
  header[4] = 0;
  header[5] = options.flags;
  view.setBigUint64(6, options.granule ?? 0n, true);
  view.setUint32(14, options.serial, true);
  view.setUint32(18, options.sequence, true);
  header[26] = options.laces.length;
  header.set(options.laces, 27);
  const page = concatBytes([header, options.body]);
  new DataView(page.buffer).setUint32(22, crcBitwise(page), true);
  return page;
}

export function opusHead(channels = 2, preSkip = 312): Uint8Array {
  const head = new Uint8Array(19);
  head.set(new TextEncoder().encode('OpusHead'), 0);
  const view = new DataView(head.buffer);
  head[8] = 1;
  head[9] = channels;
  view.setUint16(10, preSkip, true);
  view.setUint32(12, 48000, true);
  view.setInt16(16, 0, true);
  head[18] = 0;
  return head;
}

export function opusTags(): Uint8Array {
  const vendor = new TextEncoder().encode('voxcord-test');
  const out = new Uint8Array(8 + 4 + vendor.length + 4);
  out.set(new TextEncoder().encode('OpusTags'), 0);
  new DataView(out.buffer).setUint32(8, vendor.length, true);
  out.set(vendor, 12);
  return out;
}

/**
 * A logical Ogg stream: header packets on their own pages, then the packets in pages of at most
 * `maxSegments` lacing values (small values force packets to continue across pages).
 */
export function oggStreamPages(
  packets: readonly Uint8Array[],
  options: { serial?: number; maxSegments?: number; headers?: Uint8Array[]; eos?: boolean } = {},
): Uint8Array[] {
  const serial = options.serial ?? 0x1234;
  const maxSegments = options.maxSegments ?? 255;
  const pages: Uint8Array[] = [];
  let sequence = 0;
  const headers = options.headers ?? [opusHead(), opusTags()];
  headers.forEach((h, i) => {
    pages.push(
      oggPage({ flags: i === 0 ? 2 : 0, serial, sequence: sequence++, laces: lacesOf(h.length), body: h }),
    );
  });
  let laces: number[] = [];
  let body: Uint8Array[] = [];
  let continued = false;
  const flush = (eos: boolean, nextContinued: boolean): void => {
    pages.push(
      oggPage({
        flags: (continued ? 1 : 0) | (eos ? 4 : 0),
        serial,
        sequence: sequence++,
        laces,
        body: concatBytes(body),
      }),
    );
    laces = [];
    body = [];
    continued = nextContinued;
  };
  for (const p of packets) {
    const ls = lacesOf(p.length);
    let offset = 0;
    ls.forEach((lace, i) => {
      // A page filled in the middle of a packet: the next page continues it.
      if (laces.length === maxSegments) flush(false, i > 0);
      laces.push(lace);
      body.push(p.subarray(offset, offset + lace));
      offset += lace;
    });
  }
  if (laces.length > 0 || options.eos !== false) flush(options.eos !== false, false);
  return pages;
}

function lacesOf(length: number): number[] {
  const laces: number[] = [];
  let left = length;
  while (left >= 255) {
    laces.push(255);
    left -= 255;
  }
  laces.push(left);
  return laces;
}

// ---- EBML / WebM ----

function idBytes(id: number): Uint8Array {
  const bytes: number[] = [];
  let v = id;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Uint8Array.from(bytes);
}

export function ebmlSize(n: number): Uint8Array {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out = new Uint8Array(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        out[i] = v & 0xff;
        v = Math.floor(v / 256);
      }
      out[0] = out[0]! | (0x80 >> (len - 1));
      return out;
    }
  }
  throw new Error('too big');
}

export const UNKNOWN_SIZE = Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export function el(id: number, ...children: Uint8Array[]): Uint8Array {
  const body = concatBytes(children);
  return concatBytes([idBytes(id), ebmlSize(body.length), body]);
}

export function elUnknown(id: number, ...children: Uint8Array[]): Uint8Array {
  return concatBytes([idBytes(id), UNKNOWN_SIZE, ...children]);
}

export const uintBytes = (n: number): Uint8Array => Uint8Array.of(n);
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Title: 0x7ba9,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  Void: 0xec,
};

/** A SimpleBlock/Block body: track, timecode, flags (lacing), laced frames. */
export function blockBody(
  track: number,
  frames: Uint8Array[],
  lacing: 'none' | 'xiph' | 'fixed' | 'ebml' = 'none',
): Uint8Array {
  const lacingBits = { none: 0, xiph: 1, fixed: 2, ebml: 3 }[lacing];
  const head = concatBytes([ebmlSize(track), Uint8Array.of(0, 0, 0x80 | (lacingBits << 1))]);
  if (lacing === 'none') return concatBytes([head, frames[0]!]);
  const sizes: number[] = [];
  if (lacing === 'xiph') {
    for (const f of frames.slice(0, -1)) sizes.push(...lacesOf(f.length));
  } else if (lacing === 'ebml') {
    const parts: Uint8Array[] = [ebmlSize(frames[0]!.length)];
    for (let i = 1; i < frames.length - 1; i++) {
      const diff = frames[i]!.length - frames[i - 1]!.length;
      // 2-byte signed vint: bias 2^13 - 1
      const raw = diff + (2 ** 13 - 1);
      parts.push(Uint8Array.of(0x40 | (raw >> 8), raw & 0xff));
    }
    return concatBytes([head, Uint8Array.of(frames.length - 1), ...parts, ...frames]);
  }
  return concatBytes([head, Uint8Array.of(frames.length - 1), Uint8Array.from(sizes), ...frames]);
}

export function webmHeader(docType = 'webm'): Uint8Array {
  return el(ID.EBML, el(ID.DocType, text(docType)));
}

export function trackEntry(
  number: number,
  codec: string,
  type: number,
  codecPrivate?: Uint8Array,
): Uint8Array {
  return el(
    ID.TrackEntry,
    el(ID.TrackNumber, uintBytes(number)),
    el(ID.TrackType, uintBytes(type)),
    el(ID.CodecID, text(codec)),
    ...(codecPrivate ? [el(ID.CodecPrivate, codecPrivate)] : []),
  );
}
