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

/**
 * A player on a media worker, as the main thread sees it: the worker takes one frame per 20 ms
 * tick (due at `phase + 20 k`) and reports its counts every `every` ticks, `delay` ms after the
 * tick (the refill cadence: a report when the queue falls to its low-water mark), each report
 * carrying the due time of the last tick it includes. `skipped` ticks (a clock that fell too far
 * behind) take no frame.
 */
function workerPlayer(
  phase: number,
  every: number,
  delay: number,
  skipped: (due: number) => boolean = () => false,
) {
  return {
    key: {},
    continuousSince: 0 as number | undefined,
    /** The counts of the last report the main thread has at `t`. */
    framesAt(t: number): { sent: number; nulled: number; at?: number } {
      const lastTick = Math.floor((t - delay - phase) / 20);
      const reported = lastTick - (((lastTick % every) + every) % every);
      const at = phase + 20 * reported;
      let sent = 0;
      for (let k = 0; k <= reported; k++) if (!skipped(phase + 20 * k)) sent++;
      return { sent, nulled: 0, at };
    },
  };
}

describe("frameStats over the media engine's reports", () => {
  // Stats timers fire late by a few ms (a busy main thread); reports lag by 0-200 ms.
  const samples = [1000, 2003, 3011, 4000, 5019, 6002, 7050];
  /** Each window's deficit, sampling the players' last reports at each of `samples`. */
  const deficitsOf = (players: ReturnType<typeof workerPlayer>[]): number[] => {
    const w = new FrameStatsWindow();
    const deficits: number[] = [];
    for (const t of samples) {
      const stats = w.sample(
        t,
        players.map((p) => ({ ...p, frames: p.framesAt(t) })),
      );
      if (stats !== null) deficits.push(stats.deficit);
    }
    return deficits;
  };

  it('counts and expected cover the same span: a lagging report is not a deficit', () => {
    const players = [workerPlayer(3, 10, 2), workerPlayer(7, 10, 9), workerPlayer(15, 10, 1)];
    const deficits = deficitsOf(players);
    // Every frame was sent at its tick: nothing is missing in any window.
    expect(deficits).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('a real gap still shows: ticks the clock skipped are deficit, in the window they fall in', () => {
    // 15 ticks skipped between 2.5 s and 2.8 s, by every player.
    const gap = (due: number) => due >= 2500 && due < 2800;
    const players = [workerPlayer(3, 10, 2, gap), workerPlayer(7, 10, 9, gap)];
    const deficits = deficitsOf(players);
    expect(deficits).toEqual([0, 15, 0, 0, 0, 0]);
  });

  it('leaves out a player that started after the report its window counts from', () => {
    const w = new FrameStatsWindow();
    // Joined with a report at 0; its track starts at 900, and its first report after that comes
    // after the sample at 1000 (a file feed reports once a second).
    const p = { key: {}, continuousSince: 900, frames: { sent: 0, nulled: 0, at: 0 } };
    expect(w.sample(0, [p])).toBeNull();
    expect(w.sample(1000, [p])).toBeNull(); // started inside this window
    p.frames = { sent: 50, nulled: 0, at: 1900 }; // every tick from 920 on took a frame
    // Counted from the report at 0, the 0.9 s before its start would be 45 frames of deficit.
    expect(w.sample(2000, [p])).toBeNull();
    p.frames = { sent: 100, nulled: 0, at: 2900 };
    expect(w.sample(3000, [p])).toEqual({ sent: 50, nulled: 0, deficit: 0 });
  });

  it('leaves out a player whose counts at the window start are too old and from before its start', () => {
    const w = new FrameStatsWindow();
    const p = {
      key: {},
      continuousSince: undefined as number | undefined,
      frames: { sent: 0, nulled: 0, at: 0 },
    };
    w.sample(0, [p]);
    // Its track starts at 2100; at the sample at 2500 its last report is still the one at 0.
    p.continuousSince = 2100;
    expect(w.sample(2500, [p])).toBeNull();
    p.frames = { sent: 65, nulled: 0, at: 3400 }; // every tick from 2120 on took a frame
    // Counted from 2500 (the old counts' stand-in), the 20 frames sent before it were a surplus:
    // deficit -20.
    expect(w.sample(3500, [p])).toBeNull();
    p.frames = { sent: 115, nulled: 0, at: 4400 };
    expect(w.sample(4500, [p])).toEqual({ sent: 50, nulled: 0, deficit: 0 });
  });

  it('leaves out, for one window, a player with no report since the last sample: its frames count in the next', () => {
    const w = new FrameStatsWindow();
    const a = { key: {}, continuousSince: 0, frames: { sent: 0, nulled: 0, at: 0 } };
    const b = { key: {}, continuousSince: 0, frames: { sent: 0, nulled: 0, at: 0 } };
    w.sample(100, [a, b], 100);
    a.frames = { sent: 50, nulled: 0, at: 1000 };
    // b's report for this second comes just after the sample (they are a second apart, as a file
    // feed's): averaged in with nothing sent over no time, it would halve the sent of the window.
    expect(w.sample(1100, [a, b], 1100)).toEqual({ sent: 50, nulled: 0, deficit: 0 });
    a.frames = { sent: 100, nulled: 0, at: 2000 };
    b.frames = { sent: 100, nulled: 0, at: 2000 };
    // b's two seconds in this window: the per-player average is (50 + 100) / 2.
    expect(w.sample(2100, [a, b], 2100)).toEqual({ sent: 75, nulled: 0, deficit: 0 });
  });

  it('counts that stopped coming (no report for over two seconds) leave the silence as deficit', () => {
    const w = new FrameStatsWindow();
    const p = { key: {}, continuousSince: 0, frames: { sent: 0, nulled: 0, at: 0 } };
    w.sample(1000, [p], 1000);
    p.frames = { sent: 90, nulled: 0, at: 1800 };
    expect(w.sample(2000, [p], 2000)).toEqual({ sent: 90, nulled: 0, deficit: 0 });
    // Counts 1.5 s old (a file feed reports every second, sent within half a second) still vouch.
    p.frames = { sent: 115, nulled: 0, at: 2300 };
    expect(w.sample(3800, [p], 3800)).toEqual({ sent: 25, nulled: 0, deficit: 0 });
    // The worker went silent after 2.3 s: at the next sample its last counts are 2.7 s old, and
    // the window runs to the sample: 135 ticks, 10 frames.
    p.frames = { sent: 125, nulled: 0, at: 2500 };
    expect(w.sample(5000, [p], 5000)).toEqual({ sent: 10, nulled: 0, deficit: 125 });
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
