/**
 * Track resolution for `loadtracks` and PATCH `identifier`: the two offline sources, `http` (http(s)
 * URLs; icy:// is read as http://) and `local` (an existing readable file). Each probes the first
 * bytes for lavaplayer's container probe name and builds the track with an `encoded` string a
 * Lavalink node can read. No source claims anything else (search prefixes included): `empty`.
 * Ogg/WebM Opus, MP3, FLAC and MP4 are read here (tags, length; audio/ holds the byte layouts); every
 * other format (what ffmpeg plays), an MP3/FLAC whose length ours cannot find, and every MP4 are
 * asked of ffprobe when it is installed: what ours lacks, and whether ffmpeg can decode it at all.
 * Runs on the main thread with async I/O only; the audio clock lives in the media engine's worker.
 */
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { webmSegmentInfo } from '../audio/ebml.js';
import { flacInfo, isFlac } from '../audio/flac.js';
import { ID3V1_BYTES, id3v2TagSize, readId3v2 } from '../audio/id3.js';
import { mp3Info } from '../audio/mpeg-audio.js';
import { mp4Info, mp4InfoFollowing } from '../audio/mp4-info.js';
import type { Mp4Info } from '../audio/mp4-info.js';
import {
  OGG_TAIL_BYTES,
  oggOpusDurationMs,
  oggOpusFileDurationMs,
  oggOpusHead,
} from '../audio/ogg-duration.js';
import { opusTagFields } from '../audio/opus-headers.js';
import { wavDurationMs } from '../audio/wav.js';
import { toError } from '../errors.js';
import { defaultFfmpegPath } from '../player/inputs/ffmpeg.js';
import { sniffContainer } from '../player/inputs/file.js';
import { ffprobe, ffprobePathFor } from '../player/inputs/media-info.js';
import type { ProbedMedia } from '../player/inputs/media-info.js';
import { OggOpusDemuxer } from '../player/inputs/ogg-opus.js';
import { encodeTrack, LIVE_STREAM_LENGTH } from './track-codec.js';
import type { TrackInfo } from './track-codec.js';
import type { ApiException, ApiTrack, LoadResult, Severity } from './types.js';

export type SourceName = 'http' | 'local';

export interface SourceOptions {
  /** Enabled sources (default both). */
  sources?: readonly SourceName[];
  /** How long an http probe (and an ffprobe run) may take, ms (default 10 000). */
  httpTimeoutMs?: number;
  /**
   * ffprobe, for what the node does not read itself: formats other than Ogg/WebM Opus, MP3 and FLAC
   * (an MP4's and a WAV's length and an MP4's tags are read too), an MP3/FLAC whose length it cannot
   * find, and whether an MP4 or WAV has audio ffmpeg can decode. Default: next to the ffmpeg in use ($FFPROBE_PATH, else beside $FFMPEG_PATH, else
   * `ffprobe` on PATH); false: never run it. Missing, the other formats load with length 0 and an
   * unknown title.
   */
  ffprobePath?: string | false;
}

export const UNKNOWN_TITLE = 'Unknown title';
export const UNKNOWN_ARTIST = 'Unknown artist';
const HEAD_BYTES = 64 * 1024;
/**
 * An ID3v2 tag (album art: often hundreds of KiB) that leaves fewer bytes of the head than this
 * after it: the bytes after the tag are read too (a second read, or a Range request), so that
 * MP3's first frames and FLAC's STREAMINFO and VORBIS_COMMENT are seen.
 */
const MIN_AFTER_TAG_BYTES = 16 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * lavaplayer's container probe name for a file's first bytes; undefined when none matches. An ID3v2
 * tag is MP3's, unless `fLaC` follows it (in `head`, or in `afterTag`: the bytes after a tag that
 * outgrows `head`).
 */
export function probeName(head: Uint8Array, afterTag?: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => Buffer.from(head.subarray(from, to)).toString('latin1');
  const b0 = head[0] ?? -1;
  const b1 = head[1] ?? -1;
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (b0 === 0x1a && b1 === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'matroska/webm';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(4, 8) === 'ftyp') return 'mp4';
  if (ascii(0, 3) === 'ID3')
    return isFlac(afterTag ?? head, afterTag ? 0 : id3v2TagSize(head)) ? 'flac' : 'mp3';
  if (b0 === 0xff && (b1 & 0xf6) === 0xf0) return 'adts';
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return 'mp3';
  if (b0 === 0x47 && head[188] === 0x47) return 'mpegts-adts';
  return undefined;
}

/** Track info from tags: Ogg Opus's OpusTags or FLAC's VORBIS_COMMENT, ID3 for MP3. */
export interface FileTags {
  title?: string;
  author?: string;
  isrc?: string;
}

