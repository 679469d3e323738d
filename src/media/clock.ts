/**
 * The pacing clock: one per engine, serving every channel. Channels get a phase inside the 20 ms
 * period (a few wide phase buckets, default 5, i.e. 4 ms apart) so a thousand channels do not all
 * send in the same millisecond, while the clock wakes only a few times per period. Due times are
 * absolute (`epoch + cycle * 20 + phase` on a monotonic clock), so lateness never accumulates into
 * drift. The engines fill buckets first (`slotsPerBucket`, ENGINE_SLOTS_PER_BUCKET): up to 100
 * channels share one bucket and one wake-up per period; more open more buckets, up to five.
 *
 * Waking: one setTimeout aimed at the next due bucket. setTimeout cannot be aimed finer than a
 * millisecond, so every bucket due within `earlyMs` (default 1 ms) is served in the same wake-up:
 * sending up to a millisecond early is harmless, spinning to hit the exact instant is not (it costs
 * a core). setImmediate is used only to continue a late catch-up after yielding to I/O.
 *
 * Sleeping: a slot with nothing to do until some later cycle (a channel that only receives, and
 * sends a keepalive every 5 s) says so (`ClockSlot.sleepUntil`), and a bucket whose slots all sleep
 * wakes only at the earliest of their wake cycles, so a receive-only engine's clock does not wake
 * its thread every 20 ms. `ClockSlot.wake()` (a frame to send) puts the slot back on the next cycle.
 *
 * `PhaseScheduler` is the pure scheduling logic (no timers, time passed in); `PacingClock` drives it
 * with injectable timer functions.
 */
import { FRAME_DURATION_MS } from '../protocol/constants.js';

/** One 20 ms tick delivered to a channel. One object per bucket delivery, shared by its slots: do not modify it. */
export interface ClockTick {
  /** Absolute cycle number on the clock's grid; consecutive ticks of a slot differ by 1 unless cycles were skipped. */
  cycle: number;
  /** When this tick was due (clock time, ms). */
  due: number;
  /** When the bucket's delivery started (may be up to `earlyMs` before `due`). */
  now: number;
  /** max(0, now - due). More than one period means the tick is a catch-up tick. */
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
  /**
   * No tick is needed before absolute cycle `cycle` (unless wake() comes first); called from the
   * slot's own listener. Its ticks resume at that cycle, at the slot's phase.
   */
  sleepUntil(cycle: number): void;
  /** Ticks are needed again from the next cycle due (idempotent; nothing to do for an awake slot). */
  wake(): void;
}

/** Default phase buckets per period: wake-ups stay few, bursts stay short (N / 5 sends each). */
export const DEFAULT_PHASE_BUCKETS = 5;
/**
 * The engines' fill-first bucket capacity (see `SchedulerOptions.slotsPerBucket`). Fewer buckets
 * mean fewer wake-ups of the worker, and a wake-up is dear: on the 2-core VMs we measure on, a
 * bare Node timer wake-up costs about 100 µs of CPU, so at N = 100 the worker's 100 wake-ups per
 * second were ~2 µs per packet. 100 rather than 50 halves them below 100 channels per engine and
 * cuts them from 250 to 150 per second at 250 (voxcord node, P = 100: worker wake-ups 135 -> 87/s,
 * CPU per packet -6.6 %, 6 alternated rounds; bench/engine-send.ts worker 100 dave: -3.6 %, lower
 * in 6 of 6 pairs). A bucket's burst of sends is what delays its last channel: at ~16 µs per send
 * with DAVE, 100 channels burst for ~1.6 ms, inside the 4 ms between buckets and the 5 ms lateness
 * budget (bench/clock-bursts.ts 16: p99 at N = 100 1.9 -> 2.7 ms). From 500 channels per engine
 * the buckets are balanced (100 or more each) whatever this is, so N = 1000 is unchanged.
 */
export const ENGINE_SLOTS_PER_BUCKET = 100;
/**
 * A delivery that starts more than this after its due time counts in `lateTicks` (the p99 send
 * lateness budget: a clock that often starts this late cannot keep up with its channels).
 */
