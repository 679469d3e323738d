/**
 * An unmodified poru bot on the local Discord (DAVE on, voice events state-first), through
 * `voxcord node`. poru 5 speaks v4 paths (`/v4/websocket`, `/v4/sessions/{id}/players/{guild}`)
 * and sends the voice credentials with `channelId`. What it needs from the app:
 * - `library: 'other'` throws "Send function is required" unless `poru.send` is already set
 *   before `init()` (its check reads `this.send`, which the constructor sets to null);
 * - it has no resume (pause(false) resumes) and no stop (skip() sends `encoded: null`);
 * - a `stopped` track end with an empty queue is `queueEnd`, not `trackEnd`, so the reason is read
 *   off its `raw` event;
 * - its resume is Lavalink v3's: a `Resume-Key` header and a PATCH of `resumingKey`, which a v4
 *   node (voxcord's too) ignores, so the session is not resumable.
 * A query that is not an http(s) URL gets `ytsearch:` (or `defaultPlatform`) put before it, so
 * the track is an http URL here.
 */
import { describe, expect, it } from 'vitest';
import { Poru } from 'poru';
import type { Node as PoruNode } from 'poru';
import type { VoiceAdapterImplementerMethods } from '../../src/gateway/adapter.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { TEXT_CHANNEL } from '../support/ids.js';
import { cleanupAfterEach } from '../support/after-each.js';
import type { Cleanup } from '../support/cleanup.js';
import { PASSWORD } from './helpers.js';
import {
  botShard,
  clientScene,
  clientWorld,
  expectHeardFile,
  expectPauseResume,
  pauseToggle,
  trackEndReasons,
  voiceNode,
} from './processes.js';
import type { RawNodeMessage } from './processes.js';

const BOT = '1500000000000000007';
const LISTENER = '1500000000000000008';

const cleanup = cleanupAfterEach();

/**
 * poru with `library: 'other'` on the bot's shard: op 4 out through the shard's adapter, the two
 * raw voice events back into `packetUpdate`.
 */
async function poruOnShard(
  cleanup: Cleanup,
  shard: GatewayClient,
  port: number,
  options: { resumeKey?: string } = {},
): Promise<{ poru: Poru; node: PoruNode; packets: RawNodeMessage[] }> {
  let adapter: VoiceAdapterImplementerMethods | undefined;
  const send = (packet: { op: number; d: { guild_id: string } }): void => {
    adapter ??= shard.adapterCreator(packet.d.guild_id)({
      onVoiceStateUpdate: (d) => void poru.packetUpdate({ op: 0, t: 'VOICE_STATE_UPDATE', d }),
      onVoiceServerUpdate: (d) => void poru.packetUpdate({ op: 0, t: 'VOICE_SERVER_UPDATE', d }),
      destroy: () => undefined,
    });
    adapter.sendPayload(packet as never);
  };
  const poru: Poru = new Poru(
    { user: { id: BOT } },
    [{ name: 'voxcord', host: '127.0.0.1', port, password: PASSWORD, secure: false }],
    { library: 'other', send, ...options },
  );
  // poru's 'other' library check reads `this.send` (null until init) before it copies options.send.
  poru.send = send;
  const packets: RawNodeMessage[] = [];
  poru.on('raw', (_topic, packet) => void packets.push(packet as RawNodeMessage));
  await poru.init();
  // Before the node's own close: else poru reconnects (and throws from a timer) after the test.
  cleanup.add(() => poru.removeNode('voxcord'));
  await until(() => poru.nodes.get('voxcord')?.sessionId != null, 5000, 'poru ready');
  const node = poru.nodes.get('voxcord');
  if (node === undefined) throw new Error('no node');
  return { poru, node, packets };
}

describe('poru with voice', () => {
  it('gets ready, loads an http track, and the listener hears it; pause, resume and stop', async () => {
    const {
      listener,
      frames,
      url,
      node: server,
      shard,
    } = await clientScene(cleanup, { bot: BOT, listener: LISTENER }, { frequency: 550, ms: 8000 });
    const { poru, packets } = await poruOnShard(cleanup, shard, server.port);

    let queueEnded = false;
    poru.on('queueEnd', () => (queueEnded = true));
    const trackEnds: string[] = [];
    poru.on('trackEnd', (_player, _track, data) => trackEnds.push(data.reason));
    const player = poru.createConnection({
      guildId: GUILD,
      voiceChannel: CHANNEL,
      textChannel: TEXT_CHANNEL,
      deaf: true,
    });
    cleanup.add(() => player.destroy().catch(() => undefined));
    // poru PATCHes the voice on VOICE_SERVER_UPDATE.
    await until(() => server.players === 1, 5000, 'the voice PATCH');
    const voiceAt = Date.now();

    const result = await poru.resolve({ query: url });
    expect(result.loadType).toBe('track');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    expect(track.info.sourceName).toBe('http');
    player.queue.add(track);
    await player.play();
    await expectHeardFile(listener, BOT, frames);

    // poru PATCHes `paused: false` 1 s after its voice PATCH (Connection.setServersUpdate): a pause
    // sent before that is undone.
    await new Promise((r) => setTimeout(r, Math.max(0, voiceAt + 1500 - Date.now())));
    await expectPauseResume(listener, BOT, pauseToggle(player));

    await player.skip(); // poru's stop: PATCH track.encoded null
    await until(() => trackEndReasons(packets).length > 0, 5000, 'the track end');
    expect(trackEndReasons(packets)).toEqual(['stopped']);
    await until(() => queueEnded, 2000, 'queueEnd');
    expect(trackEnds).toEqual([]); // poru reports a stop with an empty queue as queueEnd only
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);

  it('resumeKey is Lavalink v3 resuming: the node keeps the timeout, the session is not resumable', async () => {
    const { local, engine } = await clientWorld(cleanup, [GUILD]);
    const logs: string[] = [];
    const server = await voiceNode(cleanup, engine, (line) => logs.push(line));
    const shard = await botShard(cleanup, local, BOT);
    const { node } = await poruOnShard(cleanup, shard, server.port, { resumeKey: 'voxcord-poru' });
    // On `ready`, poru PATCHes /v4/sessions/{id} with { resumingKey, timeout: 60 }: no `resuming`.
    const line = `session ${node.sessionId ?? ''}: resuming false, timeout 60 s`;
    await until(() => logs.includes(line), 5000, 'the session PATCH');
  }, 30_000);
});
