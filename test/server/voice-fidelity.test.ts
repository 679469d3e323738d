/**
 * Issue 13, voice fidelity of the local Discord, asserted on the wire: the SFU forwards no audio to
 * a self-deafened or server-deafened user and none from a server-muted one (as Discord), and the
 * two voice dispatches come state-first by default (what Discord does), with 'server-first' and
 * 'random' on request. Users join through the local Discord's user adapter with voxcord's
 * joinVoiceChannel, so every flag travels the real path: op 4 -> voice state -> SFU.
 */
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayClient, entersState, joinVoiceChannel, startLocalDiscord } from '../../src/index.js';
import type { LocalDiscord, VoiceConnection } from '../../src/index.js';
import { Cleanup } from '../support/cleanup.js';
import { GUILD } from '../support/ids.js';
import { until } from '../support/wait.js';
import type { VoiceEventOrder } from '../../src/server/main-gateway.js';

const VOICE = '1300000000000000002';
const SPEAKER = '1300000000000000011';
const LISTENER = '1300000000000000012';
const CONTROL = '1300000000000000013';
const BOT = '1300000000000000020';

const cleanups = new Cleanup();
afterEach(() => cleanups.run());

async function startWorld(voiceEventOrder?: VoiceEventOrder): Promise<LocalDiscord> {
  const local = await startLocalDiscord({
    voice: { dave: false },
    gateway: {
      guilds: [{ id: GUILD, channels: [{ id: VOICE, name: 'voice' }] }],
      ...(voiceEventOrder === undefined ? {} : { voiceEventOrder }),
    },
  });
  cleanups.push(() => local.stop());
  return local;
}

/**
 * A user in the voice channel; `packets` counts the RTP packets it receives from SPEAKER.
 * `as: 'bot'` joins through a bot's main gateway session (the built-in client) instead of the
 * local Discord's user adapter.
 */
async function joinUser(
  local: LocalDiscord,
  userId: string,
  selfDeaf: boolean,
  as: 'user' | 'bot' = 'user',
): Promise<{ connection: VoiceConnection; packets: () => number }> {
  let adapterCreator = as === 'user' ? local.userAdapterCreator(userId, GUILD) : undefined;
  if (adapterCreator === undefined) {
    const { token, apiUrl } = local.createBot(userId);
    const client = createGatewayClient({ token, apiUrl });
    cleanups.push(() => client.destroy());
    await client.connect();
    adapterCreator = client.adapterCreator(GUILD);
  }
  const connection = joinVoiceChannel({
    guildId: GUILD,
    channelId: VOICE,
    adapterCreator,
    group: `fidelity-${userId}`,
    selfDeaf,
    tls: false,
  });
  cleanups.push(() => connection.destroy());
  await entersState(connection, 'ready', 10_000);
  const session = connection.session!;
  let count = 0;
  const speakerSsrc = (): number | undefined => [...session.users].find(([, user]) => user === SPEAKER)?.[0];
  session.on('rtp', (packet) => {
    if (packet.ssrc === speakerSsrc()) count += 1;
  });
  return { connection, packets: () => count };
}

/** `frames` audio frames from SPEAKER (distinct payloads, not silence). */
async function speak(speaker: VoiceConnection, frames: number): Promise<void> {
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < frames; i++) yield Uint8Array.of(0xfc, i & 0xff, 0x01, 0x02);
  }
  const transmission = speaker.playOpus(source());
  await transmission.finished;
}

