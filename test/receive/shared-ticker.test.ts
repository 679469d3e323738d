/**
 * The receive clock's ticker: its own timer while no media worker keeps a receive cadence, the
 * cadence's messages (and no timer) while one does, and back to its timer when the cadence stops.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { endReceivePulse, receivePulse } from '../../src/media/receive-pulse.js';
import { SharedTicker } from '../../src/receive/shared-ticker.js';
import { VoiceReceiver } from '../../src/receive/receiver.js';

const sources: object[] = [];

function source(): object {
  const s = {};
  sources.push(s);
  return s;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
});

afterEach(() => {
  for (const s of sources.splice(0)) endReceivePulse(s);
  vi.useRealTimers();
});

describe('SharedTicker', () => {
  it('ticks on the cadence and not on its timer while a worker keeps one, on its timer again after', () => {
    const ticker = new SharedTicker(20);
    const ticks: number[] = [];
    const member = { tick: () => ticks.push(performance.now()) };
    ticker.add(member);
    const t0 = performance.now();
    vi.advanceTimersByTime(100);
    expect(ticks.length).toBe(5); // no cadence: its own timer, every 20 ms

    const worker = source();
    ticks.length = 0;
    vi.advanceTimersByTime(12);
    receivePulse(worker, true); // the first packet's message: a tick at once
    expect(ticks.length).toBe(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(20);
      receivePulse(worker, true);
    }
    expect(ticks.length).toBe(11); // one per message, none from a timer in between
    vi.advanceTimersByTime(19);
    expect(ticks.length).toBe(11);

    // The cadence's last message ticks, then the ticker's own timer takes over.
    vi.advanceTimersByTime(1);
    receivePulse(worker, false);
    expect(ticks.length).toBe(12);
    vi.advanceTimersByTime(60);
    expect(ticks.length).toBe(15);
    expect(ticks.every((t) => t >= t0)).toBe(true);
    ticker.remove(member);
    vi.advanceTimersByTime(60);
    expect(ticks.length).toBe(15);
  });

  it('keeps ticks at least half a period apart with two workers, and resumes its timer when a worker dies', () => {
    const ticker = new SharedTicker(20);
    let ticks = 0;
    const member = { tick: () => ticks++ };
    ticker.add(member);
    const a = source();
    const b = source();
    for (let i = 0; i < 10; i++) {
      receivePulse(a, true);
      vi.advanceTimersByTime(3);
      receivePulse(b, true); // 3 ms after a's: skipped
      vi.advanceTimersByTime(17);
    }
    expect(ticks).toBe(10);
    endReceivePulse(a);
    vi.advanceTimersByTime(100);
    expect(ticks).toBe(10); // b still keeps its cadence (it sent nothing: no tick)
    endReceivePulse(b); // b's worker died without its last message
    vi.advanceTimersByTime(100);
    expect(ticks).toBe(15);
    ticker.remove(member);
  });

  it('a shorter interval than the cadence keeps its own timer', () => {
    const ticker = new SharedTicker(5);
    let ticks = 0;
    const member = { tick: () => ticks++ };
    ticker.add(member);
    receivePulse(source(), true);
    expect(ticks).toBe(0);
    vi.advanceTimersByTime(50);
    expect(ticks).toBe(10);
    ticker.remove(member);
  });

  it("runs a receiver's start() on the cadence; a failing receiver does not starve the others", () => {
    const a = new VoiceReceiver();
    const b = new VoiceReceiver();
    const ticked: string[] = [];
    a.tick = () => {
      ticked.push('a');
      throw new Error('subscriber failed');
    };
    b.tick = () => void ticked.push('b');
    // An interval no other test uses: a fresh shared ticker (ticks 30 ms or more apart on pulses).
    a.start(40);
    b.start(40);
    expect(() => receivePulse(source(), true)).toThrow('subscriber failed');
    expect(ticked).toEqual(['a', 'b']);
    a.close();
    vi.advanceTimersByTime(20);
    receivePulse(sources[0]!, true); // 20 ms after the last tick: too soon for a 40 ms interval
    expect(ticked).toEqual(['a', 'b']);
    vi.advanceTimersByTime(20);
    receivePulse(sources[0]!, true);
    expect(ticked).toEqual(['a', 'b', 'b']);
    b.close();
    expect(() => a.start(0)).not.toThrow(); // closed: ignored
    expect(() => new VoiceReceiver().start(0)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });
});
