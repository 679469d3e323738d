import { describe, it, expect } from 'vitest';
import { PacingClock, PhaseScheduler } from '../../src/media/clock.js';
import type { ClockTick } from '../../src/media/clock.js';
import { FakeTimers } from './fake-timers.js';

describe('PhaseScheduler', () => {
  it('spreads slots over the phase buckets', () => {
    const s = new PhaseScheduler(0);
    const phases = Array.from({ length: 40 }, () => s.add(() => {}, 0).phaseMs);
    const counts = new Map<number, number>();
    for (const p of phases) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect([...counts.values()].every((c) => c === 2)).toBe(true);
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

  it('skips cycles older than maxCatchUpMs', () => {
    const s = new PhaseScheduler(0, { maxCatchUpMs: 100 });
    s.add(() => {}, 0);
    const t = s.takeDue(1000);
    expect(t?.due).toBeGreaterThanOrEqual(900);
    expect(t?.cycle).toBe(45);
    expect(s.skippedCycles).toBe(45);
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
  it('delivers one tick per period, never early, with phases kept', () => {
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
        expect(t.now).toBeGreaterThanOrEqual(t.due);
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

  it('serves 1000 slots from one timer with at most 50 per millisecond bucket', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers });
    const slots = Array.from({ length: 1000 }, () => record(clock));
    const perPhase = new Map<number, number>();
    for (const s of slots) perPhase.set(s.phaseMs, (perPhase.get(s.phaseMs) ?? 0) + 1);
    expect(Math.max(...perPhase.values())).toBe(50);
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