export const LATE_TICK_MS = 5;
/** Default: ticks more than this late are skipped and the bucket resumes on time. */
export const DEFAULT_MAX_CATCH_UP_MS = 200;

export interface SchedulerOptions {
  /** Period, ms (default 20). */
  periodMs?: number;
  /** Number of phase buckets spread over the period (default 5, i.e. 4 ms apart). */
  buckets?: number;
  /**
   * A bucket more than this late skips its stale ticks and resumes at its latest due cycle (the
   * cycle counter still moves past the skipped ones), so a suspended or overloaded process neither
   * floods the network when it resumes nor stays behind. Shorter stalls are caught up back to back.
   * Default 200 ms.
   */
  maxCatchUpMs?: number;
  /**
   * Fill-first capacity: a new slot joins the first bucket holding fewer than this many slots, so
   * N slots occupy ceil(N / slotsPerBucket) buckets (one wake-up per period for a small engine);
   * once every bucket is that full, the least loaded one. Default Infinity: always the least
   * loaded bucket (even spread from the first slot).
   */
  slotsPerBucket?: number;
}

/**
 * The bucket a new slot joins, given the buckets' live sizes: the first one below `slotsPerBucket`
 * (fill-first), else the least loaded (lowest index on ties). Pure, for the scheduler and its tests.
 */
export function chooseBucket(sizes: readonly number[], slotsPerBucket = Infinity): number {
  let least = 0;
  for (let i = 0; i < sizes.length; i++) if (sizes[i]! < sizes[least]!) least = i;
  if (slotsPerBucket === Infinity) return least;
  const first = sizes.findIndex((size) => size < slotsPerBucket);
  return first === -1 ? least : first;
}

interface Entry {
  listener: TickListener;
  released: boolean;
  /** Skipped by deliveries before `wakeCycle`. */
  asleep: boolean;
  wakeCycle: number;
}

interface Bucket {
  readonly index: number;
  readonly phaseMs: number;
  /** Next cycle to deliver for this bucket. */
  nextCycle: number;
  /** Live entries plus released ones not yet compacted away (see `dead`). */
  entries: Entry[];
  /** Live entries. */
  size: number;
  /** Released entries still in `entries`. */
  dead: number;
  /** Live entries not asleep: while there are none, the bucket is due only at `wakeCycle`. */
  awake: number;
  /** No later than the earliest wake cycle of its sleeping entries (Infinity when none sleeps). */
  wakeCycle: number;
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
  private readonly slotsPerBucket: number;
  private size = 0;
  /** Cycles not delivered because they were older than maxCatchUpMs. */
  skippedCycles = 0;

  constructor(epoch: number, options: SchedulerOptions = {}) {
    this.epoch = epoch;
    this.periodMs = options.periodMs ?? FRAME_DURATION_MS;
    const count = Math.max(1, Math.floor(options.buckets ?? DEFAULT_PHASE_BUCKETS));
    this.maxCatchUpMs = Math.max(0, options.maxCatchUpMs ?? DEFAULT_MAX_CATCH_UP_MS);
    this.slotsPerBucket = Math.max(1, options.slotsPerBucket ?? Infinity);
    this.buckets = Array.from({ length: count }, (_, index) => ({
      index,
      phaseMs: (index * this.periodMs) / count,
      nextCycle: 0,
      entries: [],
      size: 0,
      dead: 0,
      awake: 0,
      wakeCycle: Infinity,
    }));
  }

