/** voxcord: Discord voice for Node.js bots. */
export { VoxcordError, isVoxcordError } from './errors.js';
export type { VoxcordErrorCode } from './errors.js';
export * as protocol from './protocol/constants.js';

export { entersState } from './util/enters-state.js';

// Joining voice channels (the usual entry point)
export { joinVoiceChannel, getVoiceConnection, getVoiceConnections, getGroups } from './gateway/registry.js';
export type { JoinVoiceChannelOptions } from './gateway/registry.js';
export { VoiceConnection } from './gateway/voice-connection.js';
export type {
  VoiceConnectionState,
  VoiceConnectionStatus,
  VoiceConnectionEvents,
  ReconnectAttempt,
} from './gateway/voice-connection.js';
export type {
  VoiceAdapterCreator,
  VoiceAdapterLibraryMethods,
  VoiceAdapterImplementerMethods,
} from './gateway/adapter.js';
export { createGatewayClient, GatewayClient } from './gateway/builtin-gateway.js';
export type { GatewayClientOptions } from './gateway/builtin-gateway.js';

// Voice session (one voice websocket + UDP media, given credentials)
export { VoiceSession } from './voice/session.js';
export type { VoiceSessionOptions, VoiceSessionEvents, SpeakingUpdate } from './voice/session.js';
export type { VoiceSessionState, VoiceSessionStatus } from './voice/session-state.js';
export type { SessionTransmission, Transmission } from './voice/transmit.js';
export type { VoiceSendStats } from './voice/session-dave.js';

// Media engine
export { createMediaEngine } from './media/index.js';
export type { CreateMediaEngineOptions } from './media/index.js';
export type {
  MediaEngine,
  MediaChannel,
  MediaChannelStats,
  ReceivedRtp,
  RtpDropReason,
  SendDropReason,
  SendCounts,
  FrameProtection,
} from './media/media-engine.js';
export { summarizeLateness } from './media/lateness-histogram.js';
export type { LatenessData, LatenessSummary } from './media/lateness-histogram.js';

// What voxcord runs on here (`voxcord doctor`)
export { generateDependencyReport } from './diagnostics/dependency-report.js';
export type { DependencyReportOptions } from './diagnostics/dependency-report.js';

// Audio
export { loadOpus } from './audio/opus.js';
export type { OpusCodecFactory, OpusEncoder, OpusDecoder } from './audio/opus.js';
export { opusFrames } from './audio/frame-source.js';

// Playing
export * from './player/index.js';

// Receiving
export { VoiceReceiver } from './receive/receiver.js';
export { createWavWriter, createOggOpusWriter, recordWav, recordOggOpus } from './receive/recorder.js';
export type {
  AlignOptions,
  OggOpusOptions,
  RecordOggOpusOptions,
  RecordWavOptions,
  RecordingWriter,
  WavFormat,
} from './receive/recorder.js';
export { RecordingTimeline } from './receive/recording-timeline.js';
export { AudioByteStream } from './receive/byte-stream.js';
export type { AudioByteStreamOptions, ByteStreamFormat } from './receive/byte-stream.js';
export type { RecordingTimelineOptions } from './receive/recording-timeline.js';

// The local Discord (main gateway subset, voice gateway, SFU, DAVE delivery service)
export { startLocalDiscord } from './server/local-discord.js';
export type {
  LocalDiscord,
  LocalDiscordOptions,
  LocalDiscordOperatorControls,
} from './server/local-discord.js';
export { startMainGateway } from './server/main-gateway.js';
export type {
  MainGateway,
  MainGatewayOptions,
  MainGatewayGuild,
  LocalChannelSpec,
  PermissionOverwriteSpec,
  LocalMessage,
  LocalMessageKind,
  LocalInteraction,
  MessageFilter,
  VoiceEventOrder,
  VoiceFlags,
} from './server/main-gateway.js';
export { startVoiceServer, generateSelfSignedCertificate } from './server/index.js';
export type { VoiceServer, Allocation, FaultOptions, TlsCertificate } from './server/index.js';
export type { VoiceServerOptions, ServerEvent, ParticipantInfo } from './server/types.js';

// Receiving from a session or connection (`connection.receiver`)
export { createVoiceReceiver, attachReceiver } from './receive/session-feed.js';
export type { CreateVoiceReceiverOptions, ReceiverClockOptions } from './receive/session-feed.js';
export type {
  VoiceReceiverOptions,
  VoiceReceiverEvents,
  MixedOptions as ReceiverMixedOptions,
} from './receive/receiver.js';
export type {
  UserAudioStream,
  SubscribeOptions,
  ReceivedFrame,
  EndBehavior,
  ReceiveMode,
} from './receive/user-stream.js';
export type { UserReceiveStats, ReceiverTotals } from './receive/receive-stats.js';

// A Lavalink v4-compatible audio node (`voxcord node`)
export { startNode, nodeVersion, DEFAULT_NODE_PORT } from './node/server.js';
export type { NodeOptions, VoxcordNode } from './node/server.js';
export { createVoiceBackend } from './node/voice-backend.js';
export type { VoiceBackendOptions } from './node/voice-backend.js';
export { createTimelineBackend } from './node/timeline-backend.js';
export type {
  NodePlayerBackend,
  BackendPlayer,
  BackendPlayerContext,
  BackendPlayerListener,
  PlayableTrack,
  VoiceCredentials as NodeVoiceCredentials,
} from './node/backend.js';
export { decodeTrack, encodeTrack, LIVE_STREAM_LENGTH } from './node/track-codec.js';
export type { DecodedTrack, EncodeTrackInput, TrackInfo } from './node/track-codec.js';
export { loadTracks } from './node/sources.js';
