/**
 * Test doubles for the player: a fake session whose "pump" is driven by the test (no clock), and a
 * lossless fake Opus codec (the "packet" is a 20 ms TOC byte plus the raw PCM), so mixing results
 * can be checked sample by sample through the whole player.
 */
import type { Readable } from 'node:stream';
import type { OpusCodecFactory, OpusDecoder, OpusEncoder } from '../../src/audio/opus.js';
import type { Transmission } from '../../src/voice/transmit.js';
import { afterEach } from 'vitest';
import { TOC_20MS } from './opus-packets.js';
import { AudioPlayer } from '../../src/player/index.js';
import type { AudioPlayerOptions, PlayerTarget } from '../../src/player/index.js';

interface Current {
  it: AsyncIterator<Uint8Array>;
  frames: Uint8Array[];
  finish: () => void;
}

export class FakeSession implements PlayerTarget {
  /** Frames received, one array per transmission (burst). */
  readonly bursts: Uint8Array[][] = [];
  private current: Current | undefined;

  playOpus(source: AsyncIterable<Uint8Array> | Readable): Transmission {
    // Like VoiceSession: a new transmission stops the current one.
    const previous = this.current;
    if (previous !== undefined) {
      void previous.it.return?.();
      previous.finish();
    }
    const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const frames: Uint8Array[] = [];
    this.bursts.push(frames);
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const entry: Current = { it, frames, finish };
    this.current = entry;
    return {
      finished,
      stop: () => {
        if (this.current === entry) this.current = undefined;
        void it.return?.();
        finish();
      },
      get framesSent() {
        return frames.length;
      },
    };
  }

  get streaming(): boolean {
    return this.current !== undefined;
  }

  get transmissions(): number {
    return this.bursts.length;
  }

  /** Pulls up to `n` frames like a transmit pump; stops at a burst end (the transmission then finishes). */
  async pull(n: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const c = this.current;
      if (c === undefined) break;
      const r = await c.it.next();
      if (r.done === true) {
        this.current = undefined;
        c.finish();
        break;
      }
      c.frames.push(r.value);
      out.push(r.value);
    }
    await settle();
    return out;
  }
}

/** Lets promise chains and setImmediate callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export { TOC_20MS, packet, packets } from './opus-packets.js';

/** Lossless fake codec: encode = TOC byte + PCM bytes; decode inverts it (or yields silence for other packets). */
export function fakeCodec(): OpusCodecFactory & { encoded: number; decoded: number } {
  const stats = { encoded: 0, decoded: 0 };
  const factory = {
    backend: 'opusscript' as const,
    get encoded() {
      return stats.encoded;
    },
    get decoded() {
      return stats.decoded;
    },
    createEncoder(): OpusEncoder {
      return {
        encode(pcm: Uint8Array): Uint8Array {
          stats.encoded++;
          const out = new Uint8Array(pcm.length + 1);
          out[0] = TOC_20MS;
          out.set(pcm, 1);
          return out;
        },
        close() {},
      };
    },
    createDecoder(): OpusDecoder {
      return {
        concealment: 'silence',
        decode(frame: Uint8Array): Int16Array {
          stats.decoded++;
          const out = new Int16Array(1920);
          if (frame.length === 3841) new Uint8Array(out.buffer).set(frame.subarray(1));
          return out;
        },
        conceal: () => new Int16Array(1920),
        close() {},
      };
    },
  };
  return factory;
}

/** PCM of a fake-codec frame. */
export function fakeDecode(frame: Uint8Array): Int16Array {
  const out = new Int16Array(1920);
  new Uint8Array(out.buffer).set(frame.subarray(1, 3841));
  return out;
}

/** A fake-codec packet holding a constant sample value. */
export function fakePacket(value: number): Uint8Array {
  const pcm = new Int16Array(1920).fill(value);
  const out = new Uint8Array(3841);
  out[0] = TOC_20MS;
  out.set(new Uint8Array(pcm.buffer), 1);
  return out;
}

/** Bytes of s16le PCM: `frames` 20 ms frames, each filled with value(frameIndex). */
export function pcmBytes(frames: number, value: (frame: number) => number): Uint8Array {
  const out = new Int16Array(frames * 1920);
  for (let f = 0; f < frames; f++) out.fill(value(f), f * 1920, (f + 1) * 1920);
  return new Uint8Array(out.buffer);
}

/** `seconds` of a stereo sine at amplitude 0.5, as fake-codec packets (the fake codec is lossless). */
export function tonePackets(seconds: number, hz: number): Uint8Array[] {
  const frames = Math.round((seconds * 48_000) / 960);
  const out: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(1920);
    for (let i = 0; i < 960; i++) {
      const v = Math.round(0.5 * 32767 * Math.sin((2 * Math.PI * hz * (f * 960 + i)) / 48_000));
      pcm[2 * i] = v;
      pcm[2 * i + 1] = v;
    }
    const packet = new Uint8Array(3841);
    packet[0] = TOC_20MS;
    packet.set(new Uint8Array(pcm.buffer), 1);
    out.push(packet);
  }
  return out;
}

/** Frequency of channel 0 of 48 kHz stereo PCM from its upward zero crossings, skipping the first and last 100 ms. */
export function frequency(pcm: Int16Array): number {
  const rate = 48_000;
  const n = pcm.length / 2;
  const ups: number[] = [];
  for (let i = Math.round(0.1 * rate) + 1; i < n - Math.round(0.1 * rate); i++) {
    const a = pcm[2 * (i - 1)] ?? 0;
    const b = pcm[2 * i] ?? 0;
    if (a < 0 && b >= 0) ups.push(i - 1 + a / (a - b));
  }
  return ((ups.length - 1) * rate) / ((ups[ups.length - 1] ?? 0) - (ups[0] ?? 0));
}

export { hex } from '../support/bytes.js';

/** A maker of players on the fake codec, each destroyed after the test (call inside a describe). */
export function usePlayers(): (options?: AudioPlayerOptions) => AudioPlayer {
  const players: AudioPlayer[] = [];
  afterEach(() => {
    for (const p of players.splice(0)) p.destroy();
  });
  return (options = {}) => {
    const p = new AudioPlayer({ opus: fakeCodec(), ...options });
    players.push(p);
    return p;
  };
}
