/** isVoxcordError across the two copies a process has when it loads both voxcord builds (ESM and CommonJS). */
import { describe, expect, it } from 'vitest';
import { VoxcordError, isVoxcordError } from '../src/errors.js';

/** What the CommonJS build's VoxcordError looks like from the ESM build: a different class, same shape. */
class OtherCopyError extends Error {
  override readonly name = 'VoxcordError';
  constructor(readonly code: string) {
    super('from the other copy');
  }
}

describe('isVoxcordError', () => {
  it('recognises errors of this copy, with and without a code', () => {
    const err = new VoxcordError('DESTROYED', 'x');
    expect(isVoxcordError(err)).toBe(true);
    expect(isVoxcordError(err, 'DESTROYED')).toBe(true);
    expect(isVoxcordError(err, 'JOIN_TIMEOUT')).toBe(false);
  });

  it('recognises the other copy’s errors, where instanceof is false', () => {
    const other = new OtherCopyError('JOIN_TIMEOUT');
    expect(other instanceof VoxcordError).toBe(false);
    expect(isVoxcordError(other)).toBe(true);
    expect(isVoxcordError(other, 'JOIN_TIMEOUT')).toBe(true);
    expect(isVoxcordError(other, 'DESTROYED')).toBe(false);
  });

  it('rejects other errors and non-errors', () => {
    const named = new Error('x');
    named.name = 'VoxcordError'; // no code
    for (const value of [
      new Error('x'),
      named,
      { name: 'VoxcordError', code: 'DESTROYED' },
      null,
      'VoxcordError',
    ])
      expect(isVoxcordError(value)).toBe(false);
  });
});
