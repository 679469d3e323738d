/**
 * A file path or URL, played the cheapest way: Ogg Opus and WebM Opus files are demuxed (no
 * re-encoding, and no ffmpeg needed); anything else, and every URL, goes through ffmpeg. A local
 * file's title, artist and length come from our own readers (./file-info.ts: MP3, FLAC and MP4
 * tags and lengths, WAV sizes); ffprobe is asked only for what they do not tell.
 */
import { read as readFd } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { checkArg, invalidArgument } from '../../util/args.js';
import { checkFfmpegOptions, defaultFfmpegPath, ffmpegInput } from './ffmpeg.js';
import type { FfmpegOptions } from './ffmpeg.js';
import { oggOpusDurationMs, oggOpusFileDurationMs, oggOpusHead } from '../../audio/ogg-duration.js';
import { isOggCapture, wholeOggPagesEnd } from '../../audio/ogg-page.js';
import { hasOwnLength, INFO_HEAD_BYTES, readFileInfo } from './file-info.js';
import type { FileInfo } from './file-info.js';
import { ffprobeInfo, ffprobePathFor, titleFromPath } from './media-info.js';
import { oggOpusInput } from './ogg-opus.js';
import { borrowReadBuffer, READ_BUFFER_BYTES, recycleReadBuffer } from './read-pool.js';
import { inputError } from './source.js';
import type { FrameSource, MediaInfo, OpenContext, TrackInput } from './source.js';
import { webmOpusInput } from './webm-opus.js';

export type Container = 'ogg-opus' | 'webm-opus' | 'unknown';

/**
 * A file's ends, read at every play to tell its container and length: a few KiB of each first (an
 * Ogg Opus file's first and last pages, a WebM file's track entry as most muxers write it), then
 * SNIFF_BYTES of the head when that does not tell (a muxer that reserves room before the tracks, a
 * WAV header with large chunks; the head our readers want for MP3, FLAC and MP4). 64 KiB of each
 * end per play was garbage that outlived the scavenges of a busy track start, freed only by a full
 * collection (bench/node.ts, P = 100: ~120 KiB per player).
 */
const SNIFF_FIRST_BYTES = 4 * 1024;
const SNIFF_BYTES = INFO_HEAD_BYTES;
const FILE_CHUNK_BYTES = READ_BUFFER_BYTES;

function includes(bytes: Uint8Array, text: string): boolean {
  const needle = Buffer.from(text, 'latin1');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(needle);
}

/** Recognises Ogg Opus and WebM/Matroska with an Opus track from a file's first bytes. */
export function sniffContainer(head: Uint8Array): Container {
  checkArg(head, 'head', 'bytes');
  if (isOggCapture(head, 0)) {
    // The first page's first packet: OpusHead (Ogg Vorbis/FLAC go to ffmpeg).
    return oggOpusHead(head) === undefined ? 'unknown' : 'ogg-opus';
  }
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    return includes(head, 'A_OPUS') ? 'webm-opus' : 'unknown';
  }
  return 'unknown';
}

export interface FileInputOptions extends FfmpegOptions {
  /** Always use ffmpeg, even for Ogg/WebM Opus. */
  forceFfmpeg?: boolean;
  /**
   * Where a local file's title and duration come from when our own readers do not find them: they
   * read Ogg's last page, WebM's header, WAV sizes, and MP3's (ID3, frame headers), FLAC's
   * (STREAMINFO, Vorbis comments) and MP4's (moov, iTunes tags) title, artist and length.
   * 'ffprobe' (default; next to ffmpeg, or $FFPROBE_PATH): asked for any other format, a WAV's
   * title, and an MP3, FLAC or MP4 whose length ours did not find. 'none': never run. URLs are
   * never probed (to fetch them once): ffmpeg says what it reads when it starts.
   */
  probe?: 'ffprobe' | 'none';
  /**
   * false: the caller knows the track's title and length (a Lavalink node has them from
   * loadtracks), so a file played through ffmpeg is not read for them at all (no tag, tail or
   * moov reads, no ffprobe). Default true.
   */
  metadata?: boolean;
  /** The ffprobe executable (default: next to the ffmpeg in use). */
  ffprobePath?: string;
}

function isUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
}

interface FileEnds {
  head: Uint8Array;
  /** The last bytes (the head again for a small file). */
  tail: Uint8Array;
  size: number;
}

