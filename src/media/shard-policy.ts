/**
 * Where the worker engine puts a new channel: on one of its worker shards, or on a new one. Pure
 * (loads passed in), so the policy is tested without threads.
 *
 * A channel cannot move between workers once open (its UDP socket and RTP state live there), so
 * the decision is made at open time, from two signals:
 * - the worker's own clock cannot keep up: its thread is busy `growUtilization` of the time (most
 *   of each 20 ms period goes to sending, so the last bucket of a period leaves late), or more than
 *   `growLateShare` of its clock's deliveries start over LATE_TICK_MS (clock.ts) late. A shard judged
 *   overloaded stays so until both fall below the lower `cool*` marks (hysteresis: a worker
 *   hovering at the threshold does not flip between taking channels and refusing them). New
 *   channels go to a shard that keeps up; when none does, a new worker starts.
 * - a count ceiling: every shard holds `channelsPerWorker` channels, for bots that join many
 *   channels before they play (idle channels show no load yet).
 * Either one grows, but never before every shard holds `minChannelsPerWorker` channels: a worker
 * costs ~10 MB idle, and at N = 1000 with DAVE the second one 14-18 KiB per channel (another
 * isolate's bootstrap heap, young generation, old-space slack, stack and arena; BENCHMARKS.md, from
 * `bench/engine-memory.ts --dist`), and a second one costs CPU too (two clocks wake up: 1.4x
 * CPU per packet at N = 100),
 * so a small bot stays on one worker however busy the machine is. Machine idleness is not asked:
 * the server or another process taking a core leaves this worker short of time either way, and a
 * second thread is what lets the kernel give the engine the share of both cores it can get.
 */
import os from 'node:os';
import { FRAME_DURATION_MS } from '../protocol/constants.js';
import { DEFAULT_PHASE_BUCKETS } from './clock.js';

/** What a shard's own signals say over its last sample. */
export interface ShardSample {
  /** Event-loop utilisation of the shard's thread, 0..1 (busy share of its periods). */
  utilization: number;
  /** Share of its clock's deliveries that started more than LATE_TICK_MS (clock.ts) late, 0..1. */
  lateShare: number;
}

export interface ShardLoad {
  /** Channels open (or opening) on the shard. */
  channels: number;
  /** The shard's clock cannot keep up (see isOverloaded). */
  overloaded: boolean;
}

export interface ShardPolicy {
  /** Most shards the engine runs. */
  maxWorkers: number;
  /** A fixed count (`workers: K`): start the next shard as soon as every shard has a channel. */
  fixed: boolean;
  minChannelsPerWorker: number;
  channelsPerWorker: number;
  growUtilization: number;
  coolUtilization: number;
  growLateShare: number;
  coolLateShare: number;
}

/** 'auto': grow only once every worker has this many channels. */
export const MIN_CHANNELS_PER_WORKER = 128;
/** 'auto': grow once every worker has this many channels, busy or not. */
export const CHANNELS_PER_WORKER = 300;
/** 'auto': a worker whose event loop is busy this share of the time is overloaded... */
export const GROW_UTILIZATION = 0.5;
/** ...and stays so until it is busy less than this. */
export const COOL_UTILIZATION = 0.3;
/** 'auto': a worker whose clock starts this share of its deliveries late is overloaded... */
export const GROW_LATE_SHARE = 0.02;
/** ...and stays so until fewer than this share are late. */
export const COOL_LATE_SHARE = 0.005;
/** 'auto' never runs more workers than this (nor more than the cores available). */
export const MAX_AUTO_WORKERS = 4;

export function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The policy for the engine's `workers` option (validated by the caller). */
export function shardPolicy(workers: number | 'auto', available = availableCores()): ShardPolicy {
  if (workers === 'auto') {
    return {
      maxWorkers: Math.max(1, Math.min(MAX_AUTO_WORKERS, available)),
      fixed: false,
      minChannelsPerWorker: MIN_CHANNELS_PER_WORKER,
      channelsPerWorker: CHANNELS_PER_WORKER,
      growUtilization: GROW_UTILIZATION,
      coolUtilization: COOL_UTILIZATION,
      growLateShare: GROW_LATE_SHARE,
      coolLateShare: COOL_LATE_SHARE,
    };
  }
  return {
    maxWorkers: workers,
    fixed: true,
    minChannelsPerWorker: 1,
    channelsPerWorker: 1,
    growUtilization: Infinity,
    coolUtilization: Infinity,
    growLateShare: Infinity,
    coolLateShare: Infinity,
  };
}

/**
 * Whether a shard is overloaded after a new sample, given whether it was before: it becomes so at
 * the grow marks and stops at the (lower) cool marks.
 */
export function isOverloaded(was: boolean, sample: ShardSample, policy: ShardPolicy): boolean {
  if (was) return sample.utilization >= policy.coolUtilization || sample.lateShare >= policy.coolLateShare;
  return sample.utilization >= policy.growUtilization || sample.lateShare >= policy.growLateShare;
}

/**
 * The index of the shard that takes the next channel, or `shards.length` to start a new shard:
 * the shard with the fewest channels among those that keep up (all of them with a fixed count).
 */
export function placeChannel(shards: readonly ShardLoad[], policy: ShardPolicy): number {
  if (shards.length === 0) return 0;
  let least = 0;
  let coolest = -1;
  for (let i = 0; i < shards.length; i++) {
    const s = shards[i]!;
    if (s.channels < shards[least]!.channels) least = i;
    if (!s.overloaded && (coolest === -1 || s.channels < shards[coolest]!.channels)) coolest = i;
  }
  const fewest = shards[least]!.channels;
  const canGrow = shards.length < policy.maxWorkers && fewest >= policy.minChannelsPerWorker;
  if (canGrow && (policy.fixed || fewest >= policy.channelsPerWorker || coolest === -1)) return shards.length;
  if (policy.fixed || coolest === -1) return least;
  return coolest;
}

/**
 * Offset of the clock epoch of the shard in place `slot` (0, 1, ...) of an engine with at most
 * `maxWorkers` shards: its phase buckets fall between those of the other shards (2 workers: 2 ms
 * apart, half the 4 ms between buckets), so two workers' bursts of sends take turns on the cores
 * instead of colliding (what a third thread, the bot's main thread or another process, then waits
 * for).
 */
export function shardClockOffsetMs(slot: number, maxWorkers: number): number {
  const spacing = FRAME_DURATION_MS / DEFAULT_PHASE_BUCKETS;
  const places = Math.max(1, maxWorkers);
  return ((slot % places) * spacing) / places;
}
