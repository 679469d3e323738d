/**
 * The shape every filter stage shares: it processes one block of planar float audio in place
 * (left and right, samples in -1..1, 48 kHz). Stages keep their own state between blocks (delay
 * lines, oscillator phases), so a chain must process consecutive audio of one stream.
 */
export interface FilterStage {
  process(left: Float32Array, right: Float32Array): void;
}

/** Radians per sample of an oscillator at `hz`. */
export function phaseStep(hz: number, sampleRate: number): number {
  return (2 * Math.PI * hz) / sampleRate;
}

/** Keeps an oscillator phase in 0..2π so it never loses precision over hours. */
export function wrapPhase(phase: number): number {
  const full = 2 * Math.PI;
  return phase >= full ? phase % full : phase;
}
