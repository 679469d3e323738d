import { describe, expect, it } from 'vitest';
import { FrameStatsWindow, LoadSampler } from '../../src/node/stats.js';

describe('frameStats', () => {
  it('is null until a player has played a whole window, then averages per counted player', () => {
    const w = new FrameStatsWindow();
    const a = { key: {}, frames: { sent: 0, nulled: 0 }, continuousSince: 0 as number | undefined };
    const b = { key: {}, frames: { sent: 0, nulled: 0 }, continuousSince: 0 as number | undefined };
    const silent = { key: {}, frames: undefined, continuousSince: 0 };
    expect(w.sample(60_000, [a, b, silent])).toBeNull(); // the first sample opens the window
    a.frames = { sent: 2990, nulled: 5 };
    b.frames = { sent: 2900, nulled: 20 };
    // deficit = (2 × 3000 − (2990 + 5 + 2900 + 20)) / 2 = 42.5 → 43 (rounded)
    expect(w.sample(120_000, [a, b, silent])).toEqual({ sent: 2945, nulled: 13, deficit: 43 });
  });

  it('leaves out a player that started, paused or had a gap inside the window', () => {
    const w = new FrameStatsWindow();
    const steady = { key: {}, frames: { sent: 0, nulled: 0 }, continuousSince: 0 as number | undefined };
    const late = { key: {}, frames: { sent: 0, nulled: 0 }, continuousSince: 0 as number | undefined };
    w.sample(60_000, [steady, late]);
    steady.frames = { sent: 3000, nulled: 0 };
    late.frames = { sent: 100, nulled: 0 };
    late.continuousSince = 90_000; // resumed half-way: not a usable minute
    expect(w.sample(120_000, [steady, late])).toEqual({ sent: 3000, nulled: 0, deficit: 0 });
    late.continuousSince = undefined;
    steady.continuousSince = undefined;
    expect(w.sample(180_000, [steady, late])).toBeNull();
  });
});

describe('load', () => {
  it('reports real process memory and CPU within 0-1', () => {
    const s = new LoadSampler();
    const m = s.memory();
    expect(m.used).toBe(m.allocated);
    expect(m.used).toBeGreaterThan(1024 * 1024);
    expect(m.free + m.used).toBe(m.reservable);
    const c = s.cpu();
    expect(c.cores).toBeGreaterThan(0);
    for (const v of [c.systemLoad, c.lavalinkLoad]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });
});
