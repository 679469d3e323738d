/**
 * A diagnostic trace of a media worker's late deliveries (WorkerEngineOptions.traceLateTicks;
 * `bench/node.ts --trace-late`). For each delivery that started more than LATE_TICK_MS after its
 * due time: when, how late, and where the time went. Its wake-up started late (the timer fired
 * late, or the thread could not run), or work earlier in the same wake-up held it; and, from
 * Linux's schedstat of the worker's thread since its previous wake-up ended, time on a core, time
 * runnable but waiting for one, and how many times it got one; the worker's file reads and event
 * flushes in that time; and its last message from the main side (how long it took, how long ago). Nothing else reads schedstat per
 * wake-up (a pread of a few µs), so the trace is off unless asked for. The worker writes records
 * into shared memory, with the worker's collections of GC_TRACE_MIN_MS or more; the main side
 * reads them without a message (a message wakes the worker).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';

export interface LateTickRecord {
  kind: 'late';
  /** When the delivery started: wall time (performance.timeOrigin + performance.now()), ms. */
  at: number;
  /** How late it started, ms. */
  lateMs: number;
  /** How long after the time it was armed for its wake-up started, ms (≈ 0 for a continuation). */
  wokeLateMs: number;
  /** From its wake-up's start to it: earlier work in the same wake-up, ms. */
  inRunMs: number;
  /** Since the worker's previous wake-up ended, its thread's time on a core, ms (NaN without schedstat). */
  onCoreMs: number;
  /** … runnable but waiting for a core, ms (NaN without schedstat). */
  waitingMs: number;
  /** … times it got a core (NaN without schedstat). */
  slices: number;
  /** The worker's last message from the main side before it: ms spent on it, and ms since. */
  messageMs: number;
  messageAgoMs: number;
  /** … the commands it carried. */
  messageCommands: number;
  /** Since the worker's previous wake-up ended: file reads of its feeds, and ms in them. */
  reads: number;
  readMs: number;
  /** … event flushes to the main side, and ms in them. */
  flushes: number;
  flushMs: number;
}

/** A garbage collection of the worker's heap that took at least GC_TRACE_MIN_MS (node's 'gc' entries). */
export interface GcRecord {
  kind: 'gc';
  /** When it started: wall time, ms. */
  at: number;
  durationMs: number;
  /** 'minor' (scavenge), 'major' (mark-compact), 'incremental' (a marking step) or 'weakcb'. */
  gc: string;
}

export type LateTraceRecord = LateTickRecord | GcRecord;

/** Shorter collections are not recorded (a scavenge of the worker's 3 MiB nursery takes ~0.3 ms). */
export const GC_TRACE_MIN_MS = 1;
const GC_KINDS = new Map<number, string>([
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);
/** Record layout: [kind (0 late, 1 gc), at, lateMs | durationMs, then the late fields or the gc kind]. */
const FIELDS = 15;
/** Records kept per worker (the latest; older ones are overwritten). */
export const LATE_TRACE_RECORDS = 256;
/** Header: Int32 [records written so far], padded to 8 bytes. */
const HEADER_BYTES = 8;

/** Shared memory for one worker's trace. */
export function lateTraceMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + LATE_TRACE_RECORDS * FIELDS * 8);
}

/** The records written so far (at most the latest LATE_TRACE_RECORDS), oldest first. */
export function readLateTrace(memory: SharedArrayBuffer): LateTraceRecord[] {
  const written = Atomics.load(new Int32Array(memory, 0, 1), 0);
  const v = new Float64Array(memory, HEADER_BYTES);
  const out: LateTraceRecord[] = [];
  for (let i = Math.max(0, written - LATE_TRACE_RECORDS); i < written; i++) {
    const o = (i % LATE_TRACE_RECORDS) * FIELDS;
    if (v[o] === 1) {
      out.push({
        kind: 'gc',
        at: v[o + 1]!,
        durationMs: v[o + 2]!,
        gc: GC_KINDS.get(v[o + 3]!) ?? String(v[o + 3]),
      });
      continue;
    }
    out.push({
      kind: 'late',
      at: v[o + 1]!,
      lateMs: v[o + 2]!,
      wokeLateMs: v[o + 3]!,
      inRunMs: v[o + 4]!,
      onCoreMs: v[o + 5]!,
      waitingMs: v[o + 6]!,
      slices: v[o + 7]!,
      messageMs: v[o + 8]!,
      messageAgoMs: v[o + 9]!,
      messageCommands: v[o + 10]!,
      reads: v[o + 11]!,
      readMs: v[o + 12]!,
      flushes: v[o + 13]!,
      flushMs: v[o + 14]!,
    });
  }
  return out;
}

