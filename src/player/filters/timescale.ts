/**
 * Timescale (Lavalink's `speed`, `pitch`, `rate`): the one filter that does not map a frame to a
 * frame. Total tempo = speed × rate, total pitch = pitch × rate. Built from two streaming stages on
 * planar float stereo, each with its own sample FIFO:
 * - WSOLA time stretch (tempo speed / pitch, pitch kept): Hann windows of 1024 samples, hop 512,
 *   each next window placed within ±256 samples of its nominal input position where it best
 *   matches (normalized cross-correlation) the natural continuation of the previous one;
 * - windowed-sinc resampling (ratio pitch × rate: tempo and pitch together), Blackman window,
 *   8 zero crossings, cut-off lowered to 1 / ratio when it shrinks the band (no aliasing).
 * A stage whose factor is 1 is skipped until it first has work; once running it stays (tempo 1
 * WSOLA and ratio 1 resampling reconstruct the input), so a live change does not click.
 */
import { SAMPLE_RATE } from '../../protocol/constants.js';

export interface TimescaleSettings {
  speed: number;
  pitch: number;
  rate: number;
}

/** Each factor must be at most this (bounds the input read per output frame). */
export const TIMESCALE_MAX = 10;
/**
 * Each factor must be at least this: it bounds the output made per input frame (tempo and ratio
 * stay within 0.01-100). Near 0 the stretch would emit windows forever from the same input.
 */
export const TIMESCALE_MIN = 0.1;

/** A growable planar stereo FIFO of float samples. */
export class StereoFifo {
  left = new Float32Array(4096);
  right = new Float32Array(4096);
  start = 0;
  end = 0;

  get length(): number {
    return this.end - this.start;
  }

  private reserve(n: number): void {
    if (this.end + n <= this.left.length) return;
    const len = this.length;
    if (len + n > this.left.length) {
      const size = Math.max(this.left.length * 2, len + n);
      const l = new Float32Array(size);
      const r = new Float32Array(size);
      l.set(this.left.subarray(this.start, this.end));
      r.set(this.right.subarray(this.start, this.end));
      this.left = l;
      this.right = r;
    } else {
      this.left.copyWithin(0, this.start, this.end);
      this.right.copyWithin(0, this.start, this.end);
    }
    this.start = 0;
    this.end = len;
  }

  push(left: Float32Array, right: Float32Array, n = left.length): void {
    this.reserve(n);
    this.left.set(left.subarray(0, n), this.end);
    this.right.set(right.subarray(0, n), this.end);
    this.end += n;
  }

  pushSample(l: number, r: number): void {
    this.reserve(1);
    this.left[this.end] = l;
    this.right[this.end] = r;
    this.end++;
  }

  /** Moves n samples (n ≤ length) into the arrays, from their start. */
  take(left: Float32Array, right: Float32Array, n: number): void {
    left.set(this.left.subarray(this.start, this.start + n));
    right.set(this.right.subarray(this.start, this.start + n));
    this.discard(n);
  }

  /** Moves everything to another FIFO. */
  moveTo(other: StereoFifo): void {
    other.push(this.left.subarray(this.start, this.end), this.right.subarray(this.start, this.end));
    this.start = this.end = 0;
  }

  discard(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) this.start = this.end = 0;
  }

  clear(): void {
    this.start = this.end = 0;
  }
}

// ---- windowed-sinc resampler ----

const ZERO_CROSSINGS = 8;
/** At most this many input samples on each side of an output sample (bounds the cost at high ratios). */
const MAX_HALF_WIDTH = 64;
const TABLE_RES = 512;
const SINC = new Float32Array(ZERO_CROSSINGS * TABLE_RES + 2);
const WINDOW = new Float32Array(TABLE_RES + 2);
for (let i = 0; i < SINC.length; i++) {
  const u = i / TABLE_RES;
  SINC[i] = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
}
for (let i = 0; i < WINDOW.length; i++) {
  const v = Math.min(1, i / TABLE_RES);
  WINDOW[i] = 0.42 + 0.5 * Math.cos(Math.PI * v) + 0.08 * Math.cos(2 * Math.PI * v);
}

function lookup(table: Float32Array, x: number): number {
  const i = Math.floor(x);
  if (i + 1 >= table.length) return 0;
  const f = x - i;
  return (table[i] ?? 0) * (1 - f) + (table[i + 1] ?? 0) * f;
}

