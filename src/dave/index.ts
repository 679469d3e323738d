/**
 * DAVE's public face: the endpoint contract a voice session drives (`VoiceSessionOptions.daveEndpoint`)
 * and the send key a media engine encrypts with. The MLS layer and frame codecs stay inside.
 */
export type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointContext,
  DaveEndpointEvent,
  DaveEndpointFactory,
  DaveEpochInfo,
  DaveFrameFailure,
  DaveFrameResult,
  DaveInbound,
} from './dave-endpoint.js';
export type { DaveSendKey, DaveSendMode } from './send-key.js';
