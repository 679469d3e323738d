/**
 * An unmodified magmastream bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`, with its base `Manager` (no library wrapper). magmastream speaks v4 paths and
 * sends the voice credentials with `channelId`. What it needs from the app (paths under
 * node_modules/magmastream/dist/):
 * - `getUser` and `getGuild` (utils/managerCheck.js:176-190) and a boolean `playNextOnEnd`, whose
 *   documented default is applied only after the check (managerCheck.js:21, structures/Manager.js:76);
 * - `send` (Manager.js:55), handed a whole op 4 packet (Player.js:190); the raw voice events go
 *   back through `updateVoiceState`, which keeps only the bot's own state (Manager.js:394);
 * - `listenToSIGEvents: false`: by default each Manager adds SIGINT/SIGTERM handlers that save
 *   the players and exit the process (Manager.js:97-141).
 * Its quirks:
 * - even with `stateStorage: memory` it writes to `<cwd>/magmastream/`: a README when a Node is
 *   constructed (Node.js:99, :1175-1185) and the session id on `ready` (Node.js:125-127, :211);
 *   so the test runs it in a temp folder (process.chdir; vitest's pool is forks);
 * - a Player PATCHes its volume from its constructor, not awaited (Player.js:130), so it is
 *   created after `ready`; that call reads `options.volume`, not the default of 100 it has just
 *   set (Player.js:93), so without a `volume` it rejects unhandled ("Volume must be a number.",
 *   Player.js:472-476);
 * - it renames the node's `sourceName` `http` to `Http` (structures/Utils.js:111, :133);
 * - stop() does not await its PATCH (Player.js:736); pause(bool) does;
 * - a `stopped` track end with an empty queue is `queueEnd` (with the node's event), not
 *   `trackEnd` (Node.js:631-637, :795);
 * - destroyNode() drops the node from its map before Node.destroy() moves the node's players to
 *   another node (Manager.js:363, Node.js:309-311), which throws with none left (Player.js:907):
 *   the player is destroyed first;
 * - it compares the close reason, a Buffer in ws 8, with "destroy" (Node.js:426), so any close
 *   schedules a reconnect (60 s by default); destroyNode() removes its listeners first.
 * `search` puts `ytsearch:` before a query that is not an http(s) URL (Manager.js:214-216), so
 * the track is an http URL here.
 */
import { describe, expect, it } from 'vitest';
import { Manager, ManagerEventTypes, StateStorageType } from 'magmastream';
import type { DiscordVoiceState, TrackEndEvent, VoiceServer } from 'magmastream';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import { CHANNEL, GUILD, tempDir, until } from '../cli/helpers.js';
import { TEXT_CHANNEL } from '../support/ids.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { PASSWORD } from './helpers.js';
import { clientScene, expectHeardFile, expectPauseResume, pauseToggle } from './processes.js';

const BOT = '1500000000000000015';
const LISTENER = '1500000000000000016';

const cleanup = cleanupAfterEach();

describe('magmastream with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const {
      listener,
      frames,
      url,
      node: server,
      shard,
    } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 880, ms: 8000 });
    // Its `magmastream/` folder (README, node session ids) goes to a temp folder, not the repo.
    const dir = await tempDir(cleanup, 'voxcord-magmastream-');
    const cwd = process.cwd();
    process.chdir(dir);
    cleanup.add(() => process.chdir(cwd));

    let adapter: VoiceAdapterImplementerMethods | undefined;
    const manager: Manager = new Manager({
      nodes: [
        { identifier: 'voxcord', host: '127.0.0.1', port: server.port, password: PASSWORD, useSSL: false },
      ],
      playNextOnEnd: true,
      stateStorage: { type: StateStorageType.Memory },
      listenToSIGEvents: false,
      getUser: () => undefined,
      getGuild: () => undefined,
      send: (packet) => {
        adapter ??= shard.adapterCreator((packet.d as { guild_id: string }).guild_id)({
          onVoiceStateUpdate: (d) =>
            void manager.updateVoiceState({ t: 'VOICE_STATE_UPDATE', d: d as DiscordVoiceState }),
          onVoiceServerUpdate: (d) =>
            void manager.updateVoiceState({ t: 'VOICE_SERVER_UPDATE', d: d as VoiceServer }),
          destroy: () => undefined,
        });
        adapter.sendPayload(packet as never);
      },
    });
    const trackEnds: string[] = [];
    manager.on(ManagerEventTypes.TrackEnd, (_player, _track, payload) => trackEnds.push(payload.reason));
    const queueEnds: TrackEndEvent[] = [];
    manager.on(ManagerEventTypes.QueueEnd, (_player, _track, payload) => void queueEnds.push(payload));
    await manager.init({ clientId: BOT });
    // Before the node's own close: else magmastream reconnects to it after the test.
    cleanup.add(() => manager.destroyNode('voxcord'));
    await until(() => manager.nodes.get('voxcord')?.sessionId != null, 5000, 'magmastream ready');

    const player = manager.create({
      guildId: GUILD,
      voiceChannelId: CHANNEL,
      textChannelId: TEXT_CHANNEL,
      selfDeafen: true,
      volume: 100, // its constructor's setVolume reads the option, not its default (Player.js:93, :130)
    });
    // Before destroyNode (newest first): it awaits its pause, op 4 and DELETE.
    cleanup.add(() => player.destroy());
    player.connect();

    const result = await manager.search(url);
    expect(result.loadType).toBe('track');
    const track = 'tracks' in result ? result.tracks[0] : undefined;
    if (track === undefined) throw new Error('no track');
    expect(track.sourceName).toBe('Http'); // its TrackUtils.build renames the node's `http`
    await player.play(track);
    await expectHeardFile(listener, BOT, frames);

    await expectPauseResume(listener, BOT, pauseToggle(player));

    await player.stop(); // PATCH track.encoded null, not awaited
    await until(() => queueEnds.length > 0, 5000, 'the track end (queueEnd)');
    expect(queueEnds.map((e) => [e.type, e.reason])).toEqual([['TrackEndEvent', 'stopped']]);
    expect(trackEnds).toEqual([]); // magmastream reports a stop with an empty queue as queueEnd only
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