/**
 * The tags of an Ogg Opus stream from its first bytes (the OpusTags packet follows OpusHead,
 * RFC 7845 §5.2: "OpusTags", vendor length + vendor, count, then length + "KEY=value" each, all
 * lengths u32 little-endian; read by audio/opus-headers.ts). A malformed packet gives none.
 */
export function oggOpusTags(head: Uint8Array): FileTags {
  const demuxer = new OggOpusDemuxer();
  try {
    demuxer.push(head);
  } catch {
    return {};
  }
  const packet = demuxer.tags;
  return commentTags(packet === undefined ? new Map<string, string>() : opusTagFields(packet));
}

/** TITLE, ARTIST (else ALBUMARTIST, PERFORMER), ISRC of Vorbis comment fields. */
function commentTags(fields: Map<string, string>): FileTags {
  const author = fields.get('ARTIST') ?? fields.get('ALBUMARTIST') ?? fields.get('PERFORMER');
  const title = fields.get('TITLE');
  const isrc = fields.get('ISRC');
  return {
    ...(title === undefined ? {} : { title }),
    ...(author === undefined ? {} : { author }),
    ...(isrc === undefined ? {} : { isrc }),
  };
}

/** What the node reads of a file itself: tags, and the length (ms, 0 when they do not tell). */
interface OwnInfo {
  tags: FileTags;
  lengthMs: number;
}

/**
 * What a reader may have besides the head: the bytes after a long ID3v2 tag, the file's tail, and
 * an MP4's info read through its moov (which often comes after the media data, past the head).
 */
interface MoreBytes {
  audio?: Uint8Array;
  tail?: Uint8Array;
  mp4?: Mp4Info;
}

/** FileTags from a reader's title and artist (and ISRC). */
function fileTags(title: string | undefined, artist: string | undefined, isrc?: string): FileTags {
  return {
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { author: artist }),
    ...(isrc === undefined ? {} : { isrc }),
  };
}

/**
 * Tags and length from the file's bytes: OpusTags (the Ogg length needs the last page: see the
 * loaders), WebM's Title/Duration, WAV sizes, MP3's ID3 and frame headers, FLAC's metadata blocks,
 * MP4's moov (mvhd/mdhd, iTunes tags).
 * `size`: the file's (or Content-Length), undefined for a stream.
 */
function ownInfo(probe: string, head: Uint8Array, size: number | undefined, more: MoreBytes = {}): OwnInfo {
  switch (probe) {
    case 'ogg':
      return { tags: oggOpusTags(head), lengthMs: 0 };
    case 'matroska/webm': {
      const { title, durationMs } = webmSegmentInfo(head);
      return { tags: title === undefined ? {} : { title }, lengthMs: durationMs ?? 0 };
    }
    case 'wav':
      return { tags: {}, lengthMs: size === undefined ? 0 : (wavDurationMs(head, size) ?? 0) };
    case 'mp3': {
      const { durationMs, title, artist, isrc } = mp3Info(head, size, more);
      return { tags: fileTags(title, artist, isrc), lengthMs: durationMs ?? 0 };
    }
    case 'mp4': {
      const { durationMs, title, artist } = more.mp4 ?? mp4Info(head);
      return { tags: fileTags(title, artist), lengthMs: durationMs ?? 0 };
    }
    case 'flac': {
      const { durationMs, fields } = flacInfo(head, more.audio);
      // An ID3v2 tag in front (some taggers write one) names it when its own comments do not.
      const { title, artist } = readId3v2(head);
      const tags: FileTags = { ...fileTags(title, artist), ...commentTags(fields) };
      return { tags, lengthMs: durationMs ?? 0 };
    }
    default:
      return { tags: {}, lengthMs: 0 };
  }
}

export function exception(message: string, severity: Severity, cause?: unknown): ApiException {
  const err = cause === undefined ? undefined : toError(cause);
  const inner = err?.cause instanceof Error ? `: ${err.cause.message}` : '';
  return {
    message,
    severity,
    cause: err === undefined ? message : `${err.name}: ${err.message}${inner}`,
    causeStackTrace: err?.stack ?? '',
  };
}

/** The track a probe found: the node's own tags (else ffprobe's), the length rounded to ms, `uri` = identifier. */
function probedTrack(
  sourceName: SourceName,
  identifier: string,
  probe: string,
  tags: FileTags,
  length: number,
  isStream: boolean,
  probed: ProbedMedia = {},
): LoadResult {
  const info: TrackInfo = {
    identifier,
    author: tags.author ?? probed.artist ?? UNKNOWN_ARTIST,
    length: Math.round(length),
    isStream,
    title: tags.title ?? probed.title ?? UNKNOWN_TITLE,
    uri: identifier,
    artworkUrl: null,
    isrc: tags.isrc ?? null,
    sourceName,
    isSeekable: !isStream,
    position: 0,
  };
  const track: ApiTrack = {
    encoded: encodeTrack({ info, probeInfo: probe }),
    info,
    pluginInfo: {},
    userData: {},
  };
  return { loadType: 'track', data: track };
}

