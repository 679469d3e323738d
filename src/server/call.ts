/**
 * A call: one guild/channel media session on the local server and its participants. Owns the
 * join/leave/speaking fan-out (op 11, op 13, op 5) and the hook points of the DAVE delivery
 * service.
 *
 * ---- DAVE hook interface ----
 *
 * `startVoiceServer({ dave })` takes a `DaveServiceFactory` (default: the built-in one,
 * src/server/dave/adapter.ts), called once per call when the call is created. The returned `CallDaveService` is told about everything DAVE needs:
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
import { VoiceOpcode } from '../protocol/constants.js';
import type { ClientSession, ServerJsonMessage, BinaryServerOpcode } from './client-session.js';
import type { DaveCallState } from './types.js';

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

export function callKey(guildId: string, channelId: string): string {
  return `${guildId}:${channelId}`;
}

export class Call implements CallView {
  readonly guildId: string;
  readonly channelId: string;
  /** Every session of the call, joined or still handshaking, by user id. */
  private readonly members = new Map<string, ClientSession>();
  private readonly dave: CallDaveService | null;

  constructor(guildId: string, channelId: string, daveFactory?: DaveServiceFactory) {
    this.guildId = guildId;
    this.channelId = channelId;
    this.dave = daveFactory ? daveFactory(this) : null;
  }

  get key(): string {
    return callKey(this.guildId, this.channelId);
  }

  get size(): number {
    return this.members.size;
  }

  sessions(): ClientSession[] {
    return [...this.members.values()];
  }

  participants(): ClientSession[] {
    return this.sessions().filter((s) => s.joined && !s.ended);
  }

  /** Adds a session that identified (not yet joined: no fan-out until op 4). */
  add(session: ClientSession): void {
    this.members.set(session.userId, session);
  }

  has(session: ClientSession): boolean {
    return this.members.get(session.userId) === session;
  }

  /** Recipients of `sender`'s media: other joined participants. */
  others(sender: ClientSession): ClientSession[] {
    return this.participants().filter((s) => s !== sender);
  }

  /** DAVE version for the newcomer's op 4 (0 without a DAVE service). */
  daveVersionFor(session: ClientSession): number {
    return this.dave?.protocolVersion?.(session) ?? 0;
  }

  /** Called right after op 4 was sent to `session`. */
  join(session: ClientSession): void {
    if (session.joined || !this.has(session)) return;
    const others = this.participants();
    if (others.length > 0) {
      session.sendJson({ op: VoiceOpcode.ClientsConnect, d: { user_ids: others.map((o) => o.userId) } });
    }
    for (const other of others) {
      if (other.speaking !== null) session.sendJson(speakingOf(other, other.speaking));
    }
    for (const other of others) {
      other.sendJson({ op: VoiceOpcode.ClientsConnect, d: { user_ids: [session.userId] } });
      // An op 5 sent before op 4 was stored; now the others learn the SSRC mapping.
      if (session.speaking !== null) other.sendJson(speakingOf(session, session.speaking));
    }
    session.joined = true;
    this.dave?.onJoin?.(session);
  }

  /** Removes the session; op 13 to the remaining participants if it had joined. */
  leave(session: ClientSession): void {
    if (!this.has(session)) return;
    this.members.delete(session.userId);
    const wasJoined = session.joined;
    session.joined = false;
    if (!wasJoined) return;
    for (const other of this.participants()) {
      other.sendJson({ op: VoiceOpcode.ClientDisconnect, d: { user_id: session.userId } });
    }
    this.dave?.onLeave?.(session);
  }

  /** A client's op 5: remember it and relay it (with user_id) to the other participants. */
  speaking(session: ClientSession, flags: number): void {
    session.speaking = flags;
    if (!session.joined) return;
    for (const other of this.others(session)) other.sendJson(speakingOf(session, flags));
  }

  binary(
    session: ClientSession,
    op: typeof VoiceOpcode.DaveMlsKeyPackage | typeof VoiceOpcode.DaveMlsCommitWelcome,
    payload: Uint8Array,
  ): void {
    this.dave?.onBinary?.(session, op, payload);
  }

  transitionReady(session: ClientSession, transitionId: number): void {
    this.dave?.onTransitionReady?.(session, transitionId);
  }

  invalidCommitWelcome(session: ClientSession, transitionId: number): void {
    this.dave?.onInvalidCommitWelcome?.(session, transitionId);
  }

  close(): void {
    this.dave?.close?.();
  }

  daveState(): DaveCallState | undefined {
    return this.dave?.state?.();
  }
}

function speakingOf(session: ClientSession, flags: number): ServerJsonMessage {
  return { op: VoiceOpcode.Speaking, d: { user_id: session.userId, ssrc: session.ssrc, speaking: flags } };
}
