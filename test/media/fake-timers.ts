/** A fake monotonic clock with setTimeout/setImmediate for driving PacingClock in tests. */
import type { ClockTimers } from '../../src/media/clock.js';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
  immediate: boolean;
}

export class FakeTimers implements ClockTimers {
  time: number;
  /** How late each setTimeout fires (ms); a function for jitter. */
  timeoutLateness: () => number = () => 0.3;
  /** Time that passes per event-loop turn that runs an immediate. */
  immediateCost = 0.05;
  private pending: Pending[] = [];
  private nextId = 1;
  timeoutsScheduled = 0;
  immediatesRun = 0;

  constructor(start = 1000) {
    this.time = start;
  }

  now = (): number => this.time;

  setTimeout = (fn: () => void, ms: number): unknown => {
    this.timeoutsScheduled++;
    const p: Pending = {
      id: this.nextId++,
      // Lateness may be negative (a timer aimed from a stale loop time fires early), but time moves on.
      at: this.time + Math.max(0.05, Math.max(1, ms) + this.timeoutLateness()),
      fn,
      immediate: false,
    };
    this.pending.push(p);
    return p.id;
  };

  clearTimeout = (handle: unknown): void => {
    this.pending = this.pending.filter((p) => p.id !== handle);
  };

  setImmediate = (fn: () => void): unknown => {
    const p: Pending = { id: this.nextId++, at: this.time, fn, immediate: true };
    this.pending.push(p);
    return p.id;
  };

  clearImmediate = (handle: unknown): void => {
    this.clearTimeout(handle);
  };

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Runs timers in time order until `ms` have passed. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) if (next === undefined || p.at < next.at) next = p;
      if (next === undefined || next.at > end) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.time = Math.max(this.time, next.at);
      if (next.immediate) {
        this.time += this.immediateCost;
        this.immediatesRun++;
      }
      next.fn();
    }
    this.time = Math.max(this.time, end);
  }

  /** Simulates a blocked event loop: time passes, nothing runs. */
  block(ms: number): void {
    this.time += ms;
  }
}
