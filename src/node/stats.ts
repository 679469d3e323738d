/**
 * Stats: the node's load (real CPU and memory, mapped onto Lavalink's JVM-shaped fields) and each
 * session's frameStats. Memory mapping (documented in docs/voxcord-node.md): used = allocated = RSS,
 * reservable = the memory the process may use (its cgroup limit, else the machine's total),
 * free = reservable − used.
 */
import os from 'node:os';
import { FRAME_DURATION_MS } from '../protocol/constants.js';
import type { FrameCounts } from './backend.js';
import type { FrameStats, Stats } from './types.js';

/** CPU is recomputed at most this often, as Lavalink does. */
export const CPU_SAMPLE_INTERVAL_MS = 30_000;
/** A gap between tracks longer than this breaks a player's continuous minute. */
export const FRAME_STATS_MAX_GAP_MS = 100;

function cpuTicks(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export class LoadSampler {
  private readonly cores =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  private lastAt: number;
  private lastCpu: NodeJS.CpuUsage;
  private lastTicks: { idle: number; total: number };
  private cached: Stats['cpu'];
  private cachedAt = -Infinity;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastAt = now();
    this.lastCpu = process.cpuUsage();
    this.lastTicks = cpuTicks();
    this.cached = { cores: this.cores, systemLoad: 0, lavalinkLoad: 0 };
  }

  cpu(): Stats['cpu'] {
    const now = this.now();
    if (now - this.cachedAt < CPU_SAMPLE_INTERVAL_MS) return this.cached;
    const cpu = process.cpuUsage();
    const ticks = cpuTicks();
    const wallUs = (now - this.lastAt) * 1000;
    const usedUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const dTotal = ticks.total - this.lastTicks.total;
    const dIdle = ticks.idle - this.lastTicks.idle;
    if (wallUs > 0) {
      const clamp = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
      this.cached = {
        cores: this.cores,
        systemLoad: dTotal > 0 ? clamp(1 - dIdle / dTotal) : 0,
        lavalinkLoad: clamp(usedUs / wallUs / this.cores),
      };
      this.lastAt = now;
      this.lastCpu = cpu;
      this.lastTicks = ticks;
      this.cachedAt = now;
    }
    return this.cached;
  }

  memory(): Stats['memory'] {
    const rss = process.memoryUsage.rss();
    const total = os.totalmem();
    const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
    const reservable =
      constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
    return { free: Math.max(0, reservable - rss), used: rss, allocated: rss, reservable };
  }
}

/**
 * Counts older than this at a sample no longer vouch for the time since: the window runs to the
 * sample and the silence is deficit (a media worker that stopped reporting is not keeping time).
 * Healthy reports come every refill period (about 200 ms) for a player the AudioPlayer feeds, and
 * every second, sent within half a second, for a file the media worker plays itself (file-feed.ts);
 * later only when the engine is behind.
 */
export const FRAME_STATS_MAX_COUNTS_AGE_MS = 2000;

/** What frameStats needs from one player at a sampling instant. */
export interface FrameSample {
  key: object;
  /** Cumulative counters; undefined for a player without audio (never counted). */
  frames: FrameCounts | undefined;
  /** Since when the player has played without a pause or a gap over 100 ms; undefined if not playing. */
  continuousSince: number | undefined;
}

/** A player's counts at a sample; `reportAt`: when the engine reported them (`at` may be the sample's time instead). */
type FrameSnapshot = Required<FrameCounts> & { reportAt: number };

/**
 * One session's frameStats over the window since the previous sample (the stats interval, 60 s
 * by default): only players playing through the whole window count; sent and nulled are averaged
 * per counted player and deficit = expected − (sent + nulled), expected = window / 20 ms.
 *
 * Counts and expected cover the same span: a player's counts come from the media engine's last
 * report, as of its `at`, so its window runs from the `at` of the previous sample's counts to the
 * `at` of this one's (with a media worker, up to a refill period before the sample). Measured to
 * the sample instead, a report lagging more at one end than at the other showed as a deficit (or
 * a surplus) of frames that were sent on time. Spans telescope: a frame missing from one window
 * is missing from the sum of all of them.
 */
export class FrameStatsWindow {
  private previous = new WeakMap<object, FrameSnapshot>();
  private previousAt: number | undefined;

  /**
   * `now`: the clock of `continuousSince`; `countsNow`: the clock of `frames.at`, read at the same
   * instant (performance.now() in the node; default: `now`).
   */
  sample(now: number, players: readonly FrameSample[], countsNow = now): FrameStats | null {
    const windowStart = this.previousAt;
    const next = new WeakMap<object, FrameSnapshot>();
    let counted = 0;
    let sent = 0;
    let nulled = 0;
    let expectedMs = 0;
    for (const p of players) {
      if (p.frames === undefined) continue;
      const at = p.frames.at;
      // No time, or a time ahead: counts of now.
      const reportAt = at === undefined || at > countsNow ? countsNow : at;
      const snapshot = {
        sent: p.frames.sent,
        nulled: p.frames.nulled,
        at: countsNow - reportAt > FRAME_STATS_MAX_COUNTS_AGE_MS ? countsNow : reportAt,
        reportAt,
      };
      next.set(p.key, snapshot);
      const before = this.previous.get(p.key);
      if (windowStart === undefined || before === undefined) continue;
      if (p.continuousSince === undefined || p.continuousSince > windowStart) continue;
      // Its counts' span starts at the previous report, which can precede the sample by a report
      // period: a player that started playing after that report would show the time before as
      // deficit. Counts too old to vouch (their span starts at the sample) but older than the
      // start do not hold the frames sent between the two: they would show as a surplus.
      if (p.continuousSince + (countsNow - now) > before.reportAt) continue;
      // No report since the last sample (a file feed reports once a second): its counts span
      // nothing here, and averaged in they would pull the others' sent down. The next window has them.
      if (snapshot.at === before.at) continue;
      counted++;
      sent += snapshot.sent - before.sent;
      nulled += snapshot.nulled - before.nulled;
      expectedMs += snapshot.at - before.at;
    }
    this.previous = next;
    this.previousAt = now;
    if (windowStart === undefined || counted === 0) return null;
    return {
      sent: Math.round(sent / counted),
      nulled: Math.round(nulled / counted),
      deficit: Math.round((expectedMs / FRAME_DURATION_MS - (sent + nulled)) / counted),
    };
  }
}
