import { describe, it, expect } from 'vitest';
import { chooseBucket, ENGINE_SLOTS_PER_BUCKET, PacingClock, PhaseScheduler } from '../../src/media/clock.js';
import { FakeTimers } from './fake-timers.js';

describe('chooseBucket (fill-first bucket policy)', () => {
  it('fills the first bucket below capacity, then the least loaded once all are full', () => {
    expect(chooseBucket([0, 0, 0], 2)).toBe(0);
    expect(chooseBucket([1, 0, 0], 2)).toBe(0);
    expect(chooseBucket([2, 0, 0], 2)).toBe(1);
    expect(chooseBucket([2, 2, 1], 2)).toBe(2);
    expect(chooseBucket([3, 2, 2], 2)).toBe(1);
    // A bucket emptied by releases is refilled first.
    expect(chooseBucket([2, 1, 2], 2)).toBe(1);
  });

  it('without a capacity is the least loaded bucket (the default spread)', () => {
    expect(chooseBucket([0, 0, 0])).toBe(0);
    expect(chooseBucket([1, 0, 0])).toBe(1);
    expect(chooseBucket([1, 1, 0])).toBe(2);
  });
});

describe('PhaseScheduler with slotsPerBucket', () => {
  it('uses ceil(N / capacity) buckets up to the bucket count, then balances', () => {
    const s = new PhaseScheduler(0, { buckets: 5, slotsPerBucket: 3 });
    const used = (): number => s.bucketSizes().filter((n) => n > 0).length;
    for (let i = 0; i < 3; i++) s.add(() => {}, 0);
    expect(s.bucketSizes()).toEqual([3, 0, 0, 0, 0]);
    s.add(() => {}, 0);
    expect(used()).toBe(2);
    for (let i = 4; i < 15; i++) s.add(() => {}, 0);
    expect(s.bucketSizes()).toEqual([3, 3, 3, 3, 3]);
    for (let i = 15; i < 25; i++) s.add(() => {}, 0);
    expect(s.bucketSizes()).toEqual([5, 5, 5, 5, 5]);
  });

  it('sends every slot of a small engine in one delivery per period', () => {
    const s = new PhaseScheduler(0, { slotsPerBucket: ENGINE_SLOTS_PER_BUCKET });
    const got: number[] = [];
    for (let i = 0; i < ENGINE_SLOTS_PER_BUCKET; i++) s.add(() => got.push(i), 0);
    const tick = s.takeDue(0);
    expect(tick).toBeDefined();
    s.deliver(tick!, 0);
    expect(got).toHaveLength(ENGINE_SLOTS_PER_BUCKET);
    expect(s.takeDue(19)).toBeUndefined();
  });
});

describe('PacingClock with slotsPerBucket', () => {
  it('wakes once per period for a small engine, and spreads 1000 slots over all five buckets', () => {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, slotsPerBucket: ENGINE_SLOTS_PER_BUCKET });
    const counts = new Array<number>(ENGINE_SLOTS_PER_BUCKET).fill(0);
    const slots = counts.map((_, i) => clock.register(() => counts[i]!++));
    expect(new Set(slots.map((s) => s.phaseMs)).size).toBe(1);
    timers.advance(10); // the first tick (due at registration)
    const wakeups = clock.stats().timerWakeups;
    const before = counts.slice();
    timers.advance(1000);
    // 50 periods: about 50 timer wake-ups (one bucket), every slot ticked in each.
    expect(clock.stats().timerWakeups - wakeups).toBeLessThanOrEqual(51);
    for (let i = 0; i < counts.length; i++) expect(counts[i]! - before[i]!).toBeGreaterThanOrEqual(49);
    const more = Array.from({ length: 1000 - counts.length }, () => clock.register(() => {}));
    const perPhase = new Map<number, number>();
    for (const s of [...slots, ...more]) perPhase.set(s.phaseMs, (perPhase.get(s.phaseMs) ?? 0) + 1);
    expect(perPhase.size).toBe(5);
    expect(Math.max(...perPhase.values())).toBe(200);
    for (const s of [...slots, ...more]) s.release();
    expect(timers.pendingCount).toBe(0);
  });
});

describe("the engines' bucket geometry (ENGINE_SLOTS_PER_BUCKET)", () => {
  /** Phases of `n` slots registered on an engine's clock, and its timer wake-ups over one second. */
  function engineClock(n: number): { phases: Map<number, number>; wakeupsPerSecond: number } {
    const timers = new FakeTimers();
    const clock = new PacingClock({ timers, slotsPerBucket: ENGINE_SLOTS_PER_BUCKET });
    const slots = Array.from({ length: n }, () => clock.register(() => {}));
    timers.advance(20); // every bucket's first tick
    const before = clock.stats().timerWakeups;
    timers.advance(1000);
    const wakeupsPerSecond = clock.stats().timerWakeups - before;
    const phases = new Map<number, number>();
    for (const s of slots) phases.set(s.phaseMs, (phases.get(s.phaseMs) ?? 0) + 1);
    for (const s of slots) s.release();
    clock.close();
    return { phases, wakeupsPerSecond };
  }

  it("wakes a node's 100 players' worker once per 20 ms, not twice (a wake-up costs ~100 µs of CPU)", () => {
    const { phases, wakeupsPerSecond } = engineClock(100);
    expect([...phases.values()]).toEqual([100]);
    expect(wakeupsPerSecond).toBeLessThanOrEqual(51);
  });

  it('opens a bucket per 100 channels up to five, then balances (N = 1000: five of 200, as before)', () => {
    expect([...engineClock(250).phases.values()].sort((a, b) => b - a)).toEqual([100, 100, 50]);
    expect(engineClock(250).wakeupsPerSecond).toBeLessThanOrEqual(151);
    expect([...engineClock(500).phases.values()]).toEqual([100, 100, 100, 100, 100]);
    expect([...engineClock(1000).phases.values()]).toEqual([200, 200, 200, 200, 200]);
  });
});
