/**
 * The layouts of the send path across the worker boundary, as numbers in typed arrays rather than
 * an object per channel that structured cloning would copy field by field (at N = 100 a refill
 * message held ~20 'frames' objects with their arrays, and a report message ~85 objects of
 * nested counts: 50-120 µs to clone each way, per message).
 *
 * Main → worker, frames: the frames of a command batch lie back to back in its `data`; its `index`
 * (Uint32) holds runs `[channel id, count, end_1 ... end_count]`, frame k of a run spanning
 * data[end_(k-1) (or the previous run's last end, or 0), end_k). A run is consecutive frames of one
 * channel; the batch's commands say where runs go among the other commands (`{ t: 'frames', runs }`).
 *
 * Worker → main, dequeue reports: Float64 records `[channel id, frames taken off the queue so far,
 * encrypted, plain, emptyTicks, dropped by reason in SEND_DROP_REASONS order]`.
 */
import { SEND_DROP_REASONS, emptySendDrops } from './media-engine.js';
import type { SendCounts } from './media-engine.js';
import { grown } from './rtp-batch.js';
import type { FrameBatch } from './engine-messages.js';

/** Packs frames into runs (main side). Reuses its scratch buffers; take() hands out exact-size copies. */
export class FrameBatchWriter {
  private data: Uint8Array;
  private bytes = 0;
  private index = new Uint32Array(512);
  private words = 0;
  /** Word offset of the open run's header, or -1 when the next frame starts a new run. */
  private runAt = -1;
  private runId = -1;

  constructor(private readonly capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  /** Frame bytes packed since the last take(). */
  get byteLength(): number {
    return this.bytes;
  }

  /** Whether `length` more bytes fit without exceeding the capacity (a larger frame always fits an empty batch). */
  fits(length: number): boolean {
    return this.bytes === 0 || this.bytes + length <= this.capacity;
  }

  /** Appends a frame of channel `id`; returns true when it opened a new run. */
  add(id: number, frame: Uint8Array): boolean {
    const length = frame.length;
    if (this.bytes + length > this.data.length) this.data = grown(this.data, length);
    this.data.set(frame, this.bytes);
    this.bytes += length;
    const opened = this.runAt === -1 || this.runId !== id;
    if (opened) {
      this.reserve(2);
      this.runAt = this.words;
      this.runId = id;
      this.index[this.words++] = id;
      this.index[this.words++] = 0;
    }
    this.reserve(1);
    this.index[this.words++] = this.bytes;
    this.index[this.runAt + 1]!++;
    return opened;
  }

  /** Another command was queued after the open run: the next frame starts a new run. */
  breakRun(): void {
    this.runAt = -1;
  }

  /** The frames packed so far (undefined if none), in exact-size buffers; starts over. */
  take(): FrameBatch | undefined {
    if (this.words === 0) return undefined;
    const batch: FrameBatch = {
      data: this.data.slice(0, this.bytes).buffer,
      index: this.index.slice(0, this.words).buffer,
    };
    // A frame larger than the capacity grew the scratch buffer: do not keep it.
    if (this.data.length > this.capacity) this.data = new Uint8Array(this.capacity);
    this.bytes = 0;
    this.words = 0;
    this.runAt = -1;
    return batch;
  }

  private reserve(words: number): void {
    if (this.words + words > this.index.length) this.index = grown(this.index, words);
  }
}

/** Reads a batch's runs in order (worker side); each frame is a view into the batch's data. */
export class FrameBatchReader {
  private readonly index: Uint32Array;
  private readonly data: ArrayBuffer;
  private at = 0;
  private start = 0;

  constructor(batch: FrameBatch) {
    this.index = new Uint32Array(batch.index);
    this.data = batch.data;
  }

