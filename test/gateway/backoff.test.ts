import { describe, it, expect } from 'vitest';
import { backoffDelay, resolveBackoff } from '../../src/gateway/backoff.js';
import { isVoxcordError } from '../../src/errors.js';

const options = { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 5, jitter: 0.5 };

describe('backoff', () => {
  it('doubles per attempt up to the cap without jitter', () => {
    const noJitter = { ...options, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('jitter lowers the delay by up to `jitter` of itself', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(400);
    expect(backoffDelay(3, options, () => 0.999999)).toBe(200);
    expect(backoffDelay(3, options, () => 0.5)).toBe(300);
  });

  it('stays finite and capped for huge attempt numbers', () => {
    expect(backoffDelay(10_000, options, () => 0)).toBe(1_000);
  });

  it('rejects inconsistent options with a typed error', () => {
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(
      isVoxcordError(
        thrown(() => resolveBackoff({ baseDelayMs: 10, maxDelayMs: 5 })),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(
      isVoxcordError(
        thrown(() => resolveBackoff({ maxAttempts: -1 })),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(resolveBackoff({ maxAttempts: 2 }).maxAttempts).toBe(2);
  });
});
