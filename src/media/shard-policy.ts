/**
 * Where the worker engine puts a new channel: on one of its worker shards, or on a new one. Pure
 * (loads passed in), so the policy is tested without threads.
 *
 * A channel cannot move between workers once open (its UDP socket and RTP state live there), so
 * the decision is made at open time, from two signals:
 * - measured load: every shard's event-loop utilisation is at or above `growUtilization` (its
 *   clock is busy most of each 20 ms period, and lateness grows next), and
 * - a count ceiling: every shard holds `channelsPerWorker` channels, for bots that join many
 *   channels before they play (idle channels show no load yet).
 * Either one grows, but never before every shard holds `minChannelsPerWorker` channels: a worker
 * costs ~10 MB, and a second one costs CPU too (two clocks wake up: 1.4x CPU per packet at N = 100).
 * Load alone grows only while the machine has a spare core (1-minute load average below the cores
 * by `MIN_SPARE_CORES`): on an oversubscribed machine a busy worker is starved, not short of a
 * thread, and another one would not get a core of its own either.
 */
import os from 'node:os';

export interface ShardLoad {
  /** Channels open (or opening) on the shard. */
  channels: number;
  /** Event-loop utilisation of the shard's thread over its last sample, 0..1. */
  utilization: number;
}

export interface ShardPolicy {
  /** Most shards the engine runs. */
  maxWorkers: number;
  /** A fixed count (`workers: K`): start the next shard as soon as every shard has a channel. */
  fixed: boolean;
  minChannelsPerWorker: number;
  channelsPerWorker: number;
  growUtilization: number;
}

/** 'auto': grow only once every worker has this many channels. */
export const MIN_CHANNELS_PER_WORKER = 128;
/** 'auto': grow once every worker has this many channels, busy or not. */
export const CHANNELS_PER_WORKER = 300;
/** 'auto': grow once every worker's event loop is busy this share of the time. */
export const GROW_UTILIZATION = 0.5;
/** 'auto': measured load grows only with at least this much idle CPU (cores minus load average). */
export const MIN_SPARE_CORES = 0.5;
/** 'auto' never runs more workers than this (nor more than the cores available). */
export const MAX_AUTO_WORKERS = 4;

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Idle cores now: the cores minus the 1-minute load average (which is 0 on Windows). */
export function spareCores(): number {
  return cores() - (os.loadavg()[0] ?? 0);
}

/** The policy for the engine's `workers` option (validated by the caller). */
export function shardPolicy(workers: number | 'auto', available = cores()): ShardPolicy {
  if (workers === 'auto') {
    return {
      maxWorkers: Math.max(1, Math.min(MAX_AUTO_WORKERS, available)),
      fixed: false,
      minChannelsPerWorker: MIN_CHANNELS_PER_WORKER,
      channelsPerWorker: CHANNELS_PER_WORKER,
      growUtilization: GROW_UTILIZATION,
    };
  }
  return {
    maxWorkers: workers,
    fixed: true,
    minChannelsPerWorker: 1,
    channelsPerWorker: 1,
    growUtilization: 0,
  };
}

/**
 * The index of the shard that takes the next channel (the one with the fewest channels), or
 * `shards.length` to start a new shard. `spare`: idle cores (see spareCores()).
 */
export function placeChannel(shards: readonly ShardLoad[], policy: ShardPolicy, spare = Infinity): number {
  if (shards.length === 0) return 0;
  let least = 0;
  for (let i = 1; i < shards.length; i++) if (shards[i]!.channels < shards[least]!.channels) least = i;
  if (shards.length >= policy.maxWorkers) return least;
  const fewest = shards[least]!.channels;
  if (fewest < policy.minChannelsPerWorker) return least;
  if (policy.fixed || fewest >= policy.channelsPerWorker) return shards.length;
  if (spare < MIN_SPARE_CORES) return least;
  const busy = shards.every((s) => s.utilization >= policy.growUtilization);
  return busy ? shards.length : least;
}
