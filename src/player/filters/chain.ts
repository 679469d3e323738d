/**
 * FilterChain: a live-changeable chain of DSP filters on 20 ms frames of 48 kHz stereo s16 PCM,
 * named and shaped like Lavalink's filters (so the node maps its JSON one to one). An AudioPlayer
 * runs its chain on the mixed output, a Track on its own audio before mixing. With no filter
 * active the chain is inactive, and the player passes Opus frames through untouched.
 *
 * Order as Lavalink's: volume, equalizer, karaoke, timescale, tremolo, vibrato, distortion, rotation,
 * channelMix, lowPass. Timescale alone changes how many frames come out per frame in (push/pull).
 */
import { VoxcordError } from '../../errors.js';
import { invalidArgument } from '../../util/args.js';
import { CHANNELS } from '../../protocol/constants.js';
import {
  ChannelMixStage,
  KARAOKE_MAX_LEVEL,
  KaraokeStage,
  LowPassStage,
  RotationStage,
  TremoloStage,
  VolumeStage,
} from './effects.js';
import type { ChannelMixSettings, KaraokeSettings } from './effects.js';
import { DISTORTION_DEFAULTS, DistortionStage } from './distortion.js';
import type { DistortionSettings } from './distortion.js';
import { EQUALIZER_BAND_COUNT, EQUALIZER_MAX_GAIN, EQUALIZER_MIN_GAIN, EqualizerStage } from './equalizer.js';
import type { FilterStage } from './stage.js';
import { VibratoStage } from './vibrato.js';
import { TIMESCALE_MAX, TIMESCALE_MIN, TimescaleStage } from './timescale.js';
import type { TimescaleSettings } from './timescale.js';

/** The filters voxcord implements, by their Lavalink names (what a node lists in /v4/info). */
export const SUPPORTED_FILTERS = [
  'volume',
  'equalizer',
  'karaoke',
  'timescale',
  'tremolo',
  'vibrato',
  'distortion',
  'rotation',
  'channelMix',
  'lowPass',
] as const;
export type FilterName = (typeof SUPPORTED_FILTERS)[number];

export interface EqualizerBand {
  band: number;
  gain: number;
}

/** A filter set. Absent (or null) filters are off. Partial objects take Lavalink's defaults. */
export interface FilterSettings {
  /** Linear gain 0-5 (1 = unchanged). */
  volume?: number | null;
  /** Bands 0-14 (25 Hz … 16 kHz), gain −0.25 (removed) … 1. */
  equalizer?: readonly EqualizerBand[] | null;
  karaoke?: Partial<KaraokeSettings> | null;
  /**
   * Speed (tempo, pitch kept), pitch (tempo kept) and rate (both), each 0.1-10, default 1.
   * On a player's filters it stretches the mix; on a Track's, that track alone (its position and
   * markers stay in track time, so a track at speed 2 ends in half the wall time).
   */
  timescale?: Partial<TimescaleSettings> | null;
  tremolo?: { frequency?: number; depth?: number } | null;
  vibrato?: { frequency?: number; depth?: number } | null;
  /** Wave shaping (see distortion.ts); every field defaults as Lavalink's. */
  distortion?: Partial<DistortionSettings> | null;
  rotation?: { rotationHz?: number } | null;
  channelMix?: Partial<ChannelMixSettings> | null;
  lowPass?: { smoothing?: number } | null;
}

/** The filter set with defaults filled in, only the filters that change the sound. */
export interface ResolvedFilters {
  volume?: number;
  equalizer?: number[];
  karaoke?: KaraokeSettings;
  timescale?: TimescaleSettings;
  tremolo?: { frequency: number; depth: number };
  vibrato?: { frequency: number; depth: number };
  distortion?: DistortionSettings;
  rotation?: { rotationHz: number };
  channelMix?: ChannelMixSettings;
  lowPass?: { smoothing: number };
}

function bad(message: string, filter: string): VoxcordError {
  return new VoxcordError('INVALID_ARGUMENT', message, { details: { filter } });
}

function num(value: unknown, fallback: number, filter: string, field: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw bad(`${filter}.${field} must be a number`, filter);
  return value;
}

