/**
 * The shapes every player input shares: a TrackInput opens a FrameSource, which yields one 20 ms
 * frame per read() — an Opus packet (sent as-is when it plays alone at unity volume) or 960
 * stereo samples of PCM (mixed and encoded). Also the byte plumbing the byte-based inputs share.
 */
import { Readable } from 'node:stream';
import { VoxcordError } from '../../errors.js';
import { invalidArgument, typeOfArg } from '../../util/args.js';
import { Interrupt } from '../../util/interrupt.js';
import type { OpusCodecFactory } from '../../audio/opus.js';
import { FRAME_DURATION_MS } from '../../protocol/constants.js';
import type { NotReady } from '../../voice/frame-pull.js';
import { inputError } from '../../audio/input-error.js';

/** The one AUDIO_INPUT_ERROR helper (audio/input-error.ts), for the inputs here. */
export { inputError };

/** One 20 ms frame: an Opus packet, or interleaved stereo s16 samples (1920 values). */
export type SourceFrame = { kind: 'opus'; data: Uint8Array } | { kind: 'pcm'; data: Int16Array };

export interface FrameSource {
  /** The next frame; undefined at the end. Rejects with AUDIO_INPUT_ERROR when the input fails. */
  read(): Promise<SourceFrame | undefined>;
  /**
   * Optional: the next frame without a promise, when it is an Opus packet already at hand (what
   * read() would give next); NOT_READY otherwise (read() then gives the frame, the end or the
   * error). The player's passthrough takes frames this way.
   */
  readOpusNow?(): Uint8Array | NotReady;
  /** Releases the input (destroys streams, kills processes). Idempotent. */
  close(): void;
}

/** What an input learns about its media: stream metadata, container headers and tags, ffprobe. */
export interface MediaInfo {
  title?: string;
  /** The artist tag (ID3, Vorbis comment, MP4 `©ART`, ffprobe's `artist`). */
  artist?: string;
  /** Length of the whole media, ms (not of what is left after a seek). */
  durationMs?: number;
}

export interface OpenContext {
  /** Where to start, ms. Inputs that are not `seekable` are only ever opened with 0. */
  startMs: number;
  /** The Opus codec (loaded once per player), for inputs that must decode. */
  codec(): Promise<OpusCodecFactory>;
  /** Reports metadata as the input finds it (the player passes it to the Track). */
  info?(info: MediaInfo): void;
}

export interface TrackInput {
  /** What kind of input this is ('pcm', 'opus', 'ogg', 'webm', 'ffmpeg', 'tone', ...), for logs. */
  readonly kind: string;
  /** A name known before opening (a file's name without its extension), the title's last resort. */
  readonly title?: string;
  /** True when open() can be called again and honours `startMs` (seeking reopens the input). */
  readonly seekable: boolean;
  open(context: OpenContext): Promise<FrameSource> | FrameSource;
}

/** Bytes as the byte-based inputs accept them; a function makes the input reopenable (seekable). */
export type ByteInput =
  Uint8Array | Readable | AsyncIterable<Uint8Array> | (() => Readable | AsyncIterable<Uint8Array>);

/** Whether `input` can be opened more than once. */
export function isReopenable(input: ByteInput): boolean {
  return input instanceof Uint8Array || typeof input === 'function';
}

/**
 * Opens a ByteInput once more. A one-shot input (stream, iterable) may be opened once only: a
 * second open is an AUDIO_INPUT_ERROR rather than silently playing nothing.
 */
export function byteOpener(input: ByteInput): () => AsyncIterator<Uint8Array> {
  if (!(input instanceof Uint8Array) && typeof input !== 'function' && !isAsyncIterable(input))
    throw invalidArgument(
      'input',
      'bytes, a Readable, an async iterable of bytes or a function giving one',
      input,
    );
  let used = false;
  return () => {
    if (input instanceof Uint8Array) return chunked(input);
    if (typeof input === 'function') return bytesOf(input());
    if (used) throw inputError('this input is a stream and was already played; it cannot be reopened');
    used = true;
    return bytesOf(input);
  };
}

async function* chunkedGen(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  const size = 64 * 1024;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function chunked(bytes: Uint8Array): AsyncIterator<Uint8Array> {
  return chunkedGen(bytes);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Iterates chunks, checking each is bytes (a string chunk from a text stream is not audio). */
function bytesOf(input: Readable | AsyncIterable<Uint8Array>): AsyncIterator<Uint8Array> {
  // What a function input gave is only known now.
  if (!isAsyncIterable(input))
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      `the input function must return a Readable or an async iterable of bytes (got ${typeOfArg(input)})`,
    );
  // A stream's iterator destroys it on return() only once it was read from: a source closed
  // before its first read (a track stopped while it opened) must still let the stream go.
  const stream = input instanceof Readable ? input : undefined;
  return checkedBytes(
    input[Symbol.asyncIterator](),
    'the audio input produced a chunk that is not bytes',
    () => stream?.destroy(),
  );
}

/**
 * `it`'s items, each checked to be bytes (`notBytes` is the error message otherwise); the
 * source's own failures become AUDIO_INPUT_ERROR, and return() never throws (it calls `onReturn`
 * first).
 */
export function checkedBytes(
  it: AsyncIterator<unknown> | Iterator<unknown>,
  notBytes: string,
  onReturn?: () => void,
): AsyncIterator<Uint8Array> {
  return {
    next: async (): Promise<IteratorResult<Uint8Array>> => {
      let result: IteratorResult<unknown>;
      try {
        result = await it.next();
      } catch (err) {
        throw inputError('the audio input failed', err);
      }
      if (result.done === true) return { done: true, value: undefined };
      if (!(result.value instanceof Uint8Array)) {
        throw inputError(notBytes, undefined, { type: typeof result.value });
      }
      return { done: false, value: result.value };
    },
    return: async (): Promise<IteratorResult<Uint8Array>> => {
      onReturn?.();
      try {
        await it.return?.();
      } catch {
        // already failed; nothing more to release
      }
      return { done: true, value: undefined };
    },
  };
}

/** Releases an iterator without waiting (a pending next() may hold it up) and without rejections. */
export function releaseIterator(it: AsyncIterator<unknown>): void {
  Promise.resolve()
    .then(() => it.return?.())
    .catch(() => undefined);
}

/** Frames in `ms` (rounded down: a seek lands on a frame boundary). */
export function framesIn(ms: number): number {
  return Math.max(0, Math.floor(ms / FRAME_DURATION_MS));
}

/** Reads and drops `frames` frames; false when the source ended first. */
export async function discardFrames(source: FrameSource, frames: number): Promise<boolean> {
  for (let i = 0; i < frames; i++) if ((await source.read()) === undefined) return false;
  return true;
}

/**
 * A FrameSource over a generator of frames; close() ends it even while a read is pending on an
 * input that never answers (the pending read then resolves to the end).
 */
export function generatorSource(
  frames: AsyncGenerator<SourceFrame, void, undefined>,
  onClose: () => void = () => undefined,
): FrameSource {
  let closed = false;
  const closing = new Interrupt<undefined>();
  return {
    async read(): Promise<SourceFrame | undefined> {
      if (closed) return undefined;
      const result = await closing.race(frames.next());
      if (result === undefined || result.done === true) return undefined;
      return result.value;
    },
    close(): void {
      if (closed) return;
      closed = true;
      closing.fire(undefined);
      try {
        onClose();
      } finally {
        releaseIterator(frames);
      }
    },
  };
}
