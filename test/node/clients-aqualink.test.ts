/**
 * An unmodified aqualink bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. aqualink 3 speaks v4 paths and sends the voice credentials with `channelId`.
 * What it needs from the app: a client object (only read for its default `send`, which the app
 * replaces), `init(botId)`, and the raw voice events through `updateVoiceState`.
 * - `pause(boolean)` and `stop()` return at once (their PATCH is not awaited);
 * - a stop with an empty queue is `queueEnd`, not `trackEnd`.
 */
import { describe, expect, it } from 'vitest';
import { Aqua, AqualinkEvents } from 'aqualink';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { PASSWORD } from './helpers.js';
import { clientScene, expectHeardFile, expectPauseResume, pauseToggle } from './processes.js';

const BOT = '1500000000000000019';
const LISTENER = '1500000000000000020';
const TEXT_CHANNEL = '1400000000000000999';

const cleanup = cleanupAfterEach();

describe('aqualink with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const {
      listener,
      frames,
      url,
      node: server,
      shard,
    } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 770, ms: 8000 });
    let adapter: VoiceAdapterImplementerMethods | undefined;
    const aqua: Aqua = new Aqua(
      {},
      [{ name: 'voxcord', host: '127.0.0.1', port: server.port, auth: PASSWORD, ssl: false }],
      {
        restVersion: 'v4',
        defaultSearchPlatform: 'ytsearch',
        autoResume: false,
        // aqualink sends op 4 ({ op: 4, d: { guild_id, channel_id, ... } }) through `send`.
        send: (payload) => {
          const packet = payload as { op: number; d: { guild_id: string } };
          adapter ??= shard.adapterCreator(packet.d.guild_id)({
            onVoiceStateUpdate: (d) => aqua.updateVoiceState({ t: 'VOICE_STATE_UPDATE', d } as never),
            onVoiceServerUpdate: (d) => aqua.updateVoiceState({ t: 'VOICE_SERVER_UPDATE', d } as never),
            destroy: () => undefined,
          });
          adapter.sendPayload(packet as never);
        },
      },
    );
    const nodeErrors: string[] = [];
    aqua.on(AqualinkEvents.NodeError, (_node: unknown, error: Error) => nodeErrors.push(error.message));
    await aqua.init(BOT);
    // Before the node's own close: else aqualink reconnects to it after the test.
    cleanup.add(() => aqua.destroy());
    await until(() => aqua.leastUsedNodes.length > 0, 5000, 'aqualink ready');

    let queueEnded = false;
    aqua.on(AqualinkEvents.QueueEnd, () => (queueEnded = true));
    const player = aqua.createConnection({
      guildId: GUILD,
      voiceChannel: CHANNEL,
      textChannel: TEXT_CHANNEL,
      deaf: true,
    });
    cleanup.add(() => player.destroy());
    await until(() => server.players === 1, 5000, 'the voice PATCH');

    const result = await aqua.resolve({ query: url, requester: { id: BOT } });
    expect(result.loadType).toBe('track');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    player.queue.add(track);
    await player.play();
    await expectHeardFile(listener, BOT, frames);
    await expectPauseResume(listener, BOT, pauseToggle(player));

    player.stop();
    await until(() => queueEnded, 5000, 'queueEnd');
    expect(nodeErrors).toEqual([]);
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
