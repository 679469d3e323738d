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
import { checkArg, invalidArgument, isIterable } from '../../util/args.js';
import { plainBytes } from '../../util/bytes.js';

/** Frame durations in samples at 48 kHz by TOC config (RFC 6716 §3.1). */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4] ?? 0;
  if (config < 16) return config % 2 === 0 ? 480 : 960;
  return [120, 240, 480, 960][config % 4] ?? 0;
}

/** Samples (per channel, 48 kHz) in an Opus packet, or undefined if it is not a valid packet. */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  checkArg(packet, 'packet', 'bytes');
  return packetSamples(packet);
}

/** opusPacketSamples for the packets of an input, already known to be bytes. */
function packetSamples(packet: Uint8Array): number | undefined {
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

/** Where OpusPacketFramer puts frames (an array). */
interface FrameSink {
  push(frame: SourceFrame): unknown;
}

/**
 * The per-packet step of every Opus input: 20 ms packets pass through, others are decoded and
 * re-framed to 20 ms PCM; the first `skipFrames` frames' worth of packets are dropped (a seek).
 * Synchronous once the decoder is there: a caller awaits `loadDecoder()` when `needsDecoder()`
 * says so (the first packet that is not 20 ms). Invalid packets fail the input as "not Opus".
 */
export class OpusPacketFramer {
  private skipSamples: number;
  private readonly framer = new PcmFramer();
  private decoder: OpusDecoder | undefined;
  private index = 0;
  private closed = false;

  constructor(
    private readonly context: OpenContext,
    skipFrames = 0,
  ) {
    this.skipSamples = skipFrames * SAMPLES_PER_FRAME;
  }

  /** Whether push(packet) has to decode and the decoder is not loaded yet. */
  needsDecoder(packet: Uint8Array): boolean {
    if (this.decoder !== undefined || packet.length === 0) return false;
    const samples = packetSamples(packet);
    if (samples === undefined || this.skipSamples > 0) return false;
    return samples !== SAMPLES_PER_FRAME || this.framer.pending > 0;
  }

  async loadDecoder(): Promise<void> {
    const decoder = (await this.context.codec()).createDecoder();
    if (this.closed || this.decoder !== undefined) decoder.close();
    else this.decoder = decoder;
  }

  /**
   * True when `packet` is itself the next frame (one 20 ms packet, nothing skipped or pending):
   * it is counted as pushed, and the caller hands it over as an Opus frame without a frame object.
   * False: push() it.
   */
  takePassthrough(packet: Uint8Array): boolean {
    if (packet.length === 0 || this.skipSamples > 0 || this.framer.pending > 0) return false;
    if (packetSamples(packet) !== SAMPLES_PER_FRAME) return false;
    this.index++;
    return true;
  }

  /** Appends the frames `packet` completes to `out`. Throws AUDIO_INPUT_ERROR for a packet that is not Opus. */
  push(packet: Uint8Array, out: FrameSink): void {
    if (this.takePassthrough(packet)) {
      out.push({ kind: 'opus', data: packet });
      return;
    }
    if (packet.length === 0) return;
    const samples = packetSamples(packet);
    if (samples === undefined) {
      throw inputError('the input is not Opus audio (invalid Opus packet)', undefined, {
        packet: this.index,
      });
    }
    this.index++;
    if (this.skipSamples > 0) {
      this.skipSamples -= samples;
      return;
    }
    if (samples === SAMPLES_PER_FRAME && this.framer.pending === 0) {
      out.push({ kind: 'opus', data: packet });
      return;
    }
    const decoder = this.decoder;
    if (decoder === undefined) throw inputError('the Opus decoder is not loaded (call loadDecoder first)');
    let pcm: Int16Array;
    try {
      pcm = decoder.decode(packet);
    } catch (err) {
      throw inputError('an Opus packet of the input could not be decoded', err);
    }
    for (const frame of this.framer.push(plainBytes(pcm))) out.push({ kind: 'pcm', data: pcmSamples(frame) });
  }

  /** The input ended: the last partial PCM frame, padded (if any). */
  flush(out: FrameSink): void {
    const last = this.framer.flush();
    if (last) out.push({ kind: 'pcm', data: pcmSamples(last) });
  }

  close(): void {
    this.closed = true;
    this.decoder?.close();
    this.decoder = undefined;
  }
}

/** Turns Opus packets into 20 ms frames (see OpusPacketFramer). */
export async function* opusPacketFrames(
  packets: AsyncIterator<Uint8Array>,
  context: OpenContext,
  skipFrames = 0,
): AsyncGenerator<SourceFrame, void, undefined> {
  const framer = new OpusPacketFramer(context, skipFrames);
  const out: SourceFrame[] = [];
  try {
    for (;;) {
      const result = await packets.next();
      if (result.done === true) break;
      if (framer.needsDecoder(result.value)) await framer.loadDecoder();
      framer.push(result.value, out);
      yield* out;
      out.length = 0;
    }
    framer.flush(out);
    yield* out;
  } finally {
    framer.close();
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
  if (typeof source !== 'function' && !isIterable(source))
    throw invalidArgument('source', 'an iterable of Opus packets or a function giving one', source);
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
