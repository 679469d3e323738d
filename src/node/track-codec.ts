/**
 * Encoded tracks: lavaplayer's message format (base64), the `encoded` string of the Lavalink v4
 * protocol. Reads versions 1-3, writes version 3, so voxcord nodes and Lavalink nodes in one
 * cluster understand each other's tracks. Strings are Java `DataOutput.writeUTF` (modified UTF-8).
 * Pure: no I/O.
 */
import { VoxcordError } from '../errors.js';
import { checkArg, checkNumber, invalidArgument } from '../util/args.js';

/** Lavalink's TrackInfo (the decoded fields of an encoded track). */
export interface TrackInfo {
  identifier: string;
  isSeekable: boolean;
  author: string;
  /** ms; a live stream has Number(LIVE_STREAM_LENGTH) (test `isStream`, not the length). */
  length: number;
  isStream: boolean;
  position: number;
  title: string;
  uri: string | null;
  artworkUrl: string | null;
  isrc: string | null;
  sourceName: string;
}

export interface DecodedTrack {
  info: TrackInfo;
  version: number;
  /** `http`/`local`: the container probe name, optionally `|parameters`. */
  probeInfo?: string;
  /** Source details of other sources, kept as bytes so a re-encode is lossless. */
  sourceDetails?: Uint8Array;
}

/** A live stream's length: Java's Long.MAX_VALUE (JavaScript reads it as 9223372036854776000). */
export const LIVE_STREAM_LENGTH = 9223372036854775807n;
/** The header flag marking a message with a version byte. */
export const TRACK_FLAG_VERSIONED = 0x40000000;
export const TRACK_FORMAT_VERSION = 3;
/** Sources that write one UTF probe info as their details. */
const PROBE_SOURCES = new Set(['http', 'local']);
/** lavaplayer's built-in sources that write no details. */
const NO_DETAIL_SOURCES = new Set(['youtube', 'soundcloud', 'bandcamp', 'twitch', 'vimeo']);

function malformed(message: string, details?: Record<string, unknown>): VoxcordError {
  return new VoxcordError('INVALID_ARGUMENT', `malformed encoded track: ${message}`, {
    details: { reason: 'MALFORMED_TRACK', ...details },
  });
}

// ---- modified UTF-8 ----

/** Java's modified UTF-8: U+0000 as C0 80, supplementary characters as two 3-byte surrogates. */
export function encodeModifiedUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i); // UTF-16 code unit: surrogates are written one by one (CESU-8)
    if (c >= 0x01 && c <= 0x7f) out.push(c);
    else if (c <= 0x7ff) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

export function decodeModifiedUtf8(bytes: Uint8Array): string {
  const units: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const a = bytes[i] ?? 0;
    if (a < 0x80) {
      units.push(a);
      i += 1;
    } else if ((a & 0xe0) === 0xc0) {
      const b = bytes[i + 1];
      if (b === undefined || (b & 0xc0) !== 0x80) throw malformed('bad modified UTF-8 sequence', { at: i });
      units.push(((a & 0x1f) << 6) | (b & 0x3f));
      i += 2;
    } else if ((a & 0xf0) === 0xe0) {
      const b = bytes[i + 1];
      const c = bytes[i + 2];
      if (b === undefined || c === undefined || (b & 0xc0) !== 0x80 || (c & 0xc0) !== 0x80)
        throw malformed('bad modified UTF-8 sequence', { at: i });
      units.push(((a & 0x0f) << 12) | ((b & 0x3f) << 6) | (c & 0x3f));
      i += 3;
    } else {
      throw malformed('bad modified UTF-8 sequence', { at: i });
    }
  }
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

