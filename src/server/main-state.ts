/**
 * The local main gateway's shared state and its protocol rules, without sockets or timers: the bot
 * sessions (and human users' voice adapters), Identify and Resume, op 4 (voice state update ->
 * VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE with credentials from the voice server,
 * voice-gateway.md §2), and the fan-out of dispatches to the bots that may see them. The websocket
 * connections (main-gateway-server.ts), the REST routes and the operator controls all act on it.
 */
import { GatewayCloseCode, GatewayIntent, VoiceCloseCode } from '../protocol/constants.js';
import { isVoiceChannel, userPayload } from './discord-model.js';
import type { GuildRecord, VoiceStateRecord } from './discord-model.js';
import { messagePayload } from './activity.js';
import type { LocalMessage } from './activity.js';
import { BotSession } from './bot-session.js';
import type { BotSessionLink } from './bot-session.js';
import { bareToken } from './bot-tokens.js';
import type { BotTokens } from './bot-tokens.js';
import type { GuildRegistry, LeftVoiceState } from './guild-registry.js';
import type { MainGatewayLogEvent, MainGatewayVoiceServer, VoiceEventOrder } from './main-types.js';

const Close = GatewayCloseCode;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why an Identify is refused: the close code and reason for the socket. */
export interface Refusal {
  code: number;
  reason: string;
}

export interface MainStateOptions {
  /** The gateway's ws:// URL (READY's resume_gateway_url). */
  wsUrl: string;
  voiceServer: MainGatewayVoiceServer;
  registry: GuildRegistry;
  tokens: BotTokens;
  order: VoiceEventOrder;
  /** Random source for the 'random' order. */
  random: () => number;
  log: (event: MainGatewayLogEvent) => void;
}

const userKey = (guildId: string, userId: string): string => `${guildId}:${userId}`;

export class MainGatewayState {
  readonly registry: GuildRegistry;
  readonly tokens: BotTokens;
  readonly voiceServer: MainGatewayVoiceServer;
  /** Order of the two voice dispatches when an op 4 or a move asks for none. */
  order: VoiceEventOrder;
  /** Bot sessions by session id (kept while detached, for Resume). */
  private readonly sessions = new Map<string, BotSession>();
  /** Human users' voice adapters (userAdapterCreator), by guild:user. */
  private readonly userSessions = new Map<string, BotSession>();
  private readonly log: (event: MainGatewayLogEvent) => void;

  constructor(private readonly options: MainStateOptions) {
    this.registry = options.registry;
    this.tokens = options.tokens;
    this.voiceServer = options.voiceServer;
    this.order = options.order;
    this.log = options.log;
  }

  // ---- sessions ----

  /** Validates an Identify and starts its session on `link` (READY, then GUILD_CREATEs). */
  identify(d: unknown, link: BotSessionLink): BotSession | Refusal {
    if (!isObject(d)) return { code: Close.DecodeError, reason: 'invalid identify' };
    const userId = this.tokens.userOf(d.token);
    if (userId === null) {
      this.log({ type: 'identify-rejected', code: Close.AuthenticationFailed });
      return { code: Close.AuthenticationFailed, reason: 'Authentication failed.' };
    }
    if (typeof d.intents !== 'number' || !Number.isInteger(d.intents) || d.intents < 0)
      return { code: Close.InvalidIntents, reason: 'Invalid intent(s).' };
    let shardId = 0;
    let shardCount = 1;
    if (d.shard !== undefined) {
      const shard = d.shard;
      if (
        !Array.isArray(shard) ||
        shard.length !== 2 ||
        !shard.every((n) => Number.isInteger(n)) ||
        (shard[1] as number) < 1 ||
        (shard[0] as number) < 0 ||
        (shard[0] as number) >= (shard[1] as number)
      )
        return { code: Close.InvalidShard, reason: 'Invalid shard.' };
      shardId = shard[0] as number;
      shardCount = shard[1] as number;
    }
    const session = new BotSession({
      userId,
      token: bareToken(d.token as string),
      intents: d.intents,
      shardId,
      shardCount,
    });
    session.attach(link);
    this.sessions.set(session.id, session);
    this.log({ type: 'identify', userId, detail: `shard ${shardId}/${shardCount}` });
    this.registry.enrolBot(userId);
    session.dispatch('READY', this.readyPayload(session));
    if (session.hasIntent(GatewayIntent.Guilds)) {
      for (const guild of this.registry.guilds.values())
        if (session.sees(guild.id)) session.dispatch('GUILD_CREATE', this.registry.guildCreate(guild));
    }
    return session;
  }

