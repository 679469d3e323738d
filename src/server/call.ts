/**
 * A call: one guild/channel media session on the local server and its participants. Owns the
 * join/leave/speaking fan-out (op 11, op 13, op 5) and drives the DAVE hooks (dave/hooks.ts: when
 * each hook runs, and what a service may send).
 */
import { VoiceOpcode } from '../protocol/constants.js';
import type { ClientSession, ServerJsonMessage } from './client-session.js';
import type { CallDaveService, CallView, DaveCallState, DaveServiceFactory } from './dave/hooks.js';

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
