import { describe, it, expect } from 'vitest';
import { Mixer, SOFT_CLIP_KNEE, mixFrames, softClip } from '../../src/receive/mixer.js';

const frame = (value: number, n = 1920): Int16Array => new Int16Array(n).fill(value);

describe('softClip / mixFrames', () => {
  it('is the identity below the knee and never exceeds full scale', () => {
    expect(softClip(1000)).toBe(1000);
    expect(softClip(-SOFT_CLIP_KNEE)).toBe(-SOFT_CLIP_KNEE);
    expect(softClip(60_000)).toBeLessThanOrEqual(32767);
    expect(softClip(60_000)).toBeGreaterThan(SOFT_CLIP_KNEE);
    expect(softClip(-1e9)).toBeGreaterThanOrEqual(-32767);
    // Monotonic and continuous through the knee.
    let prev = -Infinity;
    for (let x = 0; x <= 100_000; x += 250) {
      const y = softClip(x);
      expect(y).toBeGreaterThanOrEqual(prev);
      prev = y;
    }
    expect(softClip(SOFT_CLIP_KNEE + 1) - SOFT_CLIP_KNEE).toBeCloseTo(1, 3);
  });

  it('mixes quiet speakers exactly and compresses loud overlaps', () => {
    const quiet = mixFrames([frame(1000), frame(-300)]);
    expect(quiet.every((s) => s === 700)).toBe(true);
    const loud = mixFrames([frame(30_000), frame(30_000)]);
    expect(loud[0]).toBeLessThanOrEqual(32767);
    expect(loud[0]).toBeGreaterThan(30_000);
    const neg = mixFrames([frame(-30_000), frame(-30_000), frame(-30_000)]);
    expect(neg[0]).toBeGreaterThanOrEqual(-32767);
    expect(neg[0]).toBeLessThan(-30_000);
    // A short frame is padded with silence.
    const padded = mixFrames([frame(5, 10)]);
    expect(padded.length).toBe(1920);
    expect(padded[9]).toBe(5);
    expect(padded[10]).toBe(0);
  });
});

describe('Mixer', () => {
  it('produces one frame per 20 ms slot with the speakers of that slot', () => {
    const m = new Mixer();
    expect(m.pull(0).map((f) => f.timestamp)).toEqual([0]);
    m.push('a', frame(100));
    m.push('b', frame(200));
    const [f1] = m.pull(20);
    expect(f1!.timestamp).toBe(960);
    expect(f1!.speakers.sort()).toEqual(['a', 'b']);
    expect(f1!.pcm[0]).toBe(300);
    m.push('a', frame(100));
    const frames = m.pull(60);
    expect(frames.map((f) => f.timestamp)).toEqual([1920, 2880]);
    expect(frames[0]!.speakers).toEqual(['a']);
    expect(frames[1]!.speakers).toEqual([]);
    expect(frames[1]!.pcm.every((s) => s === 0)).toBe(true);
  });

  it('omits silent slots when emitSilence is false, keeping timestamps on the timeline', () => {
    const m = new Mixer({ emitSilence: false });
    expect(m.pull(0)).toEqual([]);
    m.push('a', frame(1));
    const out = m.pull(100);
    expect(out.map((f) => f.timestamp)).toEqual([960]);
  });

  it('bounds each user queue, dropping the oldest audio', () => {
    const m = new Mixer({ maxQueuedMs: 40 });
    m.pull(0);
    for (let i = 1; i <= 5; i++) m.push('a', frame(i));
    expect(m.overflowSamples).toBe(3 * 1920);
    const out = m.pull(40);
    expect(out.map((f) => f.pcm[0])).toEqual([4, 5]);
  });

  it('splits frames of other sizes across slots', () => {
    const m = new Mixer();
    m.pull(0);
    m.push('a', frame(7, 3840)); // a 40 ms frame
    const out = m.pull(40);
    expect(out.map((f) => f.speakers.length)).toEqual([1, 1]);
    expect(out.every((f) => f.pcm.every((s) => s === 7))).toBe(true);
  });
});
