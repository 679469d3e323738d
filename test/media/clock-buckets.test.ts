import { describe, it, expect } from 'vitest';
import {
  chooseBucket,
  ENGINE_PHASE_BUCKETS,
  ENGINE_SLOTS_PER_BUCKET,
  PacingClock,
  PhaseScheduler,
  spreadOrder,
} from '../../src/media/clock.js';
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

describe('engine bucket geometry (ENGINE_PHASE_BUCKETS, spread fill)', () => {
  const engine = { buckets: ENGINE_PHASE_BUCKETS, slotsPerBucket: ENGINE_SLOTS_PER_BUCKET, spreadFill: true };

  it('orders buckets so that the first k in use are evenly spaced', () => {
    expect(spreadOrder(16)).toEqual([0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]);
    expect(spreadOrder(5)).toEqual([0, 2, 1, 3, 4]);
    expect(new Set(spreadOrder(20)).size).toBe(20);
    expect(chooseBucket([2, 0, 0, 0], 2, spreadOrder(4))).toBe(2);
    expect(chooseBucket([2, 0, 2, 0], 2, spreadOrder(4))).toBe(1);
    expect(chooseBucket([2, 2, 2, 2], 2, spreadOrder(4))).toBe(0);
  });

  it('keeps a small engine on one or two wake-ups per period, 10 ms apart', () => {
    const s = new PhaseScheduler(0, engine);
    const phases = Array.from({ length: 100 }, () => s.add(() => {}, 0).phaseMs);
    expect([...new Set(phases)].sort((a, b) => a - b)).toEqual([0, 10]);
  });

  it('sends at most ENGINE_SLOTS_PER_BUCKET channels per burst up to 800 channels (500 on one of two workers)', () => {
    for (const n of [250, 500, 800]) {
      const s = new PhaseScheduler(0, engine);
      for (let i = 0; i < n; i++) s.add(() => {}, 0);
      const sizes = s.bucketSizes();
      expect(Math.max(...sizes)).toBeLessThanOrEqual(ENGINE_SLOTS_PER_BUCKET);
      expect(sizes.filter((size) => size > 0)).toHaveLength(Math.ceil(n / ENGINE_SLOTS_PER_BUCKET));
    }
    // Beyond that the buckets balance: 1000 channels on one worker, 62-63 per 1.25 ms.
    const s = new PhaseScheduler(0, engine);
    for (let i = 0; i < 1000; i++) s.add(() => {}, 0);
    expect(Math.max(...s.bucketSizes()) - Math.min(...s.bucketSizes())).toBeLessThanOrEqual(1);
  });
});
