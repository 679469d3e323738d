/** The distortion filter (Lavalink's wave shaper) on signals, and its "enabled" rule. */
import { describe, expect, it } from 'vitest';
import { FilterChain, resolveFilters } from '../../src/player/index.js';
import type { FilterSettings } from '../../src/player/index.js';

const RATE = 48_000;
const FRAME = 960;

function tone(seconds: number, hz: number, amp: number): Int16Array {
  const n = Math.round(seconds * RATE);
  const out = new Int16Array(n * 2);
  for (let i = 0; i < n; i++)
    out[2 * i] = out[2 * i + 1] = Math.round(amp * 32767 * Math.sin((2 * Math.PI * hz * i) / RATE));
  return out;
}

function run(settings: FilterSettings, pcm: Int16Array): Int16Array {
  const chain = new FilterChain(settings);
  const out = pcm.slice();
  for (let at = 0; at < out.length; at += FRAME * 2) chain.process(out.subarray(at, at + FRAME * 2));
  return out;
}

/** Amplitude of `hz` in the left channel (Goertzel over whole cycles of the signal). */
function level(pcm: Int16Array, hz: number): number {
  const n = pcm.length / 2;
  const w = (2 * Math.PI * hz) / RATE;
  let re = 0;
  let im = 0;
  for (let i = 0; i < n; i++) {
    const x = (pcm[2 * i] ?? 0) / 32768;
    re += x * Math.cos(w * i);
    im -= x * Math.sin(w * i);
  }
  return (2 * Math.hypot(re, im)) / n;
}

describe('distortion', () => {
  it('shapes each sample by the formula: sin(3x) makes a 400 Hz tone rich in odd harmonics', () => {
    // cos(x·0) = 1 and tanOffset 1 + tan(x·0) = 1: only the sine term shapes.
    const settings: FilterSettings = { distortion: { sinScale: 3, cosScale: 0, tanOffset: 1, tanScale: 0 } };
    const input = tone(0.5, 400, 0.6);
    const out = run(settings, input);
    for (const i of [10, 333, 4321, 20_000]) {
      const x = (input[2 * i] ?? 0) / 32768;
      expect((out[2 * i] ?? 0) / 32768, `sample ${i}`).toBeCloseTo(Math.sin(3 * x), 3);
    }
    // The input has no 3rd harmonic; sin(1.8·sin θ) has one at J3(1.8)/J1(1.8) ≈ −15 dB of the fundamental.
    expect(level(input, 1200)).toBeLessThan(1e-3);
    expect(level(out, 1200)).toBeGreaterThan(0.15 * level(out, 400));
  });

  it('clamps to full scale (a tan pole never gives NaN) and applies offset and scale', () => {
    const out = run(
      { distortion: { sinOffset: 1, cosScale: 0, tanScale: Math.PI / 2 / 0.6 } },
      tone(0.1, 400, 0.6),
    );
    for (const v of out) expect(Number.isFinite(v) && v >= -32768 && v <= 32767).toBe(true);
    expect(Math.max(...out)).toBe(32767);
    // offset 0.25, scale 0 → a constant 0.25.
    const flat = run({ distortion: { scale: 0, offset: 0.25 } }, tone(0.1, 400, 0.6));
    expect(new Set(flat)).toEqual(new Set([8192]));
  });

  it("is off with Lavalink's defaults (whose product would be sin²), on with any change", () => {
    expect(resolveFilters({ distortion: {} })).toEqual({});
    expect(resolveFilters({ distortion: { scale: 1, sinScale: 1 } })).toEqual({});
    expect(new FilterChain({ distortion: { offset: 0.1 } }).active).toBe(true);
    expect(() => new FilterChain({ distortion: { scale: 'x' as never } })).toThrow(/distortion.scale/);
  });
});