/** `tailBytes` 0: no tail is read (an empty one, unless the head holds the whole file). */
async function readEnds(path: string, headBytes: number, tailBytes: number): Promise<FileEnds> {
  let handle;
  try {
    handle = await openFile(path, 'r');
  } catch (err) {
    throw inputError('the audio file cannot be opened', err, { code: (err as { code?: unknown }).code });
  }
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.min(headBytes, size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead);
    if (size <= headBytes) return { head, tail: head, size };
    if (tailBytes === 0) return { head, tail: new Uint8Array(0), size };
    const tailBuffer = Buffer.alloc(Math.min(tailBytes, size));
    const tailRead = await handle.read(tailBuffer, 0, tailBuffer.length, size - tailBuffer.length);
    return { head, tail: tailBuffer.subarray(0, tailRead.bytesRead), size };
  } finally {
    await handle.close();
  }
}

/**
 * Reads into `buffer` at `position` of the open file: node:fs's callback read on the handle's
 * descriptor. FileHandle.read() cost twice the main-thread time per read (a promise-based request
 * allocates its own stat array and reference-counts the handle), and a playing track reads about
 * once a second. The caller keeps the handle open until the read settled.
 */
function readAt(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    readFd(handle.fd, buffer, 0, buffer.length, position, (err, bytesRead) =>
      err ? reject(err) : resolve(bytesRead),
    ),
  );
}

/** Up to `length` bytes of an open file from `position` (fewer at its end): one home for the readers' reads, here and in the node. */
export async function bytesAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = Buffer.alloc(length);
  return bytes.subarray(0, await readAt(handle, bytes, position));
}

/** A read that holds no whole unit (an Ogg page larger than the read) is retried this much larger, up to: */
const MAX_CHUNK_BYTES = 128 * 1024;

/**
 * A file's bytes, FILE_CHUNK_BYTES (about 4 s of Opus) at a time, each read only when the demuxer
 * asks for it: no read-ahead buffer per playing track (a read stream holds one or two chunks more;
 * the demuxer copies its packets out, so a chunk is garbage once demuxed). The player's look-ahead
 * (the frames queued at the engine) covers a read's latency. An iterator, not an async generator:
 * a suspended generator keeps its last chunk alive (64 KiB per playing track) until the next read.
 *
 * `whole` (Ogg: whole pages) says how many bytes at the start of a read end on a unit boundary:
 * only those are handed over and the next read starts there, so the demuxer never keeps a partial
 * page between reads (no tail copy, and no copy of tail + chunk, per read). 0 retries the read
 * twice as large (a page larger than the read); at the end of the file every byte is handed over.
 * Those reads (Ogg's) go into buffers of the shared read pool (./read-pool.ts), which the demuxed
 * source gives back once its demuxer copied the packets out.
 */
function fileChunks(path: string, whole?: (bytes: Uint8Array) => number): AsyncIterator<Uint8Array> {
  let handle: FileHandle | undefined;
  let opening: Promise<FileHandle> | undefined;
  let done = false;
  let position = 0;
  /** The read under way: the descriptor is closed only once it settled. */
  let reading: Promise<number> | undefined;
  const close = async (): Promise<IteratorResult<Uint8Array>> => {
    done = true;
    const open = handle ?? (await opening?.catch(() => undefined));
    handle = undefined;
    await reading?.catch(() => undefined);
    await open?.close();
    return { done: true, value: undefined };
  };
  return {
    next: async (): Promise<IteratorResult<Uint8Array>> => {
      if (done) return { done: true, value: undefined };
      try {
        handle ??= await (opening ??= openFile(path, 'r'));
        for (let size = FILE_CHUNK_BYTES; ; size *= 2) {
          const chunk =
            whole !== undefined && size === FILE_CHUNK_BYTES ? borrowReadBuffer() : Buffer.allocUnsafe(size);
          reading = readAt(handle, chunk, position);
          const bytesRead = await reading;
          reading = undefined;
          if (bytesRead === 0 || done) {
            recycleReadBuffer(chunk);
            break;
          }
          const end = bytesRead < size || size >= MAX_CHUNK_BYTES ? bytesRead : (whole?.(chunk) ?? size);
          if (end === 0) {
            recycleReadBuffer(chunk);
            continue;
          }
          position += end;
          return { done: false, value: chunk.subarray(0, end) };
        }
      } catch (err) {
        await close().catch(() => undefined);
        throw err;
      }
      return close();
    },
    return: close,
  };
}

/**
 * What our readers find in a local file (./file-info.ts): `known`, its ends when already read
 * (their head serves when it is the readers' head). The file is opened only when they want more
 * bytes. {} when it cannot be read (playing says why).
 */
