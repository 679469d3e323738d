/** What the bench needs from each library under test; one implementation per file in this folder. */
import type { Worker } from 'node:worker_threads';
import type { Allocation } from '../../src/server/index.js';
import type { LatenessData } from '../../src/media/lateness-histogram.js';

export interface EngineCounters {
  packetsSent: number;
  latePackets: number;
  underruns: number;
  /** Cumulative per-channel histograms. */
  lateness: LatenessData[];
  /** Media worker threads running (worker engine only). */
  workers?: number;
}

/** Scenarios 1-3: many connections, each alone in its call, sending. */
export interface BenchClient {
  /** Joins every allocation (each its own call); resolves when all can send. */
  connect(allocations: readonly Allocation[], tlsCa: string): Promise<void>;
  /** Starts looping `frames` (pre-encoded Opus) on every connection. */
  play(frames: readonly Buffer[]): void;
  /** Starts looping `frames` (20 ms of 48 kHz stereo s16le each) on every connection: the library encodes. */
  playPcm(frames: readonly Buffer[]): void;
  /** Cumulative counters from the library itself, when it has them. */
  engineCounters?(): Promise<EngineCounters>;
  /** The library's worker threads, when it has them (VOXCORD_BENCH_MEMORY: heap snapshots). */
  workers?(): readonly Worker[];
  /** Errors seen on any connection so far (a run with errors is reported, not hidden). */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Scenario 4: join through the library's public join API and play at once. */
export interface FirstAudioClient {
  /** Calls the library's join for `allocation` and starts playing `frames` right away. */
  joinAndPlay(allocation: Allocation, tlsCa: string, frames: readonly Buffer[]): void;
  /** Leaves the call joined last. */
  leave(): Promise<void>;
  readonly errors: string[];
  close(): Promise<void>;
}

/** Scenario 5: one connection that decodes every incoming stream to PCM. */
export interface ReceiveClient {
  /** Joins and subscribes to `userIds`, decoding each to 48 kHz stereo PCM. */
  connect(allocation: Allocation, tlsCa: string, userIds: readonly string[]): Promise<void>;
  /** PCM bytes handed to the application so far, over all streams. */
  pcmBytes(): number;
  /** Frames the library synthesised for lost, late or undecodable packets so far, when it counts them. */
  concealedFrames?(): number;
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
