/**
 * The shape every filter stage shares: it processes one block of planar float audio in place
 * (left and right, samples in -1..1, 48 kHz). Stages keep their own state between blocks (delay
 * lines, oscillator phases), so a chain must process consecutive audio of one stream.
 */
export interface FilterStage {
  process(left: Float32Array, right: Float32Array): void;
}

/**
 * Radians per sample of an oscillator at `hz`, in 0..2π. Reduced to a fraction of a cycle first:
 * `2π · 1e308` overflows to Infinity (a NaN phase for good), and a negative step would grow the
 * phase without bound. Above the sample rate a frequency aliases, as sampled sound does.
 */
export function phaseStep(hz: number, sampleRate: number): number {
  const cycles = hz / sampleRate;
  return 2 * Math.PI * (cycles - Math.floor(cycles));
}

/** Keeps an oscillator phase in 0..2π so it never loses precision over hours. */
export function wrapPhase(phase: number): number {
  const full = 2 * Math.PI;
  return phase >= full ? phase % full : phase;
}
