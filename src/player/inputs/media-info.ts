/**
 * Metadata of files before they play: the title from the file name, ffprobe for what the
 * container's own header does not tell cheaply (WAV sizes: audio/wav.ts; Ogg Opus's last granule:
 * audio/ogg-duration.ts), and what ffmpeg itself prints about its input when it starts.
 */
import { spawn } from 'node:child_process';
import { basename, extname } from 'node:path';
import type { MediaInfo } from './source.js';

/** A file's or URL's name without directory, query or extension ('' when there is none). */
export function titleFromPath(target: string): string | undefined {
  let path = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      path = decodeURIComponent(new URL(target).pathname);
    } catch {
      return undefined;
    }
  }
  const name = basename(path);
  const stem = name.slice(0, name.length - extname(name).length);
  return stem.length > 0 ? stem : undefined;
}

/** What ffprobe tells of a file: MediaInfo plus the container and its streams. */
export interface ProbedMedia extends MediaInfo {
  /** ffprobe's `format_name` (e.g. `mp3`, `mov,mp4,m4a,3gp,3g2,mj2`). */
  formatName?: string;
  /** Whether a stream is audio; undefined when ffprobe listed no streams. */
  hasAudio?: boolean;
}

function tag(tags: Record<string, unknown>, name: string): string | undefined {
  for (const [key, value] of Object.entries(tags)) {
    if (key.toLowerCase() === name && typeof value === 'string' && value.trim().length > 0)
      return value.trim().slice(0, 512);
  }
  return undefined;
}

/**
 * ffprobe's `-show_format` (and `-show_streams`) JSON: the title and artist tags, the duration
 * (seconds, as text), the container's name and whether any stream is audio.
 */
export function parseFfprobeFormat(json: string): ProbedMedia {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  const root = parsed as {
    format?: { duration?: unknown; format_name?: unknown; tags?: Record<string, unknown> };
    streams?: unknown;
  } | null;
  const format = root?.format;
  const info: ProbedMedia = {};
  const seconds = Number(format?.duration);
  if (Number.isFinite(seconds) && seconds > 0) info.durationMs = Math.round(seconds * 1000);
  const tags = typeof format?.tags === 'object' && format.tags !== null ? format.tags : {};
  const title = tag(tags, 'title');
  if (title !== undefined) info.title = title;
  const artist = tag(tags, 'artist') ?? tag(tags, 'album_artist');
  if (artist !== undefined) info.artist = artist;
  if (typeof format?.format_name === 'string' && format.format_name.length > 0)
    info.formatName = format.format_name;
  if (Array.isArray(root?.streams) && root.streams.length > 0)
    info.hasAudio = root.streams.some(
      (st) => (st as { codec_type?: unknown } | null)?.codec_type === 'audio',
    );
  return info;
}

/** ffprobe next to the ffmpeg in use ($FFPROBE_PATH wins). */
export function ffprobePathFor(ffmpegPath: string): string {
  const fromEnv = process.env['FFPROBE_PATH'];
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  const name = basename(ffmpegPath);
  const probe = name.replace(/ffmpeg/i, 'ffprobe');
  return probe === name ? 'ffprobe' : ffmpegPath.slice(0, ffmpegPath.length - name.length) + probe;
}

const PROBE_TIMEOUT_MS = 10_000;
const MAX_PROBE_OUTPUT = 256 * 1024;

/**
 * How an ffprobe run went: `ok` with what it found; `missing` (not installed, or not startable);
 * `failed` (it exited non-zero: the input is not something ffmpeg can read); `timeout`.
 */
export type FfprobeOutcome =
  { status: 'ok'; info: ProbedMedia } | { status: 'missing' | 'failed' | 'timeout' };

