/**
 * The workaround the docs give for the clients' event-order limit (VOICE_SERVER_UPDATE before
 * VOICE_STATE_UPDATE on a first join, see clients-voice.test.ts): the bot's forwarding holds a
 * guild's server update until its state update went to lavalink-client. With it, an unmodified
 * lavalink-client on a local Discord that always sends server-first does PATCH the node, and the
 * node's player joins the voice channel.
 */
import { describe, expect, it } from 'vitest';
import { CHANNEL, GUILD, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { startCall } from '../support/call.js';
import { lavalinkOnVoiceNode } from './processes.js';
import type { VoiceEventForwarder } from './processes.js';

const BOT = '1500000000000000021';
const cleanup = cleanupAfterEach();

/** What the docs tell a bot to do in its raw-event forwarding (here fed by a voxcord shard). */
function orderedForwarder(send: (t: string, d: unknown) => void): VoiceEventForwarder {
  const stateSent = new Set<string>();
  const held = new Map<string, unknown>();
  return {
    state(d) {
      send('VOICE_STATE_UPDATE', d);
      const guild = d.guild_id ?? '';
      stateSent.add(guild);
      const server = held.get(guild);
      held.delete(guild);
      if (server !== undefined) send('VOICE_SERVER_UPDATE', server);
    },
    server(d) {
      if (stateSent.has(d.guild_id)) send('VOICE_SERVER_UPDATE', d);
      else held.set(d.guild_id, d);
    },
  };
}

describe('event-order workaround (docs)', () => {
  it('server-first events, held in the bot until the state update: lavalink-client PATCHes and the node joins', async () => {
    const world = await startCall(cleanup, { gateway: { guilds: [GUILD], voiceEventOrder: 'server-first' } });
    const lines: string[] = [];
    const { manager, server } = await lavalinkOnVoiceNode(cleanup, world, BOT, {
      forward: (m) => orderedForwarder((t, d) => void m().sendRawData({ t, d } as never)),
      log: (line) => lines.push(line),
    });
    const player = manager.createPlayer({ guildId: GUILD, voiceChannelId: CHANNEL, selfDeaf: true });
    await player.connect();
    await until(() => lines.some((l) => l.includes('voice ready')), 10_000, 'the node joining');
    expect(server.players).toBe(1);
  }, 30_000);
});
