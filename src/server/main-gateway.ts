/**
 * The subset of Discord's main gateway (v10, JSON) a voice bot needs, for the local server:
 * GET /api/v10/gateway/bot, Hello, Identify -> READY (+ GUILD_CREATE), heartbeats, Resume, and
 * op 4 -> VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE (voice-gateway.md §2) with credentials from
 * the local voice server. Operator controls drive every lifecycle case from tests: move a user,
 * change a call's voice endpoint, kick, end a call, fill a channel, revoke a token.
 *
 * @discordjs/ws connects to it unmodified: give it a REST client whose base URL is `apiUrl`
 * (`createGatewayClient({ token, apiUrl })`, or `new REST({ api: apiUrl })`); GET /gateway/bot
 * returns this server's `url`.
 */
import {
  GatewayCloseCode,
  GatewayIntent,
  GatewayOpcode,
  MAIN_GATEWAY_MAX_PAYLOAD_BYTES,
} from '../protocol/constants.js';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { VoiceCloseCode } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import type { VoiceAdapterCreator } from '../gateway/adapter.js';
import {
  SNOWFLAKE,
  addChannel,
  blankVoiceState,
  channelPayload,
  createGuild,
  ensureMember,
  guildCreatePayload,
  isVoiceChannel,
  memberPayload,
  userPayload,
} from './discord-model.js';
import type { GuildRecord, MainGatewayGuild, UserRecord, VoiceStateRecord } from './discord-model.js';
import { Activity, messagePayload } from './activity.js';
import type { LocalInteraction, LocalMessage, MessageFilter } from './activity.js';
import { createRestHandler } from './rest-api.js';
import { interactionCreatePayload } from './interaction-payload.js';
import type { ApplicationCommandRecord, RestRequest, RestResponse } from './rest-api.js';

/** What the main gateway needs from the voice server (startVoiceServer's handle fits). */
export interface MainGatewayVoiceServer {
  /**
   * Issues voice credentials. `sessionId` asks the voice server to keep the user's session id
   * (Discord's is stable across VOICE_SERVER_UPDATEs); a voice server may ignore it, and then
   * the main gateway announces the new id in a VOICE_STATE_UPDATE first.
   */
  allocate(request: { guildId: string; channelId: string; userId: string; sessionId?: string }): {
    endpoint: string;
    token: string;
    sessionId: string;
  };
  /** Closes the user's voice websocket with `code`; false if none. */
  closeClient(userId: string, guildId: string, code: number): boolean;
  /** Live voice sessions (used to avoid re-allocating when op 4 only changes mute/deaf). */
  participants?(guildId: string, channelId?: string): Array<{ userId: string; connected: boolean }>;
  /**
   * A user's deafen/mute state changed (op 4 self flags, or the operator's server deafen/mute):
   * the SFU forwards nothing to a deafened user and nothing from a server-muted one.
   */
  setVoiceFlags?(guildId: string, userId: string, flags: VoiceFlags): void;
}

export type { VoiceFlags } from './forwarding.js';
import type { VoiceFlags } from './forwarding.js';

export type VoiceEventOrder = 'state-first' | 'server-first' | 'random';

export type { MainGatewayGuild, LocalChannelSpec, PermissionOverwriteSpec } from './discord-model.js';
import type { LocalChannelSpec } from './discord-model.js';
export type { LocalMessage, LocalInteraction, LocalMessageKind, MessageFilter } from './activity.js';

export interface MainGatewayLogEvent {
  type:
    | 'listening'
    | 'connection'
    | 'identify'
    | 'identify-rejected'
    | 'resume'
    | 'resume-failed'
    | 'voice-state-update'
    | 'channel-full'
    | 'move'
    | 'endpoint-change'
    | 'kick'
    | 'end-call'
    | 'revoke'
    | 'close'
    | 'rest'
    | 'message'
    | 'interaction'
    | 'voice-flags'
    | 'stopped';
  userId?: string;
  guildId?: string;
  channelId?: string | null;
  code?: number;
  detail?: string;
}

export interface MainGatewayOptions {
  voiceServer: MainGatewayVoiceServer;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Hello `heartbeat_interval`. Default 41250. */
  heartbeatIntervalMs?: number;
  /** No heartbeat for this long closes with 4009 (session timed out). Default 2 × interval + 5 s. */
  heartbeatTimeoutMs?: number;
  /** Accepted bot tokens. Default: any well-formed token (see createBotToken); revoked ones never. */
  tokens?: string[];
  /** Guilds the bots are in; unknown guilds are created on first use unless `strictGuilds`. */
  guilds?: Array<MainGatewayGuild | string>;
  strictGuilds?: boolean;
  /**
   * Order of the two voice dispatches. Default 'state-first' (what Discord does in practice);
   * 'server-first' and 'random' test a library's robustness.
   */
  voiceEventOrder?: VoiceEventOrder;
  /** Random source for 'random' order (tests may fix it). */
  random?: () => number;
  /** Shard count recommended by GET /gateway/bot. Default 1. */
  shards?: number;
  /** session_start_limit.max_concurrency (identify buckets). Default 16, so local shards identify at once. */
  maxConcurrency?: number;
  /** Structured events; never contain tokens or session ids. */
  log?: (event: MainGatewayLogEvent) => void;
}

export interface VoiceStateInfo {
  guildId: string;
  channelId: string;
  userId: string;
  selfMute: boolean;
  selfDeaf: boolean;
  /** A bot connected to this gateway (it gets VOICE_SERVER_UPDATEs). */
  bot: boolean;
}

export interface GatewayBotInfo {
  url: string;
  shards: number;
  session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
}

