/**
 * The pacing clock: one per engine, serving every channel. Channels get a phase inside the 20 ms
 * period (phase buckets of 1 ms) so a thousand channels do not all send in the same millisecond.
 * One timer drives all buckets. Due times are absolute (`epoch + cycle * 20 + phase` on a monotonic
 * clock), so lateness never accumulates into drift.
 *
 * `PhaseScheduler` is the pure scheduling logic (no timers, time passed in); `PacingClock` drives it
 * with injectable timer functions.
 */
import { FRAME_DURATION_MS } from '../protocol/constants.js';

/** One 20 ms tick delivered to a channel. */
export interface ClockTick {
  /** Absolute cycle number on the clock's grid; consecutive ticks of a slot differ by 1 unless cycles were skipped. */
  cycle: number;
  /** When this tick was due (clock time, ms). */
  due: number;
  /** When it was actually delivered. */
  now: number;
  /** now - due (>= 0). More than one period means the tick is a catch-up tick. */
  lateMs: number;
}

export type TickListener = (tick: ClockTick) => void;

export interface ClockSlot {
  /** Offset of this slot's ticks inside the period, ms. */
  readonly phaseMs: number;
  /** The first cycle this slot receives; `tick.cycle - firstCycle` counts the slot's 20 ms ticks. */
  readonly firstCycle: number;
  /** Stops the ticks and frees the slot (idempotent). */
  release(): void;
}

export interface SchedulerOptions {
  /** Period, ms (default 20). */
  periodMs?: number;
  /** Number of phase buckets spread over the period (default 20, i.e. 1 ms apart). */
  buckets?: number;
  /**
   * Ticks older than this are not delivered (the cycle counter still moves past them), so a process
   * that was suspended does not flood the network when it resumes. Default 1000 ms.
   */
  maxCatchUpMs?: number;
}

interface Entry {
  listener: TickListener;
  released: boolean;
}

interface Bucket {
  readonly index: number;
  readonly phaseMs: number;
  /** Next cycle to deliver for this bucket. */
  nextCycle: number;
  readonly entries: Set<Entry>;
}

export interface DueTick {
  bucket: number;
  cycle: number;
  due: number;
}

/**
 * Pure phase-bucketed scheduling. Time is passed in by the caller; nothing here reads a clock.
 */
export class PhaseScheduler {
  readonly periodMs: number;
  readonly epoch: number;
  private readonly buckets: Bucket[];
  private readonly maxCatchUpMs: number;
  private size = 0;
  /** Cycles not delivered because they were older than maxCatchUpMs. */
  skippedCycles = 0;

  constructor(epoch: number, options: SchedulerOptions = {}) {
    this.epoch = epoch;
    this.periodMs = options.periodMs ?? FRAME_DURATION_MS;
    const count = Math.max(1, Math.floor(options.buckets ?? this.periodMs));
    this.maxCatchUpMs = options.maxCatchUpMs ?? 1000;
    this.buckets = Array.from({ length: count }, (_, index) => ({
      index,
      phaseMs: (index * this.periodMs) / count,
      nextCycle: 0,
      entries: new Set<Entry>(),
    }));
  }

  get slotCount(): number {
    return this.size;
  }

  /** Due time of a cycle in a bucket. */
  dueTime(bucket: number, cycle: number): number {
    return this.epoch + cycle * this.periodMs + this.bucketAt(bucket).phaseMs;
  }

  /** Adds a slot at time `now` in the least loaded bucket; its first tick is the bucket's first cycle due at or after `now`. */
  add(
    listener: TickListener,
    now: number,
  ): { bucket: number; phaseMs: number; firstCycle: number; entry: object } {
    let best = this.buckets[0]!;
    for (const b of this.buckets) if (b.entries.size < best.entries.size) best = b;
    const entry: Entry = { listener, released: false };
    const firstDue = Math.max(0, Math.ceil((now - this.epoch - best.phaseMs) / this.periodMs));
    // An empty bucket restarts at the current cycle; an occupied one keeps its own progress.
    if (best.entries.size === 0) best.nextCycle = firstDue;
    best.entries.add(entry);
    this.size++;
    // A lagging bucket delivers its overdue cycles first; the slot simply starts there.
    return { bucket: best.index, phaseMs: best.phaseMs, firstCycle: best.nextCycle, entry };
  }

  remove(bucket: number, entry: object): void {
    const b = this.bucketAt(bucket);
    const e = entry as Entry;
    if (!b.entries.delete(e)) return;
    e.released = true;
    this.size--;
  }

  /** The earliest due time over all occupied buckets, or undefined when there is none. */
  nextDue(): number | undefined {
    let best: number | undefined;
    for (const b of this.buckets) {
      if (b.entries.size === 0) continue;
      const due = this.dueTime(b.index, b.nextCycle);
      if (best === undefined || due < best) best = due;
    }
    return best;
  }