// ---- reader / writer ----

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
    private readonly end: number,
  ) {}
  private need(n: number): void {
    if (this.at + n > this.end) throw malformed('truncated message', { at: this.at, need: n });
  }
  get offset(): number {
    return this.at;
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++] ?? 0;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  i64(): bigint {
    this.need(8);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8).getBigInt64(0);
    this.at += 8;
    return v;
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  utf(): string {
    const n = this.u16();
    this.need(n);
    const s = decodeModifiedUtf8(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }
  nutf(): string | null {
    return this.bool() ? this.utf() : null;
  }
  rest(): Uint8Array {
    const r = this.bytes.subarray(this.at, this.end);
    this.at = this.end;
    return r;
  }
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }
  u8(v: number): void {
    this.push(Uint8Array.of(v & 0xff));
  }
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }
  i64(v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, v);
    this.push(b);
  }
  utf(s: string): void {
    const b = encodeModifiedUtf8(s);
    if (b.length > 0xffff)
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        'a track string is longer than 65535 bytes in modified UTF-8',
      );
    this.push(Uint8Array.of(b.length >> 8, b.length & 0xff));
    this.push(b);
  }
  nutf(s: string | null): void {
    this.bool(s !== null);
    if (s !== null) this.utf(s);
  }
  bytes(b: Uint8Array): void {
    this.push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** A Java long (ms) as a JSON number: Long.MAX_VALUE becomes 9223372036854775807 → JS number. */
function toMs(v: bigint): number {
  return Number(v);
}

function toLong(ms: number): bigint {
  if (ms >= Number(LIVE_STREAM_LENGTH)) return LIVE_STREAM_LENGTH;
  return BigInt(Math.trunc(ms));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

// ---- decode / encode ----

/** Decodes an `encoded` string (base64, standard or URL-safe alphabet). Throws INVALID_ARGUMENT. */
export function decodeTrack(encoded: string): DecodedTrack {
  if (typeof encoded !== 'string' || encoded.length === 0) throw malformed('empty');
  const normal = encoded.replace(/-/g, '+').replace(/_/g, '/');
  if (!BASE64.test(normal)) throw malformed('not base64');
  return decodeTrackBytes(Buffer.from(normal, 'base64'));
}

export function decodeTrackBytes(bytes: Uint8Array): DecodedTrack {
  if (bytes.length < 4) throw malformed('shorter than its header');
  const header = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  const flags = header >>> 30;
  const size = header & 0x3fffffff;
  if (4 + size > bytes.length)
    throw malformed('message size exceeds the data', { size, length: bytes.length });
  const r = new Reader(bytes, 4, 4 + size);
  const version = (flags & 1) !== 0 ? r.u8() : 1;
  if (version < 1 || version > TRACK_FORMAT_VERSION) throw malformed('unsupported version', { version });
  const title = r.utf();
  const author = r.utf();
  const length = r.i64();
  const identifier = r.utf();
  const isStream = r.bool();
  const uri = version >= 2 ? r.nutf() : null;
  const artworkUrl = version >= 3 ? r.nutf() : null;
  const isrc = version >= 3 ? r.nutf() : null;
  const sourceName = r.utf();
  let probeInfo: string | undefined;
  let sourceDetails: Uint8Array | undefined;
  let position: bigint;
  if (PROBE_SOURCES.has(sourceName)) {
    probeInfo = r.utf();
    position = r.i64();
  } else if (NO_DETAIL_SOURCES.has(sourceName)) {
    position = r.i64();
  } else {
    // An unknown (plugin) source: its details run up to the position in the last 8 bytes.
    const rest = r.rest();
    if (rest.length < 8) throw malformed('truncated message', { at: r.offset });
    sourceDetails = rest.slice(0, rest.length - 8);
    position = new DataView(rest.buffer, rest.byteOffset + rest.length - 8, 8).getBigInt64(0);
  }
  // Bytes left in the message are skipped (newer writers may append fields).
  const info: TrackInfo = {
    identifier,
    isSeekable: !isStream,
    author,
    length: toMs(length),
    isStream,
    position: toMs(position),
    title,
    uri,
    artworkUrl,
    isrc,
    sourceName,
  };
  return {
    info,
    version,
    ...(probeInfo === undefined ? {} : { probeInfo }),
    ...(sourceDetails === undefined ? {} : { sourceDetails }),
  };
}

export interface EncodeTrackInput {
  info: Omit<TrackInfo, 'isSeekable'> & { isSeekable?: boolean };
  probeInfo?: string;
  sourceDetails?: Uint8Array;
}

/** Encodes a track as lavaplayer's version 3 message, base64. */
export function encodeTrack(track: EncodeTrackInput): string {
  return Buffer.from(encodeTrackBytes(track)).toString('base64');
}

function checkEncodeInput(track: EncodeTrackInput): void {
  checkArg(track, 'track', 'object');
  const info: Partial<Record<keyof TrackInfo, unknown>> = track.info;
  checkArg(info, 'track.info', 'object');
  for (const key of ['title', 'author', 'identifier', 'sourceName'] as const)
    if (typeof info[key] !== 'string') throw invalidArgument(`track.info.${key}`, 'a string', info[key]);
  for (const key of ['uri', 'artworkUrl', 'isrc'] as const)
    if (info[key] !== null && typeof info[key] !== 'string')
      throw invalidArgument(`track.info.${key}`, 'a string or null', info[key]);
  checkNumber(info.length, 'track.info.length');
  checkNumber(info.position, 'track.info.position');
  checkArg(info.isStream, 'track.info.isStream', 'boolean');
  if (track.probeInfo !== undefined && typeof track.probeInfo !== 'string')
    throw invalidArgument('track.probeInfo', 'a string', track.probeInfo);
  checkArg(track.sourceDetails, 'track.sourceDetails', 'bytes', 'optional');
}

export function encodeTrackBytes(track: EncodeTrackInput): Uint8Array {
  checkEncodeInput(track);
  const { info } = track;
  const w = new Writer();
  w.u8(TRACK_FORMAT_VERSION);
  w.utf(info.title);
  w.utf(info.author);
  w.i64(toLong(info.length));
  w.utf(info.identifier);
  w.bool(info.isStream);
  w.nutf(info.uri);
  w.nutf(info.artworkUrl);
  w.nutf(info.isrc);
  w.utf(info.sourceName);
  if (PROBE_SOURCES.has(info.sourceName)) {
    if (track.probeInfo === undefined)
      throw new VoxcordError('INVALID_ARGUMENT', `a '${info.sourceName}' track needs its probe info`);
    w.utf(track.probeInfo);
  } else if (track.sourceDetails !== undefined) {
    w.bytes(track.sourceDetails);
  }
  w.i64(toLong(info.position));
  const body = w.concat();
  if (body.length > 0x3fffffff) throw new VoxcordError('INVALID_ARGUMENT', 'encoded track too large');
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, (TRACK_FLAG_VERSIONED | body.length) >>> 0);
  out.set(body, 4);
  return out;
}
