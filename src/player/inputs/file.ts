/**
 * A file path or URL, played the cheapest way: Ogg Opus and WebM Opus files are demuxed (no
 * re-encoding, and no ffmpeg needed); anything else, and every URL, goes through ffmpeg.
 */
import { createReadStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { ffmpegInput } from './ffmpeg.js';
import type { FfmpegOptions } from './ffmpeg.js';
import { oggOpusInput } from './ogg-opus.js';
import { inputError } from './source.js';
import type { FrameSource, OpenContext, TrackInput } from './source.js';
import { webmOpusInput } from './webm-opus.js';

export type Container = 'ogg-opus' | 'webm-opus' | 'unknown';

const SNIFF_BYTES = 64 * 1024;

function includes(bytes: Uint8Array, text: string): boolean {
  const needle = Buffer.from(text, 'latin1');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(needle);
}

/** Recognises Ogg Opus and WebM/Matroska with an Opus track from a file's first bytes. */
export function sniffContainer(head: Uint8Array): Container {
  if (head[0] === 0x4f && head[1] === 0x67 && head[2] === 0x67 && head[3] === 0x53) {
    // The first page's first packet: OpusHead (Ogg Vorbis/FLAC go to ffmpeg).
    const segments = head[26] ?? 0;
    const start = 27 + segments;
    return new TextDecoder('latin1').decode(head.subarray(start, start + 8)) === 'OpusHead'
      ? 'ogg-opus'
      : 'unknown';
  }
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    return includes(head, 'A_OPUS') ? 'webm-opus' : 'unknown';
  }
  return 'unknown';
}

export interface FileInputOptions extends FfmpegOptions {
  /** Always use ffmpeg, even for Ogg/WebM Opus. */
  forceFfmpeg?: boolean;
}

function isUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
}

async function readHead(path: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await openFile(path, 'r');
  } catch (err) {
    throw inputError('the audio file cannot be opened', err, { code: (err as { code?: unknown }).code });
  }
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A file or URL; seekable (files are reopened, ffmpeg restarts at the position). */
export function fileInput(target: string, options: FileInputOptions = {}): TrackInput {
  if (typeof target !== 'string' || target.length === 0) throw inputError('a file path or URL is required');
  let chosen: Promise<TrackInput> | undefined;
  const choose = async (): Promise<TrackInput> => {
    if (options.forceFfmpeg === true || isUrl(target)) return ffmpegInput(target, options);
    const container = sniffContainer(await readHead(target));
    const reopen = (): ReturnType<typeof createReadStream> => createReadStream(target);
    if (container === 'ogg-opus') return oggOpusInput(reopen);
    if (container === 'webm-opus') return webmOpusInput(reopen);
    return ffmpegInput(target, options);
  };
  return {
    kind: 'file',
    seekable: true,
    async open(context: OpenContext): Promise<FrameSource> {
      chosen ??= choose();
      chosen.catch(() => (chosen = undefined)); // a missing file may appear later
      return (await chosen).open(context);
    },
  };
}
