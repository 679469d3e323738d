/**
 * Turns an audio input into the 20 ms Opus frames a channel sends: PCM (s16le stereo 48 kHz) is
 * re-framed and encoded; Opus input is passed through, one frame per chunk (e.g. from an Ogg
 * demuxer). Errors of the input surface as AUDIO_INPUT_ERROR from the iterator.
 */
import type { Readable } from 'node:stream';
import { isVoxcordError, VoxcordError } from '../errors.js';
import { loadOpus } from './opus.js';
import type { OpusEncoder } from './opus.js';
import { PcmFramer } from './pcm-framer.js';

export interface FrameSourceOptions {
  type: 'opus' | 'pcm';
  /** For PCM input; when absent one is created with loadOpus() and closed at the end. */
  encoder?: OpusEncoder;
}

function inputError(err: unknown): VoxcordError {
  return new VoxcordError('AUDIO_INPUT_ERROR', 'the audio input failed', { cause: err });
}

/** Iterates the input, turning its failures (and non-byte chunks) into AUDIO_INPUT_ERROR. */
async function* chunksOf(input: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const iterable = input as AsyncIterable<unknown>;
  if (iterable === null || typeof iterable[Symbol.asyncIterator] !== 'function') {
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      'audio input must be a Readable or an async iterable of bytes',
    );
  }
  const iterator = iterable[Symbol.asyncIterator]();
  try {
    for (;;) {
      let result: IteratorResult<unknown>;
      try {
        result = await iterator.next();
      } catch (err) {
        throw inputError(err);
      }
      if (result.done === true) return;
      const chunk = result.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new VoxcordError('AUDIO_INPUT_ERROR', 'audio input produced a chunk that is not bytes', {
          details: { type: typeof chunk },
        });
      }
      yield chunk;
    }
  } finally {
    // Stopping early (or failing) releases the input, e.g. destroys a Readable.
    try {
      await iterator.return?.();
    } catch {
      // the input already failed; its error was reported
    }
  }
}

export async function* opusFrames(
  input: Readable | AsyncIterable<Uint8Array>,
  options: FrameSourceOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (options.type === 'opus') {
    for await (const chunk of chunksOf(input)) if (chunk.length > 0) yield chunk;
    return;
  }
  if (options.type !== 'pcm') {
    throw new VoxcordError('INVALID_ARGUMENT', "audio input type must be 'opus' or 'pcm'");
  }
  const own = options.encoder === undefined;
  const encoder = options.encoder ?? (await loadOpus()).createEncoder();
  const framer = new PcmFramer();
  try {
    for await (const chunk of chunksOf(input)) {
      for (const frame of framer.push(chunk)) yield encode(encoder, frame);
    }
    const last = framer.flush();
    if (last) yield encode(encoder, last);
  } finally {
    if (own) encoder.close();
  }
}

function encode(encoder: OpusEncoder, pcm: Uint8Array): Uint8Array {
  try {
    return encoder.encode(pcm);
  } catch (err) {
    throw isVoxcordError(err)
      ? err
      : new VoxcordError('AUDIO_INPUT_ERROR', 'Opus encoding failed', { cause: err });
  }
}