  /** Calls `visit` with each frame of the next run; false when the index has no run left (or is malformed). */
  readRun(visit: (id: number, frame: Uint8Array) => void): boolean {
    const index = this.index;
    if (this.at + 2 > index.length) return false;
    const id = index[this.at]!;
    const count = index[this.at + 1]!;
    if (this.at + 2 + count > index.length) return false;
    this.at += 2;
    for (let k = 0; k < count; k++) {
      const end = index[this.at++]!;
      if (end < this.start || end > this.data.byteLength) return false;
      visit(id, new Uint8Array(this.data, this.start, end - this.start));
      this.start = end;
    }
    return true;
  }
}

const REPORT_HEAD = 5;
export const REPORT_FIELDS = REPORT_HEAD + SEND_DROP_REASONS.length;

/** Collects dequeue reports (worker side). */
export class DequeueReportWriter {
  private records = new Float64Array(64 * REPORT_FIELDS);
  private count = 0;

  add(id: number, dequeued: number, sent: SendCounts): void {
    if ((this.count + 1) * REPORT_FIELDS > this.records.length)
      this.records = grown(this.records, REPORT_FIELDS);
    const r = this.records;
    let at = this.count * REPORT_FIELDS;
    r[at++] = id;
    r[at++] = dequeued;
    r[at++] = sent.encrypted;
    r[at++] = sent.plain;
    r[at++] = sent.emptyTicks;
    for (const reason of SEND_DROP_REASONS) r[at++] = sent.dropped[reason];
    this.count++;
  }

  /** The reports so far (undefined if none), in an exact-size buffer; starts over. */
  take(): ArrayBuffer | undefined {
    if (this.count === 0) return undefined;
    const out = this.records.slice(0, this.count * REPORT_FIELDS).buffer;
    this.count = 0;
    return out;
  }
}

/** Calls `visit` with each report, in order (main side). */
export function readDequeueReports(
  buffer: ArrayBuffer,
  visit: (id: number, dequeued: number, sent: SendCounts) => void,
): void {
  const r = new Float64Array(buffer);
  for (let at = 0; at + REPORT_FIELDS <= r.length;) {
    const id = r[at++]!;
    const dequeued = r[at++]!;
    const sent: SendCounts = {
      encrypted: r[at++]!,
      plain: r[at++]!,
      emptyTicks: r[at++]!,
      dropped: emptySendDrops(),
    };
    for (const reason of SEND_DROP_REASONS) sent.dropped[reason] = r[at++]!;
    visit(id, dequeued, sent);
  }
}

/**
 * Main → worker, frames through shared memory: a ring in a SharedArrayBuffer, so refilling the
 * queues costs no message, no copy into a transferred buffer and no wake-up of the worker (which
 * reads the ring when its clock wakes, before sending, and before each command batch).
 *
 * Layout: Int32 words [written, read, batches posted, unused], then RING_DATA_OFFSET onwards the
 * ring's bytes. `written` / `read` are byte positions modulo 2^32 (the ring's size divides it);
 * a record starts at an 8-byte boundary: Uint32 [channel id, frame length], then the frame.
 * A record that does not fit before the ring's end leaves a SKIP word there and starts at 0.
 *
 * Order with the commands (which still travel in batches): the main side writes a frame into the
 * ring only while no command batch is open (frames that come after a command in the same turn go
 * in the batch, after it), and stores `batches posted` right after each postMessage. A batch
 * carries the ring's `written` position at its posting (`ringAt`): the worker drains up to it
 * before applying the batch. Between batches, the worker drains to `written` only while it has
 * handled every batch posted (read `written` first: a frame written after a batch was posted is
 * then never taken before that batch's commands).
 */
const RING_WRITTEN = 0;
const RING_READ = 1;
const RING_POSTED = 2;
export const RING_DATA_OFFSET = 16;
const RING_RECORD_HEAD = 8;
const RING_SKIP = 0xffffffff;

/** Main side of the frame ring. */
export class FrameRingWriter {
  readonly buffer: SharedArrayBuffer;
  private readonly counters: Int32Array;
  private readonly words: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly size: number;
  private written = 0;
  private posted = 0;