  /**
   * Takes the earliest tick due at or before `now` and advances its bucket, or returns undefined.
   * Cycles older than maxCatchUpMs are skipped here (counted in skippedCycles).
   */
  takeDue(now: number): DueTick | undefined {
    let pick: Bucket | undefined;
    let pickDue = 0;
    for (const b of this.buckets) {
      if (b.entries.size === 0) continue;
      const due = this.dueTime(b.index, b.nextCycle);
      if (due <= now && (pick === undefined || due < pickDue)) {
        pick = b;
        pickDue = due;
      }
    }
    if (pick === undefined) return undefined;
    if (now - pickDue > this.maxCatchUpMs) {
      const oldest = Math.ceil((now - this.maxCatchUpMs - this.epoch - pick.phaseMs) / this.periodMs);
      this.skippedCycles += oldest - pick.nextCycle;
      pick.nextCycle = oldest;
      pickDue = this.dueTime(pick.index, oldest);
    }
    const cycle = pick.nextCycle;
    pick.nextCycle++;
    return { bucket: pick.index, cycle, due: pickDue };
  }

  /** Delivers one due tick to every live slot of its bucket. Listener errors are counted, not thrown. */
  deliver(tick: DueTick, now: number): number {
    let errors = 0;
    const b = this.bucketAt(tick.bucket);
    // Copy: listeners may release slots (their own or others) while we iterate.
    for (const e of [...b.entries]) {
      if (e.released) continue;
      try {
        e.listener({ cycle: tick.cycle, due: tick.due, now, lateMs: Math.max(0, now - tick.due) });
      } catch {
        errors++;
      }
    }
    return errors;
  }

  private bucketAt(index: number): Bucket {
    const b = this.buckets[index];
    if (b === undefined) throw new RangeError(`no bucket ${index}`);
    return b;
  }
}

/** Time source and timers, injectable so the clock runs on a fake clock in tests. */
export interface ClockTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate(fn: () => void): unknown;
  clearImmediate(handle: unknown): void;
}

export const realTimers: ClockTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as NodeJS.Immediate),
};

export interface PacingClockOptions extends SchedulerOptions {
  timers?: ClockTimers;
  /**
   * setTimeout fires late by up to about a millisecond and cannot wait less than 1 ms: it is aimed
   * this many ms before the due time and the rest is waited with setImmediate. Default 1.
   */
  leadMs?: number;
  /** Most ticks delivered in one timer callback before yielding to I/O. Default 200. */
  maxTicksPerRun?: number;
}

export interface PacingClockStats {
  slots: number;
  ticksDelivered: number;
  skippedCycles: number;
  listenerErrors: number;
}

export class PacingClock {
  readonly periodMs: number;
  private readonly timers: ClockTimers;
  private readonly scheduler: PhaseScheduler;
  private readonly leadMs: number;
  private readonly maxTicksPerRun: number;
  private timeout: unknown = undefined;
  private immediate: unknown = undefined;
  private running = false;
  private closed = false;
  private ticksDelivered = 0;
  private listenerErrors = 0;

  constructor(options: PacingClockOptions = {}) {
    this.timers = options.timers ?? realTimers;
    this.scheduler = new PhaseScheduler(this.timers.now(), options);
    this.periodMs = this.scheduler.periodMs;
    this.leadMs = options.leadMs ?? 1;
    this.maxTicksPerRun = options.maxTicksPerRun ?? 200;
  }

  now(): number {
    return this.timers.now();
  }

  /** Registers a listener called once per 20 ms at its phase. */
  register(listener: TickListener): ClockSlot {
    if (this.closed) throw new Error('clock closed');
    const added = this.scheduler.add(listener, this.timers.now());
    let released = false;
    const slot: ClockSlot = {
      phaseMs: added.phaseMs,
      firstCycle: added.firstCycle,
      release: () => {
        if (released) return;
        released = true;
        this.scheduler.remove(added.bucket, added.entry);
        if (this.scheduler.slotCount === 0) this.cancel();
      },
    };
    this.reschedule();
    return slot;
  }

  stats(): PacingClockStats {
    return {
      slots: this.scheduler.slotCount,
      ticksDelivered: this.ticksDelivered,
      skippedCycles: this.scheduler.skippedCycles,
      listenerErrors: this.listenerErrors,
    };
  }

  /** Stops the timer for good. Registered slots stop receiving ticks. */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  private cancel(): void {
    if (this.timeout !== undefined) this.timers.clearTimeout(this.timeout);
    if (this.immediate !== undefined) this.timers.clearImmediate(this.immediate);
    this.timeout = undefined;
    this.immediate = undefined;
  }

  private reschedule(): void {
    if (this.closed || this.running) return;
    this.cancel();
    const due = this.scheduler.nextDue();
    if (due === undefined) return;
    const wait = due - this.timers.now();
    const timeoutMs = Math.floor(wait - this.leadMs);
    if (timeoutMs >= 1) {
      this.timeout = this.timers.setTimeout(() => {
        this.timeout = undefined;
        this.run();
      }, timeoutMs);
    } else {
      // Near or late: finish the wait (or catch up) on the next loop turn, after pending I/O.
      this.immediate = this.timers.setImmediate(() => {
        this.immediate = undefined;
        this.run();
      });
    }
  }

  private run(): void {
    if (this.closed) return;
    this.running = true;
    try {
      for (let i = 0; i < this.maxTicksPerRun; i++) {
        const now = this.timers.now();
        const tick = this.scheduler.takeDue(now);
        if (tick === undefined) break;
        this.listenerErrors += this.scheduler.deliver(tick, now);
        this.ticksDelivered++;
      }
    } finally {
      this.running = false;
    }
    this.reschedule();
  }
}
