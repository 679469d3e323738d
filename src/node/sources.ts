/**
 * Track resolution for `loadtracks` and PATCH `identifier`: the two offline sources, `http` (http(s)
 * URLs; icy:// is read as http://) and `local` (an existing readable file). Each probes the first
 * bytes for lavaplayer's container probe name and builds the track with an `encoded` string a
 * Lavalink node can read. No source claims anything else (search prefixes included): `empty`.
 * Ogg/WebM Opus are read here (tags, length); every other format (what ffmpeg plays) is asked of
 * ffprobe when it is installed: title, artist, length, and whether ffmpeg can decode it at all.
 * Runs on the main thread with async I/O only; the audio clock lives in the media engine's worker.
 */
import { open, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { webmSegmentInfo } from '../audio/ebml.js';
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
   * ffprobe, for the formats the node does not read itself (all but Ogg/WebM Opus). Default: next
   * to the ffmpeg in use ($FFPROBE_PATH, else beside $FFMPEG_PATH, else `ffprobe` on PATH); false:
   * never run it. Missing, such tracks load with length 0 and an unknown title.
   */
  ffprobePath?: string | false;
}

export const UNKNOWN_TITLE = 'Unknown title';
export const UNKNOWN_ARTIST = 'Unknown artist';
const HEAD_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/** lavaplayer's container probe name for a file's first bytes; undefined when none matches. */
export function probeName(head: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => Buffer.from(head.subarray(from, to)).toString('latin1');
  const b0 = head[0] ?? -1;
  const b1 = head[1] ?? -1;
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (b0 === 0x1a && b1 === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'matroska/webm';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(4, 8) === 'ftyp') return 'mp4';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  if (b0 === 0xff && (b1 & 0xf6) === 0xf0) return 'adts';
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return 'mp3';
  if (b0 === 0x47 && head[188] === 0x47) return 'mpegts-adts';
  return undefined;
}

/** Track info from an Ogg Opus file's OpusTags: TITLE, ARTIST (else ALBUMARTIST, PERFORMER), ISRC. */
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
  const fields = packet === undefined ? new Map<string, string>() : opusTagFields(packet);
  const author = fields.get('ARTIST') ?? fields.get('ALBUMARTIST') ?? fields.get('PERFORMER');
  const title = fields.get('TITLE');
  const isrc = fields.get('ISRC');
  return {
    ...(title === undefined ? {} : { title }),
    ...(author === undefined ? {} : { author }),
    ...(isrc === undefined ? {} : { isrc }),
  };
}

function tagsOf(probe: string, head: Uint8Array): FileTags {
  if (probe === 'ogg') return oggOpusTags(head);
  const title = probe === 'matroska/webm' ? webmSegmentInfo(head).title : undefined;
  return title === undefined ? {} : { title };
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

/** The track a probe found: tags from the head (else ffprobe's), the length rounded to ms, `uri` = identifier. */
function probedTrack(
  sourceName: SourceName,
  identifier: string,
  probe: string,
  head: Uint8Array,
  length: number,
  isStream: boolean,
  probed: ProbedMedia = {},
): LoadResult {
  const tags = tagsOf(probe, head);
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

/** The container: Ogg/WebM Opus from the first bytes, anything else through ffprobe (see viaFfprobe). */
async function identify(
  target: string,
  head: Uint8Array,
  probe: string | undefined,
  options: SourceOptions,
): Promise<{ info: ProbedMedia; probe: string } | { error: LoadResult }> {
  if (probe !== undefined && sniffContainer(head) !== 'unknown') return { info: {}, probe };
  return viaFfprobe(target, probe, options);
}

/** A length the first bytes tell (WAV sizes, WebM Duration); 0 when they do not. */
function headerLengthMs(probe: string, head: Uint8Array, size: number): number {
  if (probe === 'wav') return wavDurationMs(head, size) ?? 0;
  if (probe === 'matroska/webm') return webmSegmentInfo(head).durationMs ?? 0;
  return 0;
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
  const probe = probeName(head);
  const sizeHeader = response.headers.get('content-length');
  const size = sizeHeader === null ? undefined : Number(sizeHeader);
  const isStream = size === undefined || !Number.isFinite(size);
  if (isStream) {
    // A live stream is not handed to ffprobe (it would read it until its timeout).
    if (probe === undefined) return { loadType: 'error', data: exception('Unknown file format.', 'common') };
    return probedTrack('http', identifier, probe, head, Number(LIVE_STREAM_LENGTH), true);
  }
  const found = await identify(url, head, probe, options);
  if ('error' in found) return found.error;
  let length = headerLengthMs(found.probe, head, size);
  if (found.probe === 'ogg') length = (await httpOggDurationMs(url, head, size, timeoutMs)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('http', identifier, found.probe, head, length, false, found.info);
}

/** An Ogg Opus URL's length from its last page (a Range request for the tail). */
async function httpOggDurationMs(
  url: string,
  head: Uint8Array,
  size: number,
  timeoutMs: number,
): Promise<number | undefined> {
  if (oggOpusHead(head) === undefined) return undefined; // not Opus: no second request
  try {
    const from = Math.max(0, size - OGG_TAIL_BYTES);
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { Range: `bytes=${from}-` },
    });
    if (response.status !== 206) {
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    return oggOpusDurationMs(head, new Uint8Array(await response.arrayBuffer()));
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
  let head: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      head = Buffer.alloc(Math.min(HEAD_BYTES, info.size));
      await handle.read(head, 0, head.length, 0);
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { loadType: 'error', data: exception('The file cannot be read.', 'common', err) };
  }
  const found = await identify(path, head, probeName(head), options);
  if ('error' in found) return found.error;
  let length = headerLengthMs(found.probe, head, info.size);
  if (found.probe === 'ogg') length = (await oggOpusFileDurationMs(path)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('local', path, found.probe, head, length, false, found.info);
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
