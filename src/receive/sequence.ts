/**
 * Wrap-aware arithmetic for RTP sequence numbers (u16) and timestamps (u32), media.md §4.1.
 * Pure functions; the jitter buffer works on "extended" sequence numbers (plain integers that keep
 * counting past 65535) so ordering never has to think about wrap-around again.
 */
import { RTP_SEQUENCE_MODULUS, RTP_TIMESTAMP_MODULUS, SAMPLES_PER_FRAME } from '../protocol/constants.js';

const SEQ_HALF = RTP_SEQUENCE_MODULUS / 2;
const TS_HALF = RTP_TIMESTAMP_MODULUS / 2;

/** Signed distance `a - b` between two u16 sequence numbers, in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  const d = (((a - b) % RTP_SEQUENCE_MODULUS) + RTP_SEQUENCE_MODULUS) % RTP_SEQUENCE_MODULUS;
  return d >= SEQ_HALF ? d - RTP_SEQUENCE_MODULUS : d;
}

/** Signed distance `a - b` between two u32 timestamps, in [-2^31, 2^31 - 1]. */
export function tsDiff(a: number, b: number): number {
  const d = (((a - b) % RTP_TIMESTAMP_MODULUS) + RTP_TIMESTAMP_MODULUS) % RTP_TIMESTAMP_MODULUS;
  return d >= TS_HALF ? d - RTP_TIMESTAMP_MODULUS : d;
}

/** True when sequence `a` comes after `b` (wrap-aware). */
export function seqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/**
 * The extended sequence number nearest to `reference` (an extended number) whose low 16 bits are
 * `seq`. E.g. reference 65535 and seq 2 give 65538.
 */
export function extendSequence(seq: number, reference: number): number {
  return reference + seqDiff(seq, reference % RTP_SEQUENCE_MODULUS);
}

/** The u16 sequence number of an extended one. */
export function wrapSequence(extended: number): number {
  return ((extended % RTP_SEQUENCE_MODULUS) + RTP_SEQUENCE_MODULUS) % RTP_SEQUENCE_MODULUS;
}

/** `ts + delta`, wrapped to u32. */
export function addTimestamp(ts: number, delta: number): number {
  return (((ts + delta) % RTP_TIMESTAMP_MODULUS) + RTP_TIMESTAMP_MODULUS) % RTP_TIMESTAMP_MODULUS;
}

/**
 * Whether two packets' timestamps disagree with their sequence distance: `seqDelta` packets apart
 * should be `seqDelta × 960` samples apart (one 20 ms frame per packet). A sender that paused, was
 * restarted or uses a wall-clock timestamp shows a jump. `toleranceSamples` absorbs senders that
 * occasionally send other frame sizes.
 */
export function isTimestampJump(
  seqDelta: number,
  timestampDelta: number,
  toleranceSamples: number = SAMPLES_PER_FRAME,
): boolean {
  return Math.abs(timestampDelta - seqDelta * SAMPLES_PER_FRAME) > toleranceSamples;
}