export interface MainGateway {
  /** ws://host:port — what GET /gateway/bot returns. */
  readonly url: string;
  /** REST base URL for @discordjs/rest's `api` option / createGatewayClient's `apiUrl`. */
  readonly apiUrl: string;
  readonly port: number;
  /** The GET /gateway/bot body. */
  gatewayInformation(): GatewayBotInfo;
  /** A token this gateway accepts for `userId` (Discord's shape: base64(user id).x.y). */
  createToken(userId: string): string;
  /** Revokes a token: its sessions close with 4004 and it never identifies again. */
  revokeToken(token: string): number;
  /** null = no limit. When full, op 4 into that channel gets no answer (as on Discord). */
  setUserLimit(guildId: string, channelId: string, limit: number | null): void;
  setVoiceEventOrder(order: VoiceEventOrder): void;
  voiceStates(guildId: string): VoiceStateInfo[];
  /** Adds a guild (GUILD_CREATE to the bots already connected). Returns false if it exists. */
  addGuild(guild: MainGatewayGuild): boolean;
  /** Adds a channel to a guild (CHANNEL_CREATE to the guild's bots). */
  addChannel(guildId: string, channel: LocalChannelSpec): void;
  /** Names a (human) user; users are otherwise created on first use as `user-<id>`. */
  addUser(user: { id: string; username?: string; globalName?: string }): void;
  /**
   * A user writes in a text channel: MESSAGE_CREATE to the guild's bots with GUILD_MESSAGES
   * (content only for bots with MESSAGE_CONTENT, or mentioned, as on Discord).
   */
  sendMessage(message: { channelId: string; userId: string; content: string }): LocalMessage;
  /**
   * A user runs a slash command of `botId` (default: the only connected bot): INTERACTION_CREATE.
   * `options` values become typed options (the bot's registered definition decides the type when
   * it registered the command; else strings, integers, numbers and booleans by their JS type).
   * The returned interaction records the bot's callback, edits and followups.
   */
  runCommand(command: {
    name: string;
    channelId: string;
    userId: string;
    options?: Record<string, string | number | boolean>;
    botId?: string;
  }): LocalInteraction;
  /** Messages in the local Discord (users' and bots', interaction responses included), oldest first. */
  messages(filter?: MessageFilter): LocalMessage[];
  /** Resolves with the first message matching `filter` (already there, or when it comes). */
  waitForMessage(filter?: MessageFilter, timeoutMs?: number): Promise<LocalMessage>;
  /** Slash commands a bot registered (global and per guild). */
  commands(botId: string): ApplicationCommandRecord[];
  /** Server deafen / mute a user in voice (VOICE_STATE_UPDATE to the bots; the SFU obeys it). */
  setServerVoiceFlags(guildId: string, userId: string, flags: { deaf?: boolean; mute?: boolean }): boolean;
  /**
   * A voice adapter for a human user: pass it as `adapterCreator` to voxcord's joinVoiceChannel
   * (`tls` as the voice server) to put a listening or speaking user into a call. Its joins, moves,
   * self-deaf and leaves reach the bots as VOICE_STATE_UPDATEs, like any user's.
   */
  userAdapterCreator(userId: string, guildId: string): VoiceAdapterCreator;
  /**
   * Another (human) user joins, moves or leaves (null) without a voice connection of its own:
   * VOICE_STATE_UPDATE to the guild's bots.
   */
  setUserVoiceState(guildId: string, userId: string, channelId: string | null): void;
  /**
   * Moves a user to another channel. A bot gets a VOICE_STATE_UPDATE and a VOICE_SERVER_UPDATE
   * (new token) in `order`; `closeCode` first closes its old voice websocket with that code.
   */
  moveUser(
    guildId: string,
    userId: string,
    channelId: string,
    options?: { order?: VoiceEventOrder; closeCode?: number },
  ): boolean;
  /**
   * Changes the voice endpoint of a guild's bots (or one bot): VOICE_SERVER_UPDATE with
   * `endpoint: null` (unless `withNull: false`, a plain region move), then after `delayMs` one
   * with a new token on `voiceServer` (default the current one). `closeCode` first closes the
   * old voice websocket. Resolves with the number of bots moved.
   */
  changeEndpoint(
    guildId: string,
    options?: {
      userId?: string;
      withNull?: boolean;
      delayMs?: number;
      voiceServer?: MainGatewayVoiceServer;
      closeCode?: number;
    },
  ): Promise<number>;
  /** Kicks a user from voice: voice close 4014 and a VOICE_STATE_UPDATE with channel_id null. */
  kick(guildId: string, userId: string): boolean;
  /** Ends a call: every voice websocket in the channel closes with 4022. Returns how many. */
  endCall(guildId: string, channelId: string): number;
  /** Closes every main gateway socket (sessions stay resumable). Default code 4000. */
  dropConnections(code?: number): number;
  stop(): Promise<void>;
}

// ---- tokens ----

/** A token in Discord's shape whose first part is base64(user id). */
export function createBotToken(userId: string): string {
  const head = Buffer.from(userId, 'utf8').toString('base64url');
  return `${head}.${randomBytes(4).toString('base64url')}.${randomBytes(20).toString('base64url')}`;
}

/** The user id encoded in a token, or null if the token is malformed. */
export function userIdFromToken(token: string): string | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return null;
  const id = Buffer.from(parts[0] as string, 'base64url').toString('utf8');
  return /^\d{1,20}$/.test(id) ? id : null;
}

const Op = GatewayOpcode;
const Close = GatewayCloseCode;
const REPLAY_LIMIT = 500;

interface BotSession {
  id: string;
  userId: string;
  token: string;
  intents: number;
  shardId: number;
  shardCount: number;
  seq: number;
  replay: Array<{ s: number; frame: string }>;
  socket: WebSocket | null;
  /** A human user's voice adapter (userAdapterCreator) instead of a websocket. */
  deliver?: (t: string, d: unknown) => void;
}

