/**
 * Mixes every speaker's decoded PCM onto one 20 ms timeline. Pure: `pull(now)` produces one frame
 * per slot that has passed. Each user has a small sample FIFO (frames arrive from their jitter
 * buffer at playout time, so one per slot on average); a FIFO that grows beyond its bound drops its
 * oldest samples, keeping the mix's latency bounded. Sums go through a soft clipper, so overlapping
 * loud speakers compress instead of wrapping or hard-clipping.
 */
import { Readable } from 'node:stream';
import { FRAME_DURATION_MS, SAMPLES_PER_FRAME } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { FRAME_SAMPLES, softClip as clip } from '../audio/pcm-mix.js';

const FULL_SCALE = 32767;
/** Below this magnitude the clipper is the identity (bit-exact for a single normal-level speaker). */
export const SOFT_CLIP_KNEE = 24576;

/** Maps any sum to [-32767, 32767]: linear up to the knee, then a tanh curve with slope 1 at the knee. */
export function softClip(x: number): number {
  return clip(x, SOFT_CLIP_KNEE, FULL_SCALE);
}

/** Sums frames sample by sample (shorter ones padded with silence) and soft-clips the result. */
export function mixFrames(frames: readonly Int16Array[], length = FRAME_SAMPLES): Int16Array {
  const acc = new Float64Array(length);
  for (const f of frames) {
    const n = Math.min(length, f.length);
    for (let i = 0; i < n; i++) acc[i]! += f[i]!;
  }
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.round(softClip(acc[i]!));
  return out;
}

export interface MixedFrame {
  /** Position on the mixer's timeline in samples per channel (slot index × 960). */
  timestamp: number;
  /** 1920 interleaved s16 stereo samples. */
  pcm: Int16Array;
  /** Users with audio in this frame. */
  speakers: string[];
}

export interface MixerOptions {
  /** Per-user buffering bound, ms (default 60); older audio beyond it is dropped. */
  maxQueuedMs?: number;
  /** Emit silent frames while nobody speaks (default true: a continuous timeline, e.g. for recording). */
  emitSilence?: boolean;
}

/** A per-user FIFO of samples. */
class SampleQueue {
  chunks: Int16Array[] = [];
  offset = 0;
  length = 0;

  push(pcm: Int16Array): void {
    this.chunks.push(pcm);
    this.length += pcm.length;
  }

  /** Drops the oldest samples beyond `max`; returns how many were dropped. */
  trim(max: number): number {
    let drop = this.length - max;
    if (drop <= 0) return 0;
    const dropped = drop;
    while (drop > 0) {
      const head = this.chunks[0]!;
      const avail = head.length - this.offset;
      if (avail <= drop) {
        this.chunks.shift();
        this.offset = 0;
        drop -= avail;
      } else {
        this.offset += drop;
        drop = 0;
      }
    }
    this.length -= dropped;
    return dropped;
  }

  /** Adds up to `n` samples into `acc`; returns how many there were. */
  takeInto(acc: Float64Array, n: number): number {
    let taken = 0;
    while (taken < n && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const k = Math.min(n - taken, head.length - this.offset);
      for (let i = 0; i < k; i++) acc[taken + i]! += head[this.offset + i]!;
      taken += k;
      this.offset += k;
      if (this.offset >= head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.length -= taken;
    return taken;
  }
}

export class Mixer {
  private readonly maxQueued: number;
  private readonly emitSilence: boolean;
  private readonly queues = new Map<string, SampleQueue>();
  private nextSlotAt: number | undefined;
  private slot = 0;
  /** Samples dropped because a user's FIFO overflowed. */
  overflowSamples = 0;

  constructor(options: MixerOptions = {}) {
    const ms = options.maxQueuedMs ?? 3 * FRAME_DURATION_MS;
    if (!Number.isFinite(ms) || ms < FRAME_DURATION_MS) {
      throw new VoxcordError('INVALID_ARGUMENT', `mixer maxQueuedMs must be at least ${FRAME_DURATION_MS}`);
    }
    this.maxQueued = Math.round((ms / FRAME_DURATION_MS) * FRAME_SAMPLES);
    this.emitSilence = options.emitSilence ?? true;
  }

  /** Queues a user's decoded audio (interleaved stereo s16). */
  push(userId: string, pcm: Int16Array): void {
    let q = this.queues.get(userId);
    if (q === undefined) {
      q = new SampleQueue();
      this.queues.set(userId, q);
    }
    q.push(pcm);
    this.overflowSamples += q.trim(this.maxQueued);
  }

  remove(userId: string): void {
    this.queues.delete(userId);
  }

  /** One mixed frame per 20 ms slot elapsed up to `now` (the first call starts the timeline). */
  pull(now: number): MixedFrame[] {
    const out: MixedFrame[] = [];
    if (this.nextSlotAt === undefined) this.nextSlotAt = now;
    // A stalled caller (e.g. a blocked event loop) must not produce a burst of catch-up frames
    // larger than one second; the timeline skips ahead instead.
    const maxSlots = 1000 / FRAME_DURATION_MS;
    if ((now - this.nextSlotAt) / FRAME_DURATION_MS > maxSlots) {
      const skip = Math.floor((now - this.nextSlotAt) / FRAME_DURATION_MS) - maxSlots;
      this.nextSlotAt += skip * FRAME_DURATION_MS;
      this.slot += skip;
    }
    while (this.nextSlotAt <= now) {
      const frame = this.mixSlot();
      if (frame !== undefined) out.push(frame);
      this.slot++;
      this.nextSlotAt += FRAME_DURATION_MS;
    }
    return out;
  }

  private mixSlot(): MixedFrame | undefined {
    const acc = new Float64Array(FRAME_SAMPLES);
    const speakers: string[] = [];
    for (const [userId, q] of this.queues) {
      if (q.takeInto(acc, FRAME_SAMPLES) > 0) speakers.push(userId);
    }
    if (speakers.length === 0 && !this.emitSilence) return undefined;
    const pcm = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(softClip(acc[i]!));
    return { timestamp: this.slot * SAMPLES_PER_FRAME, pcm, speakers };
  }
}

/** The receiver's mixed output: a Node Readable (object mode) of MixedFrame, and an async iterable. */
export class MixedAudioStream extends Readable {
  private finished = false;
  private closeNotified = false;
  /** Frames dropped because the consumer was not reading. */
  dropped = 0;

  constructor(
    private readonly maxQueuedFrames: number,
    private readonly onClose: () => void,
  ) {
    super({ objectMode: true, highWaterMark: 16 });
  }

  /** @internal Called by the receiver. */
  deliver(frame: MixedFrame): void {
    if (this.finished || this.destroyed) return;
    if (this.readableLength >= this.maxQueuedFrames) {
      this.dropped++;
      return;
    }
    this.push(frame);
  }

  /** Ends the stream (idempotent). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.destroyed) this.push(null);
    this.notifyClose();
  }

  private notifyClose(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onClose();
  }

  async *frames(): AsyncGenerator<MixedFrame> {
    for await (const f of this) yield f as MixedFrame;
  }

  override _read(): void {
    // Frames are pushed on the receiver's clock; nothing to pull.
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.finished = true;
    this.notifyClose();
    callback(error);
  }
}
