import { describe, it, expect } from 'vitest';
import { LATE_TICK_MS, PacingClock, PhaseScheduler } from '../../src/media/clock.js';
import type { ClockTick } from '../../src/media/clock.js';
import { FakeTimers } from './fake-timers.js';

describe('PhaseScheduler', () => {
  it('spreads slots over five phase buckets 4 ms apart by default', () => {
    const s = new PhaseScheduler(0);
    const phases = Array.from({ length: 40 }, () => s.add(() => {}, 0).phaseMs);
    const counts = new Map<number, number>();
    for (const p of phases) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 4, 8, 12, 16]);
    expect([...counts.values()].every((c) => c === 8)).toBe(true);
  });

  it('honours an explicit bucket count', () => {
    const s = new PhaseScheduler(0, { buckets: 20 });
    const phases = Array.from({ length: 20 }, () => s.add(() => {}, 0).phaseMs);
    expect(phases.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('hands out ticks due within the early window, not beyond it', () => {
    const s = new PhaseScheduler(0, { buckets: 4 });
    s.add(() => {}, 0); // phase 0
    s.add(() => {}, 0); // phase 5
    expect(s.takeDue(0, 1)?.due).toBe(0);
    expect(s.takeDue(3.9, 1)).toBeUndefined();
    expect(s.takeDue(4, 1)?.due).toBe(5);
  });

  it('computes due times as epoch + cycle * period + phase and hands them out in order', () => {
    const s = new PhaseScheduler(100, { buckets: 4 });
    s.add(() => {}, 100); // phase 0
    s.add(() => {}, 100); // phase 5
    expect(s.nextDue()).toBe(100);
    const order: number[] = [];
    for (let t = s.takeDue(130); t !== undefined; t = s.takeDue(130)) order.push(t.due);
    expect(order).toEqual([100, 105, 120, 125]);
    expect(s.nextDue()).toBe(140);
  });

  it('starts a new slot at the first cycle due after it registered', () => {
    const s = new PhaseScheduler(0);
    const a = s.add(() => {}, 47); // bucket 0: cycles due at 0, 20, 40, 60 → first is 3
    expect(a.firstCycle).toBe(3);
    expect(s.dueTime(a.bucket, a.firstCycle)).toBe(60);
  });

  it('skips cycles older than maxCatchUpMs and resumes on time, not at the horizon', () => {
    const s = new PhaseScheduler(0, { maxCatchUpMs: 100 });
    s.add(() => {}, 0);
    const t = s.takeDue(1010);
    expect(t?.cycle).toBe(50);
    expect(t?.due).toBe(1000);
    expect(s.skippedCycles).toBe(50);
    expect(s.takeDue(1010)).toBeUndefined();
  });

  it('catches up ticks younger than maxCatchUpMs one by one', () => {
    const s = new PhaseScheduler(0, { maxCatchUpMs: 100 });
    s.add(() => {}, 0);
    const dues: number[] = [];
    for (let t = s.takeDue(90); t !== undefined; t = s.takeDue(90)) dues.push(t.due);
    expect(dues).toEqual([0, 20, 40, 60, 80]);
    expect(s.skippedCycles).toBe(0);
  });
});

function record(clock: PacingClock): {
  ticks: ClockTick[];
  release: () => void;
  firstCycle: number;
  phaseMs: number;
} {
  const ticks: ClockTick[] = [];
  const slot = clock.register((t) => ticks.push(t));
  return { ticks, release: () => slot.release(), firstCycle: slot.firstCycle, phaseMs: slot.phaseMs };
}

describe('PacingClock on a fake clock', () => {
  it('delivers one tick per period, at most earlyMs early, with phases kept', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const a = record(clock);
    const b = record(clock);
    expect(b.phaseMs).not.toBe(a.phaseMs);
    timers.advance(1000);
    for (const r of [a, b]) {
      expect(r.ticks.length).toBeGreaterThanOrEqual(49);
      expect(r.ticks.length).toBeLessThanOrEqual(51);
      r.ticks.forEach((t, i) => {
        expect(t.cycle).toBe(r.firstCycle + i);
        expect(t.due).toBeCloseTo(1000 + t.cycle * 20 + r.phaseMs, 9);
        expect(t.now).toBeGreaterThanOrEqual(t.due - 1);
        expect(t.lateMs).toBeLessThan(1);
      });
    }
    a.release();
    b.release();
    expect(timers.pendingCount).toBe(0);
  });

  it('does not drift over 10 minutes of jittery timers', () => {
    const timers = new FakeTimers();
    let seed = 1;
    // Deterministic jitter: setTimeout fires 0-2 ms late.
    timers.timeoutLateness = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed / 2 ** 31) * 2;
    };
    const clock = new PacingClock({ timers });
    const r = record(clock);
    timers.advance(600_000);
    expect(r.ticks.length).toBeGreaterThanOrEqual(29_999);
    expect(r.ticks.length).toBeLessThanOrEqual(30_001);
    const last = r.ticks.at(-1)!;
    expect(last.cycle).toBe(r.firstCycle + r.ticks.length - 1);
    expect(last.due).toBeCloseTo(1000 + last.cycle * 20 + r.phaseMs, 6);
    expect(Math.max(...r.ticks.map((t) => t.lateMs))).toBeLessThan(2.5);
    r.release();
  });

  it('catches up back to back after a stall, marking the late ticks', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const r = record(clock);
    timers.advance(100);
    const before = r.ticks.length;
    timers.block(105);
    timers.advance(1);
    const burst = r.ticks.slice(before);
    expect(burst.length).toBeGreaterThanOrEqual(5);
    // Consecutive cycles, delivered at the same instant, the oldest more than a period late.
    burst.forEach((t, i) => expect(t.cycle).toBe(burst[0]!.cycle + i));
    expect(new Set(burst.map((t) => t.now)).size).toBe(1);
    expect(burst[0]!.lateMs).toBeGreaterThan(20);
    expect(burst.at(-1)!.lateMs).toBeLessThan(20);
    timers.advance(200);
    const after = r.ticks.slice(before + burst.length);
    expect(after.every((t) => t.lateMs < 2)).toBe(true);
    r.release();
  });

  it('skips ticks beyond maxCatchUpMs after a long suspension but keeps counting cycles', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, maxCatchUpMs: 200 });
    const r = record(clock);
    timers.advance(40);
    const lastBefore = r.ticks.at(-1)!.cycle;
    timers.block(10_000);
    timers.advance(1);
    const resumed = r.ticks.filter((t) => t.cycle > lastBefore);
    expect(resumed.length).toBeLessThanOrEqual(12);
    expect(resumed[0]!.cycle - lastBefore).toBeGreaterThan(480);
    expect(clock.stats().skippedCycles).toBeGreaterThan(480);
    r.release();
  });

  it('counts deliveries that start more than LATE_TICK_MS late, and publishes the counts after each run', () => {
    const timers = new FakeTimers();
    const published: [number, number][] = [];
    const told: number[] = [];
    const clock = new PacingClock({
      timers,
      afterRun: (ticks, late) => published.push([ticks, late]),
      onLateTick: (_now, lateMs) => told.push(lateMs),
    });
    const r = record(clock);
    timers.advance(100);
    expect(clock.stats().lateTicks).toBe(0);
    // A blocked loop: the ticks due meanwhile start late, caught up back to back.
    timers.block(3 * LATE_TICK_MS + 40);
    timers.advance(1);
    const late = r.ticks.filter((t) => t.lateMs > LATE_TICK_MS).length;
    expect(late).toBeGreaterThan(0);
    expect(clock.stats().lateTicks).toBe(late);
    expect(published.at(-1)).toEqual([clock.stats().ticksDelivered, late]);
    // Each late delivery is told as it starts, with its lateness (late-tick-trace.ts).
    expect(told).toEqual(r.ticks.filter((t) => t.lateMs > LATE_TICK_MS).map((t) => t.lateMs));
    r.release();
  });

  it('runs its grid from a given epoch (a worker engine staggers its workers this way)', () => {
    const timers = new FakeTimers(1000);
    const clock = new PacingClock({ timers, epoch: 1000 - 18 });
    const r = record(clock);
    timers.advance(60);
    // Cycle k of the first bucket is due at epoch + 20k: 1002, 1022, 1042 ... not at 1000 + 20k.
    expect(r.ticks.slice(0, 3).map((t) => t.due)).toEqual([1002, 1022, 1042]);
    r.release();
  });

  it('serves 1000 slots from one timer with 200 per phase bucket', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const slots = Array.from({ length: 1000 }, () => record(clock));
    const perPhase = new Map<number, number>();
    for (const s of slots) perPhase.set(s.phaseMs, (perPhase.get(s.phaseMs) ?? 0) + 1);
    expect(Math.max(...perPhase.values())).toBe(200);
    timers.advance(200);
    expect(timers.pendingCount).toBe(1);
    for (const s of slots) expect(s.ticks.length).toBeGreaterThanOrEqual(9);
    for (const s of slots) s.release();
    expect(timers.pendingCount).toBe(0);
    expect(clock.stats().slots).toBe(0);
  });

  it('keeps ticking other slots when a listener throws', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, buckets: 1 });
    const bad = clock.register(() => {
      throw new Error('boom');
    });
    const r = record(clock);
    timers.advance(100);
    expect(r.ticks.length).toBeGreaterThanOrEqual(4);
    expect(clock.stats().listenerErrors).toBeGreaterThanOrEqual(4);
    bad.release();
    r.release();
  });

  it('never spins: one timer per occupied bucket per period, no setImmediate when on time', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const one = record(clock);
    timers.advance(1000);
    // One slot, one bucket: about 50 timers per second. The one immediate is the first tick, due
    // at the instant the slot registered.
    expect(timers.immediatesRun).toBe(1);
    expect(timers.timeoutsScheduled).toBeLessThanOrEqual(52);
    expect(one.ticks.length).toBeGreaterThanOrEqual(49);
    const many = Array.from({ length: 999 }, () => record(clock));
    const before = timers.timeoutsScheduled;
    timers.advance(1000);
    // Five buckets: about 250 timers per second, whatever the number of slots.
    expect(timers.timeoutsScheduled - before).toBeLessThanOrEqual(255);
    expect(timers.immediatesRun).toBe(1);
    expect(clock.stats().immediateWakeups).toBe(1);
    expect(clock.stats().timerWakeups).toBeGreaterThan(240);
    for (const s of many) expect(s.ticks.length).toBeGreaterThanOrEqual(49);
    one.release();
    for (const s of many) s.release();
    expect(timers.pendingCount).toBe(0);
  });

  it('serves a bucket in the same wake-up when the timer fires up to earlyMs early', () => {
    const timers = new FakeTimers();
    timers.timeoutLateness = () => -0.9;
    const clock = new PacingClock({ timers });
    const r = record(clock);
    timers.advance(1000);
    expect(r.ticks.length).toBeGreaterThanOrEqual(49);
    expect(timers.immediatesRun).toBe(1);
    // Mostly one wake-up per tick (a re-arm only when rounding puts the fire time beyond earlyMs).
    expect(timers.timeoutsScheduled).toBeLessThanOrEqual(2 * r.ticks.length);
    for (const t of r.ticks) expect(t.due - t.now).toBeLessThanOrEqual(1);
    r.release();
  });

  it('re-arms when the timer fires more than earlyMs early, and still never sends early beyond it', () => {
    const timers = new FakeTimers();
    timers.timeoutLateness = () => -1.5;
    const clock = new PacingClock({ timers });
    const r = record(clock);
    timers.advance(1000);
    expect(r.ticks.length).toBeGreaterThanOrEqual(49);
    expect(timers.immediatesRun).toBe(1);
    for (const t of r.ticks) expect(t.due - t.now).toBeLessThanOrEqual(1);
    r.release();
  });

  it('does not stay behind when overloaded: stale ticks are skipped and the clock resumes on time', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, maxCatchUpMs: 100, buckets: 1 });
    let cost = 30; // each tick costs more than a period: hopeless overload
    const ticks: ClockTick[] = [];
    clock.register((t) => {
      ticks.push(t);
      timers.block(cost);
    });
    timers.advance(2000);
    // Lateness is bounded by the catch-up horizon instead of growing without end.
    expect(Math.max(...ticks.map((t) => t.lateMs))).toBeLessThanOrEqual(100 + 30);
    expect(clock.stats().skippedCycles).toBeGreaterThan(0);
    cost = 0;
    const mark = ticks.length;
    timers.advance(500);
    const after = ticks.slice(mark + 1);
    expect(after.length).toBeGreaterThan(20);
    expect(after.every((t) => t.lateMs < 2)).toBe(true);
    clock.close();
  });

  it('continues a long catch-up with setImmediate, yielding between runs', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, maxTicksPerRun: 3, maxCatchUpMs: 1000, buckets: 1 });
    const r = record(clock);
    timers.advance(40);
    timers.block(200);
    timers.advance(1);
    expect(timers.immediatesRun).toBeGreaterThanOrEqual(3);
    const lateOnes = r.ticks.filter((t) => t.lateMs > 20);
    expect(lateOnes.length).toBeGreaterThanOrEqual(9);
    timers.advance(100);
    expect(r.ticks.slice(-4).every((t) => t.lateMs < 2)).toBe(true);
    r.release();
  });

  it('runs on real timers too', async () => {
    const clock = new PacingClock();
    const r = record(clock);
    await new Promise((resolve) => setTimeout(resolve, 130));
    r.release();
    clock.close();
    expect(r.ticks.length).toBeGreaterThanOrEqual(3);
    r.ticks.forEach((t, i) => expect(t.cycle).toBe(r.firstCycle + i));
  });
});

