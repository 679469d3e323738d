/**
 * The contract between a VoiceSession and the DAVE implementation it drives: the session feeds
 * decoded DAVE-relevant gateway messages in arrival order and asks for frame encryption and
 * decryption; the endpoint answers with client messages to send and change notifications. Our
 * implementation is DaveClient (dave-client.ts); tests plug in another one (davey) through the
 * same interface to put independent implementations into one call.
 */
import type { VoxcordError } from '../errors.js';
import type { DaveSendKey } from './send-key.js';
import { VoiceOpcode } from '../protocol/constants.js';
import type { ServerMessage } from '../protocol/voice-messages.js';

/** What an endpoint needs from the gateway, already decoded (JSON fields) or as binary payloads. */
export type DaveInbound =
  /** Op 4: the session's initial DAVE protocol version. */
  | { op: typeof VoiceOpcode.SessionDescription; protocolVersion: number }
  | { op: typeof VoiceOpcode.ClientsConnect; userIds: string[] }
  | { op: typeof VoiceOpcode.ClientDisconnect; userId: string }
  | { op: typeof VoiceOpcode.DavePrepareTransition; transitionId: number; protocolVersion: number }
  | { op: typeof VoiceOpcode.DaveExecuteTransition; transitionId: number }
  | {
      op: typeof VoiceOpcode.DavePrepareEpoch;
      epoch: number;
      protocolVersion: number;
      transitionId: number | undefined;
    }
  | {
      op:
        | typeof VoiceOpcode.DaveMlsExternalSender
        | typeof VoiceOpcode.DaveMlsProposals
        | typeof VoiceOpcode.DaveMlsAnnounceCommitTransition
        | typeof VoiceOpcode.DaveMlsWelcome;
      payload: Uint8Array;
    };

/** What an endpoint sends: ops 23 and 31 (JSON), 26 and 28 (binary, payload after the op byte). */
export type DaveClientMessage =
  | {
      op: typeof VoiceOpcode.DaveTransitionReady | typeof VoiceOpcode.DaveMlsInvalidCommitWelcome;
      d: { transition_id: number };
    }
  | {
      op: typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome;
      payload: Uint8Array;
    };

/** The call-level view after a change (new epoch, reset, version change). */
export interface DaveEpochInfo {
  /** Executed protocol version (0 = transport only, frames are plain Opus). */
  protocolVersion: number;
  /** MLS epoch of the established group, undefined without one. */
  epoch: bigint | undefined;
  /** 30-digit privacy code of that epoch, undefined without a group. */
  privacyCode: string | undefined;
}

export type DaveEndpointEvent =
  | ({ type: 'epoch' } & DaveEpochInfo)
  /** Rejected MLS input or a failed commit/welcome (details.reason says why); never fatal. */
  | { type: 'error'; error: VoxcordError }
  /** Our send key changed (op 22, a transition, a reset): read sendKey() and hand it to the engine. */
  | { type: 'sendKey' }
  | { type: 'debug'; message: string };

export interface DaveEndpointContext {
  userId: string;
  channelId: string;
  send(message: DaveClientMessage): void;
  notify(event: DaveEndpointEvent): void;
}

/** Why a received frame could not be turned into Opus. Implementations may add their own. */
export type DaveFrameFailure = { ok: false; reason: string };
export type DaveFrameResult = { ok: true; frame: Uint8Array } | DaveFrameFailure;

export interface DaveEndpoint {
  readonly protocolVersion: number;
  readonly epoch: bigint | undefined;
  readonly epochAuthenticator: Uint8Array | undefined;
  readonly privacyCode: string | undefined;
  /** Feeds one message; must be called in arrival order. Never throws. */
  handle(message: DaveInbound): void;
  /** The frame to send, or null to drop it (no key yet). Silence passes unencrypted. */
  encrypt(opus: Uint8Array): Uint8Array | null;
  /** True when encrypt() would send (a send key or passthrough is in force); absent = unknown. */
  readonly canEncrypt?: boolean;
  /**
   * Our current send key for the media engine, which then encrypts each frame as it leaves (with
   * the key in force at that moment); a 'sendKey' event follows every change, after which the
   * endpoint may release the old key (its frames then count as no-key). Endpoints without it have
   * their frames encrypted by encrypt() before they are queued.
   */
  sendKey?(): DaveSendKey;
  decrypt(userId: string, frame: Uint8Array): DaveFrameResult;
  /** 45-digit pairwise verification code with a member of the current group. */
  verificationCode(userId: string): Promise<string>;
  /** Resolves once every message handed to handle() so far has been processed. */
  settled(): Promise<void>;
  /** Drops every secret; later calls do nothing (encrypt returns null). */
  destroy(): void;
}

export type DaveEndpointFactory = (context: DaveEndpointContext) => DaveEndpoint;

/** The DAVE-relevant part of a decoded server message, or undefined for anything else. */
export function daveInboundOf(message: ServerMessage): DaveInbound | undefined {
  switch (message.op) {
    case VoiceOpcode.SessionDescription:
      return { op: message.op, protocolVersion: message.d.dave_protocol_version };
    case VoiceOpcode.ClientsConnect:
      return { op: message.op, userIds: [...message.d.user_ids] };
    case VoiceOpcode.ClientDisconnect:
      return { op: message.op, userId: message.d.user_id };
    case VoiceOpcode.DavePrepareTransition:
      return {
        op: message.op,
        transitionId: message.d.transition_id,
        protocolVersion: message.d.protocol_version,
      };
    case VoiceOpcode.DaveExecuteTransition:
      return { op: message.op, transitionId: message.d.transition_id };
    case VoiceOpcode.DavePrepareEpoch:
      return {
        op: message.op,
        epoch: message.d.epoch,
        protocolVersion: message.d.protocol_version,
        transitionId: message.d.transition_id,
      };
    case VoiceOpcode.DaveMlsExternalSender:
    case VoiceOpcode.DaveMlsProposals:
    case VoiceOpcode.DaveMlsAnnounceCommitTransition:
    case VoiceOpcode.DaveMlsWelcome:
      return { op: message.op, payload: message.payload };
    default:
      return undefined;
  }
}
