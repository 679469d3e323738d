/** Shared test helpers for the receive path: deterministic randomness, signals, packet schedules. */
import type { ReceivedRtp } from '../../src/media/media-engine.js';
import { InboundStage, type DaveDecrypt } from '../../src/voice/inbound.js';
import type { VoiceReceiver } from '../../src/receive/receiver.js';

/** Deterministic PRNG (mulberry32) so loss/reorder patterns are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A tone sequence: 100 ms steps cycling through a few frequencies, stereo s16 interleaved.
 * Returns `frames` 20 ms frames as s16le bytes (for the encoder) and the whole signal as samples.
 */
export function toneSequence(frames: number, amplitude = 8000): { bytes: Uint8Array[]; samples: Int16Array } {
  const freqs = [440, 660, 550, 880, 330];
  const samples = new Int16Array(frames * 1920);
  let phase = 0;
  for (let n = 0; n < frames * 960; n++) {
    const f = freqs[Math.floor(n / 4800) % freqs.length]!;
    phase += (2 * Math.PI * f) / 48_000;
    const v = Math.round(amplitude * Math.sin(phase));
    samples[2 * n] = v;
    samples[2 * n + 1] = v;
  }
  const bytes: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    bytes.push(new Uint8Array(samples.buffer, i * 3840, 3840).slice());
  }
  return { bytes, samples };
}

/** Normalised cross-correlation of a and b (left channel), with b shifted by `lag` samples per channel. */
export function correlation(a: Int16Array, b: Int16Array, lag: number, from = 0, to?: number): number {
  const n = Math.min(a.length / 2, b.length / 2 - lag, to ?? Infinity);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = from; i < n; i++) {
    const x = a[2 * i]!;
    const y = b[2 * (i + lag)]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** The lag in [0, maxLag] that maximises correlation over the first `window` samples. */
export function bestLag(a: Int16Array, b: Int16Array, maxLag: number, window = 9600): number {
  let best = 0;
  let bestC = -Infinity;
  for (let lag = 0; lag <= maxLag; lag++) {
    const c = correlation(a, b, lag, 0, window);
    if (c > bestC) {
      bestC = c;
      best = lag;
    }
  }
  return best;
}

export interface Schedule {
  /** Index into the sent frames. */
  index: number;
  arrival: number;
}

/**
 * Arrival schedule for `count` frames sent every 20 ms from `start`: each is dropped with
 * probability `loss` (never the first or last), delayed by up to `jitterMs`, sorted by arrival.
 */
export function schedule(
  count: number,
  options: { loss?: number; jitterMs?: number; seed?: number; start?: number } = {},
): Schedule[] {
  const r = rng(options.seed ?? 1);
  const out: Schedule[] = [];
  for (let i = 0; i < count; i++) {
    const lost = i > 0 && i < count - 1 && r() < (options.loss ?? 0);
    const delay = r() * (options.jitterMs ?? 0);
    if (!lost) out.push({ index: i, arrival: (options.start ?? 1000) + i * 20 + delay });
  }
  return out.sort((a, b) => a.arrival - b.arrival);
}

export function rtp(
  index: number,
  payload: Uint8Array,
  arrival: number,
  opts: { ssrc?: number; seqBase?: number; tsBase?: number } = {},
): ReceivedRtp {
  return {
    ssrc: opts.ssrc ?? 1234,
    sequence: ((opts.seqBase ?? 0) + index) & 0xffff,
    timestamp: ((opts.tsBase ?? 0) + index * 960) >>> 0,
    payload,
    receivedAt: arrival,
  };
}

/**
 * Drives a simulated clock: delivers each arrival at its time and calls `tick(now)` every `step`
 * ms until `end`.
 */
export function runClock<T extends { arrival: number }>(
  arrivals: readonly T[],
  end: number,
  deliver: (a: T) => void,
  tick: (now: number) => void,
  step = 5,
  start = arrivals[0]?.arrival ?? 0,
): void {
  let i = 0;
  for (let now = start; now <= end; now += step) {
    while (i < arrivals.length && arrivals[i]!.arrival <= now) deliver(arrivals[i++]!);
    tick(now);
  }
}

/**
 * The real receive seam without sockets, wired as a VoiceSession wires it: packets go into an
 * InboundStage (DAVE-decrypted with `dave` when given, else plain), whose frames and failures go
 * through the receiver's one door. `map` is op 5's SSRC mapping; `speaking` and `disconnect` are
 * op 5 and op 13 as the session hands them to both.
 */
export function inboundFeed(
  receiver: VoiceReceiver,
  dave?: DaveDecrypt,
): {
  stage: InboundStage;
  packet(packet: ReceivedRtp): void;
  map(ssrc: number, userId: string): void;
  speaking(update: { userId: string; ssrc: number; speaking: number }): void;
  /** Op 13 at `at` (the packets' clock; default now). */
  disconnect(userId: string, at?: number): void;
} {
  const stage = new InboundStage({
    frame: (f) => receiver.receive(f),
    failure: (f) => receiver.receive(f),
  });
  if (dave !== undefined) stage.useDave(dave);
  return {
    stage,
    packet: (packet) => stage.receive(packet),
    map: (ssrc, userId) => {
      stage.map(ssrc, userId);
      stage.releaseHeld(ssrc);
    },
    speaking: (update) => {
      stage.map(update.ssrc, update.userId);
      receiver.onSpeaking(update);
      stage.releaseHeld(update.ssrc);
    },
    disconnect: (userId, at = performance.now()) => {
      stage.forget(userId, at);
      receiver.onClientDisconnect(userId);
    },
  };
}