  /**
   * Continues a session on `link`: replays what it missed, then RESUMED. null: the session cannot
   * resume (unknown, wrong token, replay gap) and the client must identify again.
   */
  resume(d: unknown, link: BotSessionLink): BotSession | null {
    const session =
      isObject(d) && typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
    const seq = isObject(d) && typeof d.seq === 'number' ? d.seq : -1;
    const userId = isObject(d) ? this.tokens.userOf(d.token) : null;
    if (session === undefined || userId === null || userId !== session.userId) {
      this.log({ type: 'resume-failed' });
      return null;
    }
    const frames = session.replayAfter(seq);
    if (frames === null) {
      this.log({ type: 'resume-failed', userId: session.userId, detail: 'replay gap' });
      return null;
    }
    const previous = session.link;
    if (previous !== null && previous !== link) previous.close(Close.UnknownError, 'resumed elsewhere');
    session.attach(link);
    this.log({ type: 'resume', userId: session.userId });
    for (const frame of frames) link.send(frame);
    session.dispatch('RESUMED', null);
    return session;
  }

  /**
   * Forgets `session` if it is still detached since its detachment number `detachment` (it was
   * not resumed in between; a later drop has its own grace period). Default: now.
   */
  release(session: BotSession, detachment = session.detachments): void {
    if (session.link === null && session.detachments === detachment) this.sessions.delete(session.id);
  }

  /** Forgets every session of a revoked token and closes their sockets (4004). Returns how many. */
  revoke(token: string): number {
    this.tokens.revoke(token);
    let closed = 0;
    for (const session of [...this.sessions.values()]) {
      if (session.token !== token) continue;
      this.sessions.delete(session.id);
      if (session.link !== null) {
        session.link.close(Close.AuthenticationFailed, 'Authentication failed.');
        closed += 1;
      }
    }
    this.log({ type: 'revoke', detail: `${closed} socket(s)` });
    return closed;
  }

  /** A human user's voice adapter: receives its own voice states and server updates. */
  addUserSession(guildId: string, session: BotSession): void {
    this.userSessions.set(userKey(guildId, session.userId), session);
  }

  removeUserSession(guildId: string, session: BotSession): void {
    const key = userKey(guildId, session.userId);
    if (this.userSessions.get(key) === session) this.userSessions.delete(key);
  }

  /** Bot sessions that see `guildId` (their shard holds it). */
  sessionsForGuild(guildId: string): BotSession[] {
    return [...this.sessions.values()].filter((s) => s.sees(guildId));
  }

  /** The bot session a user receives a guild's events on (the newest, if several). */
  botSessionOf(guildId: string, userId: string): BotSession | undefined {
    return this.sessionsForGuild(guildId)
      .filter((s) => s.userId === userId)
      .at(-1);
  }

  /** Where a user's VOICE_SERVER_UPDATEs go: its bot session, or its voice adapter. */
  sessionOfUser(guildId: string, userId: string): BotSession | undefined {
    return this.botSessionOf(guildId, userId) ?? this.userSessions.get(userKey(guildId, userId));
  }

  // ---- fan-out ----

  /** Any event to the bots of a guild that have `intent`. */
  broadcast(guildId: string, intent: number, t: string, d: (session: BotSession) => unknown): void {
    for (const session of this.sessionsForGuild(guildId)) {
      if (!session.hasIntent(intent)) continue;
      session.dispatch(t, d(session));
    }
  }

  /** VOICE_STATE_UPDATE to the guild's bots and the user's own adapter; the SFU learns the flags. */
  broadcastVoiceState(guildId: string, state: VoiceStateRecord | LeftVoiceState): void {
    const payload = this.registry.voiceStatePayload(state);
    for (const session of this.sessionsForGuild(guildId)) {
      // Voice states need GUILD_VOICE_STATES, also our own (a bot without it never gets its join).
      if (!session.hasIntent(GatewayIntent.GuildVoiceStates)) continue;
      session.dispatch('VOICE_STATE_UPDATE', payload);
    }
    this.userSessions.get(userKey(guildId, state.user_id))?.dispatch('VOICE_STATE_UPDATE', payload);
    this.voiceServer.setVoiceFlags?.(guildId, state.user_id, {
      selfDeaf: state.self_deaf,
      deaf: state.deaf,
      mute: state.mute,
    });
  }

  /** MESSAGE_CREATE to the guild's bots; content only with MESSAGE_CONTENT, a mention, or their own. */
  messageCreated(message: LocalMessage): void {
    const guild = message.guildId === null ? undefined : this.registry.get(message.guildId);
    if (guild === undefined) return;
    const author = this.registry.user(message.authorId);
    this.broadcast(guild.id, GatewayIntent.GuildMessages, 'MESSAGE_CREATE', (session) => {
      const sees =
        session.hasIntent(GatewayIntent.MessageContent) ||
        session.userId === message.authorId ||
        message.content.includes(`<@${session.userId}>`) ||
        message.content.includes(`<@!${session.userId}>`);
      return messagePayload(message, author, guild, (id) => this.registry.user(id), { hideContent: !sees });
    });
  }

