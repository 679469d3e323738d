/**
 * What a channel sends on each 20 ms tick: queued Opus frames, then the trailing silence of a
 * burst. Pure: no sockets, no timers; the channel calls `next()` once per tick.
 */
import { OPUS_SILENCE_FRAME, SILENCE_FRAMES_AT_END } from '../protocol/constants.js';

export interface SendQueueOptions {
  /** enqueue() returns false when this many frames are queued (default 15 = 300 ms). */
  highWaterMark?: number;
  /** 'drain' fires when the queue falls to this many frames (default 5). */
  lowWaterMark?: number;
  /** Silence frames sent when a burst ends (default 5). */
  silenceFrames?: number;
}

export interface SendQueueEvents {
  drain(): void;
}

export interface SendItem {
  frame: Uint8Array;
  silence: boolean;
  /** The last silence frame of a burst: emit 'burstEnd' once it is sent. */
  endsBurst: boolean;
}

export const DEFAULT_HIGH_WATER_MARK = 15;
export const DEFAULT_LOW_WATER_MARK = 5;

export class SendQueue {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly silenceFrames: number;
  private frames: Uint8Array[] = [];
  private head = 0;
  private burstRequested = false;
  private silenceLeft = 0;
  private needDrain = false;

  constructor(
    private readonly events: SendQueueEvents,
    options: SendQueueOptions = {},
  ) {
    this.highWaterMark = Math.max(1, options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK);
    this.lowWaterMark = Math.min(
      this.highWaterMark - 1,
      Math.max(0, options.lowWaterMark ?? DEFAULT_LOW_WATER_MARK),
    );
    this.silenceFrames = Math.max(0, options.silenceFrames ?? SILENCE_FRAMES_AT_END);
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  /** True while anything (frames or burst silence) is waiting to be sent. */
  get busy(): boolean {
    return this.length > 0 || this.burstRequested || this.silenceLeft > 0;
  }

  /** Like Writable.write: the frame is always queued; false means "wait for drain". */
  enqueue(frame: Uint8Array): boolean {
    this.frames.push(frame);
    if (this.length >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  endBurst(): void {
    this.burstRequested = true;
  }

  clear(): void {
    this.take();
  }

  /** Removes the queued frames (not the burst's silence) and returns them, oldest first. */
  take(): Uint8Array[] {
    const had = this.length;
    const taken = this.head === 0 ? this.frames : this.frames.slice(this.head);
    this.frames = [];
    this.head = 0;
    if (had > 0) this.maybeDrain(had);
    return taken;
  }

  /** The payload for this tick, or undefined when there is nothing to send. */
  next(): SendItem | undefined {
    // A burst's silence tail is finished before newer frames go out, so 'burstEnd' always fires.
    if (this.silenceLeft === 0 && this.length > 0) {
      const before = this.length;
      const frame = this.frames[this.head]!;
      this.head++;
      if (this.head >= 64 && this.head * 2 >= this.frames.length) {
        this.frames = this.frames.slice(this.head);
        this.head = 0;
      }
      this.maybeDrain(before);
      return { frame, silence: false, endsBurst: false };
    }
    if (this.silenceLeft === 0 && this.burstRequested) {
      this.burstRequested = false;
      this.silenceLeft = this.silenceFrames;
      if (this.silenceLeft === 0) return { frame: new Uint8Array(0), silence: true, endsBurst: true };
    }
    if (this.silenceLeft > 0) {
      this.silenceLeft--;
      // A fresh copy each time: the frame may be transferred or retained downstream.
      return { frame: OPUS_SILENCE_FRAME.slice(), silence: true, endsBurst: this.silenceLeft === 0 };
    }
    return undefined;
  }

  private maybeDrain(before: number): void {
    const now = this.length;
    const crossed = before > this.lowWaterMark && now <= this.lowWaterMark;
    if (crossed || (this.needDrain && now <= this.lowWaterMark)) {
      this.needDrain = false;
      this.events.drain();
    }
  }
}