  /** `size`: the ring's bytes, a power of two (at least 64). */
  constructor(size: number) {
    if (size < 64 || (size & (size - 1)) !== 0) throw new RangeError('ring size must be a power of two');
    this.size = size;
    this.buffer = new SharedArrayBuffer(RING_DATA_OFFSET + size);
    this.counters = new Int32Array(this.buffer, 0, 4);
    this.words = new Uint32Array(this.buffer, RING_DATA_OFFSET, size >>> 2);
    this.bytes = new Uint8Array(this.buffer, RING_DATA_OFFSET, size);
  }

  /** Where the next record goes (a batch posted now carries it as its `ringAt`). */
  get position(): number {
    return this.written;
  }

  /** Appends a frame of channel `id`; false when the ring has no room for it now (or ever). */
  write(id: number, frame: Uint8Array): boolean {
    const length = frame.length;
    const need = RING_RECORD_HEAD + ((length + 7) & ~7);
    const size = this.size;
    if (need > size >>> 2) return false;
    let at = this.written;
    let offset = at & (size - 1);
    const tail = size - offset;
    const used = (at - (Atomics.load(this.counters, RING_READ) >>> 0)) >>> 0;
    if (used + need + (tail < need ? tail : 0) > size) return false;
    if (tail < need) {
      this.words[offset >>> 2] = RING_SKIP;
      at = (at + tail) >>> 0;
      offset = 0;
    }
    this.words[offset >>> 2] = id;
    this.words[(offset >>> 2) + 1] = length;
    this.bytes.set(frame, offset + RING_RECORD_HEAD);
    this.written = (at + need) >>> 0;
    Atomics.store(this.counters, RING_WRITTEN, this.written | 0);
    return true;
  }

  /** A command batch was just posted (call right after postMessage, before the next write). */
  batchPosted(): void {
    this.posted = (this.posted + 1) | 0;
    Atomics.store(this.counters, RING_POSTED, this.posted);
  }
}

/** Worker side of the frame ring. */
export class FrameRingReader {
  private readonly counters: Int32Array;
  private readonly words: Uint32Array;
  private readonly size: number;
  private readonly data: SharedArrayBuffer;
  private read = 0;
  /** Command batches handled so far. */
  private handled = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.data = buffer;
    this.size = buffer.byteLength - RING_DATA_OFFSET;
    this.counters = new Int32Array(buffer, 0, 4);
    this.words = new Uint32Array(buffer, RING_DATA_OFFSET, this.size >>> 2);
  }

  /** Between batches: every frame written so far, unless a batch posted before some of them is still on its way. */
  drain(visit: (id: number, frame: Uint8Array) => void): void {
    const written = Atomics.load(this.counters, RING_WRITTEN) >>> 0;
    if (Atomics.load(this.counters, RING_POSTED) !== this.handled) return;
    this.drainTo(written, visit);
  }

  /** Before a batch is applied: the frames written before it was posted. Count the batch with batchHandled(). */
  drainTo(end: number, visit: (id: number, frame: Uint8Array) => void): void {
    const size = this.size;
    const words = this.words;
    let at = this.read;
    // A position behind ours (never, from a well-behaved writer) must not run the ring round.
    if (((end >>> 0) - at) >>> 0 > size) return;
    while (at !== end >>> 0) {
      const offset = at & (size - 1);
      const id = words[offset >>> 2]!;
      if (id === RING_SKIP) {
        at = (at + size - offset) >>> 0;
        continue;
      }
      const length = words[(offset >>> 2) + 1]!;
      if (length > size - offset - RING_RECORD_HEAD) break; // malformed: stop
      visit(id, new Uint8Array(this.data, RING_DATA_OFFSET + offset + RING_RECORD_HEAD, length));
      at = (at + RING_RECORD_HEAD + ((length + 7) & ~7)) >>> 0;
    }
    this.read = at;
    Atomics.store(this.counters, RING_READ, at | 0);
  }

  batchHandled(): void {
    this.handled = (this.handled + 1) | 0;
  }
}
