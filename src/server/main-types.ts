/**
 * Options, operator handle and structured log events of the local main gateway (main-gateway.ts
 * starts it): the types its parts share, so none of them imports the facade.
 */
import type { VoiceAdapterCreator } from '../gateway/adapter.js';
import type { LocalInteraction, LocalMessage, MessageFilter } from './activity.js';
import type { LocalChannelSpec, MainGatewayGuild } from './discord-model.js';
import type { VoiceFlags } from './forwarding.js';
import type { ApplicationCommandRecord } from './discord-model.js';

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

export type VoiceEventOrder = 'state-first' | 'server-first' | 'random';

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
  /**
   * How long a session whose socket dropped stays resumable. Default 60000. A client's clean
   * close (1000, 1001) ends its session at once, as on Discord.
   */
  sessionGraceMs?: number;
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
