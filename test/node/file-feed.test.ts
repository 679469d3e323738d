/**
 * Local Ogg Opus tracks played by the media worker itself (voice-backend.ts `fileFeed`), end to
 * end on the local Discord with DAVE on: the listener hears every frame of the file once, in
 * order, across the hand-overs to the AudioPlayer (pause) and the feed's own restarts (seek, end
 * time). The frames are numbered, so a frame heard twice or skipped shows.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir, until, writeOgg } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { api } from './helpers.js';
import { NODE_BOT, startVoiceHarness } from './voice-harness.js';
import type { VoiceHarness } from './voice-harness.js';
import type { MediaChannel, MediaEngine } from '../../src/media/index.js';

const cleanup = cleanupAfterEach();

/** `count` frames, each an Opus TOC byte (CELT fullband 20 ms) then its number and filler. */
function numberedFrames(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    Uint8Array.from({ length: 60 }, (_, j) =>
      j === 0 ? 0xfc : j === 1 ? i >> 8 : j === 2 ? i & 0xff : (i + j) & 0xff,
    ),
  );
}

/** The numbers of the numbered frames the listener heard from the node's bot, in order. */
function heardNumbers(h: VoiceHarness): number[] {
  return (h.listener!.heard.get(NODE_BOT) ?? [])
    .filter((f) => f.length === 60 && f[0] === 0xfc)
    .map((f) => (f[1]! << 8) | f[2]!);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function setup(count: number): Promise<{ h: VoiceHarness; encoded: string; players: () => number }> {
  const h = await startVoiceHarness(cleanup);
  const dir = await tempDir(cleanup, 'voxcord-node-feed-');
  const file = join(dir, 'numbered.ogg');
  await writeOgg(file, numberedFrames(count));
  await h.join();
  const encoded = await h.load(file);
  return { h, encoded, players: () => heardNumbers(h).length };
}

async function patch(h: VoiceHarness, body: Record<string, unknown>): Promise<void> {
  const r = await api(h.node.url, h.path, { method: 'PATCH', body });
  expect(r.status).toBe(200);
}

describe('voice backend: local Ogg Opus played by the media worker', () => {
  it('pause hands the track to the AudioPlayer at the exact frame: every frame heard once, in order', async () => {
    const { h, encoded, players } = await setup(200);
    await patch(h, { track: { encoded } });
    await until(() => players() >= 40, 10_000, 'the first frames');
    await patch(h, { paused: true });
    const atPause = players();
    await new Promise((r) => setTimeout(r, 400));
    // Paused: at most the frames already on their way when the pause came.
    expect(players() - atPause).toBeLessThanOrEqual(3);
    await patch(h, { paused: false });
    const end = await h.client.wait((m) => m.type === 'TrackEndEvent', 10_000);
    expect(end.reason).toBe('finished');
    await until(() => players() >= 200, 5_000, 'the last frames');
    expect(heardNumbers(h)).toEqual(range(0, 200));
  });

  it('a seek restarts the feed at the frame of that time; an end time stops it there', async () => {
    const { h, encoded, players } = await setup(300);
    await patch(h, { track: { encoded } });
    await until(() => players() >= 30, 10_000, 'the first frames');
    await patch(h, { position: 3000, endTime: 4000 });
    const end = await h.client.wait((m) => m.type === 'TrackEndEvent', 10_000);
    expect(end.reason).toBe('finished');
    await new Promise((r) => setTimeout(r, 200));
    const heard = heardNumbers(h);
    const jump = heard.indexOf(150);
    expect(jump).toBeGreaterThan(29);
    // Before the seek: the file from its start, nothing skipped; after it: 3000 ms up to 4000 ms.
    expect(heard.slice(0, jump)).toEqual(range(0, jump));
    expect(heard.slice(jump)).toEqual(range(150, 200));
  });

  it('position follows the frames sent', async () => {
    const { h, encoded, players } = await setup(250);
    await patch(h, { track: { encoded } });
    await until(() => players() >= 100, 10_000, 'two seconds of frames');
    const r = await api(h.node.url, h.path);
    const position = (r.json() as { state: { position: number } }).state.position;
    const heardMs = players() * 20;
    // The feed reports about once a second; between reports the position runs on with the clock.
    expect(Math.abs(position - heardMs)).toBeLessThan(600);
  });
});

describe('voice backend: a feed that gives no frame', () => {
  it('is TrackStuck at the threshold, then handed to the AudioPlayer at the input timeout, which plays the file', async () => {
    // The media worker's feed never sends (a read that hangs): it only ends when stopped.
    const hanging = (engine: MediaEngine): MediaEngine => ({
      kind: engine.kind,
      close: () => engine.close(),
      async openChannel(options) {
        const channel = await engine.openChannel(options);
        const feedOggOpusFile: MediaChannel['feedOggOpusFile'] = (_path, _options, onEnd) => ({
          frames: 0,
          framesAt: performance.now(),
          discarded: 0,
          stop: async () => {
            onEnd({ reason: 'stopped', frames: 0 });
            return 0;
          },
        });
        return new Proxy(channel, {
          get(target, prop) {
            if (prop === 'feedOggOpusFile') return feedOggOpusFile;
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      },
    });
    const h = await startVoiceHarness(cleanup, {
      wrapEngine: hanging,
      backend: { stuckThresholdMs: 500, inputTimeoutMs: 1500 },
    });
    const dir = await tempDir(cleanup, 'voxcord-node-feed-');
    const file = join(dir, 'numbered.ogg');
    await writeOgg(file, numberedFrames(60));
    await h.join();
    const encoded = await h.load(file);
    const from = h.client.messages.length;
    await patch(h, { track: { encoded } });
    const stuck = await h.client.wait((m) => m.type === 'TrackStuckEvent', 5_000, from);
    expect(stuck.thresholdMs).toBe(500);
    expect(heardNumbers(h)).toEqual([]);
    const end = await h.client.wait((m) => m.type === 'TrackEndEvent', 10_000, from);
    expect(end.reason).toBe('finished');
    await until(() => heardNumbers(h).length >= 60, 5_000, 'the whole file');
    expect(heardNumbers(h)).toEqual(range(0, 60));
  });
});
