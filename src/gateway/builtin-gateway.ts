/**
 * A built-in main gateway client for bots without a gateway library, on @discordjs/ws: token in,
 * voice adapters out. Sharding, identify throttling, resume and the send rate limit are that
 * library's; this module only routes op 4 to the shard of a guild and the two voice dispatches
 * to that guild's adapter (voice-gateway.md §2).
 *
 *   const client = createGatewayClient({ token });
 *   await client.connect();
 *   const connection = joinVoiceChannel({ guildId, channelId, adapterCreator: client.adapterCreator(guildId) });
 */
import { GatewayIntent } from '../protocol/constants.js';
import { REST, DiscordAPIError } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import type { OptionalWebSocketManagerOptions, SessionInfo } from '@discordjs/ws';
import { VoxcordError, isVoxcordError, toError } from '../errors.js';
import { checkArg, checkNumber, checkOptions, invalidArgument } from '../util/args.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { isVoiceServerData, isVoiceStateData } from './adapter.js';
import type { VoiceAdapterCreator, VoiceAdapterLibraryMethods, VoiceStateUpdatePayload } from './adapter.js';

/** Gateway intents voxcord needs: GUILDS (1 << 0) and GUILD_VOICE_STATES (1 << 7). */
export const VOICE_INTENTS = GatewayIntent.Guilds | GatewayIntent.GuildVoiceStates;

/** Main gateway close codes after which @discordjs/ws gives up (no reconnect). */
const FATAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  4004: 'authentication failed (bad or revoked token)',
  4010: 'invalid shard',
  4011: 'sharding required',
  4012: 'invalid API version',
  4013: 'invalid intents',
  4014: 'disallowed intents',
};

export interface GatewayClientOptions {
  /** Bot token (without the "Bot " prefix). Never logged. */
  token: string;
  /** Default VOICE_INTENTS. GUILD_VOICE_STATES is required for voice. */
  intents?: number;
  /**
   * REST base URL used for GET /gateway/bot, e.g. the local server's `http://127.0.0.1:PORT/api`.
   * Default Discord's. Ignored when `rest` is given.
   */
  apiUrl?: string;
  /** A REST client of your own for GET /gateway/bot. */
  rest?: REST;
  /** Total shard count; default Discord's recommendation. */
  shardCount?: number | null;
  /** Shards this process runs; default all. */
  shardIds?: number[] | null;
  /** Any other @discordjs/ws manager option (strategy, timeouts, presence...). */
  ws?: Partial<OptionalWebSocketManagerOptions>;
}

/** More shards than any bot runs; a bigger count (Infinity) made @discordjs/ws exhaust memory. */
const MAX_SHARDS = 65_536;

function checkClientOptions(options: GatewayClientOptions): void {
  checkArg(options, 'options', 'object');
  checkArg(options.token, 'token', 'string');
  checkNumber(options.intents, 'intents', { integer: true, min: 0, max: 2 ** 31 - 1, optional: true });
  checkArg(options.apiUrl, 'apiUrl', 'string', 'optional');
  checkOptions(options.ws, 'ws');
  const shardCount = options.shardCount ?? undefined;
  checkNumber(shardCount, 'shardCount', { integer: true, min: 1, max: MAX_SHARDS, optional: true });
  if (options.shardIds === null || options.shardIds === undefined) return;
  checkArg(options.shardIds, 'shardIds', 'array');
  if (options.shardIds.length === 0)
    throw invalidArgument('shardIds', 'a non-empty array (or null)', options.shardIds);
  const last = (shardCount ?? MAX_SHARDS) - 1;
  for (const [i, id] of options.shardIds.entries())
    checkNumber(id, `shardIds[${i}]`, { integer: true, min: 0, max: last });
}

export type GatewayClientEvents = {
  /** Every shard is ready; `userId` is the bot's user id from READY. */
  ready: [userId: string];
  /** A fatal gateway failure (e.g. GATEWAY_AUTH_FAILED on a revoked token); the client is destroyed. */
  error: [error: VoxcordError];
  /** Every dispatch, for bots that want more than voice. */
  dispatch: [payload: { t: string; d: unknown; s: number }, shardId: number];
  debug: [message: string];
};

export type GatewayClientStatus = 'idle' | 'connecting' | 'ready' | 'destroyed';