/**
 * What ffprobe says of a file or URL the node does not read itself: its metadata, or the `error`
 * result when ffmpeg could not play it. `probe` is the container the first bytes showed (undefined:
 * none lavaplayer knows). Without ffprobe (or when it times out) a known container loads with what
 * the node found; an unknown one is lavaplayer's `Unknown file format.`.
 */
async function viaFfprobe(
  target: string,
  probe: string | undefined,
  options: SourceOptions,
): Promise<{ info: ProbedMedia; probe: string } | { error: LoadResult }> {
  const path = options.ffprobePath ?? ffprobePathFor(defaultFfmpegPath());
  const outcome =
    path === false ? undefined : await ffprobe(target, path, options.httpTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  const unknown = {
    error: { loadType: 'error', data: exception('Unknown file format.', 'common') },
  } as const;
  if (outcome?.status === 'failed' || (outcome?.status === 'ok' && outcome.info.hasAudio === false)) {
    if (probe === undefined) return unknown;
    const why = outcome.status === 'failed' ? 'ffprobe cannot read it' : 'it has no audio stream';
    return {
      error: {
        loadType: 'error',
        data: exception('The file cannot be decoded.', 'suspicious', new Error(`${probe}: ${why}`)),
      },
    };
  }
  if (outcome?.status !== 'ok') return probe === undefined ? unknown : { info: {}, probe };
  // A format only ffmpeg knows: its ffprobe name stands as the probe info (a lavaplayer node cannot play it).
  return { info: outcome.info, probe: probe ?? outcome.info.formatName?.split(',')[0] ?? 'unknown' };
}

/**
 * The container: Ogg/WebM Opus from the first bytes, MP3 and FLAC when our readers found the audio
 * (a frame header, STREAMINFO) and its length, anything else through ffprobe (see viaFfprobe).
 * ffprobe is not asked to confirm an MP3/FLAC ours could read: a frame header or STREAMINFO is the
 * evidence ffmpeg's own probe goes by, and the run costs a process (and for a URL, a second
 * download) on every load; the track plays through ffmpeg either way. An MP4 still goes to ffprobe
 * when it is installed: its moov does not say whether ffmpeg can decode its audio, or that it has
 * any (a video-only file is an error, not a silent track); ours names and times it either way.
 */
async function identify(
  target: string,
  head: Uint8Array,
  probe: string | undefined,
  own: OwnInfo,
  options: SourceOptions,
): Promise<{ info: ProbedMedia; probe: string } | { error: LoadResult }> {
  if (probe !== undefined && sniffContainer(head) !== 'unknown') return { info: {}, probe };
  if ((probe === 'mp3' || probe === 'flac') && own.lengthMs > 0) return { info: {}, probe };
  return viaFfprobe(target, probe, options);
}

/** Where the audio starts when an ID3v2 tag leaves too little of `head` after it; undefined otherwise. */
function afterTagOffset(head: Uint8Array, size: number): number | undefined {
  const tagBytes = id3v2TagSize(head);
  // A head that holds the whole file has nothing more to give.
  return tagBytes > 0 && tagBytes + MIN_AFTER_TAG_BYTES > head.length && head.length < size && tagBytes < size
    ? tagBytes
    : undefined;
}

function isHttp(identifier: string): boolean {
  return /^(https?|icy):\/\//i.test(identifier);
}

async function loadHttp(identifier: string, options: SourceOptions): Promise<LoadResult> {
  const timeoutMs = options.httpTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const url = identifier.replace(/^icy:\/\//i, 'http://');
  let response: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetch(url, { signal, redirect: 'follow', headers: { 'Icy-MetaData': '0' } });
  } catch (err) {
    return { loadType: 'error', data: exception('Connecting to the URL failed.', 'suspicious', err) };
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return {
      loadType: 'error',
      data: exception('That URL is not playable.', 'common', new Error(`Status code ${response.status}`)),
    };
  }
  let head: Uint8Array;
  try {
    head = await readUpTo(response, HEAD_BYTES);
  } catch (err) {
    return { loadType: 'error', data: exception('Reading the URL failed.', 'suspicious', err) };
  }
  const sizeHeader = response.headers.get('content-length');
  const size = sizeHeader === null ? undefined : Number(sizeHeader);
  const isStream = size === undefined || !Number.isFinite(size);
  if (isStream) {
    // A live stream is not handed to ffprobe (it would read it until its timeout).
    const probe = probeName(head);
    if (probe === undefined) return { loadType: 'error', data: exception('Unknown file format.', 'common') };
    const { tags } = ownInfo(probe, head, undefined);
    return probedTrack('http', identifier, probe, tags, Number(LIVE_STREAM_LENGTH), true);
  }
  const tagEnd = afterTagOffset(head, size);
  const audio = tagEnd === undefined ? undefined : await httpRange(url, tagEnd, HEAD_BYTES, timeoutMs);
  const probe = probeName(head, audio);
  const more: MoreBytes = audio === undefined ? {} : { audio };
  if (probe === 'mp4')
    more.mp4 = await mp4InfoFollowing(head, size, (from, length) => httpRange(url, from, length, timeoutMs));
  const own = ownInfo(probe ?? '', head, size, more);
  const found = await identify(url, head, probe, own, options);
  if ('error' in found) return found.error;
  let length = own.lengthMs;
  if (found.probe === 'ogg') length = (await httpOggDurationMs(url, head, size, timeoutMs)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('http', identifier, found.probe, own.tags, length, false, found.info);
}

/** An Ogg Opus URL's length from its last page (a Range request for the tail). */
async function httpOggDurationMs(
  url: string,
  head: Uint8Array,
  size: number,
  timeoutMs: number,
): Promise<number | undefined> {
  if (oggOpusHead(head) === undefined) return undefined; // not Opus: no second request
  const tail = await httpRange(url, Math.max(0, size - OGG_TAIL_BYTES), OGG_TAIL_BYTES, timeoutMs);
  return tail === undefined ? undefined : oggOpusDurationMs(head, tail);
}

/** Up to `max` bytes of a URL from byte `from` (a Range request); undefined when the server will not. */
async function httpRange(
  url: string,
  from: number,
  max: number,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { Range: `bytes=${from}-` },
    });
    if (response.status !== 206) {
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    return await readUpTo(response, max);
  } catch {
    return undefined;
  }
}

