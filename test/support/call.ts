/**
 * One way to start a call in a test: the local Discord (main gateway + voice server) on 127.0.0.1,
 * a media engine, bots that join through the real path (token -> gateway client ->
 * joinVoiceChannel) and bare voice sessions that join a voice server directly.
 */
import { createGatewayClient } from '../../src/gateway/builtin-gateway.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../../src/gateway/registry.js';
import type { JoinVoiceChannelOptions } from '../../src/gateway/registry.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { CreateMediaEngineOptions } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { FaultOptions } from '../../src/server/faults.js';
import type { VoiceServer } from '../../src/server/index.js';
import { startLocalDiscord } from '../../src/server/local-discord.js';
import type { LocalDiscord, LocalDiscordOptions } from '../../src/server/local-discord.js';
import type { MainGateway } from '../../src/server/main-gateway.js';
import type { VoiceServerOptions } from '../../src/server/types.js';
import { entersState } from '../../src/util/enters-state.js';
import { VoiceSession } from '../../src/voice/session.js';
import type { VoiceSessionOptions } from '../../src/voice/session.js';
import type { AudioFrame } from '../../src/voice/session-dave.js';
import { isSilence } from './bytes.js';
import type { Cleanup } from './cleanup.js';
import { CHANNEL, GUILD } from './ids.js';

export interface CallOptions {
  /** DAVE on the voice server; default: the server's own default (on). */
  dave?: VoiceServerOptions['dave'];
  /** The voice gateway over TLS; default off. */
  tls?: VoiceServerOptions['tls'];
  /** Faults the voice server injects (loss, closes at a handshake step, ...). */
  faults?: FaultOptions;
  /** Anything else for the voice server (wins over dave/tls/faults above). */
  voice?: VoiceServerOptions;
  /** The main gateway; its guilds default to [GUILD]. */
  gateway?: LocalDiscordOptions['gateway'];
  /** The call's media engine; default: the worker engine. */
  engine?: CreateMediaEngineOptions;
}

export interface Call {
  local: LocalDiscord;
  voice: VoiceServer;
  gw: MainGateway;
  engine: MediaEngine;
}

/** The local Discord and a media engine, both stopped by `cleanup`. */
export async function startCall(cleanup: Cleanup, options: CallOptions = {}): Promise<Call> {
  const voice: VoiceServerOptions = {
    ...(options.dave === undefined ? {} : { dave: options.dave }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...options.voice,
  };
  const local = await startLocalDiscord({ voice, gateway: { guilds: [GUILD], ...options.gateway } });
  cleanup.add(() => local.stop());
  const engine = createMediaEngine(options.engine);
  cleanup.add(() => engine.close());
  return { local, voice: local.voice, gw: local.gateway, engine };
}

/** A bot's main gateway client, connected. */
export async function botClient(
  call: Pick<Call, 'local'>,
  cleanup: Cleanup,
  userId: string,
): Promise<GatewayClient> {
  const { token, apiUrl } = call.local.createBot(userId);
  const client = createGatewayClient({ token, apiUrl });
  cleanup.add(() => client.destroy());
  await client.connect();
  return client;
}

/** A VoiceConnection of `client` through joinVoiceChannel (plain transport unless `extra.tls`). */
export function joinWith(
  client: GatewayClient,
  engine: MediaEngine,
  cleanup: Cleanup,
  extra: Partial<JoinVoiceChannelOptions> & { group: string },
): VoiceConnection {
  const guildId = extra.guildId ?? GUILD;
  const connection = joinVoiceChannel({
    guildId,
    channelId: CHANNEL,
    adapterCreator: client.adapterCreator(guildId),
    engine,
    tls: false,
    ...extra,
  });
  cleanup.add(() => connection.destroy());
  return connection;
}

export interface Bot {
  client: GatewayClient;
  connection: VoiceConnection;
  /** Non-silence Opus payloads this bot received, per sender. */
  heard: Map<string, Uint8Array[]>;
  decryptFailures: number;
}

/** A bot joined through the real path, ready, collecting what it hears. */
export async function joinBot(
  call: Pick<Call, 'local' | 'engine'>,
  cleanup: Cleanup,
  userId: string,
): Promise<Bot> {
  const client = await botClient(call, cleanup, userId);
  const connection = joinWith(client, call.engine, cleanup, { group: `test-${userId}`, selfDeaf: false });
  const bot: Bot = { client, connection, heard: new Map(), decryptFailures: 0 };
  connection.subscribe({
    attach: (session) => {
      session.on('audioFrame', (frame: AudioFrame) => {
        if (frame.userId === undefined || isSilence(frame.payload)) return;
        const list = bot.heard.get(frame.userId) ?? [];
        list.push(frame.payload);
        bot.heard.set(frame.userId, list);
      });
      session.on('daveDecryptFailure', () => bot.decryptFailures++);
    },
    detach: () => undefined,
  });
  await entersState(connection, 'ready', 10_000);
  return bot;
}

export interface BareSessionOptions extends Partial<Omit<VoiceSessionOptions, 'engine'>> {
  guildId?: string;
  channelId?: string;
  /** Called before connect(), to attach listeners that must see everything. */
  beforeConnect?: (session: VoiceSession) => void;
  /** Wait for 'ready' (default), or return right after connect(). */
  ready?: boolean;
}

/** A voice session straight on a voice server (no main gateway), destroyed by `cleanup`. */
export async function bareSession(
  voice: VoiceServer,
  engine: MediaEngine,
  cleanup: Cleanup,
  userId: string,
  options: BareSessionOptions = {},
): Promise<VoiceSession> {
  const { guildId = GUILD, channelId = CHANNEL, beforeConnect, ready = true, ...extra } = options;
  const allocation = voice.allocate({ guildId, channelId, userId });
  const session = new VoiceSession({
    endpoint: allocation.endpoint,
    serverId: allocation.serverId,
    userId,
    sessionId: allocation.sessionId,
    token: allocation.token,
    channelId,
    engine,
    tls: false,
    ...extra,
  });
  cleanup.add(() => session.destroy());
  beforeConnect?.(session);
  session.connect();
  if (ready) await entersState(session, 'ready', 5_000);
  return session;
}