/** The shard of a guild (Discord's formula: (guild_id >> 22) % shard_count). */
export function shardIdForGuild(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

const SNOWFLAKE = /^\d{1,20}$/;

export class GatewayClient extends TypedEmitter<GatewayClientEvents> {
  readonly manager: WebSocketManager;
  private readonly rest: REST;
  private readonly ownsRest: boolean;
  private readonly adapters = new Map<string, VoiceAdapterLibraryMethods>();
  private currentStatus: GatewayClientStatus = 'idle';
  private botUserId: string | undefined;
  private shardCount = 0;
  private managedShards = new Set<number>();
  private connecting: Promise<void> | undefined;
  private failConnect: ((error: VoxcordError) => void) | undefined;

  constructor(options: GatewayClientOptions) {
    super();
    checkClientOptions(options);
    const token = options.token.replace(/^Bot\s+/i, '');
    this.ownsRest = options.rest === undefined;
    this.rest =
      options.rest ?? new REST(options.apiUrl === undefined ? {} : { api: options.apiUrl }).setToken(token);
    // @discordjs/ws keeps sessions in one store per process, keyed by shard id only: another
    // client (a second bot, a second server) would resume this one's session. Ours are its own.
    const sessions = new Map<number, SessionInfo>();
    this.manager = new WebSocketManager({
      retrieveSessionInfo: (shardId) => sessions.get(shardId) ?? null,
      updateSessionInfo: (shardId, info) => {
        if (info === null) sessions.delete(shardId);
        else sessions.set(shardId, info);
      },
      ...options.ws,
      token,
      intents: options.intents ?? VOICE_INTENTS,
      rest: this.rest,
      shardCount: options.shardCount ?? null,
      shardIds: options.shardIds ?? null,
    });
    this.manager.on(WebSocketShardEvents.Dispatch, (payload, shardId) => this.onDispatch(payload, shardId));
    this.manager.on(WebSocketShardEvents.Ready, (data) => {
      this.botUserId = data.user.id;
    });
    this.manager.on(WebSocketShardEvents.Closed, (code, shardId) => this.onClosed(code, shardId));
    this.manager.on(WebSocketShardEvents.Debug, (message, shardId) => {
      if (this.listenerCount('debug') > 0) this.emit('debug', `[shard ${shardId}] ${message}`);
    });
    // @discordjs/ws reports socket and auth errors here too; the close code says what to do.
    this.manager.on(WebSocketShardEvents.Error, (error, shardId) => {
      if (this.listenerCount('debug') > 0) this.emit('debug', `[shard ${shardId}] error: ${error.message}`);
    });
  }

  get status(): GatewayClientStatus {
    return this.currentStatus;
  }

  /** The bot's user id, from READY. */
  get userId(): string | undefined {
    return this.botUserId;
  }

  /**
   * Connects every shard; resolves when all are ready. Rejects with GATEWAY_AUTH_FAILED for a bad
   * token (HTTP 401 or close 4004), GATEWAY_CLOSED for other fatal failures; the client is then
   * destroyed.
   */
  connect(): Promise<void> {
    if (this.currentStatus === 'destroyed')
      return Promise.reject(new VoxcordError('DESTROYED', 'the gateway client was destroyed'));
    this.connecting ??= this.runConnect();
    return this.connecting;
  }

  private async runConnect(): Promise<void> {
    this.currentStatus = 'connecting';
    const failed = new Promise<never>((_resolve, reject) => {
      this.failConnect = reject;
    });
    failed.catch(() => undefined);
    try {
      await Promise.race([this.manager.connect(), failed]);
      this.shardCount = await this.manager.getShardCount();
      this.managedShards = new Set(await this.manager.getShardIds());
    } catch (err) {
      const error = isVoxcordError(err) ? err : connectError(err);
      await this.shutdown();
      throw error;
    } finally {
      this.failConnect = undefined;
    }
    if (this.currentStatus !== 'connecting')
      throw new VoxcordError('DESTROYED', 'the gateway client was destroyed');
    this.currentStatus = 'ready';
    if (this.botUserId !== undefined) this.emit('ready', this.botUserId);
  }

  /**
   * The adapter creator for one guild, to pass to joinVoiceChannel. Op 4 goes to the guild's
   * shard through @discordjs/ws's send queue (rate limited); sendPayload returns false while the
   * client is not connected or does not run that shard.
   */
  adapterCreator(guildId: string): VoiceAdapterCreator {
    if (typeof guildId !== 'string' || !SNOWFLAKE.test(guildId))
      throw new VoxcordError('INVALID_ARGUMENT', 'guildId must be a snowflake string');
    return (methods) => {
      if (this.currentStatus === 'destroyed')
        throw new VoxcordError('DESTROYED', 'the gateway client was destroyed');
      this.adapters.set(guildId, methods);
      return {
        sendPayload: (payload) => this.sendVoicePayload(guildId, payload),
        destroy: () => {
          if (this.adapters.get(guildId) === methods) this.adapters.delete(guildId);
        },
      };
    };
  }

  /** Disconnects every shard and destroys every adapter (their connections become 'destroyed'). */
  async destroy(): Promise<void> {
    if (this.currentStatus === 'destroyed') return;
    this.failConnect?.(new VoxcordError('DESTROYED', 'the gateway client was destroyed while connecting'));
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.currentStatus === 'destroyed') return;
    this.currentStatus = 'destroyed';
    const adapters = [...this.adapters.values()];
    this.adapters.clear();
    for (const methods of adapters) {
      try {
        methods.destroy();
      } catch (err) {
        this.debug(`adapter destroy threw: ${toError(err).message}`);
      }
    }
    try {
      await this.manager.destroy({ reason: 'voxcord gateway client destroyed' });
    } catch (err) {
      this.debug(`manager destroy failed: ${toError(err).message}`);
    }
    if (this.ownsRest) {
      this.rest.clearHashSweeper();
      this.rest.clearHandlerSweeper();
    }
  }

  private sendVoicePayload(guildId: string, payload: VoiceStateUpdatePayload): boolean {
    if (this.currentStatus !== 'ready' || this.shardCount === 0) return false;
    const shardId = shardIdForGuild(guildId, this.shardCount);
    if (!this.managedShards.has(shardId)) return false;
    Promise.resolve(this.manager.send(shardId, payload)).catch((err: unknown) =>
      this.debug(`op 4 for guild ${guildId} failed on shard ${shardId}: ${toError(err).message}`),
    );
    return true;
  }

  private onDispatch(payload: { t: string; d: unknown; s: number }, shardId: number): void {
    if (this.listenerCount('dispatch') > 0) this.emit('dispatch', payload, shardId);
    try {
      if (payload.t === 'VOICE_STATE_UPDATE') {
        const d = payload.d;
        // Voice states are broadcast for every user: only ours matter to our connections.
        if (!isVoiceStateData(d) || d.guild_id === undefined || d.user_id !== this.botUserId) return;
        this.adapters.get(d.guild_id)?.onVoiceStateUpdate(d);
      } else if (payload.t === 'VOICE_SERVER_UPDATE') {
        const d = payload.d;
        if (!isVoiceServerData(d)) return;
        this.adapters.get(d.guild_id)?.onVoiceServerUpdate(d);
      }
    } catch (err) {
      // A connection's handler must never take the gateway down.
      this.debug(`voice dispatch handler threw: ${toError(err).message}`);
    }
  }

  private onClosed(code: number, shardId: number): void {
    const what = FATAL_CLOSE_CODES[code];
    if (what === undefined) return;
    const error = new VoxcordError(
      code === 4004 ? 'GATEWAY_AUTH_FAILED' : 'GATEWAY_CLOSED',
      `the main gateway closed shard ${shardId} with ${code}: ${what}`,
      { details: { closeCode: code, shardId } },
    );
    if (this.failConnect !== undefined) {
      this.failConnect(error);
      return;
    }
    if (this.currentStatus !== 'ready') return;
    void this.shutdown().then(() => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else this.debug(`error: ${error.code}: ${error.message}`);
    });
  }

  private debug(message: string): void {
    if (this.listenerCount('debug') > 0) this.emit('debug', message);
  }
}

function connectError(err: unknown): VoxcordError {
  if (err instanceof DiscordAPIError && err.status === 401) {
    return new VoxcordError('GATEWAY_AUTH_FAILED', 'the token was rejected (HTTP 401 on GET /gateway/bot)', {
      details: { status: err.status },
    });
  }
  return new VoxcordError('GATEWAY_CLOSED', 'could not connect to the main gateway', { cause: toError(err) });
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  return new GatewayClient(options);
}