/** Reads input at `ratio` samples per output sample: ratio 2 = twice as fast, an octave up. */
export class Resampler {
  readonly input = new StereoFifo();
  ratio = 1;
  /** Read position, relative to input.start (samples before it are clamped to the first). */
  private pos = 0;

  run(output: StereoFifo): void {
    const { input } = this;
    const cutoff = Math.min(1, 1 / this.ratio);
    const half = Math.min(ZERO_CROSSINGS / cutoff, MAX_HALF_WIDTH);
    const L = input.left;
    const R = input.right;
    for (;;) {
      const last = Math.floor(this.pos + half);
      if (last >= input.length) break;
      let l = 0;
      let r = 0;
      let norm = 0;
      for (let i = Math.ceil(this.pos - half); i <= last; i++) {
        const x = Math.abs(i - this.pos);
        const h = lookup(SINC, x * cutoff * TABLE_RES) * lookup(WINDOW, (x / half) * TABLE_RES);
        const k = input.start + Math.max(0, i);
        l += h * (L[k] ?? 0);
        r += h * (R[k] ?? 0);
        norm += h;
      }
      // Normalized so that DC passes at gain 1 whatever the ratio and phase.
      output.pushSample(l / norm, r / norm);
      this.pos += this.ratio;
    }
    const drop = Math.max(0, Math.floor(this.pos - half) - 1);
    input.discard(drop);
    this.pos -= drop;
  }
}

// ---- WSOLA ----

const WINDOW_LEN = Math.round((1024 * SAMPLE_RATE) / 48_000);
const HOP = WINDOW_LEN / 2;
const SEEK = HOP / 2;
const HANN = new Float32Array(WINDOW_LEN);
for (let i = 0; i < WINDOW_LEN; i++) HANN[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WINDOW_LEN);
const CORR_STEP = 4;

/** Changes tempo by `tempo` (2 = consumes input twice as fast) and keeps the pitch. */
export class Wsola {
  readonly input = new StereoFifo();
  tempo = 1;
  /** Nominal input position of the next window, relative to input.start. */
  private nominal = 0;
  /** Where the previous window started, relative to input.start (negative once dropped). */
  private prev = 0;
  private started = false;
  private readonly tailL = new Float32Array(HOP);
  private readonly tailR = new Float32Array(HOP);

  run(output: StereoFifo): void {
    const { input } = this;
    for (;;) {
      const a = Math.round(this.nominal);
      const needed = Math.max(a + SEEK + WINDOW_LEN, this.started ? this.prev + HOP + WINDOW_LEN : 0);
      if (needed > input.length) break;
      const p = this.started ? this.best(a, this.prev + HOP) : a;
      const L = input.left;
      const R = input.right;
      const s = input.start + p;
      if (!this.started) {
        this.started = true;
        // The first window: as if a previous one had continued naturally (no fade in).
        for (let i = 0; i < HOP; i++) {
          this.tailL[i] = (1 - (HANN[i] ?? 0)) * (L[s + i] ?? 0);
          this.tailR[i] = (1 - (HANN[i] ?? 0)) * (R[s + i] ?? 0);
        }
      }
      for (let i = 0; i < HOP; i++) {
        const w = HANN[i] ?? 0;
        output.pushSample(
          (this.tailL[i] ?? 0) + w * (L[s + i] ?? 0),
          (this.tailR[i] ?? 0) + w * (R[s + i] ?? 0),
        );
      }
      for (let i = 0; i < HOP; i++) {
        const w = HANN[HOP + i] ?? 0;
        this.tailL[i] = w * (L[s + HOP + i] ?? 0);
        this.tailR[i] = w * (R[s + HOP + i] ?? 0);
      }
      this.prev = p;
      this.nominal += HOP * this.tempo;
      const drop = Math.max(0, Math.min(Math.floor(this.nominal) - SEEK, this.prev + HOP));
      input.discard(drop);
      this.nominal -= drop;
      this.prev -= drop;
    }
  }

