/**
 * Every channel's stats from a worker media engine with at most `limit` requests in flight. Asking
 * all P at once makes the worker answer P requests back to back between two ticks (each reply a
 * structured clone of a lateness histogram): at P = 500 such a collection took 30-60 ms of wall
 * time on a loaded machine, holding the worker's clock for much of it, so the node bench's own
 * collection may make frames late in the windows it measures. bench/node-collect.ts measures this;
 * it was not shown over the noise of a loaded machine yet, so the node bench pools only with
 * VOXCORD_BENCH_COLLECT=pooled. A pool keeps each of the worker's turns short.
 */
import type { MediaChannel, MediaChannelStats } from '../src/media/index.js';

export const STATS_IN_FLIGHT = 50;

export async function pooledChannelStats(
  channels: readonly MediaChannel[],
  limit: number = STATS_IN_FLIGHT,
): Promise<(MediaChannelStats | undefined)[]> {
  const out = new Array<MediaChannelStats | undefined>(channels.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < channels.length) {
      const i = next++;
      out[i] = await channels[i]!.stats().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, channels.length)) }, lane));
  return out;
}
