/**
 * The local voice server's shared state: issued credentials, live sessions (by session id, SSRC and
 * guild+user), calls, and the session lifecycle (identify, detach with grace period, end). The
 * websocket gateway and the SFU both work on this state; it owns only the grace timers.
 */
import { randomBytes } from 'node:crypto';
import { VoiceCloseCode } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkArg } from '../util/args.js';
import { isSnowflake } from '../util/snowflake.js';
import type { IdentifyData } from '../protocol/voice-messages.js';
import { Call, callKey } from './call.js';
import type { DaveServiceFactory } from './dave/hooks.js';
import { ClientSession } from './client-session.js';
import type { AllocateRequest, Allocation } from './client-session.js';
import type { FaultOptions } from './faults.js';
import { createRng } from './faults.js';
import type { ServerEvent } from './types.js';
import { NO_VOICE_FLAGS } from './forwarding.js';
import type { VoiceFlags } from './forwarding.js';

/** The websocket currently attached to a session, as the state needs it. */
export interface SessionConnection {
  /** Closes the websocket with `code` (1006: abrupt terminate). Ends or detaches the session per code. */
  closeWith(code: number, reason?: string): void;
  /** Detaches and closes without touching the session (it was taken over by a Resume). */
  abandon(): void;
}

export interface ServerStateOptions {
  endpoint: string;
  sessionGraceMs: number;
  replayBufferSize: number;
  seed: number;
  ssrcStart: number;
  faults: FaultOptions;
  dave: DaveServiceFactory | undefined;
  /** Allocations kept at once (see SERVER_MAX_ALLOCATIONS). */
  maxAllocations: number;
  log: (event: ServerEvent) => void;
}

const userKey = (guildId: string, userId: string): string => `${guildId}:${userId}`;

export class ServerState {
  readonly options: ServerStateOptions;
  faults: FaultOptions;
  readonly calls = new Map<string, Call>();
  /** Current allocation per guild+user (a new allocate() replaces the previous token). */
  private readonly allocations = new Map<string, Allocation>();
  private readonly sessionsById = new Map<string, ClientSession>();
  private readonly sessionsBySsrc = new Map<number, ClientSession>();
  private readonly sessionsByUser = new Map<string, ClientSession>();
  private readonly connections = new Map<ClientSession, SessionConnection>();
  private readonly graceTimers = new Map<ClientSession, NodeJS.Timeout>();
  /** Deafen/mute per guild+user, kept across sessions (the main gateway's voice state). */
  private readonly voiceFlagsByUser = new Map<string, VoiceFlags>();
  private nextSsrc: number;

  constructor(options: ServerStateOptions) {
    this.options = options;
    this.faults = options.faults;
    this.nextSsrc = options.ssrcStart >>> 0;
  }

  allocate(request: AllocateRequest): Allocation {
    checkArg(request, 'request', 'object');
    for (const [name, value] of [
      ['guildId', request.guildId],
      ['channelId', request.channelId],
      ['userId', request.userId],
    ] as const) {
      if (!isSnowflake(value))
        throw new VoxcordError('INVALID_ARGUMENT', `${name} must be a snowflake string`);
    }
    checkArg(request.sessionId, 'sessionId', 'string', 'optional');
    checkArg(request.deaf, 'deaf', 'boolean', 'optional');
    const key = userKey(request.guildId, request.userId);
    if (!this.allocations.has(key) && this.allocations.size >= this.options.maxAllocations)
      this.evictIdleAllocation();
    if (!this.allocations.has(key) && this.allocations.size >= this.options.maxAllocations) {
      throw new VoxcordError('SERVER_ERROR', 'too many voice allocations on this server', {
        details: { maxAllocations: this.options.maxAllocations },
      });
    }
    const allocation: Allocation = {
      guildId: request.guildId,
      channelId: request.channelId,
      userId: request.userId,
      endpoint: this.options.endpoint,
      token: randomBytes(8).toString('hex'),
      sessionId: request.sessionId ?? randomBytes(16).toString('hex'),
      serverId: request.guildId,
      ...(request.deaf === true ? { deaf: true } : {}),
    };
    this.allocations.set(key, allocation);
    return { ...allocation };
  }

  /**
   * Makes room at the cap: forgets the oldest allocation no voice session uses (its user left, or
   * never came). Allocations are kept after a session ends (a client may identify with them again),
   * so without this the cap counted every guild and user that ever joined.
   */
  private evictIdleAllocation(): void {
    for (const key of this.allocations.keys()) {
      if (this.sessionsByUser.has(key)) continue;
      this.allocations.delete(key);
      return;
    }
  }

  /** Validates an Identify against issued credentials and creates the session (null: 4004). */
  identify(d: IdentifyData): ClientSession | null {
    const allocation = this.allocations.get(userKey(d.server_id, d.user_id));
    if (
      allocation === undefined ||
      allocation.token !== d.token ||
      allocation.sessionId !== d.session_id ||
      allocation.serverId !== d.server_id
    ) {
      return null;
    }
    // One voice session per user and guild: a new Identify replaces the old one.
    const previous = this.sessionsByUser.get(userKey(d.server_id, d.user_id));
    if (previous) this.endSession(previous, 'replaced', VoiceCloseCode.Disconnected);

    const session = new ClientSession(allocation, this.allocateSsrc(), {
      replayBufferSize: this.options.replayBufferSize,
      seed: this.options.seed,
    });
    session.maxDaveProtocolVersion = d.max_dave_protocol_version;
    this.sessionsById.set(session.sessionId, session);
    this.sessionsBySsrc.set(session.ssrc, session);
    this.sessionsByUser.set(userKey(session.guildId, session.userId), session);
    this.callFor(session.guildId, session.channelId, true)!.add(session);
    return session;
  }

