/**
 * Test helpers shared by the node's client tests: node child processes, a bot shard for
 * lavalink-client, and what a listener must hear.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { LavalinkManager } from 'lavalink-client';
import type { LavalinkNode } from 'lavalink-client';
import type {
  GatewayVoiceServerData,
  GatewayVoiceStateData,
  VoiceAdapterImplementerMethods,
} from '../../src/gateway/adapter.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createVoiceBackend } from '../../src/node/voice-backend.js';
import type { LocalDiscord } from '../../src/server/local-discord.js';
import { entersState } from '../../src/util/enters-state.js';
import type { AudioFrame } from '../../src/voice/session-dave.js';
import { encodeTones, hex, tempDir, until, writeOgg } from '../cli/helpers.js';
import type { Cleanup } from '../cli/helpers.js';
import { botClient, joinBot, joinWith, startCall } from '../support/call.js';
import { GUILD } from '../support/ids.js';
import { serveHttp } from '../support/http-server.js';
import type { Bot } from '../support/call.js';
import { PASSWORD } from './helpers.js';

/** A voxcord node in a child process (its own media engine); `kill` is SIGKILL. */
export async function spawnNode(
  cleanup: Cleanup,
  /** onLog: each of the node's log lines, as it arrives (the soak's per-move timing). */
  options: {
    statsIntervalMs?: number;
    onLog?: (line: string) => void;
    /**
     * Test-only trace of each player's voice backend, one stdout line per step:
     * `VOICE <epoch ms> <guild> connect <token>` (the local Discord's throwaway token, so the test
     * can tell which credentials reached the node in which order), `ready`, `failed <message>`,
     * `closed <code>`.
     */
    traceVoice?: boolean;
  } = {},
): Promise<{ port: number; kill: () => void }> {
  const url = (p: string): string => pathToFileURL(new URL(p, import.meta.url).pathname).href;
  const stats = options.statsIntervalMs === undefined ? '' : `statsIntervalMs: ${options.statsIntervalMs}, `;
  const traced = [
    'const inner = createVoiceBackend({ tls: false });',
    'const out = (g, s) => console.log(`VOICE ${Date.now()} ${g} ${s}`);',
    'const backend = options.traceVoice ? { name: inner.name, createPlayer(ctx, l) {',
    '  const p = inner.createPlayer(ctx, { ...l, voiceReady: () => { out(ctx.guildId, "ready"); l.voiceReady(); },',
    '    voiceClosed: (c, r, b) => { out(ctx.guildId, `closed ${c}`); l.voiceClosed(c, r, b); } });',
    '  const connect = p.connect.bind(p);',
    '  p.connect = (v) => { out(ctx.guildId, `connect ${v.token}`);',
    '    return connect(v).catch((e) => { out(ctx.guildId, `failed ${e.message}`); throw e; }); };',
    '  return p; } } : inner;',
  ];
  const script = [
    `import { startNode } from '${url('../../src/node/server.ts')}';`,
    `import { createVoiceBackend } from '${url('../../src/node/voice-backend.ts')}';`,
    `const options = { traceVoice: ${options.traceVoice === true} };`,
    ...traced,
    `const node = await startNode({ port: 0, password: '${PASSWORD}', ${stats}backend${process.env.NODE_CLUSTER_TRACE || options.onLog ? ', log: (l) => console.log(l)' : ''} });`,
    "console.log('PORT ' + node.port);",
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.add(() => child.kill('SIGKILL'));
  const onLog = options.onLog;
  if (onLog !== undefined) {
    let rest = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line !== '') onLog(line);
    });
  }
  // NODE_CLUSTER_TRACE: the node's own log lines, prefixed with its port, on stderr.
  if (process.env.NODE_CLUSTER_TRACE)
    child.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n'))
        if (line !== '') process.stderr.write(`${Date.now()} node ${line}\n`);
    });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the node process exited (${String(code)})`)));
  });
  return { port, kill: () => child.kill('SIGKILL') };
}

/**
 * lavalink-client's `sendToShard` over the bot's own gateway shard: op 4 out, the two voice events
 * back to the manager as raw packets (as a discord.js bot forwards them).
 */
export interface VoiceEventForwarder {
  state(d: GatewayVoiceStateData): void;
  server(d: GatewayVoiceServerData): void;
}

/** Hands each voice event to lavalink-client at once, as a discord.js bot's raw listener does. */
export function directForwarder(manager: () => LavalinkManager): VoiceEventForwarder {
  return {
    state: (d) => void manager().sendRawData({ t: 'VOICE_STATE_UPDATE', d } as never),
    server: (d) => void manager().sendRawData({ t: 'VOICE_SERVER_UPDATE', d } as never),
  };
}

export function lavalinkShard(
  shard: GatewayClient,
  manager: () => LavalinkManager,
  /** What the bot does with its voice events (default: hands each to lavalink-client at once). */
  forward: VoiceEventForwarder = directForwarder(manager),
): (guildId: string, payload: unknown) => void {
  const adapters = new Map<string, VoiceAdapterImplementerMethods>();
  return (guildId, payload) => {
    let a = adapters.get(guildId);
    if (a === undefined) {
      a = shard.adapterCreator(guildId)({
        onVoiceStateUpdate: (d) => forward.state(d),
        onVoiceServerUpdate: (d) => forward.server(d),
        destroy: () => undefined,
      });
      adapters.set(guildId, a);
    }
    a.sendPayload(payload as never);
  };
}

/**
 * A voxcord listener in `channelId` of `guildId`; `heard()` counts the non-silence frames it got
 * from `fromUserId`.
 */
export async function listenIn(
  cleanup: Cleanup,
  world: { local: LocalDiscord; engine: MediaEngine },
  ids: { userId: string; guildId: string; channelId: string; fromUserId: string },
): Promise<{ heard: () => number }> {
  const client = await botClient(world, cleanup, ids.userId);
  const connection = joinWith(client, world.engine, cleanup, {
    guildId: ids.guildId,
    channelId: ids.channelId,
    group: `listener-${ids.userId}`,
    selfDeaf: false,
  });
  let count = 0;
  connection.subscribe({
    attach: (session) =>
      session.on('audioFrame', (frame: AudioFrame) => {
        if (frame.userId === ids.fromUserId && frame.payload.length > 3) count++;
      }),
    detach: () => undefined,
  });
  await entersState(connection, 'ready', 10_000);
  return { heard: () => count };
}

/** The local Discord for client tests ('state-first' voice events, DAVE on) and a media engine. */
export async function clientWorld(
  cleanup: Cleanup,
  guilds: string[],
): Promise<{ local: LocalDiscord; engine: MediaEngine }> {
  return startCall(cleanup, { gateway: { guilds, voiceEventOrder: 'state-first' } });
}

/** A bot's own gateway shard on the local Discord, connected. */
export async function botShard(
  cleanup: Cleanup,
  local: LocalDiscord,
  userId: string,
): Promise<GatewayClient> {
  return botClient({ local }, cleanup, userId);
}

/** An in-process `voxcord node` whose players join with the voice backend on `engine`; closed at cleanup. */
export async function voiceNode(
  cleanup: Cleanup,
  engine: MediaEngine,
  log?: (line: string) => void,
): Promise<VoxcordNode> {
  const node = await startNode({
    port: 0,
    password: PASSWORD,
    backend: createVoiceBackend({ engine, tls: false }),
    ...(log === undefined ? {} : { log }),
  });
  cleanup.add(() => node.close());
  return node;
}

/**
 * An in-process `voxcord node` (voice backend on `engine`) and an unmodified lavalink-client bot
 * (its own shard on `local`, platform 'local') connected to it.
 */
export async function lavalinkOnVoiceNode(
  cleanup: Cleanup,
  world: { local: LocalDiscord; engine: MediaEngine },
  botId: string,
  /** The bot's handling of its voice events (default: straight to lavalink-client); the node's log. */
  extra: {
    forward?: (manager: () => LavalinkManager) => VoiceEventForwarder;
    log?: (line: string) => void;
  } = {},
): Promise<{ manager: LavalinkManager; node: LavalinkNode; server: VoxcordNode }> {
  const server = await voiceNode(cleanup, world.engine, extra.log);
  const shard = await botShard(cleanup, world.local, botId);
  const manager: LavalinkManager = new LavalinkManager({
    nodes: [{ host: '127.0.0.1', port: server.port, authorization: PASSWORD, id: 'voxcord', retryAmount: 1 }],
    client: { id: botId, username: 'voxcord-bot' },
    playerOptions: { defaultSearchPlatform: 'local' },
    sendToShard: lavalinkShard(
      shard,
      () => manager,
      extra.forward?.(() => manager),
    ),
  });
  let connected: LavalinkNode | undefined;
  manager.nodeManager.on('connect', (n) => (connected = n));
  await manager.init({ id: botId, username: 'voxcord-bot' });
  await until(() => connected?.info != null, 5000, 'the node');
  cleanup.add(() => manager.nodeManager.disconnectAll(true, true));
  if (connected === undefined) throw new Error('no node');
  return { manager, node: connected, server };
}

/** The listener hears `botId` play the file: its first 25 packets are the file's own, untouched. */
export async function expectHeardFile(
  listener: Bot,
  botId: string,
  frames: readonly Uint8Array[],
): Promise<void> {
  await until(() => (listener.heard.get(botId)?.length ?? 0) >= 25, 15_000, 'audio at the listener');
  const sent = new Set(frames.map(hex));
  expect((listener.heard.get(botId) ?? []).slice(0, 25).every((f) => sent.has(hex(f)))).toBe(true);
}

/** A client's pause and resume, each resolving once it was sent (adapters wrap clients that differ). */
export interface PauseResume {
  pause(): Promise<unknown>;
  resume(): Promise<unknown>;
}

/**
 * The PauseResume of a client whose `pause(true)` pauses and `pause(false)` resumes (aqualink,
 * kazagumo, magmastream, poru, riffy), awaited when it returns a promise: kazagumo's, riffy's and
 * aqualink's return before their PATCH is sent.
 */
export function pauseToggle(player: { pause(paused: boolean): unknown }): PauseResume {
  return {
    pause: () => Promise.resolve(player.pause(true)),
    resume: () => Promise.resolve(player.pause(false)),
  };
}

/**
 * `listener` goes on hearing `botId` for the next `ms`: every 20 ms frame due in that time arrives
 * (up to 10 in flight; a stall of this process only delays them, so they get 3 s to catch up), and
 * no stretch of a second passes without one.
 */
export async function expectHeardThrough(listener: Bot, botId: string, ms: number): Promise<void> {
  const heard = (): number => listener.heard.get(botId)?.length ?? 0;
  const start = heard();
  let count = start;
  let grewAt = Date.now();
  let longestSilence = 0;
  for (const end = Date.now() + ms; Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 50));
    if (heard() > count) {
      longestSilence = Math.max(longestSilence, Date.now() - grewAt);
      grewAt = Date.now();
      count = heard();
    }
  }
  await until(() => heard() >= start + ms / 20 - 10, 3000, `the frames due in ${ms} ms`);
  expect(Math.max(longestSilence, Date.now() - grewAt)).toBeLessThan(1000);
}

/** A node message as a client hands it to its `raw` listeners. */
export interface RawNodeMessage {
  op: string;
  type?: string;
  reason?: string;
  guildId?: string;
}

/** The reasons of the TrackEndEvents among `messages`. */
export function trackEndReasons(messages: readonly RawNodeMessage[]): Array<string | undefined> {
  return messages.filter((m) => m.op === 'event' && m.type === 'TrackEndEvent').map((m) => m.reason);
}

/** The client's pause silences `botId` at the listener (once the frames queued ahead drained); its resume brings it back. */
export async function expectPauseResume(listener: Bot, botId: string, client: PauseResume): Promise<void> {
  await client.pause();
  await new Promise((r) => setTimeout(r, 700)); // the frames queued ahead drain
  const paused = listener.heard.get(botId)?.length ?? 0;
  await new Promise((r) => setTimeout(r, 600));
  expect(listener.heard.get(botId)?.length ?? 0).toBe(paused);
  await client.resume();
  await until(() => (listener.heard.get(botId)?.length ?? 0) >= paused + 10, 10_000, 'audio after resume');
}

/** One `frequency` Hz tone of `ms` as an Ogg Opus file (a temp folder the cleanup removes): its frames and path. */
export async function toneFile(
  cleanup: Cleanup,
  frequency: number,
  ms: number,
  amplitude = 0.4,
): Promise<{ frames: Uint8Array[]; file: string }> {
  const dir = await tempDir(cleanup, 'voxcord-node-tone-');
  const frames = await encodeTones({ notes: [{ frequency, ms }], amplitude });
  const file = join(dir, 'tone.ogg');
  await writeOgg(file, frames);
  return { frames, file };
}

/**
 * `file` at a URL of a local http server, always whole (no Range: the node cannot read an Ogg's
 * length from its end, so the track has lavaplayer's unknown length).
 */
export async function servedFile(cleanup: Cleanup, file: string): Promise<string> {
  const body = await readFile(file);
  const { base } = await serveHttp(cleanup, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'audio/ogg', 'Content-Length': body.length });
    res.end(body);
  });
  return `${base}/tone.ogg`;
}

/**
 * What an npm client's test plays in: the local Discord (DAVE on, voice events state-first), a
 * listener, a `frequency` Hz tone of `ms` served whole over http, an in-process voice node and
 * the bot's shard.
 */
export async function clientScene(
  cleanup: Cleanup,
  ids: { bot: string; listener: string },
  tone: { frequency: number; ms: number },
): Promise<{
  local: LocalDiscord;
  listener: Bot;
  frames: Uint8Array[];
  url: string;
  node: VoxcordNode;
  shard: GatewayClient;
}> {
  const { local, engine } = await clientWorld(cleanup, [GUILD]);
  const listener = await joinBot({ local, engine }, cleanup, ids.listener);
  const { frames, file } = await toneFile(cleanup, tone.frequency, tone.ms);
  const url = await servedFile(cleanup, file);
  const node = await voiceNode(cleanup, engine);
  const shard = await botShard(cleanup, local, ids.bot);
  return { local, listener, frames, url, node, shard };
}
