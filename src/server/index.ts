/**
 * The local Discord, as a face: the voice server wing (voice-server.ts: voice gateway, SFU, DAVE
 * delivery service), the main gateway wing (main-gateway.ts) and both together
 * (local-discord.ts). No code here.
 */
export { startLocalDiscord } from './local-discord.js';
export type { LocalDiscord, LocalDiscordOptions, LocalDiscordOperatorControls } from './local-discord.js';
export { startMainGateway } from './main-gateway.js';
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
} from './main-gateway.js';
export type { ApplicationCommandRecord } from './discord-model.js';
export { startVoiceServer } from './voice-server.js';
export type { VoiceServer } from './voice-server.js';
export { generateSelfSignedCertificate } from './tls.js';
export type { TlsCertificate } from './tls.js';
export type { AllocateRequest, Allocation } from './client-session.js';
export type { FaultOptions, HandshakeStep, UdpFaults, WsFaults, UdpFaultKind } from './faults.js';
export type { CallDaveService, CallParticipant, CallView, DaveServiceFactory } from './dave/hooks.js';
export type {
  CallInfo,
  DaveCallState,
  DaveTransitionState,
  ParticipantInfo,
  ServerEvent,
  ServerEventType,
  SfuStats,
  VoiceServerOptions,
} from './types.js';
export type { WithheldReason } from './forwarding.js';
