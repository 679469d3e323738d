/**
 * The 15-band equalizer as lavaplayer defines it (Lavalink's `equalizer` filter): each band is a
 * second-order band-pass y[n] = α(x[n] − x[n−2]) + γ·y[n−1] − β·y[n−2] at 48 kHz; the output is
 * 4·(x/4 + Σ gain_b · y_b), clamped to full scale. Gain 0 leaves a band as it is, −0.25 removes it,
 * +0.25 doubles it.
 */
import type { FilterStage } from './stage.js';

/** Centre frequencies of the 15 bands, Hz. */
export const EQUALIZER_BANDS_HZ = [
  25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000,
] as const;
export const EQUALIZER_BAND_COUNT = 15;
export const EQUALIZER_MIN_GAIN = -0.25;
export const EQUALIZER_MAX_GAIN = 1;

/** lavaplayer's band coefficients at 48 kHz: [β, α, γ] (γ = (1 + β)·cos(2π·f/48000), α = (1 − β)/2). */
export const EQUALIZER_COEFFICIENTS_48K: readonly (readonly [number, number, number])[] = [
  [9.9847546664e-1, 7.6226668143e-4, 1.9984647656],
  [9.9756184654e-1, 1.2190767289e-3, 1.9975344645],
  [9.9616261379e-1, 1.9186931041e-3, 1.9960947369],
  [9.9391578543e-1, 3.0421072865e-3, 1.9937449618],
  [9.9028307215e-1, 4.8584639242e-3, 1.9898465702],
  [9.8485897264e-1, 7.5705136795e-3, 1.9837962543],
  [9.7588512657e-1, 1.2057436715e-2, 1.9731772447],
  [9.6228521814e-1, 1.8857390928e-2, 1.9556164694],
  [9.4080933132e-1, 2.9595334338e-2, 1.9242054384],
  [9.0702059196e-1, 4.6489704022e-2, 1.8653476166],
  [8.5868004289e-1, 7.0659978553e-2, 1.7600401337],
  [7.8409610788e-1, 1.0795194606e-1, 1.5450725522],
  [6.8332861002e-1, 1.5833569499e-1, 1.1426447155],
  [5.5267518228e-1, 2.2366240886e-1, 4.0186190803e-1],
  [4.1811888447e-1, 2.9094055777e-1, -7.0905944223e-1],
];

/** One channel's band filters: x[n−1], x[n−2] and, per band, y[n−1], y[n−2]. */
class ChannelBands {
  private x1 = 0;
  private x2 = 0;
  private readonly y1 = new Float64Array(EQUALIZER_BAND_COUNT);
  private readonly y2 = new Float64Array(EQUALIZER_BAND_COUNT);

  process(samples: Float32Array, gains: Float64Array): void {
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i] ?? 0;
      let out = x * 0.25;
      for (let b = 0; b < EQUALIZER_BAND_COUNT; b++) {
        const c = EQUALIZER_COEFFICIENTS_48K[b];
        if (c === undefined) continue;
        const y = c[1] * (x - this.x2) + c[2] * (this.y1[b] ?? 0) - c[0] * (this.y2[b] ?? 0);
        this.y2[b] = this.y1[b] ?? 0;
        this.y1[b] = y;
        out += y * (gains[b] ?? 0);
      }
      this.x2 = this.x1;
      this.x1 = x;
      const v = out * 4;
      samples[i] = v > 1 ? 1 : v < -1 ? -1 : v;
    }
  }
}

export class EqualizerStage implements FilterStage {
  private readonly gains = new Float64Array(EQUALIZER_BAND_COUNT);
  private readonly left = new ChannelBands();
  private readonly right = new ChannelBands();

  constructor(gains: ArrayLike<number>) {
    this.setGains(gains);
  }

  /** Changes the gains live; the band filters keep their state (no click). */
  setGains(gains: ArrayLike<number>): void {
    for (let b = 0; b < EQUALIZER_BAND_COUNT; b++) this.gains[b] = gains[b] ?? 0;
  }

  process(left: Float32Array, right: Float32Array): void {
    this.left.process(left, this.gains);
    this.right.process(right, this.gains);
  }
}
