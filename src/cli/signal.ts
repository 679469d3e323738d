/**
 * Signal measurement for the demo and the receive tests: the heard audio is compared with the sent
 * audio after finding the codec's delay by cross-correlation.
 */

/** Mono (left channel) samples of interleaved s16 stereo. */
export function leftChannel(stereo: Int16Array): Float64Array {
  const out = new Float64Array(stereo.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = stereo[i * 2]!;
  return out;
}

/** The lag (in samples, 0..maxLag) at which `heard` best matches `sent`. */
export function bestLag(sent: Float64Array, heard: Float64Array, maxLag: number): number {
  let best = 0;
  let bestScore = -Infinity;
  const n = Math.min(sent.length, heard.length - maxLag, 48_000);
  for (let lag = 0; lag <= maxLag; lag++) {
    let score = 0;
    for (let i = 0; i < n; i++) score += sent[i]! * heard[i + lag]!;
    if (score > bestScore) {
      bestScore = score;
      best = lag;
    }
  }
  return best;
}

/** Signal-to-noise ratio in dB of `heard` against `sent`, after aligning by the best lag and gain. */
export function snrDb(sent: Float64Array, heard: Float64Array, maxLag = 960): number {
  if (sent.length === 0 || heard.length <= maxLag) return -Infinity;
  const lag = bestLag(sent, heard, maxLag);
  const n = Math.min(sent.length, heard.length - lag);
  let dot = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    dot += sent[i]! * heard[i + lag]!;
    energy += sent[i]! * sent[i]!;
  }
  const gain = energy === 0 ? 0 : dot / energy;
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < n; i++) {
    const s = sent[i]! * gain;
    const e = heard[i + lag]! - s;
    signal += s * s;
    noise += e * e;
  }
  if (noise === 0) return Infinity;
  return 10 * Math.log10(signal / noise);
}
