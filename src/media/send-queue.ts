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

/** First size of a queue's byte store (allocated on the first frame; grows with what is queued). */
const FIRST_STORE_BYTES = 2048;
/** Stores grow in steps of this many bytes. */
const STORE_STEP_BYTES = 1024;
/** A store this big is let go once the queue empties (a burst of deep queueing does not stay). */
const KEEP_STORE_BYTES = 64 * 1024;
const FIRST_SLOTS = 16;
const EMPTY = new Uint8Array(0);

/**
 * Queued frames are copied into one byte store per queue (oldest first, back to back), not kept as
 * the caller's arrays: a frame that waits 300-500 ms must not pin the 32 KiB batch buffer it came
 * in (the worker engine), nor survive young-generation collections as one object per frame.
 */
export class SendQueue {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly silenceFrames: number;
  /** Frame bytes: the queued frames lie back to back in [readAt, writeAt). */
  private store = EMPTY;
  private readAt = 0;
  private writeAt = 0;
  /** Frame lengths, a ring (a power of two long): `count` entries from `slotHead`. */
  private lengths = new Int32Array(0);
  private slotHead = 0;
  private count = 0;
  /**
   * While next() signals 'drain', the frame it takes still occupies [readAt, readAt + lent): a
   * producer that refills from the drain listener must not overwrite it. -1 otherwise.
   */
  private lent = -1;
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
    return this.count;
  }

  /** Bytes this queue holds for frames (its store), for memory accounting. */
  get storeBytes(): number {
    return this.store.length;
  }

  /** True while anything (frames or burst silence) is waiting to be sent. */
  get busy(): boolean {
    return this.count > 0 || this.burstRequested || this.silenceLeft > 0;
  }

  /** Like Writable.write: the frame is always queued (copied); false means "wait for drain". */
  enqueue(frame: Uint8Array): boolean {
    const length = frame.length;
    if (this.writeAt + length > this.store.length) this.makeRoom(length);
    this.store.set(frame, this.writeAt);
    this.writeAt += length;
    if (this.count === this.lengths.length) this.growSlots();
    this.lengths[(this.slotHead + this.count) & (this.lengths.length - 1)] = length;
    this.count++;
    if (this.count >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  endBurst(): void {
    this.burstRequested = true;
  }

  clear(): void {
    this.remove(false);
  }

  /** Removes the queued frames (not the burst's silence) and returns copies of them, oldest first. */
  take(): Uint8Array[] {
    return this.remove(true);
  }

  private remove(copy: boolean): Uint8Array[] {
    const had = this.count;
    const taken: Uint8Array[] = [];
    let at = this.readAt + Math.max(0, this.lent);
    for (let i = 0; copy && i < had; i++) {
      const length = this.lengths[(this.slotHead + i) & (this.lengths.length - 1)]!;
      taken.push(this.store.slice(at, at + length));
      at += length;
    }
    this.count = 0;
    this.slotHead = 0;
    this.writeAt = this.readAt + Math.max(0, this.lent);
    if (this.lent < 0) this.emptied();
    if (had > 0) this.maybeDrain(had);
    return taken;
  }

  /**
   * The payload for this tick, or undefined when there is nothing to send. A queued frame is a view
   * into the store: use it before the queue changes again (enqueue, take, clear).
   */
  next(): SendItem | undefined {
    // A burst's silence tail is finished before newer frames go out, so 'burstEnd' always fires.
    if (this.silenceLeft === 0 && this.count > 0) {
      const before = this.count;
      const length = this.lengths[this.slotHead]!;
      this.slotHead = (this.slotHead + 1) & (this.lengths.length - 1);
      this.count--;
      // 'drain' may refill synchronously: the frame's bytes stay put (lent) until it returns.
      this.lent = length;
      let at = this.readAt;
      try {
        this.maybeDrain(before);
      } finally {
        this.lent = -1;
        at = this.readAt;
        this.readAt = at + length;
      }
      const frame = new Uint8Array(this.store.buffer, at, length);
      if (this.count === 0) this.emptied();
      return { frame, silence: false, endsBurst: false };
    }
    if (this.silenceLeft === 0 && this.burstRequested) {
      this.burstRequested = false;
      this.silenceLeft = this.silenceFrames;
      if (this.silenceLeft === 0) {
        this.release();
        return { frame: new Uint8Array(0), silence: true, endsBurst: true };
      }
    }
    if (this.silenceLeft > 0) {
      this.silenceLeft--;
      if (this.silenceLeft === 0) this.release();
      // A fresh copy each time: the frame may be transferred or retained downstream.
      return { frame: OPUS_SILENCE_FRAME.slice(), silence: true, endsBurst: this.silenceLeft === 0 };
    }
    return undefined;
  }

  /**
   * A burst ended with nothing queued: the store goes until the next frame (a connected bot is
   * silent most of the time; its queue need not hold a playing queue's bytes meanwhile).
   */
  private release(): void {
    if (this.count > 0 || this.lent >= 0) return;
    this.readAt = 0;
    this.writeAt = 0;
    this.slotHead = 0;
    this.store = EMPTY;
    this.lengths = new Int32Array(0);
  }

  /** Nothing queued: the next frame goes to the store's start; a big store is let go. */
  private emptied(): void {
    this.readAt = 0;
    this.writeAt = 0;
    this.slotHead = 0;
    if (this.store.length > KEEP_STORE_BYTES) {
      this.store = EMPTY;
      this.lengths = new Int32Array(0);
    }
  }

  /**
   * Room for `length` more bytes: the live bytes (queued, and a lent frame) move to the store's
   * start, into a store half again as big as they are when they would fill more than three
   * quarters of it (so a move comes after at least a quarter of the store was written).
   */
  private makeRoom(length: number): void {
    const live = this.writeAt - this.readAt;
    const needed = live + length;
    if (needed * 4 > this.store.length * 3) {
      const size = Math.max(
        FIRST_STORE_BYTES,
        Math.ceil((needed * 1.5) / STORE_STEP_BYTES) * STORE_STEP_BYTES,
      );
      const grown = new Uint8Array(size);
      if (live > 0) grown.set(this.store.subarray(this.readAt, this.writeAt), 0);
      this.store = grown;
    } else if (live > 0) {
      this.store.copyWithin(0, this.readAt, this.writeAt);
    }
    this.readAt = 0;
    this.writeAt = live;
  }

  private growSlots(): void {
    const grown = new Int32Array(Math.max(FIRST_SLOTS, this.lengths.length * 2));
    for (let i = 0; i < this.count; i++)
      grown[i] = this.lengths[(this.slotHead + i) & (this.lengths.length - 1)]!;
    this.lengths = grown;
    this.slotHead = 0;
  }

  private maybeDrain(before: number): void {
    const now = this.count;
    const crossed = before > this.lowWaterMark && now <= this.lowWaterMark;
    if (crossed || (this.needDrain && now <= this.lowWaterMark)) {
      this.needDrain = false;
      this.events.drain();
    }
  }
}
