/**
 * Metadata of files before they play: the title from the file name and ffprobe for what the
 * container's own header does not tell cheaply (WAV sizes: audio/wav.ts; Ogg Opus's last granule:
 * audio/ogg-duration.ts).
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

/** ffprobe's `-show_format` JSON: the title tag and the duration (seconds, as text). */
export function parseFfprobeFormat(json: string): MediaInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  const format = (parsed as { format?: { duration?: unknown; tags?: Record<string, unknown> } } | null)
    ?.format;
  const info: MediaInfo = {};
  const seconds = Number(format?.duration);
  if (Number.isFinite(seconds) && seconds > 0) info.durationMs = Math.round(seconds * 1000);
  for (const [key, value] of Object.entries(format?.tags ?? {})) {
    if (key.toLowerCase() === 'title' && typeof value === 'string' && value.trim().length > 0) {
      info.title = value.trim();
      break;
    }
  }
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
 * Title and duration from ffprobe; {} when ffprobe is missing, fails or takes too long (metadata is
 * a nicety: playing never waits for it nor fails because of it).
 */
export function ffprobeInfo(target: string, ffprobePath: string): Promise<MediaInfo> {
  return new Promise((resolve) => {
    let out = '';
    let child;
    try {
      child = spawn(ffprobePath, ['-v', 'quiet', '-print_format', 'json', '-show_format', '-i', target], {
        stdio: ['ignore', 'pipe', 'ignore'],
        windowsHide: true,
      });
    } catch {
      resolve({});
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    timer.unref();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (out.length < MAX_PROBE_OUTPUT) out += text;
    });
    // A spawn failure (ENOENT) emits 'error' and no 'close'.
    child.on('error', () => {
      clearTimeout(timer);
      resolve({});
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? parseFfprobeFormat(out) : {});
    });
  });
}
