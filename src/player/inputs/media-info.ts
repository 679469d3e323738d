/**
 * Metadata of files before they play: the title from the file name, the duration from the
 * container's own header where it tells it cheaply (WAV sizes; Ogg Opus's last granule is read in
 * ogg-opus.ts), and ffprobe for everything else.
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

function ascii(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

/**
 * A RIFF/WAVE file's duration from its header (`head`: its first bytes) and size: the data chunk's
 * length over the fmt chunk's byte rate. A streamed WAV (data size 0 or 0xFFFFFFFF) counts to the
 * end of the file.
 */
export function wavDurationMs(head: Uint8Array, fileSize: number): number | undefined {
  if (head.length < 12 || ascii(head, 0) !== 'RIFF' || ascii(head, 8) !== 'WAVE') return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let byteRate: number | undefined;
  for (let pos = 12; pos + 8 <= head.length;) {
    const id = ascii(head, pos);
    const size = view.getUint32(pos + 4, true);
    if (id === 'fmt ' && pos + 16 <= head.length) byteRate = view.getUint32(pos + 16, true);
    if (id === 'data') {
      if (byteRate === undefined || byteRate === 0) return undefined;
      const available = Math.max(0, fileSize - (pos + 8));
      const bytes = size === 0 || size === 0xffffffff ? available : Math.min(size, available);
      return (bytes * 1000) / byteRate;
    }
    pos += 8 + size + (size & 1);
  }
  return undefined;
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
