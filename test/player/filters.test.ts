import { describe, expect, it } from 'vitest';
import { isVoxcordError } from '../../src/errors.js';
import { AudioPlayer, FilterChain, opusFramesInput, resolveFilters } from '../../src/player/index.js';
import type { FilterSettings } from '../../src/player/index.js';
import { EQUALIZER_BANDS_HZ, EQUALIZER_COEFFICIENTS_48K } from '../../src/player/filters/equalizer.js';
import { phaseStep } from '../../src/player/filters/stage.js';
import { FakeSession, fakeCodec, fakeDecode, fakePacket } from './helpers.js';

const RATE = 48_000;
const FRAME = 960;

/** `seconds` of a sine per channel (amplitude 0.5 unless given; 0 = silent channel), as interleaved s16. */
function tone(seconds: number, leftHz: number, rightHz = leftHz, amp = 0.5, rightAmp = amp): Int16Array {
  const n = Math.round(seconds * RATE);
  const out = new Int16Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[2 * i] = Math.round(amp * 32767 * Math.sin((2 * Math.PI * leftHz * i) / RATE));
    out[2 * i + 1] = Math.round(rightAmp * 32767 * Math.sin((2 * Math.PI * rightHz * i) / RATE));
  }
  return out;
}

/** Runs a chain frame by frame (20 ms), as the player does. */
function run(settings: FilterSettings, pcm: Int16Array): Int16Array {
  const chain = new FilterChain(settings);
  const out = pcm.slice();
  for (let at = 0; at < out.length; at += FRAME * 2) chain.process(out.subarray(at, at + FRAME * 2));
  return out;
}

/** RMS of one channel from `fromS` to `toS` seconds. */
function rms(pcm: Int16Array, channel: 0 | 1, fromS = 0.1, toS = Infinity): number {
  const from = Math.round(fromS * RATE);
  const to = Math.min(pcm.length / 2, Math.round(toS * RATE));
  let sum = 0;
  for (let i = from; i < to; i++) sum += ((pcm[2 * i + channel] ?? 0) / 32768) ** 2;
  return Math.sqrt(sum / Math.max(1, to - from));
}

const db = (after: number, before: number): number => 20 * Math.log10(after / before);

