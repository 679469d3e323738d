/**
 * The media engine in the calling thread. All inline engines of a process share one pacing clock
 * (created on first use, idle when no channel is open), so every channel's ticks are spread over
 * the same 20 ms period.
 */
import { VoxcordError } from '../errors.js';
import { ENGINE_SLOTS_PER_BUCKET, PacingClock } from './clock.js';
import type { MediaChannel, MediaChannelOptions, MediaEngine, MediaEngineStats } from './media-engine.js';
import { openUdpChannel } from './udp-channel.js';
import type { ChannelTuning, UdpMediaChannel } from './udp-channel.js';

let processClock: PacingClock | undefined;

/** The process-wide clock used by inline engines. */
export function sharedClock(): PacingClock {
  // Fill-first buckets, as in the worker: a small bot's channels all send in one wake-up per 20 ms.
  processClock ??= new PacingClock({ slotsPerBucket: ENGINE_SLOTS_PER_BUCKET });
  return processClock;
}

export interface InlineEngineOptions {
  /** Defaults to the process-wide clock. */
  clock?: PacingClock;
  channel?: ChannelTuning;
}

export class InlineMediaEngine implements MediaEngine {
  readonly kind = 'inline' as const;
  private readonly clock: PacingClock;
  private readonly tuning: ChannelTuning;
  private readonly channels = new Set<UdpMediaChannel>();
  private closed = false;

  constructor(options: InlineEngineOptions = {}) {
    this.clock = options.clock ?? sharedClock();
    this.tuning = options.channel ?? {};
  }

  async openChannel(options: MediaChannelOptions): Promise<MediaChannel> {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media engine is closed');
    // onClosed runs only on close(), after the assignment: forget channels closed by their owner.
    const channel: UdpMediaChannel = await openUdpChannel(options, this.clock, this.tuning, () => {
      this.channels.delete(channel);
    });
    if (this.closed) {
      channel.close();
      throw new VoxcordError('DESTROYED', 'media engine closed while opening a channel');
    }
    this.channels.add(channel);
    return channel;
  }

  /** The clock's counters are those of the clock this engine uses (shared by default). */
  async stats(): Promise<MediaEngineStats> {
    const clock = this.clock.stats();
    return {
      workers: 0,
      channels: this.channels.size,
      workerCrashes: 0,
      framesLostInCrashes: 0,
      clock,
      perWorker: [],
    };
  }

  /** Closes every channel. The shared clock stops by itself once no slot is registered. */
  async close(): Promise<void> {
    this.closed = true;
    for (const channel of [...this.channels]) channel.close();
    this.channels.clear();
  }
}
