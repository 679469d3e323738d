/**
 * Send lateness (actual send time minus due time) in fixed 0.25 ms buckets up to 100 ms, plus an
 * overflow bucket. Fixed buckets make recording O(1) with no allocation on the hot path, and let
 * histograms from many channels (or a worker) be merged exactly for percentiles.
 */
import { checkArg, checkNumber } from '../util/args.js';

export const LATENESS_BUCKET_MS = 0.25;
const BUCKETS = 400; // 0..100 ms; one more for overflow

export interface LatenessData {
  bucketMs: number;
  /** counts[i] = samples in [i*bucketMs, (i+1)*bucketMs); the last entry holds everything beyond. */
  counts: number[];
  count: number;
  maxMs: number;
}

export interface LatenessSummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Buckets a new histogram holds (4 ms); it doubles up to all of them when a later send comes. */
const FIRST_BUCKETS = 16;
/** Below this, a channel counts in LATENESS_BUCKET_MS buckets; from it to 100 ms, in 1 ms ones. */
const FINE_LIMIT_MS = 16;
const FINE_BUCKETS = FINE_LIMIT_MS / LATENESS_BUCKET_MS;
const COARSE_PER_MS = 1 / LATENESS_BUCKET_MS;
/** The stored buckets: fine ones, coarse ones up to 100 ms, and the overflow. */
const STORED_BUCKETS = FINE_BUCKETS + (BUCKETS - FINE_BUCKETS) / COARSE_PER_MS + 1;

/**
 * One per channel: the counts cover only the buckets reached so far (64 bytes while sends stay
 * within 4 ms), the rest read as zero. Sends later than 16 ms are counted per whole ms (596 bytes
 * once one is 64 ms late, against 1.6 KiB in 0.25 ms buckets): toJSON() puts such a bucket's count
 * in the last 0.25 ms bucket it spans, so a percentile read from it never understates.
 */
export class LatenessHistogram {
  private counts = new Uint32Array(FIRST_BUCKETS);
  private total = 0;
  private max = 0;

  record(lateMs: number): void {
    const ms = lateMs > 0 ? lateMs : 0;
    const index =
      ms < FINE_LIMIT_MS
        ? Math.floor(ms / LATENESS_BUCKET_MS)
        : Math.min(STORED_BUCKETS - 1, FINE_BUCKETS + Math.floor(ms - FINE_LIMIT_MS));
    if (index >= this.counts.length) this.grow(index);
    this.counts[index]!++;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  /** Bytes held for counts (memory accounting). */
  get countBytes(): number {
    return this.counts.byteLength;
  }

  toJSON(): LatenessData {
    const counts = new Array<number>(BUCKETS + 1).fill(0);
    this.counts.forEach((c, i) => {
      if (i < FINE_BUCKETS) counts[i] = c;
      else if (i === STORED_BUCKETS - 1) counts[BUCKETS] = c;
      else counts[FINE_BUCKETS + (i - FINE_BUCKETS + 1) * COARSE_PER_MS - 1] = c;
    });
    return { bucketMs: LATENESS_BUCKET_MS, counts, count: this.total, maxMs: this.max };
  }

  private grow(index: number): void {
    let length = this.counts.length * 2;
    while (length <= index) length *= 2;
    const grown = new Uint32Array(Math.min(STORED_BUCKETS, length));
    grown.set(this.counts);
    this.counts = grown;
  }
}

/** Merges histograms and reads percentiles (upper bucket edge, so a percentile never understates). */
export function summarizeLateness(histograms: readonly LatenessData[]): LatenessSummary {
  checkArg(histograms, 'histograms', 'array');
  for (const [i, h] of histograms.entries()) {
    checkArg(h, `histograms[${i}]`, 'object');
    checkArg(h.counts, `histograms[${i}].counts`, 'array');
    checkNumber(h.count, `histograms[${i}].count`, { min: 0 });
    checkNumber(h.maxMs, `histograms[${i}].maxMs`, { min: 0 });
  }
  const counts = new Array<number>(BUCKETS + 1).fill(0);
  let count = 0;
  let maxMs = 0;
  for (const h of histograms) {
    h.counts.forEach((c, i) => (counts[i]! += c));
    count += h.count;
    maxMs = Math.max(maxMs, h.maxMs);
  }
  const percentile = (p: number): number => {
    if (count === 0) return 0;
    const rank = Math.ceil(p * count);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return i === BUCKETS ? maxMs : Math.min(maxMs, (i + 1) * LATENESS_BUCKET_MS);
    }
    return maxMs;
  };
  return { count, p50Ms: percentile(0.5), p99Ms: percentile(0.99), maxMs };
}
