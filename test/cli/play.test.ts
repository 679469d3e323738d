/** `voxcord play` end to end against the local server: a listener in the channel hears the file. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import {
  CHANNEL,
  Cleanup,
  GUILD,
  captureIo,
  encodeTones,
  hex,
  joinBot,
  startWorld,
  tempDir,
  until,
  writeOgg,
} from './helpers.js';
import type { World } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const PLAYER = '1500000000000000001';
const LISTENER = '1500000000000000002';
const SHORT = {
  notes: [
    { frequency: 440, ms: 600 },
    { frequency: 880, ms: 400 },
  ],
};

/** `voxcord play FILE` into the test channel. */
function playArgs(file: string, server: string, token: string): string[] {
  return ['play', file, '--server', server, '--token', token, '--guild', GUILD, '--channel', CHANNEL];
}

function playerLeft(world: World): Promise<void> {
  return until(
    () => world.local.voice.participants(GUILD).every((p) => p.userId !== PLAYER),
    2_000,
    'the player to leave',
  );
}

describe('voxcord play', () => {
  it('plays an Ogg Opus file into the channel, unchanged, with progress and a summary', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    const frames = await encodeTones(SHORT);
    expect(frames).toHaveLength(50);
    await writeOgg(join(dir, 'song.ogg'), frames);
    const listener = await joinBot(world, cleanup, LISTENER);

    const io = captureIo({ cwd: dir });
    const token = world.local.createBot(PLAYER).token;
    const args = playArgs('song.ogg', world.local.gateway.apiUrl, token);
    const code = await runCli(args, io);
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    const out = io.out();
    expect(out).toMatch(/joined: transport aead_\w+_rtpsize, DAVE version 1, privacy code (\d{5} ){5}\d{5}/);
    expect(out).toMatch(/playing song\.ogg \[#+\] 100% 0:01\.0 \/ 0:01\.0/); // the length is read from the file
    expect(out).toMatch(/played song\.ogg: 0:01\.0 \(50 frames, Opus passed through, \d+ late\)/);
    expect(out).not.toContain(token);

    // Every frame arrived, decrypted, byte for byte what the file holds (passthrough, no re-encoding).
    await until(() => (listener.heard.get(PLAYER)?.length ?? 0) >= 50, 3_000, 'the frames at the listener');
    expect(listener.heard.get(PLAYER)!.map(hex)).toEqual(frames.map(hex));
    expect(listener.decryptFailures).toBe(0);
    // It left the channel.
    await playerLeft(world);
  });

  it('stops on Ctrl-C (the abort signal) and still leaves cleanly', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    await writeOgg(join(dir, 'long.ogg'), await encodeTones({ notes: [{ frequency: 440, ms: 20_000 }] }));
    const listener = await joinBot(world, cleanup, LISTENER);
    const controller = new AbortController();
    const io = captureIo({ cwd: dir, signal: controller.signal });
    const token = world.local.createBot(PLAYER).token;
    const playing = runCli(playArgs('long.ogg', world.local.gateway.apiUrl, token), io);
    await until(() => io.out().includes('playing long.ogg'), 10_000, 'playback');
    controller.abort();
    expect(await playing).toBe(0);
    expect(io.out()).toMatch(/stopped long\.ogg: 0:0\d\.\d/);
    expect(listener.heard.get(PLAYER)?.length ?? 0).toBeGreaterThan(0);
    expect(listener.heard.get(PLAYER)!.length).toBeLessThan(500);
    await playerLeft(world);
  });

  it('alone in a DAVE call: says so in one line, plays on at real time, counts every frame not sent', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    await writeOgg(join(dir, 'song.ogg'), await encodeTones(SHORT));
    const io = captureIo({ cwd: dir });
    const token = world.local.createBot(PLAYER).token;
    const started = Date.now();
    expect(await runCli(playArgs('song.ogg', world.local.gateway.apiUrl, token), io)).toBe(0);
    const out = io.out();
    const explained = out.split('\n').filter((line) => line.startsWith('nobody else is in this DAVE call'));
    expect(explained).toHaveLength(1);
    expect(out).toMatch(
      /played song\.ogg: 0:01\.0 \(50 frames, .*\), 50 frames not sent \(nobody else in the DAVE call: 50\)/,
    );
    // Not the old 5 s hold first: 1 s of audio takes about that.
    expect(Date.now() - started).toBeLessThan(4_500);
    await playerLeft(world);
  });

  it('a rejected token: exit 1, says so and how to fix it', async () => {
    const world = await startWorld(cleanup);
    const dir = await tempDir(cleanup);
    await writeOgg(join(dir, 'a.ogg'), await encodeTones(SHORT));
    const io = captureIo({ cwd: dir });
    const code = await runCli(playArgs('a.ogg', world.local.gateway.apiUrl, 'not-a-token'), io);
    expect(code).toBe(1);
    expect(io.err()).toContain(`${world.local.gateway.apiUrl} rejected the bot token`);
    expect(io.err()).toContain('Check the token');
    expect(io.err()).not.toContain('not-a-token');
  });

  it('a server that is not there: exit 1 with a hint', async () => {
    const dir = await tempDir(cleanup);
    await writeOgg(join(dir, 'a.ogg'), await encodeTones(SHORT));
    const io = captureIo({ cwd: dir });
    const code = await runCli(playArgs('a.ogg', 'http://127.0.0.1:9/api', 'MTIz.x.y'), io);
    expect(code).toBe(1);
    expect(io.err()).toMatch(/could not connect to the gateway of http:\/\/127\.0\.0\.1:9\/api/);
    expect(io.err()).toContain('voxcord serve');
  });
});
