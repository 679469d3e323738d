/**
 * joinVoiceChannel / getVoiceConnection: one VoiceConnection per (group, guild), like
 * @discordjs/voice. Joining again in a guild that already has a connection moves it (rejoin)
 * instead of creating a second one. Destroyed connections leave the registry by themselves.
 */
import type { MediaEngine } from '../media/media-engine.js';
import { createMediaEngine } from '../media/index.js';
import { WorkerMediaEngine } from '../media/worker-engine.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';
import type { VoiceAdapterCreator } from './adapter.js';
import type { BackoffOptions } from './backoff.js';
import { SharedEngine } from './shared-engine.js';
import { checkJoinOptions, VoiceConnection } from './voice-connection.js';
import type { VoiceConnectionOptions } from './voice-connection.js';

export const DEFAULT_GROUP = 'default';

export interface JoinVoiceChannelOptions {
  guildId: string;
  channelId: string;
  /** Default false. */
  selfMute?: boolean;
  /** Default true (as in @discordjs/voice; a bot that only sends audio hears nothing anyway). */
  selfDeaf?: boolean;
  /** `guild.voiceAdapterCreator` from discord.js, or `client.adapterCreator(guildId)` from createGatewayClient. */
  adapterCreator: VoiceAdapterCreator;
  /** Separate namespace, e.g. one per bot when several bots share a process. Default 'default'. */
  group?: string;
  /**
   * Media engine; default: one engine shared by the registry's connections (createMediaEngine()),
   * started on the first join and kept SHARED_ENGINE_IDLE_MS after the last connection leaves.
   */
  engine?: MediaEngine;
  maxDaveProtocolVersion?: number;
  /** Voice websocket TLS: true (default) wss, false ws, or options such as the local server's CA. */
  tls?: VoiceTlsOptions;
  /** Default VOICE_JOIN_TIMEOUT_MS (15 s). */
  joinTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  reconnect?: Partial<BackoffOptions>;
  /** Receives the connection's 'debug' events from the start (the join happens inside this call). */
  debug?: (message: string, details?: unknown) => void;
}

const groups = new Map<string, Map<string, VoiceConnection>>();

/** The default engine, shared by connections that bring none; kept a while after the last one. */
const shared = new SharedEngine({
  create: () => createMediaEngine(),
  usable: (engine) => !(engine instanceof WorkerMediaEngine) || !engine.closed,
});

function acquireSharedEngine(debug: JoinVoiceChannelOptions['debug']): MediaEngine {
  const { engine, reused } = shared.acquire();
  debug?.(reused ? 'media engine: reusing the shared engine' : 'media engine: starting the shared engine');
  return engine;
}

function releaseSharedEngine(engine: MediaEngine): void {
  shared.release(engine);
}

/**
 * Closes the shared media engine now if no connection uses it, instead of after
 * SHARED_ENGINE_IDLE_MS (it never keeps the process alive either way).
 */
export function closeIdleSharedEngine(): Promise<void> {
  return shared.closeIdle();
}

/**
 * Joins a voice channel, or moves the existing connection of this (group, guild) to it. The
 * returned connection starts in 'signalling'; wait for 'ready' with entersState().
 */
export function joinVoiceChannel(options: JoinVoiceChannelOptions): VoiceConnection {
  checkJoinOptions(options);
  const group = options.group ?? DEFAULT_GROUP;
  const existing = getVoiceConnection(options.guildId, group);
  if (existing !== undefined && existing.state.status !== 'destroyed') {
    const rejoin: { channelId: string; selfMute?: boolean; selfDeaf?: boolean } = {
      channelId: options.channelId,
    };
    if (options.selfMute !== undefined) rejoin.selfMute = options.selfMute;
    if (options.selfDeaf !== undefined) rejoin.selfDeaf = options.selfDeaf;
    existing.rejoin(rejoin);
    return existing;
  }

  const engine = options.engine ?? acquireSharedEngine(options.debug);
  const connectionOptions: VoiceConnectionOptions = {
    guildId: options.guildId,
    channelId: options.channelId,
    group,
    adapterCreator: options.adapterCreator,
    engine,
  };
  if (options.selfMute !== undefined) connectionOptions.selfMute = options.selfMute;
  if (options.selfDeaf !== undefined) connectionOptions.selfDeaf = options.selfDeaf;
  if (options.maxDaveProtocolVersion !== undefined)
    connectionOptions.maxDaveProtocolVersion = options.maxDaveProtocolVersion;
  if (options.tls !== undefined) connectionOptions.tls = options.tls;
  if (options.joinTimeoutMs !== undefined) connectionOptions.joinTimeoutMs = options.joinTimeoutMs;
  if (options.handshakeTimeoutMs !== undefined)
    connectionOptions.handshakeTimeoutMs = options.handshakeTimeoutMs;
  if (options.reconnect !== undefined) connectionOptions.reconnect = options.reconnect;

  if (options.debug !== undefined) connectionOptions.debug = options.debug;

  let connection: VoiceConnection;
  try {
    connection = new VoiceConnection(connectionOptions);
  } catch (err) {
    if (options.engine === undefined) releaseSharedEngine(engine);
    throw err;
  }

  if (connection.state.status === 'destroyed') {
    // The adapter failed during the join: hand back the connection (its state carries the
    // ADAPTER_ERROR) without registering it.
    if (options.engine === undefined) releaseSharedEngine(engine);
    return connection;
  }
  let connections = groups.get(group);
  if (connections === undefined) {
    connections = new Map();
    groups.set(group, connections);
  }
  connections.set(options.guildId, connection);
  connection.on('stateChange', (_old, next) => {
    if (next.status !== 'destroyed') return;
    const map = groups.get(group);
    if (map?.get(options.guildId) === connection) map.delete(options.guildId);
    if (map?.size === 0) groups.delete(group);
    if (options.engine === undefined) releaseSharedEngine(engine);
  });
  return connection;
}

export function getVoiceConnection(
  guildId: string,
  group: string = DEFAULT_GROUP,
): VoiceConnection | undefined {
  return groups.get(group)?.get(guildId);
}

/** Every live connection of a group, by guild id. */
export function getVoiceConnections(group: string = DEFAULT_GROUP): ReadonlyMap<string, VoiceConnection> {
  return new Map(groups.get(group) ?? []);
}

/** Group names that currently hold connections. */
export function getGroups(): string[] {
  return [...groups.keys()];
}
