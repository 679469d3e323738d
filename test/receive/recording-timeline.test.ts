import { describe, expect, it } from 'vitest';
import { RecordingTimeline, TimelinePlacer, type TimedFrame } from '../../src/receive/recording-timeline.js';

const FRAME = 960;

/** `count` consecutive frames from `ts`, arriving every 20 ms from `at` (plus `jitter(i)` ms). */
function burst(ts: number, at: number, count: number, jitter: (i: number) => number = () => 0): TimedFrame[] {
  return Array.from({ length: count }, (_, i) => ({
    timestamp: (ts + i * FRAME) % 0x1_0000_0000,
    receivedAt: at + i * 20 + jitter(i),
  }));
}

/** Places every frame; returns the gap before each (timeline samples). */
function placeAll(placer: TimelinePlacer, frames: readonly TimedFrame[]): number[] {
  return frames.map((f) => placer.place(f, FRAME));
}

describe('RecordingTimeline', () => {
  it('converts ms on the receiver clock to 48 kHz samples; stop() fixes the end once', () => {
    let now = 1_000;
    const t = new RecordingTimeline({ now: () => now });
    expect(t.startAt).toBe(1_000);
    expect(t.samplesAt(1_500)).toBe(24_000);
    now = 3_000;
    expect(t.endSamples()).toBe(96_000); // running: ends now
    t.stop();
    now = 9_000;
    t.stop(); // the first call wins
    expect(t.endAt).toBe(3_000);
    expect(t.endSamples()).toBe(96_000);
    const early = new RecordingTimeline({ startAt: 50 });
    early.stop(10);
    expect(early.endAt).toBe(50);
  });

  it('rejects non-finite instants and quanta', () => {
    expect(() => new RecordingTimeline({ startAt: Number.NaN })).toThrow(/startAt/);
    expect(() => new RecordingTimeline().stop(Number.POSITIVE_INFINITY)).toThrow();
    expect(() => new TimelinePlacer(new RecordingTimeline(), 0)).toThrow();
  });
});

