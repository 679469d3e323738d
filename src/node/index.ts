/** A Lavalink v4-compatible audio node (`voxcord node`): the public face of src/node. */
export { startNode, nodeVersion, DEFAULT_NODE_PORT } from './server.js';
export type { NodeOptions, VoxcordNode } from './server.js';
export { createVoiceBackend } from './voice-backend.js';
export type { VoiceBackendOptions } from './voice-backend.js';
export { createTimelineBackend } from './timeline-backend.js';
export type { TimelineBackendOptions, TimelinePlayer } from './timeline-backend.js';
export type {
  NodePlayerBackend,
  BackendPlayer,
  BackendPlayerContext,
  BackendPlayerListener,
  FrameCounts as NodeFrameCounts,
  PlayableTrack,
  PlayOptions as NodePlayOptions,
  VoiceCredentials as NodeVoiceCredentials,
} from './backend.js';
export { decodeTrack, encodeTrack, LIVE_STREAM_LENGTH } from './track-codec.js';
export type { DecodedTrack, EncodeTrackInput, TrackInfo } from './track-codec.js';
export { loadTracks } from './sources.js';
export type { SourceName, SourceOptions } from './sources.js';
export type { ApiException, ApiTrack, JsonObject, LoadResult, Severity } from './types.js';
