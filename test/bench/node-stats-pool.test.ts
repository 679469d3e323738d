/**
 * bench/node-stats-pool.ts: the node bench's pooled collection of channel stats answers for every
 * channel in order, never has more than `limit` requests in flight, and turns a failed request into
 * undefined (a channel closed meanwhile) without failing the rest.
 */
import { describe, expect, it } from 'vitest';
import { pooledChannelStats } from '../../bench/node-stats-pool.js';
import type { MediaChannel, MediaChannelStats } from '../../src/media/index.js';

function fakeChannels(n: number, failAt: number): { channels: MediaChannel[]; peak: () => number } {
  let inFlight = 0;
  let peak = 0;
  const channels = Array.from({ length: n }, (_, i) => ({
    stats: async (): Promise<MediaChannelStats> => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 3));
      inFlight--;
      if (i === failAt) throw new Error('closed');
      return { packetsSent: i } as MediaChannelStats;
    },
  })) as unknown as MediaChannel[];
  return { channels, peak: () => peak };
}

describe('pooledChannelStats', () => {
  it('answers every channel in order with at most `limit` requests in flight', async () => {
    const { channels, peak } = fakeChannels(53, 17);
    const stats = await pooledChannelStats(channels, 5);
    expect(stats).toHaveLength(53);
    expect(stats.map((s) => s?.packetsSent)).toEqual(
      Array.from({ length: 53 }, (_, i) => (i === 17 ? undefined : i)),
    );
    expect(peak()).toBe(5);
  });

  it('with no limit asks every channel at once (the old burst)', async () => {
    const { channels, peak } = fakeChannels(20, -1);
    await pooledChannelStats(channels, Infinity);
    expect(peak()).toBe(20);
  });
});
