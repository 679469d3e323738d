/**
 * Track resolution for `loadtracks` and PATCH `identifier`: the two offline sources, `http` (http(s)
 * URLs; icy:// is read as http://) and `local` (an existing readable file). Each probes the first
 * bytes for lavaplayer's container probe name and builds the track with an `encoded` string a
 * Lavalink node can read. No source claims anything else (search prefixes included): `empty`.
 * Ogg/WebM Opus, MP3, FLAC and MP4 are read by our own readers (tags, length:
 * player/inputs/file-info.ts, which fileInput shares; audio/ holds the byte layouts); every other
 * format (what ffmpeg plays), an MP3/FLAC whose length ours cannot find, and every MP4 are asked
 * of ffprobe when it is installed: what ours lacks, and whether ffmpeg can decode it at all.
 * Runs on the main thread with async I/O only; the audio clock lives in the media engine's worker.
 */
import { open, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import {
  OGG_TAIL_BYTES,
  oggOpusDurationMs,
  oggOpusFileDurationMs,
  oggOpusHead,
} from '../audio/ogg-duration.js';
import { toError } from '../errors.js';
import { checkArg, checkDelay, checkOneOf, checkOptions, invalidArgument } from '../util/args.js';
import { defaultFfmpegPath } from '../player/inputs/ffmpeg.js';
import { hasOwnLength, INFO_HEAD_BYTES, readFileInfo } from '../player/inputs/file-info.js';
import type { FileInfo } from '../player/inputs/file-info.js';
import { bytesAt, sniffContainer } from '../player/inputs/file.js';
import { ffprobe, ffprobePathFor } from '../player/inputs/media-info.js';
import type { ProbedMedia } from '../player/inputs/media-info.js';
import { httpGet, readHead } from '../player/inputs/http-get.js';
import { encodeTrack, LIVE_STREAM_LENGTH } from './track-codec.js';
import type { TrackInfo } from './track-codec.js';
import type { ApiException, ApiTrack, LoadResult, Severity } from './types.js';

export type SourceName = 'http' | 'local';
const SOURCE_NAMES: readonly SourceName[] = ['http', 'local'];

export interface SourceOptions {
  /** Enabled sources (default both). */
  sources?: readonly SourceName[];
  /** How long an http probe (and an ffprobe run) may take, ms (default 10 000). */
  httpTimeoutMs?: number;
  /**
   * ffprobe, for what the node does not read itself: formats other than Ogg/WebM Opus, MP3 and FLAC
   * (an MP4's and a WAV's length and an MP4's tags are read too), an MP3/FLAC whose length it cannot
   * find, and whether an MP4 or WAV has audio ffmpeg can decode. Default: next to the ffmpeg in use ($FFPROBE_PATH, else beside $FFMPEG_PATH, else
   * `ffprobe` on PATH); false: never run it. Missing, the other formats load with an unknown title
   * and length (a stream's, as lavaplayer gives an unknown length).
   */
  ffprobePath?: string | false;
}

export const UNKNOWN_TITLE = 'Unknown title';
export const UNKNOWN_ARTIST = 'Unknown artist';
const DEFAULT_TIMEOUT_MS = 10_000;

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

/**
 * The track a probe found: the node's own tags (else ffprobe's), the length rounded to ms (unknown:
 * a stream's), `uri` = identifier.
 */
function probedTrack(
  sourceName: SourceName,
  identifier: string,
  probe: string,
  tags: FileInfo,
  length: number,
  isStream: boolean,
  probed: ProbedMedia = {},
): LoadResult {
  // A length nobody could find is lavaplayer's unknown duration, which is a stream's: clients take
  // 0 for no track at all (kazagumo searches YouTube for it instead of playing it).
  const unknown = !(length > 0);
  const info: TrackInfo = {
    identifier,
    author: tags.artist ?? probed.artist ?? UNKNOWN_ARTIST,
    length: unknown ? Number(LIVE_STREAM_LENGTH) : Math.round(length),
    isStream: isStream || unknown,
    title: tags.title ?? probed.title ?? UNKNOWN_TITLE,
    uri: identifier,
    artworkUrl: null,
    isrc: tags.isrc ?? null,
    sourceName,
    isSeekable: !(isStream || unknown),
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
  own: FileInfo,
  options: SourceOptions,
): Promise<{ info: ProbedMedia; probe: string } | { error: LoadResult }> {
  const { probe } = own;
  if (probe !== undefined && sniffContainer(head) !== 'unknown') return { info: {}, probe };
  if (probe !== undefined && probe !== 'mp4' && hasOwnLength(own)) return { info: {}, probe };
  return viaFfprobe(target, probe, options);
}

function isHttp(identifier: string): boolean {
  return /^(https?|icy):\/\//i.test(identifier);
}

async function loadHttp(identifier: string, options: SourceOptions): Promise<LoadResult> {
  const timeoutMs = options.httpTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const url = identifier.replace(/^icy:\/\//i, 'http://');
  let response: IncomingMessage;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await httpGet(url, { signal, headers: { 'Icy-MetaData': '0' } });
  } catch (err) {
    return { loadType: 'error', data: exception('Connecting to the URL failed.', 'suspicious', err) };
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    response.destroy();
    return {
      loadType: 'error',
      data: exception('That URL is not playable.', 'common', new Error(`Status code ${status}`)),
    };
  }
  let head: Uint8Array;
  try {
    head = (await readHead(response, INFO_HEAD_BYTES, false)).head;
  } catch (err) {
    return { loadType: 'error', data: exception('Reading the URL failed.', 'suspicious', err) };
  }
  const sizeHeader = response.headers['content-length'];
  const size = sizeHeader === undefined ? undefined : Number(sizeHeader);
  const isStream = size === undefined || !Number.isFinite(size);
  // No ID3v1 for a URL: its tail would cost one more request on every load.
  const own = await readFileInfo(head, isStream ? undefined : size, (from, length) =>
    httpRange(url, from, length, timeoutMs),
  );
  if (isStream) {
    // A live stream is not handed to ffprobe (it would read it until its timeout).
    const { probe } = own;
    if (probe === undefined) return { loadType: 'error', data: exception('Unknown file format.', 'common') };
    return probedTrack('http', identifier, probe, own, Number(LIVE_STREAM_LENGTH), true);
  }
  const found = await identify(url, head, own, options);
  if ('error' in found) return found.error;
  let length = own.durationMs ?? 0;
  if (found.probe === 'ogg') length = (await httpOggDurationMs(url, head, size, timeoutMs)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('http', identifier, found.probe, own, length, false, found.info);
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
    const response = await httpGet(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { Range: `bytes=${from}-` },
    });
    if (response.statusCode !== 206) {
      response.destroy();
      return undefined;
    }
    return (await readHead(response, max, false)).head;
  } catch {
    return undefined;
  }
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
  let own: FileInfo;
  try {
    const handle = await open(path, 'r');
    try {
      head = await bytesAt(handle, 0, Math.min(INFO_HEAD_BYTES, info.size));
      own = await readFileInfo(head, info.size, (from, length) => bytesAt(handle, from, length), {
        id3v1: true,
      });
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { loadType: 'error', data: exception('The file cannot be read.', 'common', err) };
  }
  const found = await identify(path, head, own, options);
  if ('error' in found) return found.error;
  let length = own.durationMs ?? 0;
  if (found.probe === 'ogg') length = (await oggOpusFileDurationMs(path)) ?? 0;
  if (length === 0) length = found.info.durationMs ?? 0;
  return probedTrack('local', path, found.probe, own, length, false, found.info);
}

/** Resolves an identifier: `track`, `empty` when no source claims it, `error` (never a throw). */
/** Refuses options of the wrong type up front: a load result is for what the identifier names. */
export function checkSourceOptions(options: SourceOptions): void {
  checkOptions(options);
  if (options.sources !== undefined) {
    checkArg(options.sources, 'sources', 'array');
    for (const name of options.sources) checkOneOf(name, 'sources[]', SOURCE_NAMES);
  }
  checkDelay(options.httpTimeoutMs, 'httpTimeoutMs', 'optional');
  if (options.ffprobePath !== false) checkArg(options.ffprobePath, 'ffprobePath', 'string', 'optional');
}

export async function loadTracks(identifier: string, options: SourceOptions = {}): Promise<LoadResult> {
  if (typeof identifier !== 'string') throw invalidArgument('identifier', 'a string', identifier);
  checkSourceOptions(options);
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
