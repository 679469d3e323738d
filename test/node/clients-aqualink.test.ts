/**
 * An unmodified aqualink bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. aqualink 3 speaks v4 paths and sends the voice credentials with `channelId`.
 * What it needs from the app: a client object (only read for its default `send`, which the app
 * replaces), `init(botId)`, and the raw voice events through `updateVoiceState`.
 * - `pause(boolean)` and `stop()` return at once (their PATCH is not awaited);
 * - a stop with an empty queue is `queueEnd`, not `trackEnd`;
 * - it reconnects with `Session-Id` and, with `autoResume`, PATCHes the session to resume and
 *   sends op 4 again for each of its players.
 */
import { describe, expect, it } from 'vitest';
import { Aqua, AqualinkEvents } from 'aqualink';
import type { Player as AquaPlayer } from 'aqualink';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import type { Bot } from '../support/call.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { TEXT_CHANNEL } from '../support/ids.js';
import { cleanupAfterEach } from '../support/after-each.js';
import type { Cleanup } from '../support/cleanup.js';
import { PASSWORD } from './helpers.js';
import {
  clientScene,
  expectHeardFile,
  expectPauseResume,
  expectHeardThrough,
  pauseToggle,
} from './processes.js';

const BOT = '1500000000000000019';
const LISTENER = '1500000000000000020';

const cleanup = cleanupAfterEach();

/**
 * aqualink on the bot's shard, its player playing the tone file at the listener: op 4 out through
 * the shard's adapter, the two raw voice events back into `updateVoiceState`.
 */
async function aquaPlaying(
  cleanup: Cleanup,
  options: { autoResume: boolean },
): Promise<{ aqua: Aqua; player: AquaPlayer; listener: Bot; nodeErrors: string[] }> {
  const {
    listener,
    frames,
    url,
    node: server,
    shard,
  } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 770, ms: 12000 });
  const aqua: Aqua = new Aqua(
    {},
    [{ name: 'voxcord', host: '127.0.0.1', port: server.port, auth: PASSWORD, ssl: false }],
    {
      restVersion: 'v4',
      defaultSearchPlatform: 'ytsearch',
      ...options,
      // Its default: reconnect every 10 s for good. reconnectTimeout is read by its nodes, not typed.
      infiniteReconnects: false,
      ...({ reconnectTimeout: 200 } as object),
      send: sendThrough(shard, () => aqua),
    },
  );
  const nodeErrors: string[] = [];
  aqua.on(AqualinkEvents.NodeError, (_node: unknown, error: Error) => nodeErrors.push(error.message));
  await aqua.init(BOT);
  // Before the node's own close: else aqualink reconnects to it after the test.
  cleanup.add(() => aqua.destroy());
  await until(() => aqua.leastUsedNodes.length > 0, 5000, 'aqualink ready');

  const player = aqua.createConnection({
    guildId: GUILD,
    voiceChannel: CHANNEL,
    textChannel: TEXT_CHANNEL,
    deaf: true,
  });
  await until(() => server.players === 1, 5000, 'the voice PATCH');
  const result = await aqua.resolve({ query: url, requester: { id: BOT } });
  expect(result.loadType).toBe('track');
  const track = result.tracks[0];
  if (track === undefined) throw new Error('no track');
  player.queue.add(track);
  await player.play();
  await expectHeardFile(listener, BOT, frames);
  return { aqua, player, listener, nodeErrors };
}

/** aqualink's `send` (op 4 out through the shard's adapter, its voice events back into aqua). */
function sendThrough(shard: GatewayClient, aqua: () => Aqua): (payload: Record<string, unknown>) => void {
  let adapter: VoiceAdapterImplementerMethods | undefined;
  return (payload) => {
    const packet = payload as { op: number; d: { guild_id: string } };
    adapter ??= shard.adapterCreator(packet.d.guild_id)({
      onVoiceStateUpdate: (d) => aqua().updateVoiceState({ t: 'VOICE_STATE_UPDATE', d } as never),
      onVoiceServerUpdate: (d) => aqua().updateVoiceState({ t: 'VOICE_SERVER_UPDATE', d } as never),
      destroy: () => undefined,
    });
    adapter.sendPayload(packet as never);
  };
}

/** aqualink's stop: the node's TrackEnd `stopped`, with its queue empty, comes back as queueEnd. */
async function expectStopEndsQueue(aqua: Aqua, player: AquaPlayer): Promise<void> {
  let queueEnded = false;
  aqua.on(AqualinkEvents.QueueEnd, () => (queueEnded = true));
  player.stop();
  await until(() => queueEnded, 5000, 'queueEnd');
}

describe('aqualink with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const { aqua, player, listener, nodeErrors } = await aquaPlaying(cleanup, { autoResume: false });
    await expectPauseResume(listener, BOT, pauseToggle(player));

    await expectStopEndsQueue(aqua, player);
    expect(nodeErrors).toEqual([]);
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);

  it('resumes its session after its WebSocket drops: the same session, no gap at the listener, the player still answers', async () => {
    const { aqua, player, listener, nodeErrors } = await aquaPlaying(cleanup, { autoResume: true });
    const node = aqua.nodeMap.get('voxcord') as unknown as { ws: { terminate(): void }; sessionId: string };
    const sessionId = node.sessionId;
    const readies: unknown[] = [];
    aqua.on(AqualinkEvents.NodeReady, (_node, info) => void readies.push(info.resumed));

    node.ws.terminate();
    await expectHeardThrough(listener, BOT, 2000);
    await until(() => readies.length > 0, 5000, 'ready again');
    expect(readies).toEqual([true]);
    expect(node.sessionId).toBe(sessionId);

    await expectStopEndsQueue(aqua, player);
    expect(nodeErrors).toEqual([]);
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