describe('filters on signals', () => {
  it('lowPass (smoothing 20) removes a 10 kHz tone (> 25 dB) and keeps a 100 Hz tone (< 0.5 dB)', () => {
    const high = tone(0.5, 10_000);
    const low = tone(0.5, 100);
    const highDrop = db(rms(run({ lowPass: { smoothing: 20 } }, high), 0), rms(high, 0));
    const lowDrop = db(rms(run({ lowPass: { smoothing: 20 } }, low), 0), rms(low, 0));
    expect(highDrop).toBeLessThan(-25);
    expect(lowDrop).toBeGreaterThan(-0.5);
  });

  it('equalizer: −0.25 on the 10 kHz band removes a 10 kHz tone, +0.25 on 1 kHz doubles it, other bands untouched', () => {
    const t10k = tone(0.5, 10_000);
    const cut = db(rms(run({ equalizer: [{ band: 13, gain: -0.25 }] }, t10k), 0), rms(t10k, 0));
    expect(cut).toBeLessThan(-20);
    const t1k = tone(0.5, 1000, 1000, 0.2);
    const boost = db(rms(run({ equalizer: [{ band: 8, gain: 0.25 }] }, t1k), 0), rms(t1k, 0));
    expect(boost).toBeGreaterThan(5);
    expect(boost).toBeLessThan(7);
    const t100 = tone(0.5, 100);
    const other = db(rms(run({ equalizer: [{ band: 13, gain: -0.25 }] }, t100), 0), rms(t100, 0));
    expect(Math.abs(other)).toBeLessThan(0.3);
  });

  it("equalizer coefficients are band-passes centred on Lavalink's 15 bands", () => {
    expect(EQUALIZER_COEFFICIENTS_48K).toHaveLength(15);
    EQUALIZER_COEFFICIENTS_48K.forEach(([beta, alpha, gamma], b) => {
      const f = EQUALIZER_BANDS_HZ[b] ?? 0;
      expect(alpha).toBeCloseTo((1 - beta) / 2, 6);
      expect(gamma).toBeCloseTo((1 + beta) * Math.cos((2 * Math.PI * f) / RATE), 4);
    });
  });

  it('channelMix swaps the channels', () => {
    const leftOnly = tone(0.3, 440, 440, 0.5, 0);
    const out = run(
      { channelMix: { leftToLeft: 0, leftToRight: 1, rightToLeft: 1, rightToRight: 0 } },
      leftOnly,
    );
    expect(rms(out, 0)).toBe(0);
    expect(rms(out, 1)).toBeCloseTo(rms(leftOnly, 0), 6);
  });

  it('rotation pans over time: at 1 Hz the sound is left at 0.25 s, right at 0.75 s', () => {
    const both = tone(1, 440);
    const out = run({ rotation: { rotationHz: 1 } }, both);
    const full = rms(both, 0, 0.2, 0.3);
    expect(rms(out, 0, 0.2, 0.3) / full).toBeGreaterThan(0.95);
    expect(rms(out, 1, 0.2, 0.3) / full).toBeLessThan(0.05);
    expect(rms(out, 0, 0.7, 0.8) / full).toBeLessThan(0.05);
    expect(rms(out, 1, 0.7, 0.8) / full).toBeGreaterThan(0.95);
  });

  it('tremolo modulates the level between 1 − depth and 1 at its frequency', () => {
    const t = tone(1, 1000);
    const out = run({ tremolo: { frequency: 2, depth: 0.5 } }, t);
    const full = rms(t, 0, 0, 1);
    // Peak of sin at 0.125 s → gain 1 − depth; trough at 0.375 s → gain 1.
    expect(rms(out, 0, 0.115, 0.135) / full).toBeCloseTo(0.5, 1);
    expect(rms(out, 0, 0.365, 0.385) / full).toBeCloseTo(1, 1);
    expect(rms(out, 0, 0.615, 0.635) / full).toBeCloseTo(0.5, 1);
  });

  it('karaoke removes a centred 2 kHz voice (> 30 dB) and keeps a left-only one', () => {
    const centred = tone(0.5, 2000);
    expect(db(rms(run({ karaoke: {} }, centred), 0), rms(centred, 0))).toBeLessThan(-30);
    const side = tone(0.5, 2000, 2000, 0.5, 0);
    expect(Math.abs(db(rms(run({ karaoke: {} }, side), 0), rms(side, 0)))).toBeLessThan(0.5);
  });

  it('vibrato bends the pitch: the period of a 1 kHz tone varies, the level does not', () => {
    const t = tone(1, 1000);
    const out = run({ vibrato: { frequency: 2, depth: 1 } }, t);
    // Zero crossings (rising) of the left channel after the first 50 ms.
    const crossings: number[] = [];
    for (let i = 2400; i < out.length / 2 - 1; i++) {
      const a = out[2 * i] ?? 0;
      const b = out[2 * i + 2] ?? 0;
      if (a < 0 && b >= 0) crossings.push(i + a / (a - b));
    }
    const periods = crossings.slice(1).map((c, i) => c - (crossings[i] ?? 0));
    const max = Math.max(...periods);
    const min = Math.min(...periods);
    // The delay swings by 96 samples at 2 Hz: ±1.26 % of the period.
    expect((max - min) / 48).toBeGreaterThan(0.015);
    expect(Math.abs(db(rms(out, 0), rms(t, 0)))).toBeLessThan(0.3);
  });

  it('volume scales', () => {
    const t = tone(0.2, 440);
    expect(rms(run({ volume: 0.5 }, t), 0, 0)).toBeCloseTo(rms(t, 0, 0) / 2, 3);
  });
});

describe('filter settings', () => {
  it('leaves out filters that change nothing (then the chain is inactive)', () => {
    const neutral: FilterSettings = {
      volume: 1,
      equalizer: [{ band: 3, gain: 0 }],
      rotation: { rotationHz: 0 },
      lowPass: { smoothing: 1 },
      channelMix: {},
      tremolo: { depth: 0 },
    };
    expect(resolveFilters(neutral)).toEqual({});
    expect(new FilterChain(neutral).active).toBe(false);
    expect(new FilterChain({ karaoke: {} }).applied.karaoke).toEqual({
      level: 1,
      monoLevel: 1,
      filterBand: 220,
      filterWidth: 100,
    });
  });

  it('rejects out-of-range values with INVALID_ARGUMENT and keeps the previous set', () => {
    const chain = new FilterChain({ volume: 0.5 });
    const bad: FilterSettings[] = [
      { volume: 6 },
      { equalizer: [{ band: 15, gain: 0.1 }] },
      { equalizer: [{ band: 2, gain: -0.3 }] },
      { tremolo: { frequency: 0 } },
      { vibrato: { frequency: 15 } },
      { channelMix: { leftToLeft: 2 } },
      { volume: Number.NaN },
      { karaoke: { level: 1001 } },
      { karaoke: { monoLevel: -1e39 } },
      null as unknown as FilterSettings,
      [] as unknown as FilterSettings,
    ];
    for (const s of bad) {
      let caught: unknown;
      try {
        chain.set(s);
      } catch (err) {
        caught = err;
      }
      expect(isVoxcordError(caught, 'INVALID_ARGUMENT'), JSON.stringify(s)).toBe(true);
    }
    expect(chain.applied).toEqual({ volume: 0.5 });
  });
});

