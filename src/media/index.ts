/** The media engine's public face (the package root re-exports it). */
export { createMediaEngine } from './create-engine.js';
export type { CreateMediaEngineOptions } from './create-engine.js';
export type {
  DiscoveredAddress,
  FileFeedEnd,
  FileFeedOptions,
  MediaFileFeed,
  FrameProtection,
  MediaChannel,
  MediaChannelEvents,
  MediaChannelOptions,
  MediaChannelStats,
  MediaEngine,
  MediaEngineStats,
  EngineWorkerStats,
  MediaWorkerReady,
  ReceivedRtp,
  RtpDropReason,
  SendCounts,
  SendDropReason,
  VoxcordMediaEngine,
} from './media-engine.js';
export type { ChannelTuning } from './udp-channel.js';
export type { SendQueueOptions } from './send-queue.js';
export { summarizeLateness } from './lateness-histogram.js';
export type { LatenessData, LatenessSummary } from './lateness-histogram.js';
export type { PacingClockStats } from './clock.js';
export type { RealtimeOutcome } from './realtime.js';
export { supportRealtimeWorkers } from './realtime.js';
