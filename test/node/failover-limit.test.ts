/**
 * A limit of lavalink-client 2.11's autoMove, recorded as a test (the cause of the 60-player soak's
 * lost players). When a node's socket closes, the client moves that node's players with bounded
 * concurrency (5 at a time, 2 per target node) and, independently, retries the node
 * `retryAmount` times `retryDelay` apart. When it gives up it destroys the node, and with it every
 * player still assigned to that node, moved or not yet: `player.destroy()` sends op 4 (leave),
 * drops the player from `manager.players`, then fails on the dead node's DELETE, so no
 * `playerDestroy` event is emitted (only a `PlayerDestroyFail` debug event).
 * Here node b's answer to each PATCH voice reaches the client 1 s late (a slow node: the client's
 * fetch is delayed; a voxcord node itself answers at once), so with `retryAmount: 1,
 * retryDelay: 100` the client gives node a up while at most 2 of its 4 players are moved: the
 * others are destroyed. With a reconnect window longer than the moves (5 × 1000 ms) every
 * player moves. Both nodes run the timeline backend (no audio needed for this).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LavalinkManager } from 'lavalink-client';
import { startNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { Cleanup, until } from '../cli/helpers.js';
import { PASSWORD } from './helpers.js';
import { botShard, clientWorld, lavalinkShard, toneFile } from './processes.js';

const BOT = '1800000000000000001';
const PLAYERS = 4;
const guildOf = (i: number): string => String(1800000000000001000n + BigInt(i));
const channelOf = (i: number): string => String(1800000000000002000n + BigInt(i));

let cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  cleanup = new Cleanup();
});

/** The client's PATCHes with voice to `port` get their answer `ms` late (a slow node). */
function slowVoicePatches(port: number, ms: number): () => void {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (
      init?.method === 'PATCH' &&
      url.includes(`:${port}/`) &&
      typeof init.body === 'string' &&
      init.body.includes('"voice"')
    )
      await new Promise((r) => setTimeout(r, ms));
    return response;
  };
  return () => (globalThis.fetch = realFetch);
}

async function failover(retry: { retryAmount: number; retryDelay: number }): Promise<{
  moved: string[];
  dropped: string[];
  destroyEvents: string[];
  destroyFails: string[];
}> {
  const guilds = Array.from({ length: PLAYERS }, (_, i) => guildOf(i));
  const { local } = await clientWorld(cleanup, guilds);
  const { file } = await toneFile(cleanup, 440, 20_000, 0.3);
  const a = await startNode({ port: 0, password: PASSWORD, backend: createTimelineBackend() });
  cleanup.add(() => a.close());
  const b = await startNode({ port: 0, password: PASSWORD, backend: createTimelineBackend() });
  cleanup.add(() => b.close());
  cleanup.add(slowVoicePatches(b.port, 1000));
  const shard = await botShard(cleanup, local, BOT);
  const manager: LavalinkManager = new LavalinkManager({
    nodes: [
      { host: '127.0.0.1', port: a.port, authorization: PASSWORD, id: 'a', ...retry },
      { host: '127.0.0.1', port: b.port, authorization: PASSWORD, id: 'b', ...retry },
    ],
    client: { id: BOT, username: 'voxcord-bot' },
    autoMove: true,
    advancedOptions: { enableDebugEvents: true },
    playerOptions: { defaultSearchPlatform: 'local' },
    sendToShard: lavalinkShard(shard, () => manager),
  });
  const destroyEvents: string[] = [];
  const destroyFails: string[] = [];
  manager.on('playerDestroy', (player) => destroyEvents.push(player.guildId));
  manager.on('debug', (event, data) => {
    if (String(event) !== 'PlayerDestroyFail') return;
    const m = /player (\d+)/.exec((data as { message?: string }).message ?? '');
    if (m?.[1] !== undefined) destroyFails.push(m[1]);
  });
  const connected = new Set<string>();
  manager.nodeManager.on('connect', (n) => connected.add(n.id));
  manager.nodeManager.on('error', () => undefined);
  let nodeADestroyed = false;
  manager.nodeManager.on('destroy', (n) => (nodeADestroyed ||= n.id === 'a'));
  await manager.init({ id: BOT, username: 'voxcord-bot' });
  await until(() => connected.size === 2, 5000, 'both nodes');
  cleanup.add(() => manager.nodeManager.disconnectAll(true, true));

  for (let i = 0; i < PLAYERS; i++) {
    const player = manager.createPlayer({
      guildId: guildOf(i),
      voiceChannelId: channelOf(i),
      selfDeaf: true,
      node: 'a',
    });
    await player.connect();
    const track = (await player.search({ query: file }, 'tester')).tracks[0];
    if (track === undefined) throw new Error('no track');
    await player.play({ clientTrack: track });
  }
  await until(
    () => guilds.every((g) => manager.players.get(g)?.voice.token !== undefined),
    5000,
    'voice credentials at the client',
  );

  await a.close();
  // Either every player is on b, or the client gave node a up (then wait for its moves to end).
  await until(
    () => nodeADestroyed || guilds.every((g) => manager.players.get(g)?.node.id === 'b'),
    15_000,
    'the moves or the end of node a',
  );
  await new Promise((r) => setTimeout(r, 2500));
  return {
    moved: guilds.filter((g) => manager.players.get(g)?.node.id === 'b'),
    dropped: guilds.filter((g) => !manager.players.has(g)),
    destroyEvents,
    destroyFails,
  };
}

describe('lavalink-client autoMove limit: players not yet moved when the client gives a node up', () => {
  it('are destroyed without a playerDestroy event (retryAmount 1 × retryDelay 100 ms)', async () => {
    const r = await failover({ retryAmount: 1, retryDelay: 100 });
    expect(r.dropped.length).toBeGreaterThanOrEqual(PLAYERS - 2);
    expect(r.moved.length + r.dropped.length).toBe(PLAYERS);
    for (const g of r.dropped) {
      expect(r.destroyEvents).not.toContain(g);
      expect(r.destroyFails).toContain(g);
    }
  }, 60_000);

  it('all move when the reconnect window outlasts the moves (retryAmount 5 × retryDelay 1000 ms)', async () => {
    const r = await failover({ retryAmount: 5, retryDelay: 1000 });
    expect(r.dropped).toEqual([]);
    expect(r.moved).toHaveLength(PLAYERS);
  }, 60_000);
});
