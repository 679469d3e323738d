/**
 * Distortion: a memoryless wave shaper, Lavalink's formula per sample x (in -1..1):
 *   y = offset + scale · (sinOffset + sin(x·sinScale)) · (cosOffset + cos(x·cosScale))
 *                      · (tanOffset + tan(x·tanScale)),
 * clamped to -1..1 (a tan pole gives ±1, never NaN). With every value at its default the product
 * is sin²(x), not x: that is why the default set counts as "off" (Lavalink's enabled rule).
 */
import type { FilterStage } from './stage.js';

export interface DistortionSettings {
  sinOffset: number;
  sinScale: number;
  cosOffset: number;
  cosScale: number;
  tanOffset: number;
  tanScale: number;
  offset: number;
  scale: number;
}

export const DISTORTION_DEFAULTS: Readonly<DistortionSettings> = {
  sinOffset: 0,
  sinScale: 1,
  cosOffset: 0,
  cosScale: 1,
  tanOffset: 0,
  tanScale: 1,
  offset: 0,
  scale: 1,
};

export class DistortionStage implements FilterStage {
  constructor(public settings: DistortionSettings) {}

  process(left: Float32Array, right: Float32Array): void {
    this.shape(left);
    this.shape(right);
  }

  private shape(samples: Float32Array): void {
    const s = this.settings;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i] ?? 0;
      const y =
        s.offset +
        s.scale *
          (s.sinOffset + Math.sin(x * s.sinScale)) *
          (s.cosOffset + Math.cos(x * s.cosScale)) *
          (s.tanOffset + Math.tan(x * s.tanScale));
      samples[i] = Number.isNaN(y) ? 0 : y > 1 ? 1 : y < -1 ? -1 : y;
    }
  }
}