function range(
  v: number,
  min: number,
  max: number,
  filter: string,
  field: string,
  minExclusive = false,
): number {
  if (v > max || v < min || (minExclusive && v === min))
    throw bad(`${filter}.${field} must be ${minExclusive ? '>' : '≥'} ${min} and ≤ ${max}`, filter);
  return v;
}

function object(value: unknown, filter: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`${filter} must be an object`, filter);
  return value as Record<string, unknown>;
}

/** A frame the chain works on in place (a wrong one gave a TypeError, or shrank its buffers). */
function checkPcm(pcm: unknown): void {
  if (!(pcm instanceof Int16Array)) throw invalidArgument('pcm', 'an Int16Array of s16 stereo samples', pcm);
}

/**
 * Checks a filter set and fills in defaults. Filters that would not change the sound (Lavalink's
 * "enabled" rules: volume 1, all gains 0, rotation 0, smoothing ≤ 1 …) are left out.
 */
export function resolveFilters(settings: FilterSettings): ResolvedFilters {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    throw new VoxcordError('INVALID_ARGUMENT', 'a filter set must be an object');
  const out: ResolvedFilters = {};
  const s = settings as Record<string, unknown>;
  if (s.volume != null) {
    const v = range(num(s.volume, 1, 'volume', 'value'), 0, 5, 'volume', 'value');
    if (Math.abs(v - 1) >= 1e-6) out.volume = v;
  }
  if (s.equalizer != null) {
    if (!Array.isArray(s.equalizer)) throw bad('equalizer must be an array of {band, gain}', 'equalizer');
    const gains = new Array<number>(EQUALIZER_BAND_COUNT).fill(0);
    for (const entry of s.equalizer as unknown[]) {
      const o = object(entry, 'equalizer');
      const band = num(o.band, Number.NaN, 'equalizer', 'band');
      if (!Number.isInteger(band) || band < 0 || band >= EQUALIZER_BAND_COUNT)
        throw bad('equalizer.band must be an integer 0-14', 'equalizer');
      gains[band] = range(
        num(o.gain, 0, 'equalizer', 'gain'),
        EQUALIZER_MIN_GAIN,
        EQUALIZER_MAX_GAIN,
        'equalizer',
        'gain',
      );
    }
    if (gains.some((g) => g !== 0)) out.equalizer = gains;
  }
  if (s.karaoke != null) {
    const o = object(s.karaoke, 'karaoke');
    out.karaoke = {
      level: range(
        num(o.level, 1, 'karaoke', 'level'),
        -KARAOKE_MAX_LEVEL,
        KARAOKE_MAX_LEVEL,
        'karaoke',
        'level',
      ),
      monoLevel: range(
        num(o.monoLevel, 1, 'karaoke', 'monoLevel'),
        -KARAOKE_MAX_LEVEL,
        KARAOKE_MAX_LEVEL,
        'karaoke',
        'monoLevel',
      ),
      filterBand: range(num(o.filterBand, 220, 'karaoke', 'filterBand'), 0, 24_000, 'karaoke', 'filterBand'),
      filterWidth: range(
        num(o.filterWidth, 100, 'karaoke', 'filterWidth'),
        0,
        24_000,
        'karaoke',
        'filterWidth',
        true,
      ),
    };
  }
  if (s.timescale != null) {
    const o = object(s.timescale, 'timescale');
    const factor = (field: keyof TimescaleSettings): number =>
      range(num(o[field], 1, 'timescale', field), TIMESCALE_MIN, TIMESCALE_MAX, 'timescale', field);
    const t = { speed: factor('speed'), pitch: factor('pitch'), rate: factor('rate') };
    if (t.speed !== 1 || t.pitch !== 1 || t.rate !== 1) out.timescale = t;
  }
  if (s.tremolo != null) {
    const o = object(s.tremolo, 'tremolo');
    const frequency = range(
      num(o.frequency, 2, 'tremolo', 'frequency'),
      0,
      1000,
      'tremolo',
      'frequency',
      true,
    );
    const depth = range(num(o.depth, 0.5, 'tremolo', 'depth'), 0, 1, 'tremolo', 'depth');
    if (depth > 0) out.tremolo = { frequency, depth };
  }
  if (s.vibrato != null) {
    const o = object(s.vibrato, 'vibrato');
    const frequency = range(num(o.frequency, 2, 'vibrato', 'frequency'), 0, 14, 'vibrato', 'frequency');
    const depth = range(num(o.depth, 0.5, 'vibrato', 'depth'), 0, 1, 'vibrato', 'depth');
    if (depth > 0 && frequency > 0) out.vibrato = { frequency, depth };
  }
  if (s.distortion != null) {
    const o = object(s.distortion, 'distortion');
    const d = { ...DISTORTION_DEFAULTS };
    for (const key of Object.keys(DISTORTION_DEFAULTS) as (keyof DistortionSettings)[])
      d[key] = num(o[key], DISTORTION_DEFAULTS[key], 'distortion', key);
    const changed = (Object.keys(d) as (keyof DistortionSettings)[]).some(
      (k) => d[k] !== DISTORTION_DEFAULTS[k],
    );
    if (changed) out.distortion = d;
  }
  if (s.rotation != null) {
    const o = object(s.rotation, 'rotation');
    const rotationHz = num(o.rotationHz, 0, 'rotation', 'rotationHz');
    if (rotationHz !== 0) out.rotation = { rotationHz };
  }
  if (s.channelMix != null) {
    const o = object(s.channelMix, 'channelMix');
    const mix: ChannelMixSettings = {
      leftToLeft: range(num(o.leftToLeft, 1, 'channelMix', 'leftToLeft'), 0, 1, 'channelMix', 'leftToLeft'),
      leftToRight: range(
        num(o.leftToRight, 0, 'channelMix', 'leftToRight'),
        0,
        1,
        'channelMix',
        'leftToRight',
      ),
      rightToLeft: range(
        num(o.rightToLeft, 0, 'channelMix', 'rightToLeft'),
        0,
        1,
        'channelMix',
        'rightToLeft',
      ),
      rightToRight: range(
        num(o.rightToRight, 1, 'channelMix', 'rightToRight'),
        0,
        1,
        'channelMix',
        'rightToRight',
      ),
    };
    const identity =
      mix.leftToLeft === 1 && mix.leftToRight === 0 && mix.rightToLeft === 0 && mix.rightToRight === 1;
    if (!identity) out.channelMix = mix;
  }
  if (s.lowPass != null) {
    const o = object(s.lowPass, 'lowPass');
    const smoothing = num(o.smoothing, 20, 'lowPass', 'smoothing');
    if (smoothing > 1) out.lowPass = { smoothing };
  }
  return out;
}

