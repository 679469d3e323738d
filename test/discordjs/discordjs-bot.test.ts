/**
 * Issue 13: an unmodified discord.js 14 Client is hosted by the local Discord. It logs in (READY,
 * GUILD_CREATE with its member, roles and channels), its REST calls get Discord's answers and
 * errors, it joins voice through `guild.voiceAdapterCreator` with voxcord's joinVoiceChannel and
 * with @discordjs/voice, and a user in the channel (a voxcord connection through the local
 * Discord's user adapter) hears it. Slash commands and messages drive it; its replies are read back.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, DiscordAPIError, Events, GatewayIntentBits, PermissionFlagsBits } from 'discord.js';
import type { VoiceBasedChannel } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { entersState, joinVoiceChannel, startLocalDiscord } from '../../src/index.js';
import type { LocalDiscord, VoiceConnection } from '../../src/index.js';
import { Cleanup } from '../support/cleanup.js';
import { GUILD } from '../support/ids.js';
import { until } from '../support/wait.js';
import { PLAY_FREQUENCY, createMusicBot } from './voxcord-music-bot.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const VOICE = '1200000000000000002';
const TEXT = '1200000000000000003';
const BOT = '1200000000000000010';
const USER = '1200000000000000020';

const cleanups = new Cleanup();
afterEach(() => cleanups.run());

async function startWorld(
  voice: { tls?: boolean } = {},
  voiceEventOrder?: 'server-first',
): Promise<LocalDiscord> {
  const local = await startLocalDiscord({
    gateway: {
      ...(voiceEventOrder === undefined ? {} : { voiceEventOrder }),
      guilds: [
        {
          id: GUILD,
          name: 'test guild',
          channels: [
            { id: VOICE, name: 'Music', type: 'voice' },
            { id: TEXT, name: 'general', type: 'text' },
          ],
        },
      ],
    },
    voice,
  });
  cleanups.push(() => local.stop());
  return local;
}

async function login(client: Client, local: LocalDiscord, botId = BOT): Promise<void> {
  cleanups.push(() => client.destroy());
  const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(local.createBot(botId).token);
  await ready;
}

/** A user joins voice with a voxcord connection (undeafened) and decodes what `speakerId` sends. */
async function joinListener(
  local: LocalDiscord,
  speakerId: string,
  tls: false | { ca: string } = false,
): Promise<{ connection: VoiceConnection; heard: { loudFrames: number; crossings: number } }> {
  const connection = joinVoiceChannel({
    guildId: GUILD,
    channelId: VOICE,
    adapterCreator: local.userAdapterCreator(USER, GUILD),
    group: `listener-${USER}`,
    selfDeaf: false,
    tls,
  });
  cleanups.push(() => connection.destroy());
  await entersState(connection, 'ready', 10_000);
  const heard = { loudFrames: 0, crossings: 0 };
  const stream = connection.receiver.subscribe(speakerId, { mode: 'pcm', maxQueuedFrames: 5_000 });
  void (async () => {
    for await (const frame of stream.frames()) {
      const pcm = frame.pcm;
      if (pcm === undefined || frame.concealed) continue;
      let peak = 0;
      for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm[i]!));
      if (peak < 8_000) continue;
      heard.loudFrames += 1;
      // Zero crossings of the left channel: 2 per cycle, so 2 × 440 × 0.02 s = 17.6 per frame.
      for (let i = 2; i < pcm.length; i += 2) if (pcm[i - 2]! < 0 !== pcm[i]! < 0) heard.crossings += 1;
    }
  })();
  return { connection, heard };
}

