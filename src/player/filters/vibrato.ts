/**
 * Vibrato: pitch wobble from a delay line whose length an oscillator modulates (up to 2 ms × depth,
 * plus 3 samples), read with 4-point cubic Hermite interpolation. Frequency 0-14 Hz, depth 0-1,
 * as Lavalink's filter.
 */
import { SAMPLE_RATE } from '../../protocol/constants.js';
import { phaseStep, wrapPhase } from './stage.js';
import type { FilterStage } from './stage.js';

const BASE_DELAY_SAMPLES = Math.trunc(0.002 * SAMPLE_RATE);
const EXTRA_DELAY = 3;
const LINE = 2 * BASE_DELAY_SAMPLES + 8;

class DelayLine {
  private readonly buf = new Float32Array(LINE);
  private write = 0;

  push(x: number): void {
    this.buf[this.write] = x;
    this.write = (this.write + 1) % LINE;
  }

  /** The sample `delay` samples behind the newest one (fractional, interpolated). */
  at(delay: number): number {
    let pos = this.write - 1 - delay;
    while (pos < 0) pos += LINE;
    const i = Math.floor(pos);
    const f = pos - i;
    const s = (k: number): number => this.buf[(((i + k) % LINE) + LINE) % LINE] ?? 0;
    const y0 = s(-1);
    const y1 = s(0);
    const y2 = s(1);
    const y3 = s(2);
    const c1 = 0.5 * (y2 - y0);
    const c2 = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3;
    const c3 = 0.5 * (y3 - y0) + 1.5 * (y1 - y2);
    return ((c3 * f + c2) * f + c1) * f + y1;
  }
}

export class VibratoStage implements FilterStage {
  private phase = 0;
  private readonly left = new DelayLine();
  private readonly right = new DelayLine();

  constructor(
    public frequency: number,
    public depth: number,
  ) {}

  process(left: Float32Array, right: Float32Array): void {
    const step = phaseStep(this.frequency, SAMPLE_RATE);
    for (let i = 0; i < left.length; i++) {
      const lfo = (Math.sin(this.phase) + 1) / 2;
      this.phase = wrapPhase(this.phase + step);
      const delay = lfo * this.depth * BASE_DELAY_SAMPLES + EXTRA_DELAY;
      // Read before writing, so the delay is measured from the previous sample.
      const l = this.left.at(delay);
      const r = this.right.at(delay);
      this.left.push(left[i] ?? 0);
      this.right.push(right[i] ?? 0);
      left[i] = l;
      right[i] = r;
    }
  }
}
