import { describe, it, expect } from 'vitest';
import { SpeakingTracker, type SpeakingEvent } from '../../src/receive/speaking-tracker.js';
import { rng } from './helpers.js';

/** Packets every 20 ms with jitter (arrival order shuffled a bit), sweeping every 20 ms. */
function simulate(bursts: { start: number; frames: number }[], jitterMs = 30): SpeakingEvent[] {
  const t = new SpeakingTracker({ endDelayMs: 200 });
  const r = rng(9);
  const arrivals = bursts
    .flatMap((b) => Array.from({ length: b.frames }, (_, i) => b.start + i * 20 + r() * jitterMs))
    .sort((a, b) => a - b);
  const events: SpeakingEvent[] = [];
  let i = 0;
  const end = Math.max(...arrivals) + 1000;
  for (let now = 0; now <= end; now += 20) {
    while (i < arrivals.length && arrivals[i]! <= now) {
      const e = t.onPacket('u1', arrivals[i++]!);
      if (e) events.push(e);
    }
    events.push(...t.sweep(now));
  }
  return events;
}

describe('SpeakingTracker', () => {
  it('fires start and end once per burst despite jitter', () => {
    const events = simulate([
      { start: 100, frames: 50 },
      { start: 2000, frames: 25 },
      { start: 4000, frames: 5 },
    ]);
    expect(events.map((e) => e.type)).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
    expect(events[0]!.at).toBeGreaterThanOrEqual(100);
    // The first burst's last packet left at 100 + 49·20 (+ jitter); the end comes ≥ 200 ms after it.
    expect(events[1]!.at).toBeGreaterThanOrEqual(100 + 49 * 20 + 200);
    expect(events[1]!.at).toBeLessThan(100 + 49 * 20 + 30 + 200 + 40);
  });

  it('silence frames neither start nor extend a burst', () => {
    const t = new SpeakingTracker({ endDelayMs: 100 });
    expect(t.onPacket('u', 0, true)).toBeUndefined();
    expect(t.isSpeaking('u')).toBe(false);
    expect(t.onPacket('u', 10)).toEqual({ type: 'start', userId: 'u', at: 10 });
    t.onPacket('u', 50, true);
    expect(t.sweep(110)).toEqual([{ type: 'end', userId: 'u', at: 110 }]);
  });

  it('op 5 speaking: 0 ends a burst at once, and stragglers do not restart it', () => {
    const t = new SpeakingTracker({ endDelayMs: 200 });
    t.onPacket('u', 0);
    expect(t.onSpeakingOp('u', 1, 5)).toBeUndefined();
    expect(t.onSpeakingOp('u', 0, 20)).toEqual({ type: 'end', userId: 'u', at: 20 });
    expect(t.onSpeakingOp('u', 0, 25)).toBeUndefined();
    expect(t.onPacket('u', 40)).toBeUndefined(); // a reordered packet of the same burst
    expect(t.sweep(1000)).toEqual([]);
    expect(t.onPacket('u', 1000)?.type).toBe('start');
  });

  it('op 13 ends a burst at once, and packets that were on the way start none', () => {
    const t = new SpeakingTracker({ endDelayMs: 200 });
    t.onPacket('u', 0);
    expect(t.remove('u', 20)).toEqual({ type: 'end', userId: 'u', at: 20 });
    // Received just before the leave, handed over just after it (the e2e flake of session 25).
    expect(t.onPacket('u', 19)).toBeUndefined();
    expect(t.onPacket('u', 30)).toBeUndefined();
    expect(t.isSpeaking('u')).toBe(false);
    expect(t.sweep(1000)).toEqual([]);
    expect(t.onPacket('u', 1000)?.type).toBe('start'); // back, speaking again
  });

  it('tracks users independently and sweeps only speakers', () => {
    const t = new SpeakingTracker({ endDelayMs: 100 });
    t.onPacket('a', 0);
    t.onPacket('b', 50);
    expect(t.speakingUsers().sort()).toEqual(['a', 'b']);
    expect(t.sweep(100).map((e) => e.userId)).toEqual(['a']);
    expect(t.remove('b', 120)).toEqual({ type: 'end', userId: 'b', at: 120 });
    expect(t.remove('b', 130)).toBeUndefined();
    expect(t.sweep(1000)).toEqual([]);
    expect(() => new SpeakingTracker({ endDelayMs: 0 })).toThrow();
  });
});
