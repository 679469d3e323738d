/** `voxcord record` end to end against the local server: each speaker to a file of their own. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { OggOpusDemuxer } from '../../src/audio/ogg-opus-demuxer.js';
import type { AudioFrame } from '../../src/voice/session-dave.js';
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
const WITNESS = '1600000000000000004';

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

  it('--aligned: files start and end together, silence kept, each burst at its instant', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    const controller = new AbortController();
    const { io, done } = startRecording(world, dir, ['--output', 'rec', '--aligned'], controller.signal);
    await until(() => io.out().includes('recording to rec as ogg, timeline-aligned'), 10_000, 'the recorder');
    const recordingSeenAt = performance.now(); // the recording started before this
    const alice = await joinBot(world, cleanup, ALICE);
    const bob = await joinBot(world, cleanup, BOB);
    // A witness in the call notes when each burst's first packet arrives (the recorder is on the
    // same host and server, so that is when it arrives there too).
    const witness = await joinBot(world, cleanup, WITNESS);
    const heardAt = new Map<string, number[]>();
    const lastAt = new Map<string, number>();
    witness.connection.subscribe({
      attach: (session) =>
        session.on('audioFrame', (f: AudioFrame) => {
          if (f.userId === undefined) return;
          if (f.receivedAt - (lastAt.get(f.userId) ?? Number.NEGATIVE_INFINITY) > 300) {
            heardAt.set(f.userId, [...(heardAt.get(f.userId) ?? []), f.receivedAt]);
          }
          lastAt.set(f.userId, f.receivedAt);
        }),
      detach: () => undefined,
    });
    await until(() => groupFormed(world, [alice, bob, witness], 4), 10_000, 'the DAVE group of four');
    const frames = await encodeTones({ notes: [{ frequency: 440, ms: 400 }] }); // 20 frames

    // A, B one second later, A two seconds after its first burst.
    const burstAt = async (bot: Bot, at: number): Promise<void> => {
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await speak(bot, frames);
    };
    const t = performance.now() + 100;
    await Promise.all([burstAt(alice, t), burstAt(bob, t + 1_000)]);
    await burstAt(alice, t + 2_000);
    await new Promise((r) => setTimeout(r, 500));
    controller.abort();
    expect(await done).toBe(0);
    expect(io.err()).toBe('');

    const slots = async (id: string): Promise<boolean[]> => {
      const demuxer = new OggOpusDemuxer();
      const packets = demuxer.push(await readFile(join(dir, 'rec', `${id}.ogg`)));
      return packets.map((p) => !(p.length === 3 && p[0] === 0xf8)); // true = audio
    };
    const a = await slots(ALICE);
    const b = await slots(BOB);
    // The same length: from the start of the recording to its stop, one 20 ms packet per slot.
    expect(Math.abs(a.length - b.length)).toBeLessThanOrEqual(1);
    const bursts = (s: boolean[]): number[] => s.flatMap((audio, i) => (audio && !s[i - 1] ? [i] : []));
    const [a1, a2] = bursts(a);
    const [b1] = bursts(b);
    expect(bursts(a)).toHaveLength(2);
    expect(bursts(b)).toHaveLength(1);
    expect(a.filter(Boolean)).toHaveLength(40);
    expect(b.filter(Boolean)).toHaveLength(20);
    // Every file starts at the recording's start: A's first burst sits at least as far into its
    // file as it arrived after the test saw the recording start (±2 frames), which takes the three
    // joins and a DAVE group.
    const [aAt1, aAt2] = heardAt.get(ALICE)!;
    const [bAt1] = heardAt.get(BOB)!;
    expect(aAt1! - recordingSeenAt).toBeGreaterThan(100);
    expect(a1!).toBeGreaterThanOrEqual((aAt1! - recordingSeenAt) / 20 - 2);
    // The bursts sit in the files as far apart as they arrived (±2 frames).
    expect(heardAt.get(ALICE)).toHaveLength(2);
    expect(Math.abs(b1! - a1! - (bAt1! - aAt1!) / 20)).toBeLessThanOrEqual(2);
    expect(Math.abs(a2! - a1! - (aAt2! - aAt1!) / 20)).toBeLessThanOrEqual(2);
    // And the recording ends after the last burst: trailing silence up to the stop.
    expect(a.length - (a2! + 20)).toBeGreaterThan(10);
  });

  it('--help documents --aligned', async () => {
    const io = captureIo();
    expect(await runCli(['record', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/\[--aligned\][\s\S]*--aligned +timeline-aligned files/);
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
