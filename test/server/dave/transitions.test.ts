import { describe, it, expect } from 'vitest';
import { TransitionCoordinator } from '../../../src/server/dave/transitions.js';

describe('TransitionCoordinator', () => {
  it('allocates u16 ids from 1, never 0, wrapping and skipping pending ids', () => {
    const t = new TransitionCoordinator(1000);
    expect(t.allocate()).toBe(1);
    t.start(1, 1, ['a'], 0);
    for (let i = 2; i <= 0xffff; i++) expect(t.allocate()).toBe(i);
    expect(t.allocate()).toBe(2); // wrapped past 65535, skipped 0 and the pending 1
  });

  it('executes when every recipient is ready, to all recipients', () => {
    const t = new TransitionCoordinator(1000);
    t.start(7, 1, ['a', 'b'], 0);
    expect(t.ready('a', 7)).toBeUndefined();
    expect(t.ready('a', 8)).toBeUndefined();
    expect(t.ready('z', 7)).toBeUndefined();
    expect(t.ready('b', 7)).toEqual({ transitionId: 7, protocolVersion: 1, recipients: ['a', 'b'] });
    expect(t.has(7)).toBe(false);
    expect(t.ready('b', 7)).toBeUndefined();
  });

  it('executes at the deadline, and when the last missing user drops out', () => {
    const t = new TransitionCoordinator(1500);
    t.start(1, 1, ['a', 'b'], 100);
    t.start(2, 0, ['a', 'c'], 200);
    expect(t.nextDeadline()).toBe(1600);
    expect(t.expire(1599)).toEqual([]);
    expect(t.expire(1600)).toEqual([{ transitionId: 1, protocolVersion: 1, recipients: ['a', 'b'] }]);
    t.ready('a', 2);
    expect(t.dropUser('c')).toEqual([{ transitionId: 2, protocolVersion: 0, recipients: ['a'] }]);
    expect(t.nextDeadline()).toBeUndefined();
  });

  it('flush executes everything pending', () => {
    const t = new TransitionCoordinator(1500);
    t.start(3, 1, ['a'], 0);
    t.start(4, 1, ['b'], 0);
    expect(t.flush().map((x) => x.transitionId)).toEqual([3, 4]);
    expect(t.flush()).toEqual([]);
  });
});