  // ---- voice states ----

  pickOrder(requested: VoiceEventOrder | undefined): 'state-first' | 'server-first' {
    const o = requested ?? this.order;
    if (o === 'random') return this.options.random() < 0.5 ? 'state-first' : 'server-first';
    return o;
  }

  /** Op 4 from a session (a bot's, or a user adapter's). false: the payload is malformed. */
  voiceStateUpdate(session: BotSession, d: unknown): boolean {
    if (
      !isObject(d) ||
      typeof d.guild_id !== 'string' ||
      !(d.channel_id === null || typeof d.channel_id === 'string')
    )
      return false;
    const guildId = d.guild_id;
    const channelId = d.channel_id;
    const selfMute = d.self_mute === true;
    const selfDeaf = d.self_deaf === true;
    if (!session.sees(guildId)) return true;
    const guild = this.registry.guildFor(guildId);
    if (guild === undefined) return true;
    const userId = session.userId;
    const previous = guild.voiceStates.get(userId);
    this.log({ type: 'voice-state-update', userId, guildId, channelId });

    if (channelId === null) {
      guild.voiceStates.delete(userId);
      this.voiceServer.closeClient(userId, guildId, VoiceCloseCode.Disconnected);
      this.broadcastVoiceState(guildId, {
        ...(previous ?? this.registry.freshVoiceState(guild, userId)),
        channel_id: null,
        self_mute: selfMute,
        self_deaf: selfDeaf,
      });
      return true;
    }
    const channel = this.registry.channelFor(guild, channelId);
    if (channel === undefined || !isVoiceChannel(channel)) return true;
    if (this.registry.isFull(guild, channelId, userId)) {
      // Discord answers nothing at all (voice-gateway.md §2.1): the client must time out.
      this.log({ type: 'channel-full', userId, guildId, channelId });
      return true;
    }
    const state: VoiceStateRecord = {
      ...(previous ?? this.registry.freshVoiceState(guild, userId)),
      channel_id: channelId,
      self_mute: selfMute,
      self_deaf: selfDeaf,
    };
    guild.voiceStates.set(userId, state);
    if (previous?.channel_id === channelId && this.hasLiveVoiceSession(guildId, channelId, userId)) {
      // Only flags changed on a live connection: no new voice server.
      this.broadcastVoiceState(guildId, { ...state });
      return true;
    }
    this.connectBot(session, guild, state, this.pickOrder(undefined), previous?.channel_id ?? null);
    return true;
  }

  /** Fresh credentials for a bot + both dispatches in `requestedOrder`. */
  connectBot(
    session: BotSession,
    guild: GuildRecord,
    state: VoiceStateRecord,
    requestedOrder: 'state-first' | 'server-first',
    previousChannelId: string | null,
  ): void {
    const allocation = this.voiceServer.allocate({
      guildId: guild.id,
      channelId: state.channel_id,
      userId: state.user_id,
      sessionId: state.session_id,
    });
    // Discord's session id never changes, so a client rejoining its channel may connect as soon
    // as the server update arrives. A voice server that issued a new id anyway must announce it
    // first, or that client would identify with the old one (4004).
    const o =
      allocation.sessionId !== state.session_id && previousChannelId === state.channel_id
        ? 'state-first'
        : requestedOrder;
    state.session_id = allocation.sessionId;
    const serverUpdate = { token: allocation.token, guild_id: guild.id, endpoint: allocation.endpoint };
    if (o === 'state-first') {
      this.broadcastVoiceState(guild.id, { ...state });
      session.dispatch('VOICE_SERVER_UPDATE', serverUpdate);
    } else {
      session.dispatch('VOICE_SERVER_UPDATE', serverUpdate);
      this.broadcastVoiceState(guild.id, { ...state });
    }
  }

  private hasLiveVoiceSession(guildId: string, channelId: string, userId: string): boolean {
    if (this.voiceServer.participants === undefined) return false;
    return this.voiceServer.participants(guildId, channelId).some((p) => p.userId === userId && p.connected);
  }

  private readyPayload(session: BotSession): unknown {
    return {
      v: 10,
      user: { ...userPayload(this.registry.user(session.userId)), verified: true, mfa_enabled: false },
      guilds: [...this.registry.guilds.values()]
        .filter((g) => session.sees(g.id))
        .map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.options.wsUrl,
      shard: [session.shardId, session.shardCount],
      application: { id: session.userId, flags: 0 },
      private_channels: [],
      presences: [],
      relationships: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['local'],
    };
  }
}
