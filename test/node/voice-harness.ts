/**
 * The voice backend on the local Discord (DAVE on), driven as a Lavalink client drives it: a
 * "client bot" sends op 4 through its own gateway shard and forwards the two voice events to the
 * node with PATCH voice; the node's player joins with those credentials. Optionally a voxcord
 * listener in the channel hears the track.
 */
import { botClient } from '../support/call.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { GatewayVoiceServerData, GatewayVoiceStateData } from '../../src/gateway/adapter.js';
import type { BackendPlayer, NodePlayerBackend } from '../../src/node/backend.js';
import { startNode } from '../../src/node/server.js';
import { createVoiceBackend } from '../../src/node/voice-backend.js';
import type { VoiceBackendOptions } from '../../src/node/voice-backend.js';
import type { Bot, Cleanup, World } from '../cli/helpers.js';
import { CHANNEL, GUILD, joinBot, startWorld, until } from '../cli/helpers.js';
import { api, connect, PASSWORD } from './helpers.js';
import type { Client } from './helpers.js';
import { toneFile } from './processes.js';

export const NODE_BOT = '1400000000000000001';
export const LISTENER = '1400000000000000002';

export interface VoiceHarnessOptions {
  /** A voxcord listener joins the channel first (default true). */
  listener?: boolean;
  /** The 3 kHz tone's length (default 4000 ms). */
  toneMs?: number;
  statsIntervalMs?: number;
  backend?: Omit<VoiceBackendOptions, 'engine' | 'tls'>;
  /** Wraps the world's media engine for the node's players (fault injection). */
  wrapEngine?: (engine: MediaEngine) => MediaEngine;
}

export interface VoiceHarness {
  world: World;
  listener: Bot | undefined;
  /** The tone file's Opus frames, and its path. */
  frames: Uint8Array[];
  file: string;
  node: Awaited<ReturnType<typeof startNode>>;
  client: Client;
  sessionId: string;
  /** The REST path of the guild's player. */
  path: string;
  /** The PATCH voice body of the client bot. */
  voice: { token: string; endpoint: string; sessionId: string; channelId: string };
  /** The node's backend players, as created. */
  players: BackendPlayer[];
  /** Every value the node read from a player's `frames` (frameStats samples them), in order. */
  frameReads: { sent: number; nulled: number; at?: number }[];
  /** Loads `file` (default: the tone) and returns its encoded track. */
  load(file?: string): Promise<string>;
  /**
   * PATCHes `voice` and waits for the playerUpdate that says connected (the PATCH itself is
   * answered before the join).
   */
  join(): Promise<void>;
}

/**
 * The client bot's shard sends op 4 for CHANNEL and gets the two voice events back: the PATCH
 * voice body a Lavalink client would send for `NODE_BOT`.
 */
export async function voiceCredentials(
  world: Pick<World, 'local'>,
  cleanup: Cleanup,
): Promise<VoiceHarness['voice']> {
  const shard = await botClient(world, cleanup, NODE_BOT);
  let state: GatewayVoiceStateData | undefined;
  let server: GatewayVoiceServerData | undefined;
  const adapter = shard.adapterCreator(GUILD)({
    onVoiceStateUpdate: (d) => (state = d),
    onVoiceServerUpdate: (d) => (server = d),
    destroy: () => undefined,
  });
  adapter.sendPayload({
    op: 4,
    d: { guild_id: GUILD, channel_id: CHANNEL, self_mute: false, self_deaf: true },
  });
  await until(() => state !== undefined && server !== undefined, 5000, 'the voice events');
  return {
    token: server!.token,
    endpoint: server!.endpoint!,
    sessionId: state!.session_id,
    channelId: CHANNEL,
  };
}

export async function startVoiceHarness(
  cleanup: Cleanup,
  options: VoiceHarnessOptions = {},
): Promise<VoiceHarness> {
  const world = await startWorld(cleanup);
  const listener = options.listener === false ? undefined : await joinBot(world, cleanup, LISTENER);
  const { frames, file } = await toneFile(cleanup, 3000, options.toneMs ?? 4000, 0.5);

  const voice = await voiceCredentials(world, cleanup);
  const players: BackendPlayer[] = [];
  const frameReads: { sent: number; nulled: number; at?: number }[] = [];
  const engine = options.wrapEngine?.(world.engine) ?? world.engine;
  const inner = createVoiceBackend({ ...options.backend, engine, tls: false });
  const backend: NodePlayerBackend = {
    name: inner.name,
    createPlayer(context, listener) {
      const player = inner.createPlayer(context, listener);
      players.push(player);
      const proto = Object.getPrototypeOf(player) as object;
      Object.defineProperty(player, 'frames', {
        get() {
          const value = Reflect.get(proto, 'frames', player) as BackendPlayer['frames'];
          if (value !== undefined) frameReads.push({ ...value });
          return value;
        },
      });
      return player;
    },
  };
  const node = await startNode({
    port: 0,
    password: PASSWORD,
    backend,
    ...(options.statsIntervalMs === undefined ? {} : { statsIntervalMs: options.statsIntervalMs }),
  });
  cleanup.add(() => node.close());
  const client = await connect(node.url, {
    Authorization: PASSWORD,
    'User-Id': NODE_BOT,
    'Client-Name': 'test/1',
  });
  cleanup.add(() => client.close());
  const sessionId = (await client.wait((m) => m.op === 'ready')).sessionId as string;
  return {
    world,
    listener,
    frames,
    file,
    node,
    client,
    sessionId,
    path: `/v4/sessions/${sessionId}/players/${GUILD}`,
    voice,
    players,
    frameReads,
    async join() {
      const from = client.messages.length;
      const r = await api(node.url, `/v4/sessions/${sessionId}/players/${GUILD}`, {
        method: 'PATCH',
        body: { voice },
      });
      if (r.status !== 200) throw new Error(`PATCH voice answered ${r.status}`);
      await client.wait(
        (m) => m.op === 'playerUpdate' && (m.state as { connected?: boolean }).connected === true,
        10_000,
        from,
      );
    },
    async load(path = file) {
      const res = await api(node.url, `/v4/loadtracks?identifier=${encodeURIComponent(path)}`);
      return (res.json() as { data: { encoded: string } }).data.encoded;
    },
  };
}
