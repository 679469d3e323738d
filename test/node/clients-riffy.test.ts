/**
 * An unmodified riffy bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. What it needs from the app:
 * - `restVersion: 'v4'`: the default is v3 (build/structures/Riffy.js:44), which opens the
 *   WebSocket at `/` instead of `/v4/websocket` (Node.js:27-31) and sends v3 paths;
 * - `send` (Riffy.js:24), handed a whole op 4 packet (Player.js:566); the raw voice events go back
 *   through `updateVoiceState` (Riffy.js:125), which keeps only the bot's own state (Riffy.js:133);
 * - `bypassChecks`, required by its typings and read when `/v4/info` fails (Node.js:375).
 * Its quirks:
 * - its play(), pause(bool) and stop() do not await their PATCH (Player.js:162, :303, :289), and
 *   it has no resume: pause(false) resumes;
 * - a `stopped` track end with an empty queue is `queueEnd`, not `trackEnd` (Player.js:524-526),
 *   so the reason is read off its `raw` event (Node.js:408);
 * - Player.destroy() does not await its DELETE (Player.js:432), so the cleanup waits for the node
 *   to drop the player before the node goes.
 * `resolve` puts `ytmsearch:` before a query that is not an http(s) URL (Riffy.js:327-329), so the
 * track is an http URL here.
 */
import { describe, expect, it } from 'vitest';
import { Riffy } from 'riffy';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { TEXT_CHANNEL } from '../support/ids.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { PASSWORD } from './helpers.js';
import {
  clientScene,
  expectHeardFile,
  expectPauseResume,
  pauseToggle,
  trackEndReasons,
} from './processes.js';
import type { RawNodeMessage } from './processes.js';

const BOT = '1500000000000000013';
const LISTENER = '1500000000000000014';

const cleanup = cleanupAfterEach();

describe('riffy with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const {
      listener,
      frames,
      url,
      node: server,
      shard,
    } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 660, ms: 8000 });
    let adapter: VoiceAdapterImplementerMethods | undefined;
    const riffy: Riffy = new Riffy(
      {}, // its Discord client: required (Riffy.js:22), never read
      [{ name: 'voxcord', host: '127.0.0.1', port: server.port, password: PASSWORD, secure: false }],
      {
        restVersion: 'v4',
        bypassChecks: { nodeFetchInfo: false },
        send: (packet) => {
          adapter ??= shard.adapterCreator(packet.d.guild_id)({
            onVoiceStateUpdate: (d) => riffy.updateVoiceState({ t: 'VOICE_STATE_UPDATE', d }),
            onVoiceServerUpdate: (d) => riffy.updateVoiceState({ t: 'VOICE_SERVER_UPDATE', d }),
            destroy: () => undefined,
          });
          adapter.sendPayload(packet as never);
        },
      },
    );
    const packets: RawNodeMessage[] = [];
    riffy.on('raw', (_type, packet) => void packets.push(packet as RawNodeMessage));
    const trackEnds: string[] = [];
    riffy.on('trackEnd', (_player, _track, payload) =>
      trackEnds.push((payload as RawNodeMessage).reason ?? ''),
    );
    let queueEnded = false;
    riffy.on('queueEnd', () => (queueEnded = true));
    riffy.init(BOT);
    // Before the node's own close: else riffy reconnects to it after the test.
    cleanup.add(() => riffy.destroyNode('voxcord'));
    await until(() => riffy.nodeMap.get('voxcord')?.sessionId != null, 5000, 'riffy ready');

    const player = riffy.createConnection({
      guildId: GUILD,
      voiceChannel: CHANNEL,
      textChannel: TEXT_CHANNEL,
      deaf: true,
    });
    cleanup.add(async () => {
      player.destroy();
      await until(() => server.players === 0, 2000, 'the DELETE').catch(() => undefined);
    });

    const result = await riffy.resolve({ query: url, requester: undefined }); // its typings require a requester
    expect(result.loadType).toBe('track');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    expect(track.info.sourceName).toBe('http');
    player.queue.add(track);
    // Waits for the voice credentials and their PATCH (Connection.resolve) before the track's.
    await player.play();
    expect(server.players).toBe(1);
    await expectHeardFile(listener, BOT, frames);

    await expectPauseResume(listener, BOT, pauseToggle(player));

    player.stop(); // PATCH track.encoded null, not awaited
    await until(() => trackEndReasons(packets).length > 0, 5000, 'the track end');
    expect(trackEndReasons(packets)).toEqual(['stopped']);
    await until(() => queueEnded, 2000, 'queueEnd');
    expect(trackEnds).toEqual([]); // riffy reports a stop with an empty queue as queueEnd only
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
