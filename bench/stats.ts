/** Small pure helpers for bench numbers (no I/O, no clocks). */
import { LATENESS_BUCKET_MS, summarizeLateness } from '../src/media/lateness-histogram.js';
import type { LatenessData, LatenessSummary } from '../src/media/lateness-histogram.js';

/** Samples at or above `ms` in these histograms (bucket resolution: LATENESS_BUCKET_MS). */
export function countAtLeast(data: readonly LatenessData[], ms: number): number {
  let total = 0;
  for (const d of data) {
    const from = Math.ceil(ms / d.bucketMs);
    for (let i = from; i < d.counts.length; i++) total += d.counts[i]!;
  }
  return total;
}

/** Per-bucket difference of cumulative histograms (after - before, channel by channel). */
export function histogramDeltas(
  before: readonly LatenessData[],
  after: readonly LatenessData[],
): LatenessData[] {
  return after.map((a, i) => {
    const b = before[i];
    return {
      bucketMs: a.bucketMs,
      counts: a.counts.map((c, j) => c - (b?.counts[j] ?? 0)),
      count: a.count - (b?.count ?? 0),
      maxMs: a.maxMs,
    };
  });
}

/**
 * Lateness recorded between two snapshots of the same channels' cumulative histograms. The max
 * of the window is not kept by a histogram: it is the upper edge of the highest bucket that grew
 * (or the overall max when that is the overflow bucket or the channel's own max is lower).
 */
export function latenessBetween(
  before: readonly LatenessData[],
  after: readonly LatenessData[],
): LatenessSummary | null {
  const deltas: LatenessData[] = [];
  after.forEach((a, i) => {
    const b = before[i];
    const counts = a.counts.map((c, j) => c - (b?.counts[j] ?? 0));
    const count = a.count - (b?.count ?? 0);
    if (count <= 0) return;
    let top = -1;
    for (let j = counts.length - 1; j >= 0; j--) {
      if (counts[j]! > 0) {
        top = j;
        break;
      }
    }
    const edge = top === counts.length - 1 ? a.maxMs : Math.min(a.maxMs, (top + 1) * LATENESS_BUCKET_MS);
    deltas.push({ bucketMs: a.bucketMs, counts, count, maxMs: edge });
  });
  return deltas.length > 0 ? summarizeLateness(deltas) : null;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
