import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedInterval } from '../../src/util/shared-interval.js';

describe('SharedInterval', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every callback each period from one timer, survives a throwing one, stops when empty', () => {
    vi.useFakeTimers();
    const shared = new SharedInterval(250);
    const runs: string[] = [];
    const removeA = shared.add(() => runs.push('a'));
    const removeB = shared.add(() => {
      throw new Error('boom');
    });
    const removeC = shared.add(() => runs.push('c'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(500);
    expect(runs).toEqual(['a', 'c', 'a', 'c']);
    removeA();
    vi.advanceTimersByTime(250);
    expect(runs).toEqual(['a', 'c', 'a', 'c', 'c']);
    removeC();
    expect(vi.getTimerCount()).toBe(1); // the throwing one is still registered
    removeB();
    expect(vi.getTimerCount()).toBe(0);
    // The same function twice: two registrations, each removed on its own.
    const f = (): void => void runs.push('f');
    const removeF1 = shared.add(f);
    shared.add(f);
    removeF1();
    vi.advanceTimersByTime(250);
    expect(runs.slice(-2)).toEqual(['c', 'f']);
  });
});
