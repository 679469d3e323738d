/**
 * The protocol's public face (`protocol` in the package root): every constant, and the types of
 * the voice gateway messages that the local server's DAVE hooks send.
 */
export * from './constants.js';
export type {
  BinaryServerOp,
  ClientSpeakingData,
  HeartbeatData,
  HelloData,
  IdentifyData,
  PrepareEpochData,
  PrepareTransitionData,
  ReadyData,
  ResumeData,
  SelectProtocolData,
  ServerSpeakingData,
  SessionDescriptionData,
  TransitionData,
} from './voice-messages.js';
