/** `voxcord record` end to end against the local server: each speaker to a file of their own. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { OggOpusDemuxer } from '../../src/player/inputs/ogg-opus.js';
import type { Bot, World } from './helpers.js';
import {
  CHANNEL,
  Cleanup,
  GUILD,
  captureIo,
  encodeTones,
  groupFormed,
  hex,
  joinBot,
  startWorld,
  tempDir,
  until,
} from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const RECORDER = '1600000000000000001';
const ALICE = '1600000000000000002';
const BOB = '1600000000000000003';

function startRecording(
  world: World,
  dir: string,
  extra: string[],
  signal?: AbortSignal,
): { io: ReturnType<typeof captureIo>; done: Promise<number> } {
  const io = captureIo({ cwd: dir, ...(signal === undefined ? {} : { signal }) });
  const token = world.local.createBot(RECORDER).token;
  const done = runCli(
    [
      'record',
      '--server',
      world.local.gateway.apiUrl,
      '--token',
      token,
      '--guild',
      GUILD,
      '--channel',
      CHANNEL,
      ...extra,
    ],
    io,
  );
  return { io, done };
}

async function speak(bot: Bot, frames: Uint8Array[]): Promise<void> {
  await bot.connection.playOpus(
    (async function* () {
      yield* frames;
    })(),
  ).finished;
}

describe('voxcord record', () => {
  it('writes each speaker to <user id>.ogg with exactly the frames they sent (DAVE decrypted)', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    const controller = new AbortController();
    const { io, done } = startRecording(world, dir, ['--output', 'rec'], controller.signal);
    await until(() => io.out().includes('recording to rec as ogg'), 10_000, 'the recorder to join');

    const alice = await joinBot(world, cleanup, ALICE);
    const bob = await joinBot(world, cleanup, BOB);
    await until(() => groupFormed(world, [alice, bob], 3), 10_000, 'the DAVE group of three');
    const aliceFrames = await encodeTones({ notes: [{ frequency: 440, ms: 400 }] });
    const bobFrames = await encodeTones({ notes: [{ frequency: 660, ms: 600 }] });
    await Promise.all([speak(alice, aliceFrames), speak(bob, bobFrames)]);
    await until(() => (io.out().match(/recording 16/g) ?? []).length === 2, 2_000, 'both recordings');
    controller.abort();
    expect(await done).toBe(0);
    expect(io.err()).toBe('');
    expect(io.out()).toMatch(new RegExp(`${ALICE}: rec/${ALICE}\\.ogg, 0:00\\.[45]`));
    expect(io.out()).toContain('recorded 2 speaker(s)');

    expect((await readdir(join(dir, 'rec'))).sort()).toEqual([`${ALICE}.ogg`, `${BOB}.ogg`]);
    for (const [id, sent] of [
      [ALICE, aliceFrames],
      [BOB, bobFrames],
    ] as const) {
      const demuxer = new OggOpusDemuxer();
      const packets = demuxer.push(await readFile(join(dir, 'rec', `${id}.ogg`)));
      expect(demuxer.head?.channels).toBe(2);
      const audio = packets.filter((p) => !(p.length === 3 && p[0] === 0xf8)).map(hex);
      expect(audio).toEqual(sent.map(hex));
    }
  });

  it('--format wav decodes to PCM and --duration stops by itself', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    const { io, done } = startRecording(world, dir, ['--format', 'wav', '--duration', '3']);
    await until(() => io.out().includes('recording to recordings as wav'), 10_000, 'the recorder to join');
    const alice = await joinBot(world, cleanup, ALICE);
    await until(() => groupFormed(world, [alice], 2), 10_000, 'the DAVE group');
    const frames = await encodeTones({ notes: [{ frequency: 440, ms: 500 }] });
    await speak(alice, frames);
    expect(await done).toBe(0);
    const wav = await readFile(join(dir, 'recordings', `${ALICE}.wav`));
    expect(wav.subarray(0, 4).toString('latin1')).toBe('RIFF');
    const dataBytes = wav.readUInt32LE(40);
    expect(dataBytes).toBe(wav.length - 44);
    // 25 frames of audio plus the trailing silence, 3840 bytes each.
    expect(dataBytes).toBeGreaterThanOrEqual(25 * 3_840);
    const pcm = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + 44 + 25 * 3_840));
    expect(Math.max(...pcm)).toBeGreaterThan(5_000); // a 0.5-amplitude tone, not silence
  });
});