describe('filters at the ends of their ranges', () => {
  it('keep audio finite, and leave nothing that silences the filters after them', () => {
    const input = tone(0.2, 220, 330, 0.5);
    const extremes: FilterSettings[] = [
      { rotation: { rotationHz: 1e308 } },
      { rotation: { rotationHz: -1e308 } },
      { rotation: { rotationHz: -3 } },
      { karaoke: { level: 1000, monoLevel: -1000 } },
      {
        volume: 5,
        karaoke: { level: -1000, monoLevel: 1000 },
        channelMix: { leftToRight: 1, rightToLeft: 1 },
      },
      { distortion: { tanScale: 1e308, scale: 1e308 } },
      { lowPass: { smoothing: 1e308 } },
    ];
    for (const s of extremes) {
      // A low-pass last: it keeps its memory when the set changes below.
      const chain = new FilterChain({ ...s, lowPass: s.lowPass ?? { smoothing: 2 } });
      const out = input.slice();
      for (let at = 0; at < out.length; at += FRAME * 2) chain.process(out.subarray(at, at + FRAME * 2));
      chain.set({ lowPass: { smoothing: 2 } });
      const after = run({}, input); // the same audio, unfiltered, for the level
      const filtered = input.slice();
      for (let at = 0; at < filtered.length; at += FRAME * 2)
        chain.process(filtered.subarray(at, at + FRAME * 2));
      expect(chain.nonFiniteSamples, JSON.stringify(s)).toBe(0);
      expect(rms(filtered, 0), JSON.stringify(s)).toBeGreaterThan(0.5 * rms(after, 0));
    }
  });

  it('an oscillator step is a fraction of a cycle: finite for any frequency, never negative', () => {
    const full = 2 * Math.PI;
    expect(phaseStep(3, RATE)).toBeCloseTo((full * 3) / RATE, 12);
    // −3 Hz turns the other way: the same phases, reached from the top of the cycle.
    expect(phaseStep(-3, RATE)).toBeCloseTo(full - (full * 3) / RATE, 12);
    for (const hz of [1e308, -1e308, RATE * 2.5, -0.001]) {
      const step = phaseStep(hz, RATE);
      expect(step, String(hz)).toBeGreaterThanOrEqual(0);
      expect(step, String(hz)).toBeLessThan(full);
    }
  });
});

describe('filters in the AudioPlayer', () => {
  it('passes Opus through untouched with no filter, decodes → filters → encodes with one, and back', async () => {
    const codec = fakeCodec();
    const player = new AudioPlayer({ opus: codec });
    const session = new FakeSession();
    player.attach(session);
    const source = Array.from({ length: 6 }, () => fakePacket(1000));
    player.enqueue(opusFramesInput(source));
    const [first] = await session.pull(1);
    expect(first).toBe(source[0]);
    expect(codec.decoded).toBe(0);

    player.filters.set({ volume: 0.5 });
    const [filtered] = await session.pull(1);
    expect(new Set(fakeDecode(filtered!))).toEqual(new Set([500]));
    expect(codec.encoded).toBe(1);

    player.filters.clear();
    const [again] = await session.pull(1);
    expect(again).toBe(source[2]);
    expect(player.stats).toMatchObject({ framesPassthrough: 2, framesEncoded: 1 });
    player.destroy();
  });

  it('applies a track’s own filters to that track only', async () => {
    const codec = fakeCodec();
    const player = new AudioPlayer({ opus: codec });
    const session = new FakeSession();
    player.attach(session);
    const a = player.enqueue(opusFramesInput([fakePacket(1000)]), { filters: { volume: 0.25 } });
    player.enqueue(opusFramesInput([fakePacket(1000)]));
    const [fa, fb] = await session.pull(2);
    expect(a.filters.active).toBe(true);
    expect(new Set(fakeDecode(fa!))).toEqual(new Set([250]));
    expect(new Set(fakeDecode(fb!))).toEqual(new Set([1000]));
    expect(player.stats).toMatchObject({ framesPassthrough: 1, framesEncoded: 1 });
    player.destroy();
  });
});