/** Converts interleaved s16 stereo to planar float and back around the stages. */
export class FilterChain {
  private resolved: ResolvedFilters = {};
  private settingsValue: FilterSettings = {};
  private readonly stages = new Map<FilterName, FilterStage>();
  private order: FilterStage[] = [];
  /** The stages before timescale (volume, equalizer, karaoke) and after it. */
  private before: FilterStage[] = [];
  private after: FilterStage[] = [];
  private timescaleStage: TimescaleStage | undefined;
  /** A timescale just turned off, with output still buffered (the player drains it first). */
  private retired: TimescaleStage | undefined;
  private left = new Float32Array(0);
  private right = new Float32Array(0);
  private nonFinite = 0;

  constructor(settings: FilterSettings = {}) {
    this.set(settings);
  }

  /**
   * True when timescale is on: frames no longer map one to one, so the player feeds input with
   * `push` and takes 20 ms output frames with `pull` (see TimescaleStage).
   */
  get timescaleActive(): boolean {
    return this.timescaleStage !== undefined;
  }

  /** Input frames consumed per output frame (speed × rate; 1 without timescale). */
  get consumption(): number {
    return this.timescaleStage?.consumption ?? 1;
  }

  /**
   * Output samples the filters made NaN or infinite, written as silence or full scale. 0 unless
   * a filter misbehaves: every stage keeps finite audio finite for any accepted setting.
   */
  get nonFiniteSamples(): number {
    return this.nonFinite;
  }

