/**
 * Send lateness (actual send time minus due time) in fixed 0.25 ms buckets up to 100 ms, plus an
 * overflow bucket. Fixed buckets make recording O(1) with no allocation on the hot path, and let
 * histograms from many channels (or a worker) be merged exactly for percentiles.
 */
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

export class LatenessHistogram {
  private readonly counts = new Uint32Array(BUCKETS + 1);
  private total = 0;
  private max = 0;

  record(lateMs: number): void {
    const ms = lateMs > 0 ? lateMs : 0;
    const index = Math.min(BUCKETS, Math.floor(ms / LATENESS_BUCKET_MS));
    this.counts[index]!++;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  toJSON(): LatenessData {
    return {
      bucketMs: LATENESS_BUCKET_MS,
      counts: Array.from(this.counts),
      count: this.total,
      maxMs: this.max,
    };
  }
}

/** Merges histograms and reads percentiles (upper bucket edge, so a percentile never understates). */
export function summarizeLateness(histograms: readonly LatenessData[]): LatenessSummary {
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
