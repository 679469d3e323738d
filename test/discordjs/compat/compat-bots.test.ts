/**
 * Issue 17: three bots written in the style of the @discordjs/voice guide (music-bot.ts,
 * recorder-bot.ts, radio-bot.ts) run against @discordjs/voice as written, and against
 * voxcord/discordjs-voice with only the import changed (a copy of the file whose '@discordjs/voice'
 * specifier is replaced; the test checks nothing else differs). Each runs in its own process with a
 * real discord.js Client logged into its own local Discord (TLS voice, trusted through
 * NODE_EXTRA_CA_CERTS); both libraries run at once. Audio is checked at voxcord users in the channel.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AudioPlayer,
  entersState,
  joinVoiceChannel,
  pcmInput,
  startLocalDiscord,
} from '../../../src/index.js';
import type { LocalDiscord, LocalMessage } from '../../../src/index.js';
import { sinePcm, until } from '../../e2e/harness.js';
import { decodeOgg, joinListener, toneRuns, writeToneOgg } from './listener.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const COMPAT = "'../../../src/compat/discordjs-voice/index.js'";
const BOT = '1300000000000000010';
const USER = '1300000000000000020';
const USER2 = '1300000000000000021';
const guild = (n: number) => ({
  guildId: `13000000000000001${n}0`,
  voiceId: `13000000000000001${n}1`,
  textId: `13000000000000001${n}2`,
});
const G1 = guild(1);
const G2 = guild(2);

type Library = '@discordjs/voice' | 'voxcord/discordjs-voice';
const LIBRARIES: Library[] = ['@discordjs/voice', 'voxcord/discordjs-voice'];

let tmp: string;
const copies: string[] = [];

/** The bot module for `library`: the fixture itself, or its copy with only the import changed. */
function botModule(name: string, library: Library): string {
  const original = path.join(here, `${name}.ts`);
  if (library === '@discordjs/voice') return original;
  const copy = path.join(here, `.${name}.voxcord.ts`);
  const source = readFileSync(original, 'utf8');
  const changed = source.replaceAll("'@discordjs/voice'", COMPAT);
  const before = source.split('\n');
  const after = changed.split('\n');
  expect(after.length).toBe(before.length);
  const differing = before.flatMap((line, i) => (line === after[i] ? [] : [line]));
  expect(differing.length).toBeGreaterThan(0);
  for (const line of differing)
    expect(line).toMatch(/^(import|} from) .*'@discordjs\/voice';$|^} from '@discordjs\/voice';$/);
  writeFileSync(copy, changed);
  copies.push(copy);
  return copy;
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'voxcord-compat-'));
});
afterAll(() => {
  for (const copy of copies) rmSync(copy, { force: true });
  rmSync(tmp, { recursive: true, force: true });
});

interface World {
  local: LocalDiscord;
  child: ChildProcess;
  errors: string[];
  /** Sends a message as `userId` and waits for the bot's next message in that channel. */
  say(userId: string, content: string, where?: typeof G1): Promise<LocalMessage>;
  stop(): Promise<void>;
}