describe('an unmodified discord.js Client against the local Discord', () => {
  it('logs in, sees its member, roles and channels, and joins voice with voxcord and guild.voiceAdapterCreator', async () => {
    const local = await startWorld();
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
      rest: { api: local.createBot(BOT).apiUrl },
    });
    await login(client, local);
    const guild = client.guilds.cache.get(GUILD)!;
    expect(guild.name).toBe('test guild');

    // The join first: before issue 13 it timed out (discord.js dropped its own voice state).
    const connection = joinVoiceChannel({
      guildId: GUILD,
      channelId: VOICE,
      adapterCreator: guild.voiceAdapterCreator,
      tls: false,
      joinTimeoutMs: 5_000,
    });
    cleanups.push(() => connection.destroy());
    await entersState(connection, 'ready', 8_000);

    expect(guild.members.me?.id).toBe(BOT);
    expect(guild.roles.everyone.permissions.has(PermissionFlagsBits.Connect)).toBe(true);
    const channel = guild.channels.cache.get(VOICE) as VoiceBasedChannel;
    expect(channel.isVoiceBased()).toBe(true);
    expect(channel.userLimit).toBe(0);
    expect(channel.joinable).toBe(true);
    // discord.js kept its own voice state (it needs `member` for that) and sees itself in the channel.
    await until(() => guild.members.me?.voice.channelId === VOICE, 2_000, 'the bot in the channel');
    expect(channel.members.has(BOT)).toBe(true);
    expect(local.voiceStates(GUILD)).toContainEqual(
      expect.objectContaining({ userId: BOT, channelId: VOICE, bot: true, selfDeaf: true }),
    );
  });

  it('REST: the routes a voice bot calls answer like Discord, with Discord error bodies for what is missing', async () => {
    const local = await startWorld();
    const client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: { api: local.createBot(BOT).apiUrl },
    });
    await login(client, local);
    expect((await client.users.fetch(BOT, { force: true })).bot).toBe(true);
    const channel = await client.channels.fetch(VOICE, { force: true });
    expect(channel?.isVoiceBased() && channel.userLimit).toBe(0);
    const guild = await client.guilds.fetch({ guild: GUILD, force: true });
    expect(guild.roles.everyone.id).toBe(GUILD);
    expect((await guild.members.fetch({ user: BOT, force: true })).user.bot).toBe(true);
    expect((await guild.channels.fetch()).map((c) => c?.name).sort()).toEqual(['Music', 'general']);
    const app = await client.application!.fetch();
    expect(app.id).toBe(BOT);

    const failure = async (call: Promise<unknown>): Promise<{ status: number; code: number | string }> => {
      const error = await call.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DiscordAPIError);
      return { status: (error as DiscordAPIError).status, code: (error as DiscordAPIError).code };
    };
    expect(await failure(client.channels.fetch('1299999999999999999', { force: true }))).toEqual({
      status: 404,
      code: 10003,
    });
    expect(await failure(guild.members.fetch({ user: '1299999999999999998', force: true }))).toEqual({
      status: 404,
      code: 10007,
    });
    expect(await failure(client.guilds.fetch({ guild: '1299999999999999997', force: true }))).toEqual({
      status: 404,
      code: 10004,
    });
    const text = guild.channels.cache.get(TEXT);
    expect(text?.isTextBased()).toBe(true);
    if (text?.isTextBased())
      expect(await failure(text.send({ content: '' }))).toEqual({ status: 400, code: 50006 });
  });

  it('/play with voxcord: command in, audio heard by a user in the channel, reply read back', async () => {
    const local = await startWorld();
    const client = createMusicBot({ apiUrl: local.createBot(BOT).apiUrl, voiceTls: false });
    await login(client, local);
    await until(() => local.commands(BOT).length === 2, 5_000, 'command registration');
    expect(local.commands(BOT).map((c) => c.name)).toEqual(['play', 'stop']);

    // Not in voice yet: the bot says so, ephemerally.
    const early = await local.runCommand({ name: 'play', channelId: TEXT, userId: USER }).reply();
    expect(early).toMatchObject({ content: 'Join a voice channel first.', ephemeral: true, kind: 'reply' });

    const { heard } = await joinListener(local, BOT);
    const guild = client.guilds.cache.get(GUILD)!;
    await until(() => guild.voiceStates.cache.get(USER)?.channelId === VOICE, 2_000, 'the user in voice');

    const play = local.runCommand({ name: 'play', channelId: TEXT, userId: USER });
    const reply = await play.reply(15_000);
    expect(reply.content).toBe(`Playing a ${PLAY_FREQUENCY} Hz tone in Music.`);
    expect(play.callbackType).toBe(5); // deferred, then the original response edited
    expect(reply.edits).toBe(1);

    // 0.6 s of the tone, decoded, at about 440 Hz.
    await until(() => heard.loudFrames >= 30, 15_000, 'the tone at the listener');
    const hz = heard.crossings / 2 / (heard.loudFrames * 0.02);
    expect(Math.abs(hz - PLAY_FREQUENCY)).toBeLessThan(25);

    const bye = await local.runCommand({ name: 'stop', channelId: TEXT, userId: USER }).reply();
    expect(bye.content).toBe('Bye.');
    await until(
      () => !local.voiceStates(GUILD).some((s) => s.userId === BOT),
      5_000,
      'the bot leaving voice',
    );
  }, 40_000);

  it('a message drives the bot; its reply is read back (content needs MESSAGE_CONTENT, as on Discord)', async () => {
    const local = await startWorld();
    const client = createMusicBot({ apiUrl: local.createBot(BOT).apiUrl, voiceTls: false });
    const seen: string[] = [];
    client.on(Events.MessageCreate, (m) => seen.push(`${m.author.id}:${m.content}`));
    await login(client, local);
    const sent = local.sendMessage({ channelId: TEXT, userId: USER, content: '!ping' });
    const reply = await local.waitForMessage({ authorId: BOT, channelId: TEXT, after: sent.id });
    expect(reply).toMatchObject({ content: 'pong', kind: 'channel', guildId: GUILD });
    await until(() => seen.length === 2, 2_000, 'MESSAGE_CREATE of both messages');
    expect(seen).toEqual([`${USER}:!ping`, `${BOT}:pong`]);

    // A bot without the MESSAGE_CONTENT intent gets MESSAGE_CREATE with empty content.
    const other = '1200000000000000011';
    const blind = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages],
      rest: { api: local.createBot(other).apiUrl },
    });
    const blindSeen: string[] = [];
    blind.on(Events.MessageCreate, (m) => blindSeen.push(m.content));
    await login(blind, local, other);
    local.sendMessage({ channelId: TEXT, userId: USER, content: 'hello' });
    local.sendMessage({ channelId: TEXT, userId: USER, content: `hey <@${other}>` });
    await until(() => blindSeen.length === 2, 2_000, 'MESSAGE_CREATE at the second bot');
    expect(blindSeen).toEqual(['', `hey <@${other}>`]);
  }, 20_000);
});