describe('TimelinePlacer', () => {
  it('a stop or a frame on another clock (Date.now() for performance.now()) writes at most an hour of silence, not decades', () => {
    const t = new RecordingTimeline({ startAt: 0, now: () => 0 });
    expect(() => t.stop(Date.now())).toThrow(/after now/);
    const p = new TimelinePlacer(t);
    const [gap] = placeAll(p, burst(0, Date.now(), 1));
    expect(gap).toBe(3_600 * 48_000);
    t.stop(10);
    expect(p.end()).toBe(0);
  });

  it('keeps the pause between bursts exactly, from RTP timestamps, whatever the first packet jitter', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    const base = 123_456;
    // Burst 1 at 100 ms (50 frames), pause of 1 s, burst 2 whose first packets come 30-10 ms late.
    const gaps = placeAll(p, [
      ...burst(base, 100, 50),
      ...burst(base + 100 * FRAME, 2_100, 50, (i) => Math.max(0, 30 - i * 10)),
    ]);
    expect(gaps[0]).toBe(4_800); // 100 ms of leading silence
    expect(gaps.slice(1, 50).every((g) => g === 0)).toBe(true);
    expect(gaps[50]).toBe(50 * FRAME); // 1 s: from the timestamps, not the late arrival
    expect(gaps.slice(51).every((g) => g === 0)).toBe(true);
    expect(p.position).toBe(4_800 + 150 * FRAME);
  });

  it('a speaker who joins late gets leading silence up to their first packet', () => {
    const t = new RecordingTimeline({ startAt: 1_000 });
    const p = new TimelinePlacer(t);
    expect(placeAll(p, burst(7, 6_000, 3))).toEqual([5 * 48_000, 0, 0]);
  });

  it('anchors on the least-delayed packet: a late first packet does not shift the rest', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    // The first packet came 15 ms late, the others on time: the burst is placed from the 2nd.
    const gaps = placeAll(p, [
      ...burst(0, 500, 10, (i) => (i === 0 ? 15 : 0)),
      ...burst(40 * FRAME, 1_300, 1),
    ]);
    expect(gaps[0]).toBe(515 * 48);
    // Written back to back (no audio dropped) until the next gap absorbs the 15 ms.
    expect(gaps.slice(1, 10).every((g) => g === 0)).toBe(true);
    expect(gaps[10]).toBe(1_300 * 48 - (515 * 48 + 10 * FRAME));
    expect(p.position).toBe(1_300 * 48 + FRAME);
  });

  it('re-anchors on arrival when the sender clock paused between bursts (or restarted)', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    // A sender whose timestamp does not advance while silent: burst 2 continues at base + 10 frames.
    const paused = placeAll(p, [...burst(0, 0, 10), ...burst(10 * FRAME, 1_200, 5)]);
    expect(paused[10]).toBe(1_000 * 48); // 1 s of silence, from the arrival
    // A new SSRC after a rejoin: a random timestamp base.
    const restarted = placeAll(p, burst(3_000_000_000, 3_000, 2));
    expect(restarted[0]).toBe(3_000 * 48 - (1_200 * 48 + 5 * FRAME));
  });

  it('follows a sender clock that runs slow between bursts, never by a jump inside one', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    // 2% slow (exaggerated; real clocks drift by ppm): a 20 ms frame of the sender takes 20.4 ms.
    // 10 bursts of 50 frames, one every 100 sender frames: 400 ms of drift in all.
    const frames: TimedFrame[] = [];
    for (let k = 0; k < 10; k++) {
      for (let i = 0; i < 50; i++) {
        const g = k * 100 + i;
        frames.push({ timestamp: g * FRAME, receivedAt: g * 20 * 1.02 });
      }
    }
    const gaps = placeAll(p, frames);
    const inside = gaps.filter((g, n) => n % 50 !== 0 && g > 0);
    expect(inside).toEqual([]);
    // Each burst starts within 2 frames of its arrival (the drift over one burst and pause).
    let position = 0;
    gaps.forEach((g, n) => {
      position += g;
      if (n % 50 === 0) {
        const arrival = frames[n]!.receivedAt! * 48;
        expect(arrival - position).toBeGreaterThanOrEqual(0);
        expect(arrival - position).toBeLessThanOrEqual(2 * FRAME);
      }
      position += FRAME;
    });
  });

  it('follows the RTP timestamp across its u32 wrap', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    const near = 0x1_0000_0000 - 2 * FRAME;
    const gaps = placeAll(p, [...burst(near, 0, 4), ...burst((near + 54 * FRAME) % 0x1_0000_0000, 1_080, 1)]);
    expect(gaps).toEqual([0, 0, 0, 0, 50 * FRAME]);
  });

  it('concealed frames (no arrival) keep their interpolated slot', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t);
    const [a, b] = burst(0, 200, 2);
    expect(p.place(a!, FRAME)).toBe(200 * 48);
    expect(p.place({ timestamp: FRAME, receivedAt: undefined }, FRAME)).toBe(0);
    expect(p.place({ ...b!, timestamp: 2 * FRAME, receivedAt: 240 }, FRAME)).toBe(0);
    // No timestamp and no arrival (e.g. a mixed frame): written where the file is.
    expect(p.place({}, FRAME)).toBe(0);
  });

  it('end() pads to the stop instant; Ogg quantum rounds gaps to whole frames', () => {
    const t = new RecordingTimeline({ startAt: 0 });
    const p = new TimelinePlacer(t, FRAME);
    expect(p.place({ timestamp: 5, receivedAt: 111 }, FRAME)).toBe(6 * FRAME); // 111 ms -> 5.55 frames -> 6
    t.stop(1_000);
    expect(p.end()).toBe(1_000 * 48 - 7 * FRAME);
    expect(p.position).toBe(1_000 * 48);
    expect(p.end()).toBe(0);
  });
});