/** Runs ffprobe on a file or URL; never rejects. */
export function ffprobe(
  target: string,
  ffprobePath: string,
  timeoutMs: number = PROBE_TIMEOUT_MS,
): Promise<FfprobeOutcome> {
  return new Promise((resolve) => {
    let out = '';
    let child;
    const args = ['-v', 'quiet', '-print_format', 'json', '-show_format', '-show_streams', '-i', target];
    try {
      child = spawn(ffprobePath, args, { stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
    } catch {
      resolve({ status: 'missing' });
      return;
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) child.kill('SIGKILL'); // no pid: libuv would signal our process group
    }, timeoutMs);
    timer.unref();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (out.length < MAX_PROBE_OUTPUT) out += text;
    });
    // A spawn failure (ENOENT) emits 'error' and no 'close'.
    child.on('error', () => {
      clearTimeout(timer);
      resolve({ status: 'missing' });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) resolve({ status: 'timeout' });
      else resolve(code === 0 ? { status: 'ok', info: parseFfprobeFormat(out) } : { status: 'failed' });
    });
  });
}

/**
 * Title, artist and duration from ffprobe; {} when ffprobe is missing, fails or takes too long
 * (metadata is a nicety: playing never waits for it nor fails because of it).
 */
export async function ffprobeInfo(target: string, ffprobePath: string): Promise<MediaInfo> {
  const outcome = await ffprobe(target, ffprobePath);
  if (outcome.status !== 'ok') return {};
  const { title, artist, durationMs } = outcome.info;
  return {
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { artist }),
    ...(durationMs === undefined ? {} : { durationMs }),
  };
}

/** `HH:MM:SS.cc` as ffmpeg prints durations, in ms; undefined for N/A or nonsense. */
function ffmpegDurationMs(text: string): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
  return ms > 0 ? ms : undefined;
}

/**
 * ffmpeg's stderr at `-loglevel info`, fed as it arrives: the first input's own metadata — the
 * `title` and `artist` under its `Metadata:` (not a stream's, which is indented deeper) and its `Duration:` —
 * once the Duration line (or the end of the input's description) is read. So any ffmpeg input,
 * URLs and piped streams too, is named and timed without a separate ffprobe run.
 */
export class FfmpegInputInfoParser {
  private partial = '';
  private inInput = false;
  private inMetadata = false;
  private done = false;
  private readonly info: MediaInfo = {};

  /** Takes stderr text; returns the input's info the first time it is complete, else undefined. */
  push(text: string): MediaInfo | undefined {
    if (this.done) return undefined;
    const lines = (this.partial + text).split(/\r?\n|\r/);
    this.partial = (lines.pop() ?? '').slice(-4096); // a line still being written
    for (const line of lines) {
      if (this.line(line)) {
        this.done = true;
        this.partial = '';
        return this.info;
      }
    }
    return undefined;
  }

  /** True when the input's description is over. */
  private line(line: string): boolean {
    if (/^Input #0\b/.test(line)) {
      this.inInput = true;
      return false;
    }
    if (!this.inInput) return false;
    if (/^(Input #|Output #|Stream mapping:)/.test(line)) return true;
    const indent = /^ */.exec(line)?.[0].length ?? 0;
    if (indent === 2 && line.trim() === 'Metadata:') {
      this.inMetadata = true;
      return false;
    }
    if (indent <= 2) this.inMetadata = false;
    if (this.inMetadata && indent === 4) {
      const m = /^ {4}([^:]+?)\s*: ?(.*)$/.exec(line);
      const value = m?.[2]?.trim() ?? '';
      const key = m?.[1]?.toLowerCase();
      if (value.length === 0) return false;
      if (key === 'title') this.info.title ??= value.slice(0, 512);
      else if (key === 'artist') this.info.artist ??= value.slice(0, 512);
      return false;
    }
    const duration = /^ {2}Duration: ([^,]+)/.exec(line);
    if (duration?.[1] !== undefined) {
      const ms = ffmpegDurationMs(duration[1]);
      if (ms !== undefined) this.info.durationMs = ms;
      return true;
    }
    return false;
  }
}
