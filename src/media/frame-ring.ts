/**
 * The frame ring: frame batches from the main thread to a media worker through shared memory,
 * without a message. A message to a worker wakes it while the sender holds the port's lock, and a
 * real-time worker then preempts the sender inside it and waits for it: at P = 500 with tracks
 * fed from the main thread (http), 2-8 ms per wait, 38 ms per 5 s (docs/node-bench-history.md,
 * session 24). Frames from the ring are taken at the start of the worker clock's next run instead,
 * which comes before the ticks that send them.
 *
 * Single producer (the main side), single consumer (the worker). Batches keep their order with
 * the port's messages by sequence number: every flush of the main side has the next number, goes
 * here when it holds frames only and the worker said it will look soon (`polling`), else by port;
 * the worker applies them in number order, whichever way each came.
 *
 * Layout: an Int32 header `[write, read, polling, _]` (byte offsets into the data area, which
 * never fill it: one word stays free), then the data area. A record is 4-byte aligned: Uint32
 * `[seq, index words, data bytes]`, the run index (send-batch.ts layout), the frame bytes padded
 * to 4. A record that does not fit before the end leaves WRAP in its seq word and starts at 0;
 * so does one that finds the ring empty past REWIND_BYTES.
 */
import type { FrameBatchView } from './send-batch.js';

const HEADER_WORDS = 4;
const WRITE = 0;
const READ = 1;
const POLLING = 2;
const RECORD_HEAD_WORDS = 3;
/** A seq word that sends the reader back to offset 0. */
const WRAP = 0xffff_ffff;
/**
 * Bytes of frame data per ring: 160 ms of 500 players' frames (about 260 bytes each), which the
 * worker takes every few ms while its clock runs; a batch that finds it full goes by port.
 */
const FRAME_RING_BYTES = 1024 * 1024;
/**
 * A writer that finds the ring empty this far in starts again at 0: a light load (a bot with a few
 * connections) then keeps to the ring's first pages instead of touching all of it as it cycles.
 */
const REWIND_BYTES = 64 * 1024;

/** The ring's memory, made by the main side and handed to the worker in its workerData. */
export function createFrameRingMemory(bytes = FRAME_RING_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_WORDS * 4 + (Math.max(64, bytes) & ~3));
}

const pad4 = (n: number): number => (n + 3) & ~3;

class RingMemory {
  protected readonly header: Int32Array;
  readonly memory: SharedArrayBuffer;
  protected readonly words: Uint32Array;
  protected readonly bytes: Uint8Array;
  protected readonly capacity: number;

  constructor(memory: SharedArrayBuffer) {
    this.memory = memory;
    this.header = new Int32Array(memory, 0, HEADER_WORDS);
    this.capacity = memory.byteLength - HEADER_WORDS * 4;
    this.words = new Uint32Array(memory, HEADER_WORDS * 4, this.capacity / 4);
    this.bytes = new Uint8Array(memory, HEADER_WORDS * 4, this.capacity);
  }
}

/** The main side's end. */
export class FrameRingWriter extends RingMemory {
  /** Whether the worker's clock runs within a period (it takes the ring's batches then). */
  get workerPolling(): boolean {
    return Atomics.load(this.header, POLLING) === 1;
  }

  /**
   * Writes batch `seq`; false (nothing written) when it does not fit now. A batch larger than the
   * ring never fits.
   */
  write(seq: number, batch: FrameBatchView): boolean {
    const length = (RECORD_HEAD_WORDS + batch.index.length) * 4 + pad4(batch.data.length);
    const read = Atomics.load(this.header, READ);
    let at = Atomics.load(this.header, WRITE);
    // Free bytes up to the reader, one word kept free so that write === read means empty.
    const fits = (from: number, to: number): boolean => to - from >= length + 4;
    if (at === read && at >= REWIND_BYTES && fits(0, read)) {
      // Empty: the reader follows the WRAP word back to 0, as at the end.
      this.words[at / 4] = WRAP;
      at = 0;
    } else if (at >= read) {
      if (!fits(at, this.capacity + (read === 0 ? 0 : 4))) {
        // Not before the end: wrap, if it fits before the reader.
        if (read === 0 || !fits(0, read)) return false;
        this.words[at / 4] = WRAP;
        at = 0;
      }
    } else if (!fits(at, read)) return false;
    const w = at / 4;
    this.words[w] = seq >>> 0;
    this.words[w + 1] = batch.index.length;
    this.words[w + 2] = batch.data.length;
    this.words.set(batch.index, w + RECORD_HEAD_WORDS);
    this.bytes.set(batch.data, at + (RECORD_HEAD_WORDS + batch.index.length) * 4);
    let next = at + length;
    if (next === this.capacity) next = 0;
    // The store publishes the record (Atomics are sequentially consistent).
    Atomics.store(this.header, WRITE, next);
    return true;
  }
}

/** One batch as the worker reads it: views into the ring, valid until `consume()`. */
export interface RingBatch {
  seq: number;
  batch: FrameBatchView;
}

/** The worker's end. */
export class FrameRingReader extends RingMemory {
  /** The next batch, or undefined when the ring is empty; consume() it after use. */
  peek(): RingBatch | undefined {
    let at = Atomics.load(this.header, READ);
    if (at === Atomics.load(this.header, WRITE)) return undefined;
    if (this.words[at / 4] === WRAP) {
      at = 0;
      Atomics.store(this.header, READ, 0);
      if (Atomics.load(this.header, WRITE) === 0) return undefined;
    }
    const w = at / 4;
    const seq = this.words[w]!;
    const indexWords = this.words[w + 1]!;
    const dataBytes = this.words[w + 2]!;
    const dataAt = at + (RECORD_HEAD_WORDS + indexWords) * 4;
    return {
      seq,
      batch: {
        index: this.words.subarray(w + RECORD_HEAD_WORDS, w + RECORD_HEAD_WORDS + indexWords),
        data: this.bytes.subarray(dataAt, dataAt + dataBytes),
      },
    };
  }

  /** Frees the batch peek() returned (its views must not be used after this). */
  consume(): void {
    const at = Atomics.load(this.header, READ);
    if (at === Atomics.load(this.header, WRITE)) return;
    const w = at / 4;
    let next = at + (RECORD_HEAD_WORDS + this.words[w + 1]!) * 4 + pad4(this.words[w + 2]!);
    if (next === this.capacity) next = 0;
    Atomics.store(this.header, READ, next);
  }

  get empty(): boolean {
    return Atomics.load(this.header, READ) === Atomics.load(this.header, WRITE);
  }

  /**
   * Says whether the worker will look at the ring within a period. After setting it false the
   * caller must look once more (`empty`): a batch written while the flag was still true is taken
   * then; one written after it sees false, and its writer wakes the worker by message.
   */
  setPolling(polling: boolean): void {
    Atomics.store(this.header, POLLING, polling ? 1 : 0);
  }
}

/** The sequence number after `seq` (uint32, never WRAP). Both sides count batches with it from 0. */
export function nextBatchSeq(seq: number): number {
  return seq >= WRAP - 1 ? 0 : seq + 1;
}
