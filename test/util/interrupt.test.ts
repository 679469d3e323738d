import { describe, expect, it } from 'vitest';
import { Interrupt } from '../../src/util/interrupt.js';

describe('Interrupt (input waits that end on close or stall)', () => {
  it('gives the result of the operation, and keeps no waiter once it settled (no pile-up per read)', async () => {
    const interrupt = new Interrupt<'closed'>();
    for (let i = 0; i < 1000; i++) expect(await interrupt.race(Promise.resolve(i))).toBe(i);
    await expect(interrupt.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(interrupt.pending).toBe(0);
  });

  it('poke() ends the waits pending now only; fire() ends them and every later one', async () => {
    const interrupt = new Interrupt<'stalled' | 'closed'>();
    const never = new Promise<number>(() => undefined);
    const first = interrupt.race(never);
    expect(interrupt.pending).toBe(1);
    interrupt.poke('stalled');
    expect(await first).toBe('stalled');
    expect(await interrupt.race(Promise.resolve(1))).toBe(1);
    const second = interrupt.race(never);
    interrupt.fire('closed');
    expect(await second).toBe('closed');
    // After fire(), even an operation that is ready loses, and its rejection is not left unhandled.
    expect(await interrupt.race(Promise.reject(new Error('late')))).toBe('closed');
    expect(interrupt.pending).toBe(0);
  });
});
