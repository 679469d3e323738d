/**
 * Judges a demo call: did the listener hear exactly what the bot played, end-to-end encrypted?
 * Pure (no I/O), so the verdict is tested on crafted results.
 *
 * The SNR threshold, 25 dB: the heard signal is compared with the sent one sample by sample
 * after aligning the codec delay and gain. Unrelated audio, or audio garbled by wrong keys, scores
 * about 0 dB; the clean path (Opus at its default bitrate, decoded) scores about 35 dB on the
 * demo's tones. One 20 ms frame missing out of the demo's ~130 audible ones puts about 1/130 of
 * the signal's energy into the error, capping the SNR near 10·log10(130) ≈ 21 dB. So 25 dB proves
 * the heard audio is the sent audio, all of it, with 10 dB of margin for codec differences.
 */
import { SAMPLE_RATE } from '../protocol/constants.js';
import { bestLag, leftChannel, snrDb } from './signal.js';
import type { DemoCallResult } from './demo-call.js';
import type { TimelineEntry } from './timeline.js';

export const DEFAULT_SNR_THRESHOLD_DB = 25;
/** Codec delay searched when aligning heard to sent: up to 20 ms. */
const MAX_LAG_SAMPLES = 960;

export interface DemoReport {
  ok: boolean;
  /** Why the demo failed (empty when ok). */
  failures: string[];
  /** Transport encryption (AEAD) mode both sides use. */
  transportMode: string | null;
  /** DAVE protocol version in effect (1 = end-to-end encrypted). */
  daveProtocolVersion: number;
  /** MLS epoch of the group while the audio played. */
  epoch: number | null;
  privacyCodes: { bot: string | null; listener: string | null };
  privacyCodesMatch: boolean;
  /** The pairwise 45-digit codes each side computed for the other. */
  verificationCodesMatch: boolean;
  framesSent: number;
  framesReceived: number;
  /** framesSent - framesReceived (never negative). */
  framesLost: number;
  decryptFailures: number;
  sequenceGaps: number;
  framesConcealed: number;
  /** Sender frames DAVE dropped for want of a key (never sent in clear). */
  framesDroppedNoKey: number;
  /** Heard vs sent, after aligning by `delayMs` and gain; null when nothing was heard. */
  snrDb: number | null;
  snrThresholdDb: number;
  /** Codec delay found by cross-correlation, ms. */
  delayMs: number | null;
  /** Audio played, ms. */
  durationMs: number;
  /** Whole demo (start of the local server to the end of the call), ms. */
  elapsedMs: number;
  timeline: TimelineEntry[];
}

export interface ReportOptions {
  snrThresholdDb?: number;
  elapsedMs: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function measureSnr(
  sent: Int16Array,
  heard: Int16Array,
): { snrDb: number | null; lagSamples: number | null } {
  const s = leftChannel(sent);
  const h = leftChannel(heard);
  if (s.length === 0 || h.length <= MAX_LAG_SAMPLES) return { snrDb: null, lagSamples: null };
  const lag = bestLag(s, h, MAX_LAG_SAMPLES);
  const snr = snrDb(s, h, MAX_LAG_SAMPLES);
  // Infinity (bit-exact) cannot go into JSON; 200 dB says the same.
  return { snrDb: Number.isFinite(snr) ? round1(snr) : snr > 0 ? 200 : null, lagSamples: lag };
}

export function buildDemoReport(result: DemoCallResult, options: ReportOptions): DemoReport {
  const threshold = options.snrThresholdDb ?? DEFAULT_SNR_THRESHOLD_DB;
  const { snrDb: snr, lagSamples } = measureSnr(result.sent, result.heard);
  const codes = { bot: result.bot.privacyCode ?? null, listener: result.listener.privacyCode ?? null };
  const privacyCodesMatch = codes.bot !== null && codes.bot === codes.listener;
  const verificationCodesMatch =
    result.bot.verificationCode !== undefined &&
    result.bot.verificationCode === result.listener.verificationCode;
  const framesLost = Math.max(0, result.framesSent - result.framesReceived);
  const version = Math.min(result.bot.daveProtocolVersion, result.listener.daveProtocolVersion);

  const failures: string[] = [];
  if (result.framesReceived === 0) failures.push('no audio reached the listener');
  if (version < 1) failures.push(`DAVE was not in effect (protocol version ${version})`);
  if (!privacyCodesMatch)
    failures.push(
      codes.bot === null || codes.listener === null
        ? 'a side has no privacy code (no DAVE group)'
        : 'the privacy codes differ: the two sides are not in the same DAVE group',
    );
  if (!verificationCodesMatch) failures.push('the pairwise verification codes differ or are missing');
  if (framesLost > 0) failures.push(`${framesLost} of ${result.framesSent} frames were lost`);
  if (result.decryptFailures > 0) failures.push(`${result.decryptFailures} frames could not be decrypted`);
  if (result.sequenceGaps > 0) failures.push(`${result.sequenceGaps} RTP sequence numbers never arrived`);
  if (result.framesReceived > 0 && (snr === null || snr < threshold))
    failures.push(`SNR ${snr ?? '-'} dB is below ${threshold} dB: the heard audio is not the sent audio`);

  return {
    ok: failures.length === 0,
    failures,
    transportMode: result.bot.transportMode ?? result.listener.transportMode ?? null,
    daveProtocolVersion: version,
    epoch: result.bot.epoch === undefined ? null : Number(result.bot.epoch),
    privacyCodes: codes,
    privacyCodesMatch,
    verificationCodesMatch,
    framesSent: result.framesSent,
    framesReceived: result.framesReceived,
    framesLost,
    decryptFailures: result.decryptFailures,
    sequenceGaps: result.sequenceGaps,
    framesConcealed: result.framesConcealed,
    framesDroppedNoKey: result.framesDroppedNoKey,
    snrDb: snr,
    snrThresholdDb: threshold,
    delayMs: lagSamples === null ? null : round1((lagSamples / SAMPLE_RATE) * 1000),
    durationMs: result.playedMs,
    elapsedMs: Math.round(options.elapsedMs),
    timeline: result.timeline,
  };
}
