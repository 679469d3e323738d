/** The voice gateway client: session, state machine, socket, heartbeat, transmit pump and codec. */
export { VoiceSession, entersState, chooseEncryptionMode } from './session.js';
export type { VoiceSessionOptions, VoiceSessionEvents, SpeakingUpdate } from './session.js';
export { nextState, isActive } from './session-state.js';
export type { VoiceSessionState, VoiceSessionStatus, VoiceSessionEvent } from './session-state.js';
export { VoiceSocket, voiceSocketUrl } from './voice-socket.js';
export type { VoiceSocketOptions, VoiceSocketEvents, VoiceTlsOptions } from './voice-socket.js';
export { HeartbeatTracker } from './heartbeat.js';
export type { HeartbeatTick } from './heartbeat.js';
export { transmit } from './transmit.js';
export type { SessionTransmission, Transmission, TransmitLink, TransmitOptions } from './transmit.js';
export * from '../protocol/voice-messages.js';
export { SessionDave } from './session-dave.js';
export type {
  AudioFrame,
  DaveDecryptFailure,
  VoiceDave,
  VoiceDaveStats,
  VoiceSendStats,
  ReceiveOutcome,
} from './session-dave.js';