describe('the same bot on @discordjs/voice (in a child process that trusts the voice server CA)', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill();
      await exited;
    }
    child = undefined;
  });

  /** Starts the @discordjs/voice bot in a child; resolves once it logged in and registered /play. */
  async function startDjsBot(local: LocalDiscord): Promise<Array<{ type: string; message?: string }>> {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'voxcord-djs-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    const caFile = path.join(tmp, 'ca.pem');
    writeFileSync(caFile, local.voice.tlsCa!);
    const bot = local.createBot(BOT);
    const proc = fork(path.join(here, 'djs-voice-child.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, BOT_TOKEN: bot.token, API_URL: bot.apiUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = proc;
    const messages: Array<{ type: string; message?: string }> = [];
    proc.on('message', (m) => messages.push(m as { type: string }));
    await until(() => messages.length > 0 || proc.exitCode !== null, 20_000, 'the djs bot to log in');
    expect(messages[0]).toEqual({ type: 'ready' });
    await until(() => local.commands(BOT).length === 1, 5_000, 'command registration');
    return messages;
  }

  it('/play: @discordjs/voice joins through guild.voiceAdapterCreator, a voxcord user hears it, the reply is read back', async () => {
    const local = await startWorld({ tls: true });
    const messages = await startDjsBot(local);
    const { heard } = await joinListener(local, BOT, { ca: local.voice.tlsCa! });
    const play = local.runCommand({ name: 'play', channelId: TEXT, userId: USER });
    const reply = await play.reply(20_000);
    expect(reply.content).toBe(`Playing a ${PLAY_FREQUENCY} Hz tone in Music.`);
    await until(() => heard.loudFrames >= 30, 15_000, 'the tone at the listener');
    const hz = heard.crossings / 2 / (heard.loudFrames * 0.02);
    expect(Math.abs(hz - PLAY_FREQUENCY)).toBeLessThan(25);

    local.sendMessage({ channelId: TEXT, userId: USER, content: '!ping' });
    expect((await local.waitForMessage({ authorId: BOT, kind: 'channel' })).content).toBe('pong');
    expect(messages.filter((m) => m.type === 'error')).toEqual([]);
  }, 60_000);

  it("with 'server-first' @discordjs/voice never connects: why the default is state-first", async () => {
    const local = await startWorld({ tls: true }, 'server-first');
    const messages = await startDjsBot(local);
    await joinListener(local, BOT, { ca: local.voice.tlsCa! });
    const play = local.runCommand({ name: 'play', channelId: TEXT, userId: USER });
    // The bot waits 10 s for its connection to be ready, then gives up without answering.
    await until(() => messages.some((m) => m.type === 'error'), 20_000, 'the djs bot to give up');
    expect(play.callbackType).toBe(5);
    expect(play.response?.loading).toBe(true);
    expect(local.voice.participants(GUILD).some((p) => p.userId === BOT && p.joined)).toBe(false);
  }, 60_000);
});
