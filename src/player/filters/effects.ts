/**
 * The simple per-sample effects of Lavalink's filter set: volume, channel mix, rotation (the sound
 * circling the listener), tremolo (amplitude wobble), low-pass (Lavalink's smoothing) and karaoke
 * (centre removal with the low band kept). Each follows the behaviour Lavalink's DSP defines.
 */
import { SAMPLE_RATE } from '../../protocol/constants.js';
import { phaseStep, wrapPhase } from './stage.js';
import type { FilterStage } from './stage.js';

export class VolumeStage implements FilterStage {
  constructor(public gain: number) {}
  process(left: Float32Array, right: Float32Array): void {
    const g = this.gain;
    for (let i = 0; i < left.length; i++) {
      left[i] = (left[i] ?? 0) * g;
      right[i] = (right[i] ?? 0) * g;
    }
  }
}

export interface ChannelMixSettings {
  leftToLeft: number;
  leftToRight: number;
  rightToLeft: number;
  rightToRight: number;
}

export class ChannelMixStage implements FilterStage {
  constructor(public mix: ChannelMixSettings) {}
  process(left: Float32Array, right: Float32Array): void {
    const { leftToLeft, leftToRight, rightToLeft, rightToRight } = this.mix;
    for (let i = 0; i < left.length; i++) {
      const l = left[i] ?? 0;
      const r = right[i] ?? 0;
      left[i] = l * leftToLeft + r * rightToLeft;
      right[i] = l * leftToRight + r * rightToRight;
    }
  }
}

/** Pans between the ears: left gain (1 + sin φ)/2, right (1 − sin φ)/2, φ advancing at rotationHz. */
export class RotationStage implements FilterStage {
  private phase = 0;
  constructor(public rotationHz: number) {}
  process(left: Float32Array, right: Float32Array): void {
    const step = phaseStep(this.rotationHz, SAMPLE_RATE);
    for (let i = 0; i < left.length; i++) {
      const s = Math.sin(this.phase);
      left[i] = ((left[i] ?? 0) * (1 + s)) / 2;
      right[i] = ((right[i] ?? 0) * (1 - s)) / 2;
      this.phase = wrapPhase(this.phase + step);
    }
  }
}

/** Amplitude modulation between 1 and 1 − depth at `frequency` Hz. */
export class TremoloStage implements FilterStage {
  private phase = 0;
  constructor(
    public frequency: number,
    public depth: number,
  ) {}
  process(left: Float32Array, right: Float32Array): void {
    const step = phaseStep(this.frequency, SAMPLE_RATE);
    const d = this.depth;
    for (let i = 0; i < left.length; i++) {
      const g = 1 - (d * (1 + Math.sin(this.phase))) / 2;
      left[i] = (left[i] ?? 0) * g;
      right[i] = (right[i] ?? 0) * g;
      this.phase = wrapPhase(this.phase + step);
    }
  }
}

/** Lavalink's low-pass: exponential smoothing y += (x − y) / smoothing, per channel. */
export class LowPassStage implements FilterStage {
  private l = 0;
  private r = 0;
  constructor(public smoothing: number) {}
  process(left: Float32Array, right: Float32Array): void {
    const k = 1 / this.smoothing;
    let l = this.l;
    let r = this.r;
    for (let i = 0; i < left.length; i++) {
      l += ((left[i] ?? 0) - l) * k;
      r += ((right[i] ?? 0) - r) * k;
      left[i] = l;
      right[i] = r;
    }
    // Its memory never forgets: one non-finite sample from a stage before it (rotationHz 1e308
    // did that before phaseStep was bounded) would leave NaN in it, and the player silent, for good.
    this.l = Number.isFinite(l) ? l : 0;
    this.r = Number.isFinite(r) ? r : 0;
  }
}

/**
 * `level` and `monoLevel` must be within ±this. 0-1 is their documented range; Lavalink checks
 * none, so more is allowed, but past float range a sample turns infinite.
 */
export const KARAOKE_MAX_LEVEL = 1000;

export interface KaraokeSettings {
  level: number;
  monoLevel: number;
  filterBand: number;
  filterWidth: number;
}

/**
 * Karaoke: each channel minus `level` × the other (removes what is panned to the centre, usually
 * the voice), plus the mono sum band-passed around `filterBand` (the bass, kept) × monoLevel × level.
 */
export class KaraokeStage implements FilterStage {
  private a = 0;
  private b = 0;
  private c = 0;
  private y1 = 0;
  private y2 = 0;
  private settings: KaraokeSettings;

  constructor(settings: KaraokeSettings) {
    this.settings = settings;
    this.update(settings);
  }

  update(settings: KaraokeSettings): void {
    const bandChanged =
      settings.filterBand !== this.settings.filterBand || settings.filterWidth !== this.settings.filterWidth;
    this.settings = settings;
    // Two-pole resonator: radius from the width, angle from the band, unity-ish gain at the band.
    const c = Math.exp((-2 * Math.PI * settings.filterWidth) / SAMPLE_RATE);
    const b = ((-4 * c) / (1 + c)) * Math.cos((2 * Math.PI * settings.filterBand) / SAMPLE_RATE);
    this.c = c;
    this.b = b;
    this.a = Math.sqrt(Math.max(0, 1 - (b * b) / (4 * c))) * (1 - c);
    if (bandChanged || (this.y1 === 0 && this.y2 === 0)) {
      this.y1 = 0;
      this.y2 = 0;
    }
  }

  process(left: Float32Array, right: Float32Array): void {
    const { level, monoLevel } = this.settings;
    for (let i = 0; i < left.length; i++) {
      const l = left[i] ?? 0;
      const r = right[i] ?? 0;
      const y = this.a * ((l + r) / 2) - this.b * this.y1 - this.c * this.y2;
      this.y2 = this.y1;
      this.y1 = y;
      const keep = y * monoLevel * level;
      left[i] = l - r * level + keep;
      right[i] = r - l * level + keep;
    }
  }
}
