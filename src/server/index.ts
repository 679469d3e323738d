/**
 * The local Discord, as a face: the voice server wing (voice-server.ts: voice gateway, SFU, DAVE
 * delivery service), the main gateway wing (main-gateway.ts) and both together
 * (local-discord.ts). No code here.
 */
export { startVoiceServer } from './voice-server.js';
export type { VoiceServer } from './voice-server.js';
export type { AllocateRequest, Allocation } from './client-session.js';
export type { FaultOptions, HandshakeStep, UdpFaults, WsFaults } from './faults.js';
export type { CallDaveService, CallParticipant, CallView, DaveServiceFactory } from './dave/hooks.js';
export type {
  CallInfo,
  DaveCallState,
  DaveTransitionState,
  ParticipantInfo,
  ServerEvent,
  SfuStats,
  VoiceServerOptions,
} from './types.js';
export { createDaveServiceFactory } from './dave/adapter.js';
export type { DaveAdapterOptions, DaveCallAdapter } from './dave/adapter.js';
export { generateSelfSignedCertificate } from './tls.js';
export type { VoiceFlags, WithheldReason } from './forwarding.js';
export type { TlsCertificate } from './tls.js';
export * from './main-gateway.js';
export * from './local-discord.js';
