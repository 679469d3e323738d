/**
 * PCM mixing math shared by the player's mixer (src/player/mixer.ts, samples as fractions of full
 * scale) and the receive mixer (src/receive/mixer.ts, samples as s16 values): one frame size and
 * one soft clipper, with the units as parameters.
 */
import { CHANNELS, SAMPLES_PER_FRAME } from '../protocol/constants.js';

/** Interleaved samples in one 20 ms stereo frame. */
export const FRAME_SAMPLES = SAMPLES_PER_FRAME * CHANNELS;

/**
 * Linear up to `knee`, then a tanh curve that meets it with slope 1 and approaches `ceiling`
 * without reaching it: loud sums are compressed, never wrapped or hard-clipped. `knee` and
 * `ceiling` are magnitudes in the caller's unit.
 */
export function softClip(x: number, knee: number, ceiling: number): number {
  const a = Math.abs(x);
  if (a <= knee) return x;
  const room = ceiling - knee;
  const y = knee + room * Math.tanh((a - knee) / room);
  return x < 0 ? -y : y;
}