async function startWorld(
  library: Library,
  bot: string,
  options: Record<string, unknown>,
  guilds = [G1],
): Promise<World> {
  const local = await startLocalDiscord({
    gateway: {
      guilds: guilds.map((g, i) => ({
        id: g.guildId,
        name: `guild ${i + 1}`,
        channels: [
          { id: g.voiceId, name: 'Voice', type: 'voice' as const },
          { id: g.textId, name: 'general', type: 'text' as const },
        ],
      })),
    },
    voice: { tls: true },
  });
  const caFile = path.join(tmp, `ca-${library.replace('/', '-')}-${bot}.pem`);
  writeFileSync(caFile, local.voice.tlsCa!);
  const token = local.createBot(BOT);
  const child = fork(path.join(here, 'bot-child.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: caFile,
      BOT_TOKEN: token.token,
      API_URL: token.apiUrl,
      BOT_MODULE: botModule(bot, library),
      BOT_OPTIONS: JSON.stringify(options),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const errors: string[] = [];
  let ready = false;
  child.on('message', (m: { type: string; message?: string }) => {
    if (m.type === 'ready') ready = true;
    else errors.push(m.message ?? m.type);
  });
  await until(() => ready || errors.length > 0 || child.exitCode !== null, 30_000, `${library} bot login`);
  expect(errors).toEqual([]);
  return {
    local,
    child,
    errors,
    async say(userId, content, where = G1) {
      // The bot may not have the user's VOICE_STATE_UPDATE yet (it went out on another dispatch).
      for (let attempt = 0; ; attempt++) {
        const sent = local.sendMessage({ channelId: where.textId, userId, content });
        const reply = await local.waitForMessage(
          { authorId: BOT, channelId: where.textId, after: sent.id },
          20_000,
        );
        if (reply.content !== 'Join a voice channel first.' || attempt === 10) return reply;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.disconnect();
        const timer = setTimeout(() => child.kill(), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await local.stop();
    },
  };
}

/** Runs `scenario` against both libraries at once. */
async function both(scenario: (library: Library) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(LIBRARIES.map((library) => scenario(library)));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${LIBRARIES[i]}: ${String((r.reason as Error)?.stack ?? r.reason)}`] : [],
  );
  expect(failures).toEqual([]);
}

describe('guide-style bots, unchanged but for the import, on @discordjs/voice and voxcord/discordjs-voice', () => {
  it('music bot: a queue advanced on AudioPlayerStatus.Idle plays three files in order', async () => {
    const tones = [330, 440, 660];
    const files = tones.map((hz) => path.join(tmp, `tone-${hz}.ogg`));
    await Promise.all(tones.map((hz, i) => writeToneOgg(files[i]!, 1_000, hz)));
    await both(async (library) => {
      const world = await startWorld(library, 'music-bot', {});
      try {
        const { heard, connection } = await joinListener(world.local, {
          userId: USER,
          guildId: G1.guildId,
          channelId: G1.voiceId,
          speakerId: BOT,
          group: `${library}-${USER}`,
        });
        const reply = await world.say(USER, `!play ${files.join(' ')}`);
        expect(reply.content).toBe('Queued 3 tracks.');
        await until(
          () => world.local.messages({ authorId: BOT }).some((m) => m.content === 'Queue finished.'),
          20_000,
          `${library}: the queue to finish`,
        ).catch((error: unknown) => {
          const said = world.local.messages({ authorId: BOT }).map((m) => m.content);
          throw new Error(
            `${String(error)}; the bot said ${JSON.stringify(said)}; errors ${JSON.stringify(world.errors)}`,
          );
        });
        const said = world.local.messages({ authorId: BOT }).map((m) => m.content);
        expect(said.filter((c) => c.startsWith('Now playing') || c === 'Queue finished.')).toEqual([
          'Now playing tone-330.ogg',
          'Now playing tone-440.ogg',
          'Now playing tone-660.ogg',
          'Queue finished.',
        ]);
        // Each second of tone heard, in order (the tail of the last may still be in flight).
        await until(() => toneRuns(heard.hz, tones).length === 3, 5_000, `${library}: three tones heard`);
        const runs = toneRuns(heard.hz, tones);
        expect(runs.map(([tone]) => tone)).toEqual(tones);
        for (const [, frames] of runs.slice(0, 2)) expect(frames).toBeGreaterThanOrEqual(40);

        expect((await world.say(USER, '!leave')).content).toBe('Bye.');
        await until(
          () => !world.local.voiceStates(G1.guildId).some((s) => s.userId === BOT),
          5_000,
          `${library}: the bot leaving`,
        );
        connection.destroy();
        expect(world.errors).toEqual([]);
      } finally {
        await world.stop();
      }
    });
  }, 90_000);

  it('recorder: EndBehaviorType.AfterSilence ends the stream after the speaker stops; the Ogg file holds the tone', async () => {
    const hz = 523;
    await both(async (library) => {
      const outDir = mkdtempSync(path.join(tmp, 'rec-'));
      const world = await startWorld(library, 'recorder-bot', { outDir });
      try {
        const speaker = joinVoiceChannel({
          guildId: G1.guildId,
          channelId: G1.voiceId,
          adapterCreator: world.local.userAdapterCreator(USER, G1.guildId),
          group: `${library}-speaker`,
          selfDeaf: false,
          tls: { ca: world.local.voice.tlsCa! },
        });
        await entersState(speaker, 'ready', 10_000);
        const listening = await world.say(USER, '!record');
        expect(listening.content).toBe('Listening.');
        // Let the bot's DAVE group with the speaker settle before the speaker talks.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const player = new AudioPlayer();
        player.attach(speaker);
        player.play(pcmInput(sinePcm(1_500, hz)));
        await player.drained();
        const done = await world.local.waitForMessage(
          { authorId: BOT, channelId: G1.textId, after: listening.id },
          15_000,
        );
        const match = /^Recorded (\S+) (\d+)$/.exec(done.content);
        expect(match, done.content).not.toBeNull();
        const file = decodeOgg(match![1]!);
        const { packets, hz: heard } = await file;
        expect(packets).toBe(Number(match![2]));
        // 1.5 s of tone is 75 packets; a few may precede the subscription (it starts on 'start').
        expect(packets).toBeGreaterThanOrEqual(60);
        expect(packets).toBeLessThanOrEqual(90);
        const runs = toneRuns(heard, [hz]);
        expect(runs).toHaveLength(1);
        expect(runs[0]![1]).toBeGreaterThanOrEqual(55);
        player.destroy();
        speaker.destroy();
        expect(world.errors).toEqual([]);
      } finally {
        await world.stop();
      }
    });
  }, 90_000);

  it('radio: one player subscribed by two guilds, both hear the same station', async () => {
    const hz = 392;
    const station = path.join(tmp, 'station.ogg');
    await writeToneOgg(station, 3_000, hz);
    await both(async (library) => {
      const world = await startWorld(library, 'radio-bot', { station }, [G1, G2]);
      try {
        const one = await joinListener(world.local, {
          userId: USER,
          guildId: G1.guildId,
          channelId: G1.voiceId,
          speakerId: BOT,
          group: `${library}-${USER}`,
        });
        const two = await joinListener(world.local, {
          userId: USER2,
          guildId: G2.guildId,
          channelId: G2.voiceId,
          speakerId: BOT,
          group: `${library}-${USER2}`,
        });
        expect((await world.say(USER, '!radio', G1)).content).toBe('Tuned in (1 guilds, 1 playing).');
        expect((await world.say(USER2, '!radio', G2)).content).toBe('Tuned in (2 guilds, 2 playing).');
        // Both guilds hear the station at once, after the second tuned in: 1 s more tone in guild 1, 1 s in guild 2.
        const tone = (hz2: readonly number[]): number =>
          toneRuns(hz2, [hz]).reduce((n, [, frames]) => n + frames, 0);
        const before = tone(one.heard.hz);
        await until(
          () => tone(two.heard.hz) >= 50 && tone(one.heard.hz) >= before + 50,
          10_000,
          `${library}: both guilds hearing the station`,
        );
        one.connection.destroy();
        two.connection.destroy();
        expect(world.errors).toEqual([]);
      } finally {
        await world.stop();
      }
    });
  }, 90_000);
});
