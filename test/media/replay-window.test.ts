import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../src/media/replay-window.js';

/** Reference model: a set of every counter seen and the highest, with the same window rule. */
function model(size: number): (c: number) => boolean {
  const seen = new Set<number>();
  let highest: number | undefined;
  return (c) => {
    if (highest !== undefined) {
      const ahead = (c - highest) >>> 0;
      if (ahead === 0 || ahead >= 0x8000_0000) {
        const behind = (highest - c) >>> 0;
        if (behind >= size || seen.has(c)) return false;
      }
    }
    if (highest === undefined || ((c - highest) >>> 0 !== 0 && (c - highest) >>> 0 < 0x8000_0000))
      highest = c;
    seen.add(c);
    return true;
  };
}

describe('ReplayWindow', () => {
  it('accepts each counter once, in or out of order, and drops what falls behind the window', () => {
    const w = new ReplayWindow(64);
    expect([10, 10, 8, 9, 8, 11].map((c) => w.accept(c))).toEqual([true, false, true, true, false, true]);
    expect(w.accept(11 + 100)).toBe(true);
    expect(w.accept(11 + 100 - 64)).toBe(false); // one past the window
    expect(w.accept(11 + 100 - 63)).toBe(true); // the oldest slot it holds
    expect(w.accept(11 + 100 - 63)).toBe(false);
  });

  it('survives the wrap at 2^32 and agrees with a reference model on a seeded random walk', () => {
    for (const size of [32, 64, 1000]) {
      const w = new ReplayWindow(size);
      const m = model(size);
      let seed = 12345 + size;
      const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
      let c = 0xffff_ff00;
      for (let i = 0; i < 20_000; i++) {
        const r = rand();
        const step = r < 0.6 ? 1 : r < 0.8 ? Math.floor(rand() * 80) - 40 : Math.floor(rand() * 3 * size);
        c = (c + step) >>> 0;
        expect(w.accept(c), `counter ${c} at step ${i}`).toBe(m(c));
      }
    }
  });

  it('reset() forgets: counters may start again under a new key', () => {
    const w = new ReplayWindow();
    expect(w.accept(1)).toBe(true);
    expect(w.accept(1)).toBe(false);
    w.reset();
    expect(w.accept(1)).toBe(true);
  });
});
