import { describe, expect, it } from 'vitest';
import { SlicedQueue } from '../../src/media/sliced-queue.js';

/** A queue on a fake clock: each item costs `costMs`; slices run only when the test says so. */
function setup(costMs: number) {
  let now = 0;
  const ran: number[] = [];
  const slices: (() => void)[] = [];
  const q = new SlicedQueue<number>(
    (n) => {
      ran.push(n);
      now += costMs;
    },
    1,
    32,
    () => now,
    (slice) => slices.push(slice),
  );
  const runSlice = (): number => {
    const before = ran.length;
    slices.shift()!();
    return ran.length - before;
  };
  return { q, ran, slices, runSlice };
}

describe('SlicedQueue', () => {
  it('runs nothing until its slice is scheduled, then at most 1 ms of work per slice, in order', () => {
    const { q, ran, slices, runSlice } = setup(0.25);
    for (let i = 0; i < 10; i++) q.push(i);
    expect(ran).toEqual([]);
    expect(slices).toHaveLength(1); // one slice scheduled for ten pushes
    expect(runSlice()).toBe(4); // 4 x 0.25 ms
    expect(slices).toHaveLength(1);
    expect(runSlice()).toBe(4);
    expect(runSlice()).toBe(2);
    expect(slices).toHaveLength(0);
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('caps a slice at 32 cheap items, and runs one item however long it takes', () => {
    const cheap = setup(0);
    for (let i = 0; i < 100; i++) cheap.q.push(i);
    expect([cheap.runSlice(), cheap.runSlice(), cheap.runSlice(), cheap.runSlice()]).toEqual([32, 32, 32, 4]);
    const slow = setup(5);
    for (let i = 0; i < 3; i++) slow.q.push(i);
    expect([slow.runSlice(), slow.runSlice(), slow.runSlice()]).toEqual([1, 1, 1]);
    expect(slow.slices).toHaveLength(0);
  });

  it('schedules again for an item pushed after it emptied, and keeps going after a throwing item', () => {
    const { q, ran, slices, runSlice } = setup(0);
    q.push(1);
    runSlice();
    expect(slices).toHaveLength(0);
    q.push(2);
    expect(slices).toHaveLength(1);
    runSlice();
    expect(ran).toEqual([1, 2]);
    let calls = 0;
    const throwing = new SlicedQueue<number>(
      () => {
        if (calls++ === 0) throw new Error('boom');
      },
      1,
      32,
      () => 0,
      (slice) => slices.push(slice),
    );
    throwing.push(1);
    throwing.push(2);
    expect(() => slices.shift()!()).toThrow('boom');
    expect(throwing.length).toBe(1);
    slices.shift()!();
    expect(throwing.length).toBe(0);
  });
});
