/** What the bench needs from each library under test; one implementation per file in this folder. */
import type { Allocation } from '../../src/server/index.js';
import type { LatenessData } from '../../src/media/lateness-histogram.js';

export interface EngineCounters {
  packetsSent: number;
  latePackets: number;
  underruns: number;
  /** Cumulative per-channel histograms. */
  lateness: LatenessData[];
}

export interface BenchClient {
  /** Joins every allocation (each its own call); resolves when all can send. */
  connect(allocations: readonly Allocation[], tlsCa: string): Promise<void>;
  /** Starts looping `frames` (pre-encoded Opus) on every connection. */
  play(frames: readonly Buffer[]): void;
  /** Cumulative counters from the library itself, when it has them. */
  engineCounters?(): Promise<EngineCounters>;
  /** Errors seen on any connection so far (a run with errors is reported, not hidden). */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += limit) {
    await Promise.all(items.slice(i, i + limit).map(task));
  }
}
