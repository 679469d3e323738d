/**
 * Reconnect delays: exponential backoff with jitter and a cap. Pure, so the schedule is tested
 * with a fixed random source.
 */
import { checkDelay, checkNumber, checkOptions, MAX_TIMER_MS } from '../util/args.js';

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  baseDelayMs: number;
  /** No delay exceeds this, in ms. */
  maxDelayMs: number;
  /** Attempts before giving up (0 = never retry). */
  maxAttempts: number;
  /**
   * Fraction of the delay that is random: 0 = no jitter, 1 = "full jitter" (anywhere in
   * [0, delay]). Spreads reconnects of many bots hit by the same outage.
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = {
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxAttempts: 5,
  jitter: 0.5,
};

/**
 * Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, then reduced by up
 * to `jitter` of itself. `random` returns a number in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity for huge attempts; the cap keeps the result finite.
  const raw = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(raw * (1 - jitter * r));
}

export function resolveBackoff(options: Partial<BackoffOptions> | undefined): BackoffOptions {
  checkOptions(options, 'reconnect');
  const merged = { ...DEFAULT_BACKOFF, ...options };
  checkDelay(merged.baseDelayMs, 'reconnect.baseDelayMs', undefined, 'zero');
  checkNumber(merged.maxDelayMs, 'reconnect.maxDelayMs', { min: merged.baseDelayMs, max: MAX_TIMER_MS });
  // Infinity: never give up.
  if (merged.maxAttempts !== Infinity)
    checkNumber(merged.maxAttempts, 'reconnect.maxAttempts', { integer: true, min: 0 });
  checkNumber(merged.jitter, 'reconnect.jitter', { min: 0, max: 1 });
  return merged;
}
