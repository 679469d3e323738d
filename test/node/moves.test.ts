/**
 * Region and channel moves with unmodified lavalink-client driving a voxcord node (DAVE on,
 * 'state-first' voice events): the bot's shard gets new voice credentials, the client PATCHes them,
 * the node replaces the player's connection and the track goes on where it was.
 * - region move: VOICE_SERVER_UPDATE with a new token (the endpoint reallocated);
 * - channel move: a moderator moves the bot to another channel; a listener there hears it.
 */
import { describe, expect, it } from 'vitest';
import { LavalinkManager } from 'lavalink-client';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { api, PASSWORD } from './helpers.js';
import { botShard, clientWorld, lavalinkShard, listenIn, toneFile, voiceNode } from './processes.js';

const BOT = '1800000000000000001';
const C2 = '1800000000000000100';

const cleanup = cleanupAfterEach();

describe('voice moves with lavalink-client', () => {
  it('a region move and a channel move: new credentials reach the node, the track goes on', async () => {
    const { local, engine } = await clientWorld(cleanup, [GUILD]);
    const world = { local, engine };
    const inC1 = await listenIn(cleanup, world, {
      userId: '1800000000000000002',
      guildId: GUILD,
      channelId: CHANNEL,
      fromUserId: BOT,
    });
    const inC2 = await listenIn(cleanup, world, {
      userId: '1800000000000000003',
      guildId: GUILD,
      channelId: C2,
      fromUserId: BOT,
    });
    const { file } = await toneFile(cleanup, 600, 30_000, 0.3);
    const node = await voiceNode(cleanup, engine);

    const shard = await botShard(cleanup, local, BOT);
    const manager: LavalinkManager = new LavalinkManager({
      nodes: [{ host: '127.0.0.1', port: node.port, authorization: PASSWORD, id: 'voxcord' }],
      client: { id: BOT, username: 'voxcord-bot' },
      playerOptions: { defaultSearchPlatform: 'local' },
      sendToShard: lavalinkShard(shard, () => manager),
    });
    let ready = false;
    manager.nodeManager.on('connect', () => (ready = true));
    await manager.init({ id: BOT, username: 'voxcord-bot' });
    await until(() => ready, 5000, 'the node');
    cleanup.add(() => manager.nodeManager.disconnectAll(true, true));

    const player = manager.createPlayer({ guildId: GUILD, voiceChannelId: CHANNEL, selfDeaf: true });
    await player.connect();
    const track = (await player.search({ query: file }, 'tester')).tracks[0];
    if (track === undefined) throw new Error('no track');
    await player.play({ clientTrack: track });
    await until(() => inC1.heard() >= 25, 10_000, 'audio in the first channel');
    const sessionId = player.node.sessionId!;
    const tokenNow = async (): Promise<string> =>
      (
        (await api(node.url, `/v4/sessions/${sessionId}/players/${GUILD}`)).json() as {
          voice: { token: string; channelId: string };
        }
      ).voice.token;
    const firstToken = await tokenNow();

    // Region move: a new token (and endpoint event) for the same channel.
    await local.gateway.changeEndpoint(GUILD, { userId: BOT, withNull: false });
    let movedToken = firstToken;
    for (let i = 0; i < 50 && movedToken === firstToken; i++) {
      await new Promise((r) => setTimeout(r, 100));
      movedToken = await tokenNow();
    }
    expect(movedToken).not.toBe(firstToken);
    const afterRegion = inC1.heard();
    await until(() => inC1.heard() >= afterRegion + 25, 5000, 'audio after the region move');

    // Channel move by a moderator: the listener in C2 hears the bot; the position went on.
    const positionBefore = player.position;
    expect(local.gateway.moveUser(GUILD, BOT, C2, { order: 'state-first' })).toBe(true);
    await until(() => inC2.heard() >= 25, 10_000, 'audio in the second channel');
    const state = (await api(node.url, `/v4/sessions/${sessionId}/players/${GUILD}`)).json() as {
      voice: { channelId: string };
      state: { position: number; connected: boolean };
      track: { encoded: string } | null;
    };
    expect(state.voice.channelId).toBe(C2);
    expect(state.state.connected).toBe(true);
    expect(state.track?.encoded).toBe(track.encoded);
    expect(state.state.position).toBeGreaterThan(positionBefore);
  }, 60_000);
});
