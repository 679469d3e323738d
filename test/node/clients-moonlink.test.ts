/**
 * An unmodified moonlink.js bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. moonlink.js speaks WebSocket with code of its own, which leaves bytes that came
 * with the handshake's 101 unparsed until more arrive: it is the client that needs a message after
 * `ready` in a read of its own (node/session.ts FOLLOW_UP_STATS_MS). It puts `local:` before a
 * query that is not a URL (no Lavalink source takes that), so the track is an http URL here.
 */
import { describe, expect, it } from 'vitest';
import { Manager } from 'moonlink.js';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { PASSWORD } from './helpers.js';
import { clientScene, expectHeardFile, expectPauseResume } from './processes.js';

const BOT = '1500000000000000005';
const LISTENER = '1500000000000000006';

const cleanup = cleanupAfterEach();

describe('moonlink.js with voice', () => {
  it('gets ready at once, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const { listener, frames, url, node, shard } = await clientScene(
      cleanup,
      { bot: BOT, listener: LISTENER },
      { frequency: 770, ms: 8000 },
    );
    let adapter: VoiceAdapterImplementerMethods | undefined;
    const manager: Manager = new Manager({
      nodes: [
        { host: '127.0.0.1', port: node.port, password: PASSWORD, secure: false, identifier: 'voxcord' },
      ],
      // In memory: its default database is a folder in the working directory.
      options: { database: { type: 'memory' } },
      send: (guildId: string, payload: unknown) => {
        adapter ??= shard.adapterCreator(guildId)({
          onVoiceStateUpdate: (d) => void manager.packetUpdate({ t: 'VOICE_STATE_UPDATE', d }),
          onVoiceServerUpdate: (d) => void manager.packetUpdate({ t: 'VOICE_SERVER_UPDATE', d }),
          destroy: () => undefined,
        });
        adapter.sendPayload(payload as never);
      },
    });
    const ends: string[] = [];
    manager.on('trackEnd', (_player, _track, reason) => ends.push(String(reason)));
    await manager.init(BOT);
    // Without a message in a read of its own after ready, moonlink.js waits for its 30 s ping's pong.
    await until(() => manager.hasReadyNodes === true, 5000, 'moonlink.js ready');
    const player = manager.players.create({ guildId: GUILD, voiceChannelId: CHANNEL, selfDeaf: true });
    cleanup.add(() => player.destroy().catch(() => undefined));
    await player.connect({ selfDeaf: true });

    const result = (await manager.search({ query: url })) as {
      loadType: string;
      tracks: unknown[];
    };
    expect(result.loadType).toBe('track');
    player.queue.add(result.tracks[0] as never);
    await player.play();
    await expectHeardFile(listener, BOT, frames);

    await expectPauseResume(listener, BOT, player);

    await player.stop();
    await until(() => ends.length > 0, 5000, 'the track end');
    expect(ends).toEqual(['stopped']);
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