  /** The settings last set (as given). */
  get settings(): FilterSettings {
    return this.settingsValue;
  }

  /** What is applied, with defaults (filters that change nothing are left out). */
  get applied(): ResolvedFilters {
    return this.resolved;
  }

  /** True when some filter changes the sound (then the player decodes, filters and re-encodes). */
  get active(): boolean {
    return this.order.length > 0 || this.timescaleStage !== undefined || this.retired !== undefined;
  }

  /**
   * Replaces the whole filter set, live: it applies from the next frame. Filters that stay on keep
   * their state (oscillator phases, filter memories), so a parameter change does not click.
   * Throws INVALID_ARGUMENT (and changes nothing) for an invalid set.
   */
  set(settings: FilterSettings): void {
    const r = resolveFilters(settings);
    this.settingsValue = settings;
    this.resolved = r;
    const keep = (name: FilterName, present: boolean): void => {
      if (!present) this.stages.delete(name);
    };
    keep('volume', r.volume !== undefined);
    keep('equalizer', r.equalizer !== undefined);
    keep('karaoke', r.karaoke !== undefined);
    keep('tremolo', r.tremolo !== undefined);
    keep('vibrato', r.vibrato !== undefined);
    keep('distortion', r.distortion !== undefined);
    keep('rotation', r.rotation !== undefined);
    keep('channelMix', r.channelMix !== undefined);
    keep('lowPass', r.lowPass !== undefined);
    if (r.volume !== undefined)
      this.stage(
        'volume',
        () => new VolumeStage(r.volume ?? 1),
        (s) => (s.gain = r.volume ?? 1),
      );
    if (r.equalizer !== undefined) {
      const gains = r.equalizer;
      this.stage(
        'equalizer',
        () => new EqualizerStage(gains),
        (s) => s.setGains(gains),
      );
    }
    if (r.karaoke !== undefined) {
      const k = r.karaoke;
      this.stage(
        'karaoke',
        () => new KaraokeStage(k),
        (s) => s.update(k),
      );
    }
    if (r.tremolo !== undefined) {
      const t = r.tremolo;
      this.stage(
        'tremolo',
        () => new TremoloStage(t.frequency, t.depth),
        (s) => {
          s.frequency = t.frequency;
          s.depth = t.depth;
        },
      );
    }
    if (r.vibrato !== undefined) {
      const v = r.vibrato;
      this.stage(
        'vibrato',
        () => new VibratoStage(v.frequency, v.depth),
        (s) => {
          s.frequency = v.frequency;
          s.depth = v.depth;
        },
      );
    }
    if (r.distortion !== undefined) {
      const d = r.distortion;
      this.stage(
        'distortion',
        () => new DistortionStage(d),
        (s) => (s.settings = d),
      );
    }
    if (r.rotation !== undefined) {
      const hz = r.rotation.rotationHz;
      this.stage(
        'rotation',
        () => new RotationStage(hz),
        (s) => (s.rotationHz = hz),
      );
    }
    if (r.channelMix !== undefined) {
      const m = r.channelMix;
      this.stage(
        'channelMix',
        () => new ChannelMixStage(m),
        (s) => (s.mix = m),
      );
    }
    if (r.lowPass !== undefined) {
      const sm = r.lowPass.smoothing;
      this.stage(
        'lowPass',
        () => new LowPassStage(sm),
        (s) => (s.smoothing = sm),
      );
    }
    this.order = SUPPORTED_FILTERS.map((n) => this.stages.get(n)).filter(
      (s): s is FilterStage => s !== undefined,
    );
    const split = SUPPORTED_FILTERS.indexOf('timescale');
    const pick = (names: readonly FilterName[]): FilterStage[] =>
      names.map((n) => this.stages.get(n)).filter((s): s is FilterStage => s !== undefined);
    this.before = pick(SUPPORTED_FILTERS.slice(0, split));
    this.after = pick(SUPPORTED_FILTERS.slice(split + 1));
    if (r.timescale === undefined) {
      // Its buffered audio plays out first (drain), so turning it off loses nothing.
      if (this.timescaleStage !== undefined) this.retired = this.timescaleStage;
      this.timescaleStage = undefined;
    } else {
      // Back on before its buffered audio played out: the same stage goes on.
      this.timescaleStage ??= this.retired ?? new TimescaleStage(r.timescale);
      this.retired = undefined;
      this.timescaleStage.settings = r.timescale;
    }
  }