/** The worker side: told of each wake-up's start and end and of each late delivery. */
export class LateTickWriter {
  private readonly written: Int32Array;
  private readonly values: Float64Array;
  private readonly fd: number | undefined;
  private readonly buf = Buffer.alloc(96);
  /** schedstat as the previous wake-up ended: [ns on a core, ns waiting, slices]. */
  private readonly atEnd = [Number.NaN, Number.NaN, Number.NaN];
  private readonly now3 = [Number.NaN, Number.NaN, Number.NaN];
  private armedFor: number | undefined;
  private runStart = 0;
  private wokeLate = 0;
  private gcObserver: PerformanceObserver | undefined;
  /** The last message from the main side: [started, ended, commands]. */
  private message = [Number.NaN, Number.NaN, 0];
  /** Since the previous wake-up ended: [reads, ms reading, flushes, ms flushing]. */
  private readonly between = [0, 0, 0, 0];

  constructor(memory: SharedArrayBuffer) {
    this.written = new Int32Array(memory, 0, 1);
    this.values = new Float64Array(memory, HEADER_BYTES);
    try {
      // The calling thread's own (Linux; elsewhere, or in a sandbox without it, no schedstat).
      this.fd = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      this.fd = undefined;
    }
  }

  runStarted(now: number): void {
    this.runStart = now;
    this.wokeLate = this.armedFor === undefined ? 0 : Math.max(0, now - this.armedFor);
  }

  /** `nextDue`: when the next wake-up is armed for (undefined: none). */
  runEnded(nextDue: number | undefined): void {
    this.armedFor = nextDue;
    this.between.fill(0);
    this.sample(this.atEnd);
  }

  /** A feed's file read took `ms`. */
  read(ms: number): void {
    this.between[0]! += 1;
    this.between[1]! += ms;
  }

  /** An event flush to the main side took `ms`. */
  flushed(ms: number): void {
    this.between[2]! += 1;
    this.between[3]! += ms;
  }

  /** A message from the main side was handled from `started` to `ended` (clock ms). */
  handled(started: number, ended: number, commands: number): void {
    this.message[0] = started;
    this.message[1] = ended;
    this.message[2] = commands;
  }

  late(now: number, lateMs: number): void {
    this.sample(this.now3);
    this.write(
      0,
      performance.timeOrigin + now,
      lateMs,
      this.wokeLate,
      now - this.runStart,
      ((this.now3[0] ?? Number.NaN) - (this.atEnd[0] ?? Number.NaN)) / 1e6,
      ((this.now3[1] ?? Number.NaN) - (this.atEnd[1] ?? Number.NaN)) / 1e6,
      (this.now3[2] ?? Number.NaN) - (this.atEnd[2] ?? Number.NaN),
      (this.message[1] ?? Number.NaN) - (this.message[0] ?? Number.NaN),
      now - (this.message[1] ?? Number.NaN),
      this.message[2] ?? 0,
      ...this.between,
    );
  }

  /** Records this thread's collections of GC_TRACE_MIN_MS or more (node reports them after the fact). */
  observeCollections(): void {
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.duration < GC_TRACE_MIN_MS) continue;
        const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
        this.write(1, performance.timeOrigin + e.startTime, e.duration, kind);
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  close(): void {
    this.gcObserver?.disconnect();
    if (this.fd !== undefined) closeSync(this.fd);
  }

  private write(...fields: number[]): void {
    const i = Atomics.load(this.written, 0);
    const o = (i % LATE_TRACE_RECORDS) * FIELDS;
    for (let f = 0; f < FIELDS; f++) this.values[o + f] = fields[f] ?? 0;
    Atomics.store(this.written, 0, i + 1);
  }

  /** Reads "run_ns wait_ns slices" into `out` (NaN without schedstat). */
  private sample(out: number[]): void {
    if (this.fd === undefined) return;
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const [run, wait, slices] = this.buf.toString('latin1', 0, n).split(' ');
    out[0] = Number(run);
    out[1] = Number(wait);
    out[2] = Number(slices);
  }
}