interface SocketState {
  session: BotSession | null;
  lastHeartbeat: number;
  timer: NodeJS.Timeout;
}

/** A voice state dispatched when the user left voice. */
type LeftVoiceState = Omit<VoiceStateRecord, 'channel_id'> & { channel_id: null };

function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function startMainGateway(options: MainGatewayOptions): Promise<MainGateway> {
  if (typeof options?.voiceServer?.allocate !== 'function')
    throw new VoxcordError('INVALID_ARGUMENT', 'startMainGateway needs a voiceServer with allocate()');
  const host = options.host ?? '127.0.0.1';
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 2 * heartbeatIntervalMs + 5_000;
  const shards = options.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1)
    throw new VoxcordError('INVALID_ARGUMENT', 'shards must be >= 1');
  const random = options.random ?? Math.random;
  const log = options.log ?? ((): void => {});
  const voiceServer = options.voiceServer;
  const allowedTokens = options.tokens === undefined ? null : new Set(options.tokens);
  const revoked = new Set<string>();
  let order: VoiceEventOrder = options.voiceEventOrder ?? 'state-first';

  const guilds = new Map<string, GuildRecord>();
  const addGuild = (g: MainGatewayGuild | string): GuildRecord => {
    const record = createGuild(typeof g === 'string' ? { id: g } : g);
    guilds.set(record.id, record);
    return record;
  };
  const users = new Map<string, UserRecord>();
  const userFor = (id: string): UserRecord => {
    let user = users.get(id);
    if (user === undefined) {
      user = { id, username: `user-${id}`, globalName: null, bot: false };
      users.set(id, user);
    }
    return user;
  };
  const activity = new Activity();
  const commands = new Map<string, Map<string, ApplicationCommandRecord[]>>();
  for (const g of options.guilds ?? []) addGuild(g);
  const guildFor = (guildId: string): GuildRecord | undefined =>
    guilds.get(guildId) ??
    (options.strictGuilds === true || !SNOWFLAKE.test(guildId) ? undefined : addGuild(guildId));
  const channelFor = (guild: GuildRecord, channelId: string) => {
    const channel = guild.channels.get(channelId);
    if (channel !== undefined || options.strictGuilds === true) return channel;
    return addChannel(guild, { id: channelId, name: `voice ${channelId}` });
  };

  /** A bot token's user: a bot, member of every guild with its managed role, as if invited. */
  const enrolBot = (userId: string): void => {
    const user = userFor(userId);
    user.bot = true;
    if (user.username === `user-${userId}`) user.username = `bot-${userId}`;
    for (const guild of guilds.values()) ensureMember(guild, user);
  };

  const sessions = new Map<string, BotSession>();
  const sockets = new Map<WebSocket, SocketState>();

  const tokenUser = (token: unknown): string | null => {
    if (typeof token !== 'string' || revoked.has(token)) return null;
    const bare = token.replace(/^Bot\s+/i, '');
    if (revoked.has(bare)) return null;
    if (allowedTokens !== null && !allowedTokens.has(bare)) return null;
    return userIdFromToken(bare);
  };

  // ---- HTTP: the REST API (rest-api.ts) under /api[/v{n}] ----

  let restHandler: ((request: RestRequest) => RestResponse) | null = null;
  const httpServer: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (response: RestResponse): void => {
      if (response.body === undefined) {
        res.writeHead(response.status);
        res.end();
        return;
      }
      res.writeHead(response.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(response.body));
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    const apiPath = /^\/api(?:\/v\d+)?(\/.*)$/.exec(url.pathname.replaceAll('%40', '@'))?.[1];
    if (apiPath === undefined || restHandler === null) {
      send({ status: 404, body: { message: '404: Not Found', code: 0 } });
      return;
    }
    const handler = restHandler;
    readBody(req)
      .then(({ body, files }) => {
        const method = req.method ?? 'GET';
        const response = handler({
          method,
          path: apiPath,
          query: url.searchParams,
          authorization: req.headers.authorization ?? '',
          body,
          files,
        });
        // Routes, never tokens: interaction and webhook tokens in paths are cut.
        log({ type: 'rest', code: response.status, detail: `${method} ${redactPath(apiPath)}` });
        send(response);
      })
      .catch(() => send({ status: 400, body: { message: '400: Bad Request', code: 0 } }));
  });

  const wss = new WebSocketServer({ server: httpServer, maxPayload: MAIN_GATEWAY_MAX_PAYLOAD_BYTES });
  // The http server's errors (EADDRINUSE...) are re-emitted here; listen() below reports them.
  wss.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void =>
      reject(
        new VoxcordError(
          'SERVER_ERROR',
          error.code === 'EADDRINUSE'
            ? `main gateway port ${options.port ?? 0} on ${host} is already in use`
            : `main gateway could not listen on ${host}:${options.port ?? 0}: ${error.message}`,
          { cause: error, details: { errno: error.code } },
        ),
      );
    httpServer.once('error', fail);
    httpServer.listen(options.port ?? 0, host, () => {
      httpServer.off('error', fail);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const wsUrl = `ws://${hostForUrl}:${port}`;
  const apiUrl = `http://${hostForUrl}:${port}/api`;
  log({ type: 'listening', detail: wsUrl });

  function info(): GatewayBotInfo {
    return {
      url: wsUrl,
      shards,
      session_start_limit: {
        total: 1000,
        remaining: 1000,
        reset_after: 86_400_000,
        max_concurrency: options.maxConcurrency ?? 16,
      },
    };
  }

  // ---- sending ----

  const sendRaw = (socket: WebSocket, payload: unknown): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload));
  };

  const dispatch = (session: BotSession, t: string, d: unknown): void => {
    const deliver = session.deliver;
    if (deliver !== undefined) {
      // Like a websocket: never inside the call that caused it.
      setImmediate(() => deliver(t, d));
      return;
    }
    session.seq += 1;
    const frame = JSON.stringify({ op: Op.Dispatch, t, s: session.seq, d });
    session.replay.push({ s: session.seq, frame });
    if (session.replay.length > REPLAY_LIMIT) session.replay.shift();
    if (session.socket !== null && session.socket.readyState === session.socket.OPEN)
      session.socket.send(frame);
  };

  const closeSocket = (socket: WebSocket, code: number, reason = ''): void => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(code, reason);
  };

  /** Bot sessions that see `guildId` (their shard holds it). */
  const sessionsForGuild = (guildId: string): BotSession[] =>
    [...sessions.values()].filter((s) => shardOf(guildId, s.shardCount) === s.shardId);

  /** Human users' voice adapters (userAdapterCreator), by guild:user. */
  const userSessions = new Map<string, BotSession>();

  /** The bot session a user receives a guild's events on (the newest, if several). */
  const botSessionOf = (guildId: string, userId: string): BotSession | undefined =>
    sessionsForGuild(guildId)
      .filter((s) => s.userId === userId)
      .at(-1);

  /** Where a user's VOICE_SERVER_UPDATEs go: its bot session, or its voice adapter. */
  const sessionOfUser = (guildId: string, userId: string): BotSession | undefined =>
    botSessionOf(guildId, userId) ?? userSessions.get(`${guildId}:${userId}`);

  /** A user's first voice state in a guild: server deafen/mute come from the member. */
  const freshVoiceState = (guild: GuildRecord, userId: string): VoiceStateRecord => {
    const member = ensureMember(guild, userFor(userId));
    return { ...blankVoiceState(guild.id, userId), deaf: member.deaf, mute: member.mute };
  };

  /** A voice state as dispatched: with the user's `member` (discord.js needs it to see its own). */
  const voiceStatePayload = (state: VoiceStateRecord | LeftVoiceState): Record<string, unknown> => {
    const guild = guilds.get(state.guild_id);
    const user = userFor(state.user_id);
    if (guild === undefined) return { ...state };
    const member = ensureMember(guild, user);
    return { ...state, member: memberPayload(guild, member, user) };
  };

  const broadcastVoiceState = (guildId: string, state: VoiceStateRecord | LeftVoiceState): void => {
    const payload = voiceStatePayload(state);
    for (const session of sessionsForGuild(guildId)) {
      // Voice states need GUILD_VOICE_STATES, also our own (a bot without it never gets its join).
      if ((session.intents & GatewayIntent.GuildVoiceStates) === 0) continue;
      dispatch(session, 'VOICE_STATE_UPDATE', payload);
    }
    const own = userSessions.get(`${guildId}:${state.user_id}`);
    if (own !== undefined) dispatch(own, 'VOICE_STATE_UPDATE', payload);
    voiceServer.setVoiceFlags?.(guildId, state.user_id, {
      selfDeaf: state.self_deaf,
      deaf: state.deaf,
      mute: state.mute,
    });
  };

  /** Any event to the bots of a guild that have `intent`. */
  const broadcast = (
    guildId: string,
    intent: number,
    t: string,
    d: (session: BotSession) => unknown,
  ): void => {
    for (const session of sessionsForGuild(guildId)) {
      if ((session.intents & intent) === 0) continue;
      dispatch(session, t, d(session));
    }
  };

  const pickOrder = (requested: VoiceEventOrder | undefined): 'state-first' | 'server-first' => {
    const o = requested ?? order;
    if (o === 'random') return random() < 0.5 ? 'state-first' : 'server-first';
    return o;
  };

  /** Fresh credentials for a bot + both dispatches in `o` order. */
  const connectBot = (
    session: BotSession,
    guild: GuildRecord,
    state: VoiceStateRecord,
    requestedOrder: 'state-first' | 'server-first',
    previousChannelId: string | null,
    server: MainGatewayVoiceServer = voiceServer,
  ): void => {
    const allocation = server.allocate({
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
      broadcastVoiceState(guild.id, { ...state });
      dispatch(session, 'VOICE_SERVER_UPDATE', serverUpdate);
    } else {
      dispatch(session, 'VOICE_SERVER_UPDATE', serverUpdate);
      broadcastVoiceState(guild.id, { ...state });
    }
  };

  const isFull = (guild: GuildRecord, channelId: string, userId: string): boolean => {
    const limit = guild.channels.get(channelId)?.userLimit ?? null;
    if (limit === null) return false;
    let count = 0;
    for (const s of guild.voiceStates.values())
      if (s.channel_id === channelId && s.user_id !== userId) count += 1;
    return count >= limit;
  };

  const hasLiveVoiceSession = (guildId: string, channelId: string, userId: string): boolean => {
    if (voiceServer.participants === undefined) return false;
    return voiceServer.participants(guildId, channelId).some((p) => p.userId === userId && p.connected);
  };

  // ---- op 4 ----

  const onVoiceStateUpdate = (session: BotSession, d: unknown, socket: WebSocket | null): void => {
    if (
      !isObject(d) ||
      typeof d.guild_id !== 'string' ||
      !(d.channel_id === null || typeof d.channel_id === 'string')
    ) {
      if (socket !== null) closeSocket(socket, Close.DecodeError, 'invalid voice state update');
      return;
    }
    const guildId = d.guild_id;
    const channelId = d.channel_id;
    const selfMute = d.self_mute === true;
    const selfDeaf = d.self_deaf === true;
    if (shardOf(guildId, session.shardCount) !== session.shardId) return;
    const guild = guildFor(guildId);
    if (guild === undefined) return;
    const userId = session.userId;
    const previous = guild.voiceStates.get(userId);
    log({ type: 'voice-state-update', userId, guildId, channelId });

    if (channelId === null) {
      guild.voiceStates.delete(userId);
      voiceServer.closeClient(userId, guildId, VoiceCloseCode.Disconnected);
      broadcastVoiceState(guildId, {
        ...(previous ?? freshVoiceState(guild, userId)),
        channel_id: null,
        self_mute: selfMute,
        self_deaf: selfDeaf,
      });
      return;
    }
    const channel = channelFor(guild, channelId);
    if (channel === undefined || !isVoiceChannel(channel)) return;
    if (isFull(guild, channelId, userId)) {
      // Discord answers nothing at all (voice-gateway.md §2.1): the client must time out.
      log({ type: 'channel-full', userId, guildId, channelId });
      return;
    }
    const state: VoiceStateRecord = {
      ...(previous ?? freshVoiceState(guild, userId)),
      channel_id: channelId,
      self_mute: selfMute,
      self_deaf: selfDeaf,
    };
    guild.voiceStates.set(userId, state);
    if (previous?.channel_id === channelId && hasLiveVoiceSession(guildId, channelId, userId)) {
      // Only flags changed on a live connection: no new voice server.
      broadcastVoiceState(guildId, { ...state });
      return;
    }
    connectBot(session, guild, state, pickOrder(undefined), previous?.channel_id ?? null);
  };

  // ---- socket handling ----

  const readyPayload = (session: BotSession): unknown => ({
    v: 10,
    user: { ...userPayload(userFor(session.userId)), verified: true, mfa_enabled: false },
    guilds: [...guilds.values()]
      .filter((g) => shardOf(g.id, session.shardCount) === session.shardId)
      .map((g) => ({ id: g.id, unavailable: true })),
    session_id: session.id,
    resume_gateway_url: wsUrl,
    shard: [session.shardId, session.shardCount],
    application: { id: session.userId, flags: 0 },
    private_channels: [],
    presences: [],
    relationships: [],
    guild_join_requests: [],
    geo_ordered_rtc_regions: ['local'],
  });

  const guildCreate = (guild: GuildRecord): unknown =>
    guildCreatePayload(guild, userFor, (state) => ({ ...state }));

  const onIdentify = (socket: WebSocket, state: SocketState, d: unknown): void => {
    if (state.session !== null) {
      closeSocket(socket, Close.AlreadyAuthenticated, 'already authenticated');
      return;
    }
    if (!isObject(d)) {
      closeSocket(socket, Close.DecodeError, 'invalid identify');
      return;
    }
    const userId = tokenUser(d.token);
    if (userId === null) {
      log({ type: 'identify-rejected', code: Close.AuthenticationFailed });
      closeSocket(socket, Close.AuthenticationFailed, 'Authentication failed.');
      return;
    }
    if (typeof d.intents !== 'number' || !Number.isInteger(d.intents) || d.intents < 0) {
      closeSocket(socket, Close.InvalidIntents, 'Invalid intent(s).');
      return;
    }
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
      ) {
        closeSocket(socket, Close.InvalidShard, 'Invalid shard.');
        return;
      }
      shardId = shard[0] as number;
      shardCount = shard[1] as number;
    }
    const session: BotSession = {
      id: randomBytes(16).toString('hex'),
      userId,
      token: (d.token as string).replace(/^Bot\s+/i, ''),
      intents: d.intents,
      shardId,
      shardCount,
      seq: 0,
      replay: [],
      socket,
    };
    sessions.set(session.id, session);
    state.session = session;
    log({ type: 'identify', userId, detail: `shard ${shardId}/${shardCount}` });
    enrolBot(userId);
    dispatch(session, 'READY', readyPayload(session));
    if ((session.intents & GatewayIntent.Guilds) !== 0) {
      for (const guild of guilds.values()) {
        if (shardOf(guild.id, shardCount) === shardId) dispatch(session, 'GUILD_CREATE', guildCreate(guild));
      }
    }
  };

  const onResume = (socket: WebSocket, state: SocketState, d: unknown): void => {
    if (state.session !== null) {
      closeSocket(socket, Close.AlreadyAuthenticated, 'already authenticated');
      return;
    }
    const session = isObject(d) && typeof d.session_id === 'string' ? sessions.get(d.session_id) : undefined;
    const seq = isObject(d) && typeof d.seq === 'number' ? d.seq : -1;
    const userId = isObject(d) ? tokenUser(d.token) : null;
    if (session === undefined || userId === null || userId !== session.userId) {
      log({ type: 'resume-failed' });
      sendRaw(socket, { op: Op.InvalidSession, d: false });
      return;
    }
    const oldest = session.replay[0]?.s ?? session.seq + 1;
    if (seq < oldest - 1 || seq > session.seq) {
      log({ type: 'resume-failed', userId: session.userId, detail: 'replay gap' });
      sendRaw(socket, { op: Op.InvalidSession, d: false });
      return;
    }
    if (session.socket !== null && session.socket !== socket)
      closeSocket(session.socket, Close.UnknownError, 'resumed elsewhere');
    session.socket = socket;
    state.session = session;
    log({ type: 'resume', userId: session.userId });
    for (const entry of session.replay) if (entry.s > seq) socket.send(entry.frame);
    dispatch(session, 'RESUMED', null);
  };

  const onMessage = (socket: WebSocket, state: SocketState, data: RawData, isBinary: boolean): void => {
    if (isBinary) {
      closeSocket(socket, Close.DecodeError, 'binary frames are not supported (encoding=json)');
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'),
      );
    } catch {
      closeSocket(socket, Close.DecodeError, 'Error while decoding payload.');
      return;
    }
    if (!isObject(message) || typeof message.op !== 'number') {
      closeSocket(socket, Close.DecodeError, 'Error while decoding payload.');
      return;
    }
    switch (message.op) {
      case Op.Heartbeat:
        state.lastHeartbeat = Date.now();
        sendRaw(socket, { op: Op.HeartbeatAck });
        return;
      case Op.Identify:
        onIdentify(socket, state, message.d);
        return;
      case Op.Resume:
        onResume(socket, state, message.d);
        return;
      case Op.VoiceStateUpdate:
      case Op.PresenceUpdate:
      case Op.RequestGuildMembers:
        if (state.session === null) {
          closeSocket(socket, Close.NotAuthenticated, 'Not authenticated.');
          return;
        }
        if (message.op === Op.VoiceStateUpdate) onVoiceStateUpdate(state.session, message.d, socket);
        return;
      default:
        closeSocket(socket, Close.UnknownOpcode, 'Unknown opcode.');
    }
  };

  wss.on('connection', (socket, request) => {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const encoding = query.get('encoding') ?? 'json';
    log({ type: 'connection', detail: `v=${query.get('v') ?? '?'} encoding=${encoding}` });
    const state: SocketState = {
      session: null,
      lastHeartbeat: Date.now(),
      timer: setInterval(
        () => {
          if (Date.now() - state.lastHeartbeat > heartbeatTimeoutMs)
            closeSocket(socket, Close.SessionTimedOut, 'Session timed out.');
        },
        Math.min(heartbeatTimeoutMs, 1_000),
      ),
    };
    sockets.set(socket, state);
    socket.on('message', (data, isBinary) => {
      try {
        onMessage(socket, state, data, isBinary);
      } catch {
        // Never let one bad frame take the server down.
        closeSocket(socket, Close.UnknownError, 'internal error');
      }
    });
    socket.on('close', (code) => {
      clearInterval(state.timer);
      sockets.delete(socket);
      if (state.session?.socket === socket) state.session.socket = null;
      log({ type: 'close', userId: state.session?.userId, code });
    });
    socket.on('error', () => undefined);
    if (encoding !== 'json') {
      closeSocket(socket, Close.DecodeError, 'only encoding=json is supported');
      return;
    }
    sendRaw(socket, { op: Op.Hello, d: { heartbeat_interval: heartbeatIntervalMs } });
  });

  // ---- messages and interactions ----

  const guildOfChannel = (channelId: string): GuildRecord => {
    for (const guild of guilds.values()) if (guild.channels.has(channelId)) return guild;
    throw new VoxcordError('INVALID_ARGUMENT', `unknown channel ${channelId} (add it to a guild first)`);
  };

  /** MESSAGE_CREATE to the guild's bots; content only with MESSAGE_CONTENT, a mention, or their own. */
  const messageCreated = (message: LocalMessage): void => {
    const guild = message.guildId === null ? undefined : guilds.get(message.guildId);
    if (guild === undefined) return;
    const author = userFor(message.authorId);
    broadcast(guild.id, GatewayIntent.GuildMessages, 'MESSAGE_CREATE', (session) => {
      const sees =
        (session.intents & GatewayIntent.MessageContent) !== 0 ||
        session.userId === message.authorId ||
        message.content.includes(`<@${session.userId}>`) ||
        message.content.includes(`<@!${session.userId}>`);
      return messagePayload(message, author, guild, userFor, { hideContent: !sees });
    });
  };

  const runCommand: MainGateway['runCommand'] = (command) => {
    const guild = guildOfChannel(command.channelId);
    const channel = guild.channels.get(command.channelId)!;
    const user = userFor(command.userId);
    ensureMember(guild, user);
    const bots = [...new Set(sessionsForGuild(guild.id).map((s) => s.userId))];
    const botId = command.botId ?? (bots.length === 1 ? bots[0] : undefined);
    const session = botId === undefined ? undefined : botSessionOf(guild.id, botId);
    if (botId === undefined || session === undefined)
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        bots.length === 0 ? 'no bot is connected to this guild' : 'several bots are connected: pass botId',
      );
    const scopes = commands.get(botId);
    const definition = [...(scopes?.get(guild.id) ?? []), ...(scopes?.get('global') ?? [])].find(
      (c) => c.name === command.name,
    );
    const interaction = activity.addInteraction(botId, command.name, guild.id, command.channelId, user.id);
    log({
      type: 'interaction',
      userId: user.id,
      guildId: guild.id,
      channelId: command.channelId,
      detail: `/${command.name}`,
    });
    dispatch(
      session,
      'INTERACTION_CREATE',
      interactionCreatePayload({
        interaction,
        guild,
        channel,
        user,
        users: userFor,
        definition,
        options: command.options ?? {},
      }),
    );
    return interaction;
  };

  restHandler = createRestHandler({
    gatewayInformation: info,
    wsUrl,
    tokenUser: (authorization) => {
      const userId = tokenUser(authorization);
      if (userId !== null) enrolBot(userId);
      return userId;
    },
    guilds,
    user: userFor,
    knownUser: (id) => users.get(id),
    activity,
    commands,
    voiceStatePayload,
    messageCreated,
  });

  // ---- operator controls ----

  let stopping: Promise<void> | null = null;

  const handle: MainGateway = {
    url: wsUrl,
    apiUrl,
    port,
    gatewayInformation: info,
    createToken: (userId) => {
      if (!SNOWFLAKE.test(userId)) throw new VoxcordError('INVALID_ARGUMENT', 'userId must be a snowflake');
      const token = createBotToken(userId);
      allowedTokens?.add(token);
      return token;
    },
    revokeToken(token) {
      revoked.add(token);
      let closed = 0;
      for (const session of [...sessions.values()]) {
        if (session.token !== token) continue;
        sessions.delete(session.id);
        if (session.socket !== null) {
          closeSocket(session.socket, Close.AuthenticationFailed, 'Authentication failed.');
          closed += 1;
        }
      }
      log({ type: 'revoke', detail: `${closed} socket(s)` });
      return closed;
    },
    setUserLimit(guildId, channelId, limit) {
      const guild = guildFor(guildId);
      const channel = guild && channelFor(guild, channelId);
      if (channel === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'unknown guild or channel');
      channel.userLimit = limit;
    },
    setVoiceEventOrder(next) {
      order = next;
    },
    addGuild(spec) {
      if (guilds.has(spec.id)) return false;
      const guild = addGuild(spec);
      for (const session of sessionsForGuild(guild.id)) {
        ensureMember(guild, userFor(session.userId));
        if ((session.intents & GatewayIntent.Guilds) !== 0)
          dispatch(session, 'GUILD_CREATE', guildCreate(guild));
      }
      return true;
    },
    addChannel(guildId, spec) {
      const guild = guilds.get(guildId);
      if (guild === undefined) throw new VoxcordError('INVALID_ARGUMENT', `unknown guild ${guildId}`);
      if (guild.channels.has(spec.id))
        throw new VoxcordError('INVALID_ARGUMENT', `channel ${spec.id} exists`);
      const channel = addChannel(guild, spec);
      broadcast(guildId, GatewayIntent.Guilds, 'CHANNEL_CREATE', () => channelPayload(guild, channel));
    },
    addUser(spec) {
      if (!SNOWFLAKE.test(spec.id)) throw new VoxcordError('INVALID_ARGUMENT', 'user id must be a snowflake');
      const user = userFor(spec.id);
      if (spec.username !== undefined) user.username = spec.username;
      if (spec.globalName !== undefined) user.globalName = spec.globalName;
    },
    sendMessage({ channelId, userId, content }) {
      if (!SNOWFLAKE.test(userId)) throw new VoxcordError('INVALID_ARGUMENT', 'userId must be a snowflake');
      const guild = guildOfChannel(channelId);
      ensureMember(guild, userFor(userId));
      const message = activity.addMessage({
        channelId,
        guildId: guild.id,
        authorId: userId,
        kind: 'user',
        content,
        embeds: [],
        components: [],
        flags: 0,
        ephemeral: false,
        attachments: [],
        interactionId: null,
        loading: false,
      });
      log({ type: 'message', userId, guildId: guild.id, channelId });
      messageCreated(message);
      return message;
    },
    runCommand,
    messages: (filter) => activity.find(filter),
    waitForMessage: (filter = {}, timeoutMs = 10_000) =>
      activity.waitFor(
        () => activity.find(filter)[0],
        timeoutMs,
        `a message matching ${JSON.stringify(filter)}`,
      ),
    commands: (botId) => [...(commands.get(botId)?.values() ?? [])].flat(),
    setServerVoiceFlags(guildId, userId, flags) {
      const guild = guilds.get(guildId);
      if (guild === undefined) return false;
      const member = ensureMember(guild, userFor(userId));
      if (flags.deaf !== undefined) member.deaf = flags.deaf;
      if (flags.mute !== undefined) member.mute = flags.mute;
      log({ type: 'voice-flags', userId, guildId, detail: `deaf=${member.deaf} mute=${member.mute}` });
      const state = guild.voiceStates.get(userId);
      if (state === undefined) {
        voiceServer.setVoiceFlags?.(guildId, userId, {
          selfDeaf: false,
          deaf: member.deaf,
          mute: member.mute,
        });
        return true;
      }
      state.deaf = member.deaf;
      state.mute = member.mute;
      broadcastVoiceState(guildId, { ...state });
      return true;
    },
    userAdapterCreator(userId, guildId) {
      if (!SNOWFLAKE.test(userId) || !SNOWFLAKE.test(guildId))
        throw new VoxcordError('INVALID_ARGUMENT', 'userId and guildId must be snowflakes');
      return (methods) => {
        const key = `${guildId}:${userId}`;
        let destroyed = false;
        const session: BotSession = {
          id: randomBytes(16).toString('hex'),
          userId,
          token: '',
          intents: GatewayIntent.Guilds | GatewayIntent.GuildVoiceStates,
          shardId: 0,
          shardCount: 1,
          seq: 0,
          replay: [],
          socket: null,
          deliver: (t, d) => {
            if (destroyed || !isObject(d)) return;
            if (t === 'VOICE_STATE_UPDATE' && d.user_id === userId)
              methods.onVoiceStateUpdate(d as unknown as Parameters<typeof methods.onVoiceStateUpdate>[0]);
            else if (t === 'VOICE_SERVER_UPDATE')
              methods.onVoiceServerUpdate(d as unknown as Parameters<typeof methods.onVoiceServerUpdate>[0]);
          },
        };
        userSessions.set(key, session);
        return {
          sendPayload(payload) {
            if (destroyed) return false;
            onVoiceStateUpdate(session, payload.d, null);
            return true;
          },
          destroy() {
            destroyed = true;
            if (userSessions.get(key) === session) userSessions.delete(key);
          },
        };
      };
    },
    voiceStates(guildId) {
      const guild = guilds.get(guildId);
      if (guild === undefined) return [];
      return [...guild.voiceStates.values()].map((s) => ({
        guildId: s.guild_id,
        channelId: s.channel_id,
        userId: s.user_id,
        selfMute: s.self_mute,
        selfDeaf: s.self_deaf,
        bot: botSessionOf(guildId, s.user_id) !== undefined,
      }));
    },
    setUserVoiceState(guildId, userId, channelId) {
      const guild = guildFor(guildId);
      if (guild === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'unknown guild');
      const previous = guild.voiceStates.get(userId);
      if (channelId === null) {
        if (previous === undefined) return;
        guild.voiceStates.delete(userId);
        broadcastVoiceState(guildId, { ...previous, channel_id: null });
        return;
      }
      if (channelFor(guild, channelId) === undefined)
        throw new VoxcordError('INVALID_ARGUMENT', 'unknown channel');
      const state = {
        ...(previous ?? freshVoiceState(guild, userId)),
        channel_id: channelId,
      };
      guild.voiceStates.set(userId, state);
      broadcastVoiceState(guildId, { ...state });
    },
    moveUser(guildId, userId, channelId, moveOptions = {}) {
      const guild = guilds.get(guildId);
      const previous = guild?.voiceStates.get(userId);
      if (guild === undefined || previous === undefined || channelFor(guild, channelId) === undefined)
        return false;
      log({ type: 'move', userId, guildId, channelId });
      if (moveOptions.closeCode !== undefined)
        voiceServer.closeClient(userId, guildId, moveOptions.closeCode);
      const state: VoiceStateRecord = { ...previous, channel_id: channelId };
      guild.voiceStates.set(userId, state);
      const session = sessionOfUser(guildId, userId);
      if (session === undefined) broadcastVoiceState(guildId, { ...state });
      else connectBot(session, guild, state, pickOrder(moveOptions.order), previous.channel_id);
      return true;
    },
    async changeEndpoint(guildId, changeOptions = {}) {
      const guild = guilds.get(guildId);
      if (guild === undefined) return 0;
      const targets = [...guild.voiceStates.values()].filter(
        (s) =>
          (changeOptions.userId === undefined || s.user_id === changeOptions.userId) &&
          sessionOfUser(guildId, s.user_id) !== undefined,
      );
      log({ type: 'endpoint-change', guildId, detail: `${targets.length} bot(s)` });
      for (const state of targets) {
        if (changeOptions.closeCode !== undefined)
          voiceServer.closeClient(state.user_id, guildId, changeOptions.closeCode);
        const session = sessionOfUser(guildId, state.user_id);
        if (session !== undefined && changeOptions.withNull !== false) {
          dispatch(session, 'VOICE_SERVER_UPDATE', {
            token: randomBytes(8).toString('hex'),
            guild_id: guildId,
            endpoint: null,
          });
        }
      }
      if ((changeOptions.delayMs ?? 0) > 0) await new Promise((r) => setTimeout(r, changeOptions.delayMs));
      let moved = 0;
      for (const state of targets) {
        const session = sessionOfUser(guildId, state.user_id);
        // The bot may have left during the delay.
        if (session === undefined || guild.voiceStates.get(state.user_id) !== state) continue;
        const server = changeOptions.voiceServer ?? voiceServer;
        const allocation = server.allocate({
          guildId,
          channelId: state.channel_id,
          userId: state.user_id,
          sessionId: state.session_id,
        });
        if (allocation.sessionId !== state.session_id) {
          // The voice server issued a new session id: announce it before the server update.
          state.session_id = allocation.sessionId;
          broadcastVoiceState(guildId, { ...state });
        }
        dispatch(session, 'VOICE_SERVER_UPDATE', {
          token: allocation.token,
          guild_id: guildId,
          endpoint: allocation.endpoint,
        });
        moved += 1;
      }
      return moved;
    },
    kick(guildId, userId) {
      const guild = guilds.get(guildId);
      const previous = guild?.voiceStates.get(userId);
      if (guild === undefined || previous === undefined) return false;
      log({ type: 'kick', userId, guildId, channelId: previous.channel_id });
      voiceServer.closeClient(userId, guildId, VoiceCloseCode.Disconnected);
      guild.voiceStates.delete(userId);
      broadcastVoiceState(guildId, { ...previous, channel_id: null });
      return true;
    },
    endCall(guildId, channelId) {
      const guild = guilds.get(guildId);
      if (guild === undefined) return 0;
      let closed = 0;
      for (const state of guild.voiceStates.values()) {
        if (state.channel_id !== channelId) continue;
        if (voiceServer.closeClient(state.user_id, guildId, VoiceCloseCode.CallTerminated)) closed += 1;
      }
      log({ type: 'end-call', guildId, channelId, detail: `${closed} socket(s)` });
      return closed;
    },
    dropConnections(code = Close.UnknownError) {
      let n = 0;
      for (const socket of [...sockets.keys()]) {
        closeSocket(socket, code, 'dropped by operator');
        n += 1;
      }
      return n;
    },
    stop() {
      stopping ??= (async () => {
        for (const [socket, state] of sockets) {
          clearInterval(state.timer);
          socket.terminate();
        }
        sockets.clear();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        httpServer.closeAllConnections();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
        activity.clear();
        log({ type: 'stopped' });
      })();
      return stopping;
    },
  };
  return handle;
}

const MAX_BODY_BYTES = 26 * 1024 * 1024;

/** A request body: JSON, or multipart/form-data with `payload_json` and files (discord.js uploads). */
async function readBody(
  req: IncomingMessage,
): Promise<{ body: unknown; files: Array<{ filename: string; size: number }> }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { body: undefined, files: [] };
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const files: Array<{ filename: string; size: number }> = [];
    let body: unknown;
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') {
        if (name === 'payload_json') body = JSON.parse(value) as unknown;
      } else files.push({ filename: value.name, size: value.size });
    }
    return { body, files };
  }
  return { body: JSON.parse(raw.toString('utf8')) as unknown, files: [] };
}

/** REST paths for logs: interaction and webhook tokens replaced. */
function redactPath(path: string): string {
  return path
    .replace(/^(\/interactions\/\d+\/)[^/]+/, '$1:token')
    .replace(/^(\/webhooks\/\d+\/)[^/]+/, '$1:token');
}