async function readUpTo(response: Response, max: number): Promise<Uint8Array> {
  const body = response.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < max) {
      const { done, value } = (await reader.read()) as { done: boolean; value: Uint8Array };
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max);
}

async function loadLocal(identifier: string, options: SourceOptions): Promise<LoadResult | undefined> {
  const path = resolvePath(identifier);
  let info;
  try {
    info = await stat(path);
  } catch {
    return undefined; // not a file: no source claims it
  }
  if (!info.isFile()) return undefined;
  let head: Uint8Array;
  let probe: string | undefined;
  const more: MoreBytes = {};
  try {
    const handle = await open(path, 'r');
    try {
      head = await readAt(handle, 0, Math.min(HEAD_BYTES, info.size));
      const tagEnd = afterTagOffset(head, info.size);
      if (tagEnd !== undefined)
        more.audio = await readAt(handle, tagEnd, Math.min(HEAD_BYTES, info.size - tagEnd));
      probe = probeName(head, more.audio);
      // ID3v1 sits in the last 128 bytes (the head already holds them for a small file).
      if (probe === 'mp3')
        more.tail =
          info.size <= head.length
            ? head
            : await readAt(handle, info.size - ID3V1_BYTES, Math.min(ID3V1_BYTES, info.size));
      if (probe === 'mp4')
        more.mp4 = await mp4InfoFollowing(head, info.size, (from, length) => readAt(handle, from, length));
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { loadType: 'error', data: exception('The file cannot be read.', 'common', err) };
  }
  const own = ownInfo(probe ?? '', head, info.size, more);
  const found = await identify(path, head, probe, own, options);
  if ('error' in found) return found.error;
  let length = own.lengthMs;
  if (found.probe === 'ogg') length = (await oggOpusFileDurationMs(path)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('local', path, found.probe, own.tags, length, false, found.info);
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = Buffer.alloc(length);
  const { bytesRead } = await handle.read(bytes, 0, length, position);
  return bytes.subarray(0, bytesRead);
}

/** Resolves an identifier: `track`, `empty` when no source claims it, `error` (never a throw). */
export async function loadTracks(identifier: string, options: SourceOptions = {}): Promise<LoadResult> {
  const sources = options.sources ?? ['http', 'local'];
  try {
    if (isHttp(identifier)) {
      if (!sources.includes('http')) return { loadType: 'empty', data: {} };
      return await loadHttp(identifier, options);
    }
    if (sources.includes('local') && identifier.length > 0 && !identifier.includes('\0')) {
      const local = await loadLocal(identifier, options);
      if (local !== undefined) return local;
    }
    return { loadType: 'empty', data: {} };
  } catch (err) {
    return {
      loadType: 'error',
      data: exception('Something went wrong while looking up the track.', 'fault', err),
    };
  }
}
