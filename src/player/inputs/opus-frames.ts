/**
 * Opus packet input (one packet per item), and the step every Opus input (Ogg, WebM) shares:
 * 20 ms packets pass through untouched; packets of other durations (10, 40, 60 ms ...) are decoded
 * and re-framed to 20 ms PCM, because the channel sends exactly one 20 ms frame per tick.
 */
import type { OpusDecoder } from '../../audio/opus.js';
import { PcmFramer } from '../../audio/pcm-framer.js';
import { SAMPLES_PER_FRAME } from '../../protocol/constants.js';
import { pcmSamples } from './pcm.js';
import { checkedBytes, framesIn, generatorSource, inputError, releaseIterator } from './source.js';
import type { FrameSource, OpenContext, SourceFrame, TrackInput } from './source.js';

/** Frame durations in samples at 48 kHz by TOC config (RFC 6716 §3.1). */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4] ?? 0;
  if (config < 16) return config % 2 === 0 ? 480 : 960;
  return [120, 240, 480, 960][config % 4] ?? 0;
}

/** Samples (per channel, 48 kHz) in an Opus packet, or undefined if it is not a valid packet. */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  const toc = packet[0];
  if (toc === undefined) return undefined;
  const per = frameSamples(toc >> 3);
  let count: number;
  switch (toc & 3) {
    case 0:
      count = 1;
      break;
    case 1:
    case 2:
      count = 2;
      break;
    default: {
      const byte = packet[1];
      if (byte === undefined) return undefined;
      count = byte & 0x3f;
    }
  }
  const total = per * count;
  // At most 120 ms per packet (RFC 6716 §3.2.5).
  return count === 0 || total > 5760 ? undefined : total;
}

function bytesOfSamples(samples: Int16Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

/**
 * Turns Opus packets into 20 ms frames, dropping the first `skipFrames` frames' worth of packets
 * (a seek). Invalid packets fail the input as "not Opus".
 */
export async function* opusPacketFrames(
  packets: AsyncIterator<Uint8Array>,
  context: OpenContext,
  skipFrames = 0,
): AsyncGenerator<SourceFrame, void, undefined> {
  let skipSamples = skipFrames * SAMPLES_PER_FRAME;
  const framer = new PcmFramer();
  let decoder: OpusDecoder | undefined;
  let index = 0;
  try {
    for (;;) {
      const result = await packets.next();
      if (result.done === true) break;
      const packet = result.value;
      if (packet.length === 0) continue;
      const samples = opusPacketSamples(packet);
      if (samples === undefined) {
        throw inputError('the input is not Opus audio (invalid Opus packet)', undefined, { packet: index });
      }
      index++;
      if (skipSamples > 0) {
        skipSamples -= samples;
        continue;
      }
      if (samples === SAMPLES_PER_FRAME && framer.pending === 0) {
        yield { kind: 'opus', data: packet };
        continue;
      }
      decoder ??= (await context.codec()).createDecoder();
      let pcm: Int16Array;
      try {
        pcm = decoder.decode(packet);
      } catch (err) {
        throw inputError('an Opus packet of the input could not be decoded', err);
      }
      for (const frame of framer.push(bytesOfSamples(pcm))) yield { kind: 'pcm', data: pcmSamples(frame) };
    }
    const last = framer.flush();
    if (last) yield { kind: 'pcm', data: pcmSamples(last) };
  } finally {
    decoder?.close();
    releaseIterator(packets);
  }
}

/** Checks each item is bytes (the packets of a user's iterable). */
function packetsOf(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterator<Uint8Array> {
  const asyncFn = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  const syncFn = (source as Partial<Iterable<unknown>>)[Symbol.iterator];
  let it: AsyncIterator<unknown> | Iterator<unknown>;
  if (typeof asyncFn === 'function') it = asyncFn.call(source);
  else if (typeof syncFn === 'function') it = syncFn.call(source);
  else throw inputError('Opus input must be an (async) iterable of packets');
  return checkedBytes(it, 'an Opus input yielded an item that is not bytes');
}

/**
 * Opus packets, one per item (e.g. from your own demuxer or a recording). An array (or a function
 * returning a fresh iterable) is seekable; a stream is played once.
 */
export function opusFramesInput(
  source:
    | Iterable<Uint8Array>
    | AsyncIterable<Uint8Array>
    | (() => Iterable<Uint8Array> | AsyncIterable<Uint8Array>),
): TrackInput {
  const reopenable = Array.isArray(source) || typeof source === 'function';
  let used = false;
  return {
    kind: 'opus',
    seekable: reopenable,
    open(context: OpenContext): FrameSource {
      if (!reopenable && used) throw inputError('this Opus input was already played; it cannot be reopened');
      used = true;
      const packets = packetsOf(typeof source === 'function' ? source() : source);
      return generatorSource(opusPacketFrames(packets, context, framesIn(context.startMs)), () =>
        releaseIterator(packets),
      );
    },
  };
}
