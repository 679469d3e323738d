/**
 * Failover with lavalink-client's autoMove: two voxcord nodes with the voice backend; the node
 * holding the player dies (its WebSocket closes and its voice connection goes away); the client
 * moves the player to the other node and the listener hears the track again.
 * Node a is closed in-process in one test and runs as a child process killed with SIGKILL in the other.
 */
import { describe, expect, it } from 'vitest';
import { LavalinkManager } from 'lavalink-client';
import type { MediaEngine } from '../../src/media/index.js';
import { CHANNEL, GUILD, joinBot, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { unscheduledSince } from '../support/unscheduled.js';
import { PASSWORD } from './helpers.js';
import { botShard, clientWorld, lavalinkShard, spawnNode, toneFile, voiceNode } from './processes.js';

const BOT = '1600000000000000001';
const LISTENER = '1600000000000000002';

const cleanup = cleanupAfterEach();

describe('failover', () => {
  it('lavalink-client autoMove plays again within 2 s after a node process is killed (SIGKILL)', async () => {
    await failover(async () => {
      const child = await spawnNode(cleanup);
      return { port: child.port, die: () => Promise.resolve(child.kill()) };
    });
  }, 60_000);

  it('lavalink-client autoMove plays again within 2 s after a node closes', async () => {
    await failover(async (engine) => {
      const node = await voiceNode(cleanup, engine);
      return { port: node.port, die: () => node.close() };
    });
  }, 60_000);
});

async function failover(
  startA: (engine: MediaEngine) => Promise<{ port: number; die: () => Promise<void> }>,
): Promise<void> {
  {
    const { local, engine } = await clientWorld(cleanup, [GUILD]);
    const listener = await joinBot({ local, engine }, cleanup, LISTENER);
    const { file } = await toneFile(cleanup, 700, 20_000);
    const nodeA = await startA(engine);
    const nodeB = await voiceNode(cleanup, engine);

    const shard = await botShard(cleanup, local, BOT);
    const manager: LavalinkManager = new LavalinkManager({
      nodes: [
        {
          host: '127.0.0.1',
          port: nodeA.port,
          authorization: PASSWORD,
          id: 'a',
          retryAmount: 1,
          retryDelay: 100,
        },
        {
          host: '127.0.0.1',
          port: nodeB.port,
          authorization: PASSWORD,
          id: 'b',
          retryAmount: 1,
          retryDelay: 100,
        },
      ],
      client: { id: BOT, username: 'voxcord-bot' },
      autoMove: true,
      playerOptions: { defaultSearchPlatform: 'local' },
      sendToShard: lavalinkShard(shard, () => manager),
    });
    manager.on('playerMove', () => undefined);
    const connected = new Set<string>();
    manager.nodeManager.on('connect', (n) => connected.add(n.id));
    manager.nodeManager.on('error', () => undefined);
    await manager.init({ id: BOT, username: 'voxcord-bot' });
    await until(() => connected.size === 2, 5000, 'both nodes');
    cleanup.add(() => manager.nodeManager.disconnectAll(true, true));

    const player = manager.createPlayer({
      guildId: GUILD,
      voiceChannelId: CHANNEL,
      selfDeaf: true,
      node: 'a',
    });
    await player.connect();
    const result = await player.search({ query: file }, 'tester');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    await player.play({ clientTrack: track });
    const count = (): number => listener.heard.get(BOT)?.length ?? 0;
    await until(() => count() >= 25, 15_000, 'audio from node a');
    expect(player.node.id).toBe('a');

    await nodeA.die();
    const killedAt = Date.now();
    // The time this process waited for a CPU is the loaded machine's, not the failover's.
    const unscheduled = unscheduledSince();
    const before = count();
    await until(() => player.node.id === 'b', 10_000, 'the move to node b');
    await until(() => count() >= before + 25, 15_000, 'audio from node b');
    const tookMs = Date.now() - killedAt;
    const waitedMs = unscheduled.elapsed();
    console.log(
      `failover: heard again after ${tookMs} ms, ${Math.round(waitedMs)} ms of it waiting for a CPU`,
    );
    expect(tookMs - waitedMs).toBeLessThan(2000); // the target for autoMove
  }
}