  get slotCount(): number {
    return this.size;
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  /** Due time of a cycle in a bucket. */
  dueTime(bucket: number, cycle: number): number {
    return this.epoch + cycle * this.periodMs + this.bucketAt(bucket).phaseMs;
  }

  /** Live slots per bucket, by bucket index. */
  bucketSizes(): number[] {
    return this.buckets.map((b) => b.size);
  }

  /** Adds a slot at time `now` in the bucket `chooseBucket` picks; its first tick is the bucket's first cycle due at or after `now`. */
  add(
    listener: TickListener,
    now: number,
  ): { bucket: number; phaseMs: number; firstCycle: number; entry: object } {
    const best = this.buckets[chooseBucket(this.bucketSizes(), this.slotsPerBucket)]!;
    const entry: Entry = { listener, released: false, asleep: false, wakeCycle: 0 };
    // An empty (or sleeping) bucket restarts at the current cycle; a running one keeps its own progress.
    if (best.size === 0) best.nextCycle = this.firstDue(best, now);
    else if (best.awake === 0) best.nextCycle = Math.max(best.nextCycle, this.firstDue(best, now));
    best.entries.push(entry);
    best.size++;
    best.awake++;
    this.size++;
    // A lagging bucket delivers its overdue cycles first; the slot simply starts there.
    return { bucket: best.index, phaseMs: best.phaseMs, firstCycle: best.nextCycle, entry };
  }

  remove(bucket: number, entry: object): void {
    const b = this.bucketAt(bucket);
    const e = entry as Entry;
    if (e.released) return;
    // Marked now, compacted before the next delivery (never while one iterates the array).
    e.released = true;
    b.size--;
    b.dead++;
    this.size--;
    if (!e.asleep) b.awake--;
    if (b.size === 0) {
      b.entries = [];
      b.dead = 0;
      b.wakeCycle = Infinity;
    }
  }

  /** The entry needs no delivery before `cycle` (see ClockSlot.sleepUntil). */
  sleep(bucket: number, entry: object, cycle: number): void {
    const b = this.bucketAt(bucket);
    const e = entry as Entry;
    if (e.released) return;
    if (!e.asleep) {
      e.asleep = true;
      b.awake--;
    }
    e.wakeCycle = cycle;
    if (cycle < b.wakeCycle) b.wakeCycle = cycle;
  }

  /**
   * The entry is delivered again from the bucket's next cycle; a bucket that slept resumes at the
   * first cycle due at or after `now()` (no catch-up of the cycles it slept through). Returns
   * whether the entry was asleep (`now` is read only then).
   */
  wake(bucket: number, entry: object, now: () => number): boolean {
    const b = this.bucketAt(bucket);
    const e = entry as Entry;
    if (e.released || !e.asleep) return false;
    e.asleep = false;
    if (b.awake === 0) b.nextCycle = Math.max(b.nextCycle, this.firstDue(b, now()));
    b.awake++;
    return true;
  }

  /** The first cycle of bucket `b` due at or after `now`. */
  private firstDue(b: Bucket, now: number): number {
    return Math.max(0, Math.ceil((now - this.epoch - b.phaseMs) / this.periodMs));
  }

  /** The next cycle bucket `b` delivers: its own, or, while every slot sleeps, their earliest wake. */
  private cycleOf(b: Bucket): number {
    return b.awake > 0 ? b.nextCycle : Math.max(b.nextCycle, b.wakeCycle);
  }

  /** The earliest due time over all occupied buckets, or undefined when there is none. */
  nextDue(): number | undefined {
    let best: number | undefined;
    for (const b of this.buckets) {
      if (b.size === 0) continue;
      const cycle = this.cycleOf(b);
      if (cycle === Infinity) continue;
      const due = this.epoch + cycle * this.periodMs + b.phaseMs;
      if (best === undefined || due < best) best = due;
    }
    return best;
  }

  /**
   * Takes the earliest tick due at or before `now + earlyMs` and advances its bucket, or returns
   * undefined. A bucket more than maxCatchUpMs late skips to its latest cycle due at or before
   * `now` (skipped cycles counted in skippedCycles).
   */
  takeDue(now: number, earlyMs = 0): DueTick | undefined {
    const limit = now + earlyMs;
    let pick: Bucket | undefined;
    let pickDue = 0;
    let pickCycle = 0;
    for (const b of this.buckets) {
      if (b.size === 0) continue;
      const cycle = this.cycleOf(b);
      const due = this.epoch + cycle * this.periodMs + b.phaseMs;
      if (due <= limit && (pick === undefined || due < pickDue)) {
        pick = b;
        pickDue = due;
        pickCycle = cycle;
      }
    }
    if (pick === undefined) return undefined;
    // A sleeping bucket resumes at its wake cycle: the cycles it slept through are not owed.
    pick.nextCycle = pickCycle;
    if (now - pickDue > this.maxCatchUpMs) {
      // Resume on time rather than at the catch-up horizon, which would keep the bucket behind.
      const latest = Math.floor((now - this.epoch - pick.phaseMs) / this.periodMs);
      this.skippedCycles += latest - pick.nextCycle;
      pick.nextCycle = latest;
      pickDue = this.epoch + latest * this.periodMs + pick.phaseMs;
    }
    const cycle = pick.nextCycle;
    pick.nextCycle++;
    return { bucket: pick.index, cycle, due: pickDue };
  }

  /** Delivers one due tick to every live slot of its bucket. Listener errors are counted, not thrown. */
  deliver(tick: DueTick, now: number): number {
    let errors = 0;
    const b = this.bucketAt(tick.bucket);
    if (b.dead > 0) {
      b.entries = b.entries.filter((e) => !e.released);
      b.dead = 0;
    }
    const t: ClockTick = {
      cycle: tick.cycle,
      due: tick.due,
      now,
      lateMs: now > tick.due ? now - tick.due : 0,
    };
    // Slots added by a listener start with the next delivery; released ones are skipped, and so
    // are sleeping ones before their wake cycle (the earliest of which is recomputed on the way).
    const entries = b.entries;
    const count = entries.length;
    let wakeCycle = Infinity;
    for (let i = 0; i < count; i++) {
      const e = entries[i]!;
      if (e.released) continue;
      if (e.asleep) {
        if (e.wakeCycle > tick.cycle) {
          if (e.wakeCycle < wakeCycle) wakeCycle = e.wakeCycle;
          continue;
        }
        e.asleep = false;
        b.awake++;
      }
      try {
        e.listener(t);
      } catch {
        errors++;
      }
      // The listener may have put its slot to sleep.
      if (e.asleep && e.wakeCycle < wakeCycle) wakeCycle = e.wakeCycle;
    }
    b.wakeCycle = wakeCycle;
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
   * Buckets due within this many ms are served in the current wake-up (setTimeout has 1 ms
   * resolution and fires up to about a millisecond either side of its aim). Default 1.
   */
  earlyMs?: number;
  /** Most ticks delivered in one wake-up before yielding to I/O (catch-up only). Default 200. */
  maxTicksPerRun?: number;
  /** Called after each wake-up that delivered ticks, with the running counts (the worker publishes them). */
  afterRun?: (ticksDelivered: number, lateTicks: number) => void;
  /** Called as each wake-up starts, before any tick (the worker takes the frame ring's batches). */
  onRunStart?: () => void;
  /** Called as each delivery that counts in `lateTicks` starts (late-tick-trace.ts). */
  onLateTick?: (now: number, lateMs: number) => void;
  /** Called as each wake-up ends, once the next is armed (`nextRunDue()`). */
  onRunEnd?: () => void;
  /**
   * Clock time of cycle 0 (default: now). The worker engine gives its workers' clocks epochs a
   * fraction of a bucket apart, so their bursts of sends take turns instead of colliding.
   */
  epoch?: number;
}

export interface PacingClockStats {
  slots: number;
  ticksDelivered: number;
  skippedCycles: number;
  listenerErrors: number;
  /** Bucket deliveries that started more than LATE_TICK_MS after their due time. */
  lateTicks: number;
  /** setTimeout wake-ups so far. */
  timerWakeups: number;
  /** setImmediate continuations so far (late catch-up only). */
  immediateWakeups: number;
}

export class PacingClock {
  readonly periodMs: number;
  private readonly timers: ClockTimers;
  private readonly scheduler: PhaseScheduler;
  private readonly earlyMs: number;
  private readonly maxTicksPerRun: number;
  private timeout: unknown = undefined;
  /** Due time the pending timeout aims at (to avoid re-arming for the same target). */
  private timeoutDue = Infinity;
  private immediate: unknown = undefined;
  private running = false;
  private closed = false;
  private ticksDelivered = 0;
  private listenerErrors = 0;
  private lateTicks = 0;
  private readonly afterRun: ((ticksDelivered: number, lateTicks: number) => void) | undefined;
  private readonly onRunStart: (() => void) | undefined;
  private readonly onRunEnd: (() => void) | undefined;
  private readonly onLateTick: ((now: number, lateMs: number) => void) | undefined;
  private timerWakeups = 0;
  private immediateWakeups = 0;
  private readonly onTimeout = (): void => {
    this.timeout = undefined;
    this.timeoutDue = Infinity;
    this.timerWakeups++;
    this.run();
  };
  private readonly readNow = (): number => this.timers.now();
  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.immediateWakeups++;
    this.run();
  };

  constructor(options: PacingClockOptions = {}) {
    this.timers = options.timers ?? realTimers;
    this.scheduler = new PhaseScheduler(options.epoch ?? this.timers.now(), options);
    this.periodMs = this.scheduler.periodMs;
    this.earlyMs = Math.max(0, options.earlyMs ?? 1);
    this.maxTicksPerRun = Math.max(1, options.maxTicksPerRun ?? 200);
    this.afterRun = options.afterRun;
    this.onRunStart = options.onRunStart;
    this.onRunEnd = options.onRunEnd;
    this.onLateTick = options.onLateTick;
  }

  /** When the next wake-up is due (clock time; now for a catch-up continuation), or undefined: none armed. */
  nextRunDue(): number | undefined {
    if (this.immediate !== undefined) return this.timers.now();
    return this.timeout === undefined ? undefined : this.timeoutDue;
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
      // The armed timer fires once more (Node cannot move a timer later without that wake), then
      // run() re-arms it for the earliest wake.
      sleepUntil: (cycle) => this.scheduler.sleep(added.bucket, added.entry, cycle),
      // Called for every frame enqueued: nothing but a flag test while the slot is awake.
      wake: () => {
        if (!released && this.scheduler.wake(added.bucket, added.entry, this.readNow)) this.reschedule();
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
      lateTicks: this.lateTicks,
      timerWakeups: this.timerWakeups,
      immediateWakeups: this.immediateWakeups,
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
    this.timeoutDue = Infinity;
    this.immediate = undefined;
  }

  private reschedule(): void {
    if (this.closed || this.running || this.immediate !== undefined) return;
    const due = this.scheduler.nextDue();
    if (due === undefined) return this.cancel();
    // A new slot in a bucket due no earlier than the armed timer: keep the timer.
    if (this.timeout !== undefined && due >= this.timeoutDue) return;
    const wait = due - this.timers.now();
    if (wait <= this.earlyMs) {
      // Due now or overdue (a new slot in a lagging bucket, or a catch-up that yielded).
      if (this.timeout !== undefined) this.timers.clearTimeout(this.timeout);
      this.timeout = undefined;
      this.timeoutDue = Infinity;
      this.immediate = this.timers.setImmediate(this.onImmediate);
      return;
    }
    if (this.timeout !== undefined) this.timers.clearTimeout(this.timeout);
    // Rounded: setTimeout fires within about a millisecond either side, and earlyMs absorbs the early side.
    this.timeout = this.timers.setTimeout(this.onTimeout, Math.max(1, Math.round(wait)));
    this.timeoutDue = due;
  }

  private run(): void {
    if (this.closed) return;
    this.running = true;
    const before = this.ticksDelivered;
    try {
      this.onRunStart?.();
      const scheduler = this.scheduler;
      for (let i = 0; i < this.maxTicksPerRun; i++) {
        const now = this.timers.now();
        const tick = scheduler.takeDue(now, this.earlyMs);
        if (tick === undefined) break;
        if (now - tick.due > LATE_TICK_MS) {
          this.lateTicks++;
          this.onLateTick?.(now, now - tick.due);
        }
        this.listenerErrors += scheduler.deliver(tick, now);
        this.ticksDelivered++;
      }
    } finally {
      this.running = false;
    }
    if (this.afterRun !== undefined && this.ticksDelivered !== before)
      this.afterRun(this.ticksDelivered, this.lateTicks);
    this.reschedule();
    this.onRunEnd?.();
  }
}