  /** The start near `a` whose first half best matches the natural continuation at `natural`. */
  private best(a: number, natural: number): number {
    const { input } = this;
    const score = (p: number, step: number): number => {
      let dot = 0;
      let energy = 1e-9;
      const L = input.left;
      const R = input.right;
      const s = input.start + p;
      const n = input.start + natural;
      for (let i = 0; i < HOP; i += step) {
        const x = (L[s + i] ?? 0) + (R[s + i] ?? 0);
        const y = (L[n + i] ?? 0) + (R[n + i] ?? 0);
        dot += x * y;
        energy += x * x;
      }
      return dot / Math.sqrt(energy);
    };
    let bestP = Math.max(0, a - SEEK);
    let bestScore = -Infinity;
    for (let d = -SEEK; d <= SEEK; d += 2) {
      const p = a + d;
      if (p < 0) continue;
      const v = score(p, CORR_STEP);
      if (v > bestScore) {
        bestScore = v;
        bestP = p;
      }
    }
    // Refine the coarse pick by one sample either way, at full resolution.
    let fine = bestP;
    let fineScore = -Infinity;
    for (const p of [bestP - 1, bestP, bestP + 1]) {
      if (p < 0 || p + WINDOW_LEN > input.length) continue;
      const v = score(p, 1);
      if (v > fineScore) {
        fineScore = v;
        fine = p;
      }
    }
    return fine;
  }
}

/**
 * The timescale stage: push input blocks, pull output blocks of any size. It consumes input at
 * speed × rate times the pace it produces output.
 */
export class TimescaleStage {
  private wsola: Wsola | undefined;
  private resampler: Resampler | undefined;
  private readonly middle = new StereoFifo();
  private readonly output = new StereoFifo();
  private settingsValue: TimescaleSettings;
  /** True once the input's end was pushed through (see drain). */
  private flushed = true;

  constructor(settings: TimescaleSettings) {
    this.settingsValue = settings;
  }

  get settings(): TimescaleSettings {
    return this.settingsValue;
  }

  set settings(s: TimescaleSettings) {
    this.settingsValue = s;
  }

  /** Input samples consumed per output sample. */
  get consumption(): number {
    return this.settingsValue.speed * this.settingsValue.rate;
  }

  push(left: Float32Array, right: Float32Array): void {
    this.flushed = false;
    this.feed(left, right);
  }

  private feed(left: Float32Array, right: Float32Array): void {
    const { speed, pitch, rate } = this.settingsValue;
    const tempo = speed / pitch;
    const ratio = pitch * rate;
    if (this.wsola === undefined && tempo !== 1) this.wsola = new Wsola();
    if (this.resampler === undefined && ratio !== 1) this.resampler = new Resampler();
    if (this.wsola !== undefined) {
      this.wsola.tempo = tempo;
      this.wsola.input.push(left, right);
      this.wsola.run(this.middle);
    } else this.middle.push(left, right);
    if (this.resampler !== undefined) {
      this.resampler.ratio = ratio;
      this.middle.moveTo(this.resampler.input);
      this.resampler.run(this.output);
    } else this.middle.moveTo(this.output);
  }

  /**
   * Forgets every buffered sample and the window/resampler history (after a seek or a jump to
   * other audio): what comes out next is made of input pushed from now on only.
   */
  reset(): void {
    this.wsola = undefined;
    this.resampler = undefined;
    this.middle.clear();
    this.output.clear();
    this.flushed = true;
  }

  /** Output samples ready to pull. */
  get available(): number {
    return this.output.length;
  }

  /** Fills the arrays with the next output samples; false (and nothing taken) if too few are ready. */
  pull(left: Float32Array, right: Float32Array): boolean {
    if (this.output.length < left.length) return false;
    this.output.take(left, right, left.length);
    return true;
  }

  /**
   * At the end of the input (or when turned off): the rest of the output, zero padded to the
   * arrays' length. The first call pushes silence through the window and the resampler, so the
   * input's last samples come out too (followed by a little silence) instead of being dropped.
   */
  drain(left: Float32Array, right: Float32Array): number {
    if (!this.flushed) {
      this.flushed = true;
      const tempo = this.settingsValue.speed / this.settingsValue.pitch;
      const zeros = new Float32Array(WINDOW_LEN + 2 * SEEK + Math.ceil(HOP * tempo) + 2 * MAX_HALF_WIDTH);
      this.feed(zeros, zeros);
    }
    const n = Math.min(this.output.length, left.length);
    left.fill(0);
    right.fill(0);
    this.output.take(left.subarray(0, n), right.subarray(0, n), n);
    return n;
  }
}
