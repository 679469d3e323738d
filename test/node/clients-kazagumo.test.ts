/**
 * An unmodified kazagumo bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. kazagumo 3 wraps shoukaku 4 (a dependency of its own, deduplicated with ours):
 * the node protocol is shoukaku's (Lavalink v4), the voice events reach it through a shoukaku
 * Connector, and kazagumo's own `send` carries only its player's op 4s (leave on destroy).
 * `search` puts `ytsearch:` before a query that is not an http(s) URL, so the track is an http
 * URL here. Its pause(boolean) and skip() do not wait for the node's answer, and its
 * `playerEnd` carries no reason: the reason is read off shoukaku's player.
 */
import { describe, expect, it } from 'vitest';
import { Kazagumo } from 'kazagumo';
import { Connector } from 'shoukaku';
import type { NodeOption, TrackEndEvent } from 'shoukaku';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { PASSWORD } from './helpers.js';
import { clientScene, expectHeardFile, expectPauseResume, pauseToggle } from './processes.js';

const BOT = '1500000000000000009';
const LISTENER = '1500000000000000010';

const cleanup = cleanupAfterEach();

/** shoukaku's connector on voxcord's gateway client: op 4 through the shard, raw voice events in. */
class ShardConnector extends Connector {
  private readonly adapters = new Map<string, VoiceAdapterImplementerMethods>();
  constructor(
    private readonly shard: GatewayClient,
    private readonly botId: string,
  ) {
    super(shard);
  }
  getId(): string {
    return this.botId;
  }
  sendPacket(_shardId: number, payload: unknown): void {
    this.adapterFor((payload as { d: { guild_id: string } }).d.guild_id).sendPayload(payload as never);
  }
  listen(nodes: NodeOption[]): void {
    queueMicrotask(() => this.ready(nodes));
  }
  adapterFor(guildId: string): VoiceAdapterImplementerMethods {
    let a = this.adapters.get(guildId);
    if (a === undefined) {
      a = this.shard.adapterCreator(guildId)({
        onVoiceStateUpdate: (d) => this.raw({ t: 'VOICE_STATE_UPDATE', d }),
        onVoiceServerUpdate: (d) => this.raw({ t: 'VOICE_SERVER_UPDATE', d }),
        destroy: () => undefined,
      });
      this.adapters.set(guildId, a);
    }
    return a;
  }
}

describe('kazagumo with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    // Served whole (no Range): the node cannot read the length from the last page, so the track is
    // a stream (length 2^63-1), as lavaplayer makes every Ogg URL. With length 0, as the node said
    // before, kazagumo searched `ytsearch:<author> - <title>` instead of playing it
    // (KazagumoTrack.readyToPlay).
    const {
      listener,
      frames,
      url,
      node: server,
      shard,
    } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 990, ms: 8000 });
    const connector = new ShardConnector(shard, BOT);
    const kazagumo = new Kazagumo(
      {
        defaultSearchEngine: 'youtube',
        send: (guildId, payload) => connector.adapterFor(guildId).sendPayload(payload as never),
      },
      connector,
      [{ name: 'voxcord', url: `127.0.0.1:${server.port}`, auth: PASSWORD }],
    );
    kazagumo.shoukaku.on('error', () => undefined);
    // Before the node's own close: else shoukaku reconnects to it after the test.
    cleanup.add(() => kazagumo.shoukaku.removeNode('voxcord'));
    const resolveErrors: string[] = [];
    kazagumo.on('playerResolveError', (_player, _track, message) => resolveErrors.push(message ?? ''));
    let ready = false;
    kazagumo.shoukaku.on('ready', () => (ready = true));
    await until(() => ready, 5000, 'kazagumo (shoukaku) ready');
    const started: string[] = [];
    kazagumo.on('playerStart', (_player, track) => started.push(track.title));
    let emptied = false;
    kazagumo.on('playerEmpty', () => (emptied = true));

    const player = await kazagumo.createPlayer({ guildId: GUILD, voiceId: CHANNEL, deaf: true });
    cleanup.add(() => player.destroy().catch(() => undefined));
    expect(server.players).toBe(1);
    const ends: string[] = [];
    player.shoukaku.on('end', (data: TrackEndEvent) => ends.push(data.reason));

    const result = await kazagumo.search(url);
    expect(result.type).toBe('TRACK');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    expect(track.sourceName).toBe('http');
    expect(track.isStream).toBe(true);
    await player.play(track);
    await expectHeardFile(listener, BOT, frames);
    expect(started).toEqual([track.title]);
    expect(resolveErrors).toEqual([]);

    await expectPauseResume(listener, BOT, pauseToggle(player));

    player.skip(); // shoukaku's stopTrack, not awaited
    await until(() => ends.length > 0, 5000, 'the track end');
    expect(ends).toEqual(['stopped']);
    await until(() => emptied, 2000, 'playerEmpty');
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
