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
 * A batch of frames only may go through the frame ring instead (frame-ring.ts), in the same layout.
 *
 * Worker → main, dequeue reports: Float64 records `[channel id, frames taken off the queue so far,
 * counts at (the due time of the channel's last 20 ms tick the counts include, on the worker's
 * clock; NaN before its first tick), encrypted, plain, emptyTicks, dropped by reason in
 * SEND_DROP_REASONS order]`.
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
    this.clear();
    return batch;
  }

  /** The frames packed so far as views of the scratch buffers (valid until the next add or clear). */
  view(): FrameBatchView | undefined {
    if (this.words === 0) return undefined;
    return { data: this.data.subarray(0, this.bytes), index: this.index.subarray(0, this.words) };
  }

  /** Starts over (after take(), or after view()'s frames were copied elsewhere: the frame ring). */
  clear(): void {
    // A frame larger than the capacity grew the scratch buffer: do not keep it.
    if (this.data.length > this.capacity) this.data = new Uint8Array(this.capacity);
    this.bytes = 0;
    this.words = 0;
    this.runAt = -1;
  }

  private reserve(words: number): void {
    if (this.words + words > this.index.length) this.index = grown(this.index, words);
  }
}

/** A batch's run index and frame bytes as views (a port batch's buffers, or the frame ring's memory). */
export interface FrameBatchView {
  index: Uint32Array;
  data: Uint8Array;
}

/** Reads a batch's runs in order (worker side); each frame is a view into the batch's data. */
export class FrameBatchReader {
  private readonly index: Uint32Array;
  private readonly data: Uint8Array;
  private at = 0;
  private start = 0;

  constructor(batch: FrameBatch | FrameBatchView) {
    this.index = batch.index instanceof Uint32Array ? batch.index : new Uint32Array(batch.index);
    this.data = batch.data instanceof Uint8Array ? batch.data : new Uint8Array(batch.data);
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
      if (end < this.start || end > this.data.length) return false;
      visit(id, this.data.subarray(this.start, end));
      this.start = end;
    }
    return true;
  }
}

const REPORT_HEAD = 6;
export const REPORT_FIELDS = REPORT_HEAD + SEND_DROP_REASONS.length;

/** Collects dequeue reports (worker side). */
export class DequeueReportWriter {
  private records = new Float64Array(64 * REPORT_FIELDS);
  private count = 0;

  /** `countsAt`: the due time of the last tick `sent` includes (undefined: none yet). */
  add(id: number, dequeued: number, sent: SendCounts, countsAt: number | undefined): void {
    if ((this.count + 1) * REPORT_FIELDS > this.records.length)
      this.records = grown(this.records, REPORT_FIELDS);
    const r = this.records;
    let at = this.count * REPORT_FIELDS;
    r[at++] = id;
    r[at++] = dequeued;
    r[at++] = countsAt ?? Number.NaN;
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

/**
 * Calls `visit` with each report, in order (main side); `countsAt` is on the worker's clock. With
 * `scratch`, every report is read into that one object (valid only during its visit: the visitor
 * copies what it keeps), so a message of reports allocates nothing per channel.
 */
export function readDequeueReports(
  buffer: ArrayBuffer,
  visit: (id: number, dequeued: number, sent: SendCounts, countsAt: number | undefined) => void,
  scratch?: SendCounts,
): void {
  const r = new Float64Array(buffer);
  for (let at = 0; at + REPORT_FIELDS <= r.length;) {
    const id = r[at++]!;
    const dequeued = r[at++]!;
    const countsAt = r[at++]!;
    const sent: SendCounts = scratch ?? { encrypted: 0, plain: 0, emptyTicks: 0, dropped: emptySendDrops() };
    sent.encrypted = r[at++]!;
    sent.plain = r[at++]!;
    sent.emptyTicks = r[at++]!;
    for (const reason of SEND_DROP_REASONS) sent.dropped[reason] = r[at++]!;
    visit(id, dequeued, sent, Number.isNaN(countsAt) ? undefined : countsAt);
  }
}