describe('PacingClock with sleeping slots', () => {
  it('does not wake while every slot sleeps, wakes at the earliest wake cycle, and resumes on time after wake()', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ slotsPerBucket: 50, timers });
    const ticks: ClockTick[] = [];
    // Sleeps after each tick until 250 cycles on (a keepalive every 5 s), as an idle channel does.
    let sleeping = true;
    const slot = clock.register((t) => {
      ticks.push(t);
      if (sleeping) slot.sleepUntil(t.cycle + 250);
    });
    const other = clock.register(() => undefined);
    timers.advance(100);
    other.release(); // now only the sleeper is left
    const wakeupsBefore = clock.stats().timerWakeups;
    const ticksBefore = ticks.length;
    timers.advance(10_000);
    // One tick per 5 s, and at most one extra wake-up (the timer armed before the slot slept).
    expect(ticks.length - ticksBefore).toBe(2);
    expect(clock.stats().timerWakeups - wakeupsBefore).toBeLessThanOrEqual(3);
    const [a, b] = ticks.slice(ticksBefore);
    expect(b!.cycle - a!.cycle).toBe(250);
    expect(b!.lateMs).toBeLessThan(1);
    // A frame to send: ticks every cycle again from the next one due, on time, none owed for the sleep.
    sleeping = false;
    const wokeAt = timers.now();
    slot.wake();
    timers.advance(200);
    const resumed = ticks.slice(ticksBefore + 2);
    expect(resumed.length).toBeGreaterThanOrEqual(9);
    expect(resumed[0]!.due).toBeGreaterThanOrEqual(wokeAt);
    expect(resumed[0]!.due - wokeAt).toBeLessThanOrEqual(20);
    resumed.forEach((t, i) => {
      expect(t.cycle).toBe(resumed[0]!.cycle + i);
      expect(t.lateMs).toBeLessThan(1);
    });
    expect(clock.stats().lateTicks).toBe(0);
    expect(clock.stats().skippedCycles).toBe(0);
    slot.release();
    expect(timers.pendingCount).toBe(0);
  });

  it('keeps delivering to awake slots of a bucket while others in it sleep', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ slotsPerBucket: 50, timers });
    const awake: ClockTick[] = [];
    const asleep: ClockTick[] = [];
    clock.register((t) => awake.push(t));
    const s = clock.register((t) => {
      asleep.push(t);
      s.sleepUntil(t.cycle + 10);
    });
    timers.advance(1000);
    expect(awake.length).toBeGreaterThanOrEqual(49);
    expect(asleep.length).toBeGreaterThanOrEqual(4);
    expect(asleep.length).toBeLessThanOrEqual(6);
    asleep.slice(1).forEach((t, i) => expect(t.cycle - asleep[i]!.cycle).toBe(10));
    clock.close();
  });
});
