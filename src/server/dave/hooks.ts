/**
 * The DAVE hook contract of the local voice server: what a call tells its DAVE service, and what
 * the service sees of the call. The only file both sides import (call.ts drives these hooks,
 * dave/adapter.ts implements them), so neither imports the other.
 *
 * `startVoiceServer({ dave })` takes a `DaveServiceFactory` (default: the built-in one,
 * src/server/dave/adapter.ts), called once per call when the call is created. The returned
 * `CallDaveService` is told about everything DAVE needs:
 *
 * - `protocolVersion(participant)`: the `dave_protocol_version` put in that newcomer's op 4
 *   (called right before op 4 is sent; default 0). The participant's
 *   `maxDaveProtocolVersion` (from Identify, 0 when absent) is available.
 * - `onJoin(participant)`: after op 4, op 11 (others) and the others' op 5 were sent to the
 *   newcomer, and op 11 (newcomer) to the others. Binary frames may be sent from here on
 *   (never before op 4: `participant.joined` is true exactly from this point).
 * - `onLeave(participant)`: the participant left (clean close, grace period expired, kick,
 *   timeout, re-identify elsewhere); op 13 was already sent to the remaining participants.
 * - `onBinary(participant, op, payload)`: a client sent binary op 26 (key package) or 28
 *   (commit/welcome); `payload` excludes the opcode byte.
 * - `onTransitionReady(participant, transitionId)` (op 23) and
 *   `onInvalidCommitWelcome(participant, transitionId)` (op 31).
 * - `close()`: the call ended (last participant left) or the server is stopping.
 * - `state()` (optional): what `server.daveState()` reports for the call.
 *
 * The service sends with `participant.sendJson(message)` (ops 21/22/24, stamped with the
 * session's seq) and `participant.sendBinary(op, payload)` (ops 25/27/29/30: frame = seq u16 BE ‖
 * op ‖ payload, same seq counter, buffered for Resume). Both return the seq used. Messages sent
 * while the client is detached are delivered on Resume. `call.participants()` lists the joined
 * participants; the SFU already enforces the transition rule of media.md §8.4: a payload ending in
 * `FA FA` is never forwarded to a participant whose `maxDaveProtocolVersion` is 0.
 */
import type { VoiceOpcode } from '../../protocol/constants.js';
import type { BinaryServerOpcode, ServerJsonMessage } from '../client-session.js';

/** What the DAVE service sees of one participant. */
export interface CallParticipant {
  readonly userId: string;
  readonly ssrc: number;
  readonly maxDaveProtocolVersion: number;
  /** Op 4 was sent: binary frames are allowed. */
  readonly joined: boolean;
  /** A websocket is attached (false during the resume grace period; messages are buffered). */
  readonly attached: boolean;
  sendJson(message: ServerJsonMessage): number;
  sendBinary(op: BinaryServerOpcode, payload: Uint8Array): number;
}

export interface CallView {
  readonly guildId: string;
  readonly channelId: string;
  /** Joined participants (op 4 sent), in join order. */
  participants(): CallParticipant[];
}

export interface CallDaveService {
  protocolVersion?(participant: CallParticipant): number;
  onJoin?(participant: CallParticipant): void;
  onLeave?(participant: CallParticipant): void;
  onBinary?(
    participant: CallParticipant,
    op: typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome,
    payload: Uint8Array,
  ): void;
  onTransitionReady?(participant: CallParticipant, transitionId: number): void;
  onInvalidCommitWelcome?(participant: CallParticipant, transitionId: number): void;
  close?(): void;
  state?(): DaveCallState;
}

export type DaveServiceFactory = (call: CallView) => CallDaveService;

/** A transition the DAVE service started (dave.md §7.5, §7.6, §7.8). */
export interface DaveTransitionState {
  transitionId: number;
  protocolVersion: number;
  /** commit: op 29/30; downgrade: op 21 v0; upgrade / sole-member-reset: op 24 epoch 1 (no op 22). */
  kind: 'commit' | 'downgrade' | 'upgrade' | 'sole-member-reset';
  /** Server epoch when it started (after the commit for 'commit'). */
  epoch: number;
  /** Op 22 was sent (always true for op 24 transitions, which nobody waits for). */
  executed: boolean;
  /** Op 22 went out because the op 23 wait timed out. */
  timedOut: boolean;
}

/** The DAVE view of one call (`server.daveState`). */
export interface DaveCallState {
  /** The call's protocol version: 0 while any participant lacks DAVE. */
  protocolVersion: number;
  /** Server view of the MLS epoch (0 while no group is established). */
  epoch: number;
  established: boolean;
  /** MLS group members in leaf order. */
  members: string[];
  /** Per joined user: the DAVE version it runs now (what op 4 would say). */
  sessionVersions: Record<string, number>;
  lastTransition: DaveTransitionState | null;
  /** Client op 26/28 messages refused so far. */
  rejected: number;
  /** Outputs addressed to a user no longer in the call (dropped). */
  undeliverable: number;
}