async function ownFileInfo(path: string, known: FileEnds | undefined): Promise<FileInfo> {
  let opened: Promise<FileHandle> | undefined;
  const read = async (from: number, length: number): Promise<Uint8Array> =>
    bytesAt(await (opened ??= openFile(path, 'r')), from, length);
  try {
    const size = known?.size ?? (await stat(path)).size;
    const headBytes = Math.min(INFO_HEAD_BYTES, size);
    const head =
      known !== undefined && known.head.length >= headBytes ? known.head : await read(0, headBytes);
    return await readFileInfo(head, size, read, { id3v1: true });
  } catch {
    return {};
  } finally {
    await opened?.then((handle) => handle.close()).catch(() => undefined);
  }
}

/** MediaInfo of what our readers found (the length in whole ms, as ffprobe's). */
function mediaInfo({ title, artist, durationMs }: FileInfo): MediaInfo {
  return {
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { artist }),
    ...(durationMs === undefined ? {} : { durationMs: Math.round(durationMs) }),
  };
}

/** Whole Ogg pages at the start of a read; all of it when it does not start with a page (the demuxer resynchronises). */
function wholePages(bytes: Uint8Array): number {
  return isOggCapture(bytes, 0) ? wholeOggPagesEnd(bytes) : bytes.length;
}

/** A file or URL; seekable (files are reopened, ffmpeg restarts at the position). */
export function fileInput(target: string, options: FileInputOptions = {}): TrackInput {
  if (typeof target !== 'string' || target === '')
    throw invalidArgument('target', 'a file path or URL', target);
  checkFfmpegOptions(options);
  checkArg(options.ffprobePath, 'ffprobePath', 'string', 'optional');
  const probe = options.probe ?? 'ffprobe';
  const ffprobePath = options.ffprobePath ?? ffprobePathFor(options.ffmpegPath ?? defaultFfmpegPath());
  let chosen: Promise<{ input: TrackInput; info: Promise<MediaInfo> }> | undefined;
  const choose = async (): Promise<{ input: TrackInput; info: Promise<MediaInfo> }> => {
    const none = Promise.resolve<MediaInfo>({});
    if (isUrl(target)) return { input: ffmpegInput(target, options), info: none };
    let ends =
      options.forceFfmpeg === true ? undefined : await readEnds(target, SNIFF_FIRST_BYTES, SNIFF_FIRST_BYTES);
    let container = ends === undefined ? 'unknown' : sniffContainer(ends.head);
    if (ends !== undefined && container === 'unknown' && ends.size > ends.head.length) {
      // The few KiB of tail already read serve Ogg, the one container that wants a tail.
      ends = { ...(await readEnds(target, SNIFF_BYTES, 0)), tail: ends.tail };
      container = sniffContainer(ends.head);
    }
    const reopen = (whole?: (bytes: Uint8Array) => number) => (): AsyncIterable<Uint8Array> => ({
      [Symbol.asyncIterator]: () => fileChunks(target, whole),
    });
    // Ogg: the last page's granule (read again from a longer tail when the last page is longer).
    // WebM: its demuxer reports the Segment's Duration and Title.
    if (container === 'ogg-opus' && ends !== undefined) {
      const durationMs =
        oggOpusDurationMs(ends.head, ends.tail) ??
        (ends.tail.length < ends.size ? await oggOpusFileDurationMs(target) : undefined);
      return { input: oggOpusInput(reopen(wholePages)), info: Promise.resolve({ durationMs }) };
    }
    if (container === 'webm-opus') return { input: webmOpusInput(reopen()), info: none };
    if (options.metadata === false) return { input: ffmpegInput(target, options), info: none };
    // Through ffmpeg: our readers first; ffprobe only fills what they lack (as in the node).
    const info = ownFileInfo(target, ends).then(async (own) => {
      const found = mediaInfo(own);
      if (probe === 'none' || hasOwnLength(own)) return found;
      return { ...(await ffprobeInfo(target, ffprobePath)), ...found };
    });
    return { input: ffmpegInput(target, options), info };
  };
  return {
    kind: 'file',
    seekable: true,
    title: titleFromPath(target),
    async open(context: OpenContext): Promise<FrameSource> {
      chosen ??= choose();
      chosen.catch(() => (chosen = undefined)); // a missing file may appear later
      const { input, info } = await chosen;
      // Metadata never holds up playback.
      info.then((found) => context.info?.(found)).catch(() => undefined);
      return input.open(context);
    },
  };
}