describe('deafen and mute on the SFU', () => {
  it('a self-deafened user is forwarded nothing; an undeafened one in the same call hears every frame', async () => {
    const local = await startWorld();
    // Bots through the main gateway, as in the issue (a recording bot that forgets selfDeaf: false).
    const speaker = await joinUser(local, SPEAKER, true, 'bot');
    const deaf = await joinUser(local, LISTENER, true, 'bot');
    const control = await joinUser(local, CONTROL, false, 'bot');
    await speak(speaker.connection, 40);
    await until(() => control.packets() >= 40, 5_000, 'the frames at the undeafened user');
    await new Promise((r) => setTimeout(r, 200));
    expect(deaf.packets()).toBe(0);
    expect(local.voiceStates(GUILD)).toContainEqual(
      expect.objectContaining({ userId: LISTENER, selfDeaf: true }),
    );
    expect(local.voice.sfuStats.dropped['receiver-deaf']).toBeGreaterThanOrEqual(40);
  });

  it('server deafen: nothing forwarded while deafened, audio again once undeafened', async () => {
    const local = await startWorld();
    const speaker = await joinUser(local, SPEAKER, true);
    const listener = await joinUser(local, LISTENER, false);
    const control = await joinUser(local, CONTROL, false);
    expect(local.setServerVoiceFlags(GUILD, LISTENER, { deaf: true })).toBe(true);
    await speak(speaker.connection, 30);
    await until(() => control.packets() >= 30, 5_000, 'the frames at the control user');
    await new Promise((r) => setTimeout(r, 200));
    expect(listener.packets()).toBe(0);

    local.setServerVoiceFlags(GUILD, LISTENER, { deaf: false });
    await speak(speaker.connection, 30);
    await until(() => listener.packets() >= 30, 5_000, 'the frames after undeafen');
  });

  it('server mute: a muted speaker reaches nobody; unmuted, everyone hears it', async () => {
    const local = await startWorld();
    const speaker = await joinUser(local, SPEAKER, true);
    const listener = await joinUser(local, LISTENER, false);
    local.setServerVoiceFlags(GUILD, SPEAKER, { mute: true });
    await speak(speaker.connection, 30);
    await new Promise((r) => setTimeout(r, 300));
    expect(listener.packets()).toBe(0);
    expect(local.voice.sfuStats.dropped['sender-server-muted']).toBeGreaterThanOrEqual(30);

    local.setServerVoiceFlags(GUILD, SPEAKER, { mute: false });
    await speak(speaker.connection, 30);
    await until(() => listener.packets() >= 30, 5_000, 'the frames after unmute');
  });

  it('bots see server deafen/mute in VOICE_STATE_UPDATE (with the member)', async () => {
    const local = await startWorld();
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
      rest: { api: local.createBot(BOT).apiUrl },
    });
    cleanups.push(() => client.destroy());
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    await client.login(local.createBot(BOT).token);
    await ready;
    await joinUser(local, LISTENER, false);
    const guild = client.guilds.cache.get(GUILD)!;
    await until(() => guild.voiceStates.cache.get(LISTENER)?.channelId === VOICE, 2_000, 'the user in voice');
    local.setServerVoiceFlags(GUILD, LISTENER, { deaf: true, mute: true });
    await until(() => guild.voiceStates.cache.get(LISTENER)?.serverDeaf === true, 2_000, 'serverDeaf');
    expect(guild.voiceStates.cache.get(LISTENER)?.serverMute).toBe(true);
    expect(guild.members.cache.get(LISTENER)?.user.bot).toBe(false);
  });
});

describe('order of the two voice dispatches', () => {
  /** Joins and leaves `times` times; returns, per join, the order discord.js received them in. */
  async function observeOrders(local: LocalDiscord, times: number): Promise<string[]> {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
      rest: { api: local.createBot(BOT).apiUrl },
    });
    cleanups.push(() => client.destroy());
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    const wire: string[] = [];
    client.on(Events.Raw, (packet: { t?: string; d?: { user_id?: string; channel_id?: string | null } }) => {
      if (packet.t === 'VOICE_SERVER_UPDATE') wire.push('server');
      else if (packet.t === 'VOICE_STATE_UPDATE' && packet.d?.user_id === BOT && packet.d.channel_id !== null)
        wire.push('state');
    });
    await client.login(local.createBot(BOT).token);
    await ready;
    const shard = client.guilds.cache.get(GUILD)!.shard;
    const orders: string[] = [];
    for (let i = 0; i < times; i++) {
      wire.length = 0;
      shard.send({
        op: 4,
        d: { guild_id: GUILD, channel_id: VOICE, self_mute: false, self_deaf: true },
      });
      await until(() => wire.length === 2, 2_000, 'both voice dispatches');
      orders.push(wire.join('-'));
      shard.send({
        op: 4,
        d: { guild_id: GUILD, channel_id: null, self_mute: false, self_deaf: true },
      });
      await until(() => !local.gateway.voiceStates(GUILD).some((s) => s.userId === BOT), 2_000, 'the leave');
    }
    return orders;
  }

  it('defaults to state first, every time (what Discord does, and what @discordjs/voice needs)', async () => {
    const local = await startWorld();
    expect(await observeOrders(local, 10)).toEqual(Array(10).fill('state-server'));
  });

  it("'server-first' sends the server update first", async () => {
    const local = await startWorld('server-first');
    expect(await observeOrders(local, 3)).toEqual(Array(3).fill('server-state'));
  });

  it("'random' produces both orders", async () => {
    const local = await startWorld('random');
    const orders = await observeOrders(local, 16);
    expect(new Set(orders)).toEqual(new Set(['state-server', 'server-state']));
  });
});
