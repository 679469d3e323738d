/** The voice gateway client's public face: one voice websocket + UDP media, given credentials. */
export { VoiceSession } from './session.js';
export type { VoiceSessionOptions, VoiceSessionEvents, SpeakingUpdate } from './session.js';
export type { VoiceSessionState, VoiceSessionStatus } from './session-state.js';
export type { VoiceTlsOptions } from './voice-socket.js';
export type { SessionTransmission, Transmission } from './transmit.js';
export type { FeedTransmission } from './feed-transmission.js';
export type {
  AudioFrame,
  DaveDecryptFailure,
  VoiceDave,
  VoiceDaveStats,
  VoiceSendStats,
} from './session-dave.js';
export type { InboundStats } from './inbound.js';