  private allocateSsrc(): number {
    // Skip 0 and any SSRC still in use after wrapping.
    for (;;) {
      const ssrc = this.nextSsrc;
      this.nextSsrc = (this.nextSsrc + 1) >>> 0;
      if (ssrc !== 0 && !this.sessionsBySsrc.has(ssrc)) return ssrc;
    }
  }

  callFor(guildId: string, channelId: string, create = false): Call | undefined {
    const key = callKey(guildId, channelId);
    let call = this.calls.get(key);
    if (!call && create) {
      call = new Call(guildId, channelId, this.options.dave);
      this.calls.set(key, call);
    }
    return call;
  }

  callOf(session: ClientSession): Call | undefined {
    const call = this.callFor(session.guildId, session.channelId);
    return call?.has(session) ? call : undefined;
  }

  sessionById(sessionId: string): ClientSession | undefined {
    return this.sessionsById.get(sessionId);
  }

  sessionBySsrc(ssrc: number): ClientSession | undefined {
    return this.sessionsBySsrc.get(ssrc);
  }

  sessionOfUser(guildId: string, userId: string): ClientSession | undefined {
    return this.sessionsByUser.get(userKey(guildId, userId));
  }

  setVoiceFlags(guildId: string, userId: string, flags: VoiceFlags): void {
    this.voiceFlagsByUser.set(userKey(guildId, userId), { ...flags });
  }

  voiceFlags(session: ClientSession): Readonly<VoiceFlags> {
    return this.voiceFlagsByUser.get(userKey(session.guildId, session.userId)) ?? NO_VOICE_FLAGS;
  }

  sessions(): ClientSession[] {
    return [...this.sessionsById.values()];
  }

  connectionOf(session: ClientSession): SessionConnection | undefined {
    return this.connections.get(session);
  }

  /** A websocket (new Identify or Resume) now carries this session. */
  bind(session: ClientSession, connection: SessionConnection): void {
    const previous = this.connections.get(session);
    if (previous && previous !== connection) previous.abandon();
    this.connections.set(session, connection);
    const timer = this.graceTimers.get(session);
    if (timer) {
      clearTimeout(timer);
      this.graceTimers.delete(session);
    }
  }

  /** The websocket went away without ending the session: keep it for Resume during the grace period. */
  unbind(session: ClientSession, connection: SessionConnection): void {
    if (this.connections.get(session) !== connection) return;
    this.connections.delete(session);
    if (session.ended || this.graceTimers.has(session)) return;
    this.options.log({
      type: 'detach',
      guildId: session.guildId,
      userId: session.userId,
      detail: `grace ${this.options.sessionGraceMs} ms`,
    });
    const timer = setTimeout(() => {
      this.graceTimers.delete(session);
      this.endSession(session, 'grace-expired');
    }, this.options.sessionGraceMs);
    this.graceTimers.set(session, timer);
  }

  /**
   * The user leaves: op 13 to the others, DAVE onLeave, session forgotten. If a websocket is still
   * attached it is closed with `closeCode` (when given).
   */
  endSession(session: ClientSession, reason: string, closeCode?: number): void {
    if (session.ended) return;
    const call = this.callOf(session);
    call?.leave(session);
    session.ended = true;
    const timer = this.graceTimers.get(session);
    if (timer) clearTimeout(timer);
    this.graceTimers.delete(session);
    if (this.sessionsById.get(session.sessionId) === session) this.sessionsById.delete(session.sessionId);
    if (this.sessionsBySsrc.get(session.ssrc) === session) this.sessionsBySsrc.delete(session.ssrc);
    const uk = userKey(session.guildId, session.userId);
    if (this.sessionsByUser.get(uk) === session) this.sessionsByUser.delete(uk);
    const connection = this.connections.get(session);
    this.connections.delete(session);
    if (connection && closeCode !== undefined) connection.closeWith(closeCode, reason);
    else connection?.abandon();
    if (call && call.size === 0) {
      call.close();
      this.calls.delete(call.key);
    }
    this.options.log({
      type: 'leave',
      guildId: session.guildId,
      channelId: session.channelId,
      userId: session.userId,
      reason,
    });
  }

  /** Clears every timer and forgets everything (server stop). Connections are closed by the gateway. */
  clear(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    for (const call of this.calls.values()) call.close();
    this.calls.clear();
    for (const session of this.sessionsById.values()) session.ended = true;
    this.sessionsById.clear();
    this.sessionsBySsrc.clear();
    this.sessionsByUser.clear();
    this.connections.clear();
    this.voiceFlagsByUser.clear();
  }
}

/** Default first SSRC: deterministic from the seed, in [1, 2^30) so +1 never wraps in practice. */
export function defaultSsrcStart(seed: number): number {
  return 1 + Math.floor(createRng(seed ^ 0x55aa55aa)() * 0x3fff_0000);
}
