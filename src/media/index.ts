/** Media engine entry point: pick where the media path runs. */
import { InlineMediaEngine } from './inline-engine.js';
import type { MediaEngine } from './media-engine.js';
import type { ChannelTuning } from './udp-channel.js';
import { WorkerMediaEngine } from './worker-engine.js';

export interface CreateMediaEngineOptions {
  /** 'inline' (default): this thread, one clock per process. 'worker': a worker thread with its own clock. */
  kind?: 'inline' | 'worker';
  /** Per-channel knobs (queue marks, keepalive and IP discovery timing, transport backend). */
  channel?: ChannelTuning;
  /** Worker engine only: transfer whole-buffer frames instead of copying them (see WorkerEngineOptions). */
  transferFrames?: boolean;
}

export function createMediaEngine(options: CreateMediaEngineOptions = {}): MediaEngine {
  const channel = options.channel ?? {};
  if (options.kind === 'worker') {
    return new WorkerMediaEngine({ channel, transferFrames: options.transferFrames ?? false });
  }
  return new InlineMediaEngine({ channel });
}

export type {
  MediaEngine,
  MediaChannel,
  MediaChannelOptions,
  MediaChannelStats,
  ReceivedRtp,
} from './media-engine.js';
export type { ChannelTuning } from './udp-channel.js';
export { InlineMediaEngine } from './inline-engine.js';
export { WorkerMediaEngine } from './worker-engine.js';
