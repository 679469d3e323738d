/**
 * What a channel sends on each 20 ms tick: queued Opus frames, then the trailing silence of a
 * burst. Pure: no sockets, no timers; the channel calls `next()` once per tick.
 */
import { OPUS_SILENCE_FRAME, SILENCE_FRAMES_AT_END } from '../protocol/constants.js';

export interface SendQueueOptions {
  /**
   * enqueue() returns false when this many frames are queued (default 15 = 300 ms inline; the
   * worker engine's default is 25 = 500 ms, WORKER_HIGH_WATER_MARK).
   */
  highWaterMark?: number;
  /** 'drain' fires when the queue is down to this many frames (default 5 inline, 15 in a worker). */
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

/**
 * What nextInto() found, written into the caller's object (one per thread is enough): the frame is
 * `bytes[offset, offset + length)`, the queue's store or the shared silence frame, to be read
 * (never written) before the queue changes again (enqueue, take, clear).
 */
export interface SendSlot {
  bytes: Uint8Array;
  offset: number;
  length: number;
  silence: boolean;
  /** The last silence frame of a burst: emit 'burstEnd' once it is sent. */
  endsBurst: boolean;
}

/** An empty SendSlot to fill with nextInto(). */
export function emptySendSlot(): SendSlot {
  return { bytes: EMPTY, offset: 0, length: 0, silence: false, endsBurst: false };
}

export const DEFAULT_HIGH_WATER_MARK = 15;
export const DEFAULT_LOW_WATER_MARK = 5;

/** First size of a queue's byte store (allocated on the first frame; grows with what is queued). */
const FIRST_STORE_BYTES = 1024;
/** Stores grow in steps of this many bytes. */
const STORE_STEP_BYTES = 512;
/** A store this big is let go once the queue empties (a burst of deep queueing does not stay). */
const KEEP_STORE_BYTES = 64 * 1024;
/** Each frame in the store is preceded by its length (little-endian u32). */
const HEAD_BYTES = 4;
const EMPTY = new Uint8Array(0);

/**
 * Queued frames are copied into one byte store per queue, not kept as the caller's arrays: a frame
 * that waits 300-500 ms must not pin the batch buffer it came in (the worker engine), nor survive
 * young-generation collections as one object per frame. The store is a ring of whole frames (a
 * frame that does not fit before the end goes to the start), so it needs only the queued bytes
 * plus one frame, and a frame is never moved once written: a linear store that moves its bytes
 * back to the start needs room to spare between moves (a 25-frame queue of 180-byte frames held
 * 7 KiB; as a ring, 5.5 KiB). Each frame's length is written in front of it, so the store is all a
 * queue reads per frame: at N = 1000 a tick's cost is mostly cache misses on per-channel state,
 * and a separate array of frame positions was one more object and buffer to fetch per packet
 * (its read was the hottest line of the worker's tick in a profile).
 */
export class SendQueue {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly silenceFrames: number;
  private store = EMPTY;
  /**
   * The oldest live record's start (the one lent to the caller of next(), else the next queued one)
   * and where the next record (length, then frame) would be written. The live bytes run from
   * readAt to writeAt, through the store's end and on from 0 when wrapped.
   */
  private readAt = 0;
  private writeAt = 0;
  /**
   * Wrapped: the writer went back to 0 and the records before the store's end stop here (the
   * reader goes on at 0 from it). -1 when not wrapped.
   */
  private wrapAt = -1;
  /** Queued frames: records from readAt (after the lent one, while one is lent). */
  private count = 0;
  /**
   * While next() signals 'drain', the frame it takes still occupies its record at readAt (`lent`
   * bytes after the length): a producer that refills from the drain listener must not overwrite
   * it. -1 otherwise.
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
    const record = HEAD_BYTES + length;
    let at = this.placeFor(record);
    if (at < 0) {
      this.grow(record);
      at = this.writeAt;
    } else if (at < this.writeAt) {
      this.wrapAt = this.writeAt; // back to the start: the reader follows from here
    }
    const store = this.store;
    store[at] = length;
    store[at + 1] = length >>> 8;
    store[at + 2] = length >>> 16;
    store[at + 3] = length >>> 24;
    store.set(frame, at + HEAD_BYTES);
    this.writeAt = at + record;
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
    let at = this.firstQueued();
    for (let i = 0; copy && i < had; i++) {
      const length = this.lengthAt(at);
      taken.push(this.store.slice(at + HEAD_BYTES, at + HEAD_BYTES + length));
      at = this.after(at, length);
    }
    this.count = 0;
    if (this.lent < 0) this.emptied();
    else {
      this.writeAt = this.readAt + HEAD_BYTES + this.lent;
      this.wrapAt = -1;
    }
    if (had > 0) this.maybeDrain(had);
    return taken;
  }

  /**
   * The payload for this tick, or undefined when there is nothing to send. A queued frame is a view
   * into the store: use it before the queue changes again (enqueue, take, clear). The engine uses
   * nextInto(), which makes no object per tick.
   */
  next(): SendItem | undefined {
    const slot = emptySendSlot();
    if (!this.nextInto(slot)) return undefined;
    const { bytes, offset, length } = slot;
    // A fresh silence frame each time: the caller may transfer or keep it.
    const frame = slot.silence
      ? bytes.slice(offset, offset + length)
      : new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length);
    return { frame, silence: slot.silence, endsBurst: slot.endsBurst };
  }

