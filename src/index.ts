/**
 * voxcord: Discord voice for Node.js bots.
 *
 * The package root only re-exports the folders' faces (their index.ts). Every type a public
 * signature uses is exported; internals are not. api/voxcord.api.md records the result
 * (`npm run api:report`), and test/api/api-report.test.ts keeps it current.
 */
export { VoxcordError, isVoxcordError } from './errors.js';
export type { VoxcordErrorCode } from './errors.js';
export * as protocol from './protocol/index.js';
export * from './util/index.js';

// Joining voice channels (the usual entry point)
export * from './gateway/index.js';

// Voice session (one voice websocket + UDP media, given credentials), its DAVE endpoint contract
export * from './voice/index.js';
export type * from './dave/index.js';

// Media engine
export * from './media/index.js';

// What voxcord runs on here (`voxcord doctor`)
export { generateDependencyReport } from './diagnostics/dependency-report.js';
export type { DependencyReportOptions } from './diagnostics/dependency-report.js';

// Audio, playing, receiving
export * from './audio/index.js';
export * from './player/index.js';
export * from './receive/index.js';

// The local Discord (main gateway subset, voice gateway, SFU, DAVE delivery service).
// src/server/index.ts still holds startVoiceServer itself, so its names are listed here.
export { startLocalDiscord } from './server/local-discord.js';
export type {
  LocalDiscord,
  LocalDiscordOptions,
  LocalDiscordOperatorControls,
} from './server/local-discord.js';
export { startMainGateway } from './server/main-gateway.js';
export type {
  GatewayBotInfo,
  MainGateway,
  MainGatewayGuild,
  MainGatewayLogEvent,
  MainGatewayOptions,
  MainGatewayVoiceServer,
  LocalChannelSpec,
  PermissionOverwriteSpec,
  LocalMessage,
  LocalMessageKind,
  LocalInteraction,
  MessageFilter,
  VoiceEventOrder,
  VoiceFlags,
  VoiceStateInfo,
} from './server/main-gateway.js';
export type { ApplicationCommandRecord } from './server/rest-api.js';
export { startVoiceServer, generateSelfSignedCertificate } from './server/index.js';
export type {
  AllocateRequest,
  Allocation,
  CallDaveService,
  CallInfo,
  CallParticipant,
  CallView,
  DaveCallState,
  DaveServiceFactory,
  DaveTransitionState,
  FaultOptions,
  HandshakeStep,
  ParticipantInfo,
  ServerEvent,
  SfuStats,
  TlsCertificate,
  UdpFaults,
  VoiceServer,
  VoiceServerOptions,
  WithheldReason,
  WsFaults,
} from './server/index.js';
export type { ServerEventType } from './server/types.js';
export type { UdpFaultKind } from './server/faults.js';

// A Lavalink v4-compatible audio node (`voxcord node`)
export * from './node/index.js';
