/** Joining voice channels: the public face of src/gateway. */
export { joinVoiceChannel, getVoiceConnection, getVoiceConnections, getGroups } from './registry.js';
export type { JoinVoiceChannelOptions } from './registry.js';
export { VoiceConnection } from './voice-connection.js';
export type {
  DestroyReason,
  DisconnectReason,
  JoinConfig,
  ReconnectAttempt,
  VoiceConnectionEvents,
  VoiceConnectionOptions,
  VoiceConnectionState,
  VoiceConnectionStatus,
} from './voice-connection.js';
export type { ConnectCause, JoinPhase, JoinState, MissingDispatch, VoiceCredentials } from './join-state.js';
export type { Playback, SessionSubscriber } from './playback.js';
export type { BackoffOptions } from './backoff.js';
export type {
  GatewayVoiceServerData,
  GatewayVoiceStateData,
  VoiceAdapterCreator,
  VoiceAdapterImplementerMethods,
  VoiceAdapterLibraryMethods,
  VoiceStateUpdatePayload,
} from './adapter.js';
export { createGatewayClient, GatewayClient } from './builtin-gateway.js';
export type { GatewayClientEvents, GatewayClientOptions, GatewayClientStatus } from './builtin-gateway.js';