  /**
   * Drops the timescale's buffered audio and history (a seek, a skip): the next output is made of
   * input pushed after this call only. The other filters keep their state (no click from a reset).
   */
  reset(): void {
    this.timescaleStage?.reset();
    this.retired = undefined;
  }

  /** True while a timescale just turned off still holds output: `drain` it before reading input. */
  get draining(): boolean {
    return this.retired !== undefined || (this.timescaleStage?.available ?? 0) > 0;
  }

  /** Feeds one input frame (interleaved stereo s16) to the timescale (with the stages before it). */
  push(pcm: Int16Array): void {
    checkPcm(pcm);
    const stage = this.timescaleStage;
    if (stage === undefined) return;
    this.toFloat(pcm);
    for (const s of this.before) s.process(this.left, this.right);
    stage.push(this.left, this.right);
  }

  /** Fills `pcm` with the next output frame, filtered by the stages after timescale; false if not ready. */
  pull(pcm: Int16Array): boolean {
    checkPcm(pcm);
    const stage = this.timescaleStage;
    if (stage === undefined) return false;
    this.size(Math.floor(pcm.length / CHANNELS));
    if (!stage.pull(this.left, this.right)) return false;
    for (const s of this.after) s.process(this.left, this.right);
    this.toS16(pcm);
    return true;
  }

  /**
   * At the end of the input (or after timescale was turned off): the buffered output, zero padded,
   * as one frame. Returns how many samples per channel were real (0 = nothing left).
   */
  drain(pcm: Int16Array): number {
    checkPcm(pcm);
    const stage = this.retired ?? this.timescaleStage;
    if (stage === undefined) return 0;
    this.size(Math.floor(pcm.length / CHANNELS));
    const n = stage.drain(this.left, this.right);
    if (n === 0 && stage === this.retired) this.retired = undefined;
    if (n === 0) return 0;
    for (const s of this.after) s.process(this.left, this.right);
    this.toS16(pcm);
    return n;
  }

  private size(n: number): void {
    if (this.left.length !== n) {
      this.left = new Float32Array(n);
      this.right = new Float32Array(n);
    }
  }

  private toFloat(pcm: Int16Array): void {
    const n = Math.floor(pcm.length / CHANNELS);
    this.size(n);
    const { left, right } = this;
    for (let i = 0; i < n; i++) {
      left[i] = (pcm[2 * i] ?? 0) / 32768;
      right[i] = (pcm[2 * i + 1] ?? 0) / 32768;
    }
  }

  private toS16(pcm: Int16Array): void {
    const { left, right } = this;
    let nonFinite = 0;
    for (let i = 0; i < left.length; i++) {
      const l = left[i] ?? 0;
      const r = right[i] ?? 0;
      // x - x is NaN for NaN and ±Infinity, 0 for every finite x.
      if (l - l !== 0) nonFinite++;
      if (r - r !== 0) nonFinite++;
      pcm[2 * i] = toS16(l);
      pcm[2 * i + 1] = toS16(r);
    }
    this.nonFinite += nonFinite;
  }

  /** Turns every filter off. */
  clear(): void {
    this.set({});
  }

  /** Filters one frame of interleaved stereo s16 in place (and returns it); timescale excepted (see push). */
  process(pcm: Int16Array): Int16Array {
    checkPcm(pcm);
    if (this.order.length === 0) return pcm;
    this.toFloat(pcm);
    for (const stage of this.order) stage.process(this.left, this.right);
    this.toS16(pcm);
    return pcm;
  }

  private stage<S extends FilterStage>(name: FilterName, create: () => S, update: (stage: S) => void): void {
    const existing = this.stages.get(name) as S | undefined;
    if (existing === undefined) this.stages.set(name, create());
    else update(existing);
  }
}

function toS16(x: number): number {
  const y = Math.round(x * 32768);
  return y > 32767 ? 32767 : y < -32768 ? -32768 : y;
}