  /** next() into `slot` without allocating: false when there is nothing to send this tick. */
  nextInto(slot: SendSlot): boolean {
    // A burst's silence tail is finished before newer frames go out, so 'burstEnd' always fires.
    if (this.silenceLeft === 0 && this.count > 0) {
      const before = this.count;
      const length = this.lengthAt(this.readAt);
      this.count--;
      // 'drain' may refill synchronously: the frame's bytes stay put (lent) until it returns.
      this.lent = length;
      try {
        this.maybeDrain(before);
      } finally {
        this.lent = -1;
      }
      // A store that grew in the listener moved the lent frame to readAt. The slot keeps this
      // store even if emptied() lets it go below.
      const at = this.readAt;
      slot.bytes = this.store;
      slot.offset = at + HEAD_BYTES;
      slot.length = length;
      slot.silence = false;
      slot.endsBurst = false;
      if (this.count === 0) this.emptied();
      else {
        this.readAt = this.after(at, length);
        if (this.readAt === 0) this.wrapAt = -1;
      }
      return true;
    }
    if (this.silenceLeft === 0 && this.burstRequested) {
      this.burstRequested = false;
      this.silenceLeft = this.silenceFrames;
      if (this.silenceLeft === 0) {
        this.release();
        return silenceInto(slot, 0, true);
      }
    }
    if (this.silenceLeft > 0) {
      this.silenceLeft--;
      if (this.silenceLeft === 0) this.release();
      return silenceInto(slot, OPUS_SILENCE_FRAME.length, this.silenceLeft === 0);
    }
    return false;
  }

  /**
   * A burst ended with nothing queued: the store goes until the next frame (a connected bot is
   * silent most of the time; its queue need not hold a playing queue's bytes meanwhile).
   */
  private release(): void {
    if (this.count > 0 || this.lent >= 0) return;
    this.readAt = 0;
    this.writeAt = 0;
    this.wrapAt = -1;
    this.store = EMPTY;
  }

  /** Nothing queued: the next frame goes to the store's start; a big store is let go. */
  private emptied(): void {
    this.readAt = 0;
    this.writeAt = 0;
    this.wrapAt = -1;
    if (this.store.length > KEEP_STORE_BYTES) this.store = EMPTY;
  }

  /** A frame's length, from its record at `at`. */
  private lengthAt(at: number): number {
    const store = this.store;
    return (store[at]! | (store[at + 1]! << 8) | (store[at + 2]! << 16) | (store[at + 3]! << 24)) >>> 0;
  }

  /** The record after the one at `at` (holding `length` frame bytes). */
  private after(at: number, length: number): number {
    const next = at + HEAD_BYTES + length;
    return next === this.wrapAt ? 0 : next;
  }

  /** The oldest queued record (past the lent one, while one is lent). */
  private firstQueued(): number {
    return this.lent < 0 ? this.readAt : this.after(this.readAt, this.lent);
  }

  /** Where a record of `size` bytes fits in the store as it is (without touching live bytes), or -1. */
  private placeFor(size: number): number {
    const live = this.count > 0 || this.lent >= 0;
    if (!live) {
      this.readAt = 0;
      this.writeAt = 0;
      this.wrapAt = -1;
      return size <= this.store.length ? 0 : -1;
    }
    const readAt = this.readAt;
    const writeAt = this.writeAt;
    // Wrapped: only the gap up to the oldest record is free.
    if (this.wrapAt >= 0) return writeAt + size <= readAt ? writeAt : -1;
    if (writeAt + size <= this.store.length) return writeAt;
    return size <= readAt ? 0 : -1;
  }

  /**
   * A larger store for the live records and `size` more bytes: the live records (a lent one first)
   * are copied to its start in order, with an eighth of the bytes to spare (rounded up to
   * STORE_STEP_BYTES), so a queue that stays at its high-water mark does not grow again.
   */
  private grow(size: number): void {
    const lent = this.lent >= 0 ? HEAD_BYTES + this.lent : 0;
    const first = this.firstQueued();
    let live = lent;
    for (let i = 0, at = first; i < this.count; i++) {
      const length = this.lengthAt(at);
      live += HEAD_BYTES + length;
      at = this.after(at, length);
    }
    const needed = live + size;
    const bytes = Math.max(
      FIRST_STORE_BYTES,
      Math.ceil((needed + (needed >> 3)) / STORE_STEP_BYTES) * STORE_STEP_BYTES,
    );
    const old = this.store;
    const grown = new Uint8Array(bytes);
    let to = 0;
    if (lent > 0) {
      grown.set(old.subarray(this.readAt, this.readAt + lent), 0);
      to = lent;
    }
    for (let i = 0, at = first; i < this.count; i++) {
      const record = HEAD_BYTES + this.lengthAt(at);
      grown.set(old.subarray(at, at + record), to);
      to += record;
      at = this.after(at, record - HEAD_BYTES);
    }
    this.store = grown;
    this.readAt = 0;
    this.writeAt = to;
    this.wrapAt = -1;
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

/** A silence frame (the shared constant, `length` 0 or all of it) in `slot`. */
function silenceInto(slot: SendSlot, length: number, endsBurst: boolean): true {
  slot.bytes = OPUS_SILENCE_FRAME;
  slot.offset = 0;
  slot.length = length;
  slot.silence = true;
  slot.endsBurst = endsBurst;
  return true;
}
