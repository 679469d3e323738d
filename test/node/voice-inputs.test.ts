import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { inputFor } from '../../src/node/voice-backend.js';
import type { TrackInfo } from '../../src/node/track-codec.js';
import { fileInput } from '../../src/player/inputs/file.js';
import type { MediaInfo, TrackInput } from '../../src/player/inputs/source.js';
import { encodeTones, hex, tempDir, writeOgg } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { fixtureServer } from './helpers.js';
import { until } from '../support/wait.js';
import type { Socket } from 'node:net';
import { VBR_MP3, XING_MS } from '../audio/tagged-files.js';

const cleanup = cleanupAfterEach();

const info = (over: Partial<TrackInfo>): TrackInfo => ({
  identifier: '',
  isSeekable: true,
  author: 'Unknown artist',
  length: 0,
  isStream: false,
  position: 0,
  title: 'Unknown title',
  uri: null,
  artworkUrl: null,
  isrc: null,
  sourceName: 'http',
  ...over,
});

describe('voice backend inputs', () => {
  it.each([
    ['shorter than the sniff (the whole body comes with it)', 240],
    ['longer than the sniff (the same response reads on)', 4000],
  ])(
    'plays an http Ogg Opus track %s by demuxing its own packets, one request per open, seekable by reopening',
    async (_, ms) => {
      const dir = await tempDir(cleanup, 'voxcord-node-inputs-');
      const frames = await encodeTones({ notes: [{ frequency: 500, ms }] });
      const file = join(dir, 'a.ogg');
      await writeOgg(file, frames);
      const bytes = new Uint8Array(await readFile(file));
      expect(bytes.length > 4096).toBe(ms > 1000);
      const fixtures = await fixtureServer({ '/a.ogg': bytes });
      cleanup.add(() => fixtures.close());
      let requests = 0;
      fixtures.server.on('request', () => requests++);
      const url = `${fixtures.base}/a.ogg`;
      const input = inputFor({ encoded: '', info: info({ identifier: url, uri: url }), probeInfo: 'ogg' });
      expect(input.seekable).toBe(true);
      const opus = await loadOpus();
      const source = await input.open({ startMs: 0, codec: () => Promise.resolve(opus) });
      const got: string[] = [];
      for (;;) {
        const frame = await source.read();
        if (frame === undefined) break;
        expect(frame.kind).toBe('opus');
        if (frame.kind === 'opus') got.push(hex(frame.data));
      }
      source.close();
      expect(got).toEqual(frames.map(hex));
      // The container was told from the first bytes of the request the demuxer then read on.
      expect(requests).toBe(1);
      // Reopened at 200 ms: starts 10 frames in, from a new request.
      const again = await input.open({ startMs: 200, codec: () => Promise.resolve(opus) });
      const first = await again.read();
      again.close();
      expect(first?.kind === 'opus' ? hex(first.data) : '').toBe(hex(frames[10] ?? new Uint8Array()));
      expect(requests).toBe(2);
    },
  );

  it('an http track stopped before its first frame lets its request go', async () => {
    const dir = await tempDir(cleanup, 'voxcord-node-inputs-');
    const file = join(dir, 'a.ogg');
    await writeOgg(file, await encodeTones({ notes: [{ frequency: 500, ms: 4000 }] }));
    const fixtures = await fixtureServer({ '/a.ogg': new Uint8Array(await readFile(file)) });
    cleanup.add(() => fixtures.close());
    let open = 0;
    fixtures.server.on('connection', (socket: Socket) => {
      open++;
      socket.on('close', () => open--);
    });
    const url = `${fixtures.base}/a.ogg`;
    const input = inputFor({ encoded: '', info: info({ identifier: url, uri: url }), probeInfo: 'ogg' });
    const opus = await loadOpus();
    // As the player does with a source that arrives for a track stopped meanwhile: closed unread.
    const source = await input.open({ startMs: 0, codec: () => Promise.resolve(opus) });
    expect(open).toBe(1);
    source.close();
    await until(() => open === 0, 5_000, 'the request closed');
  });

  it('a local track that goes through ffmpeg is not read for its tags nor probed at play time: the node has them from loadtracks', async () => {
    const dir = await tempDir(cleanup, 'voxcord-node-inputs-');
    const file = join(dir, 'song.mp3');
    await writeFile(file, VBR_MP3);
    // A fake ffprobe that leaves a mark and names the file; no ffmpeg (the open fails at once).
    const marker = join(dir, 'ffprobe-ran');
    const ffprobe = join(dir, 'ffprobe');
    await writeFile(
      ffprobe,
      `#!/bin/sh\ntouch "${marker}"\necho '{"format":{"duration":"9.0","tags":{"title":"From ffprobe"}},"streams":[{"codec_type":"audio"}]}'\n`,
    );
    await chmod(ffprobe, 0o755);
    const env = { FFPROBE_PATH: process.env['FFPROBE_PATH'], FFMPEG_PATH: process.env['FFMPEG_PATH'] };
    process.env['FFPROBE_PATH'] = ffprobe;
    process.env['FFMPEG_PATH'] = join(dir, 'no-ffmpeg');
    cleanup.add(() => {
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    const opus = await loadOpus();
    /** Opens `input` and returns the MediaInfo it reports (the open itself fails: no ffmpeg). */
    const infoOf = async (input: TrackInput): Promise<MediaInfo> => {
      let got!: (info: MediaInfo) => void;
      const reported = new Promise<MediaInfo>((resolve) => (got = resolve));
      await Promise.resolve()
        .then(() => input.open({ startMs: 0, codec: () => Promise.resolve(opus), info: got }))
        .then(
          (source) => source.close(),
          () => undefined,
        );
      return reported;
    };
    const node = inputFor({
      encoded: '',
      info: info({ identifier: file, sourceName: 'local' }),
      probeInfo: 'mp3',
    });
    expect(await infoOf(node)).toEqual({});
    expect(existsSync(marker)).toBe(false);
    // The same file through the library's own fileInput reads its tags (so the check above can fail)...
    expect(await infoOf(fileInput(file))).toMatchObject({ title: 'Xing Song', durationMs: XING_MS });
    expect(existsSync(marker)).toBe(false);
    // ...and asks ffprobe for a file whose length our readers do not find.
    await writeFile(file, new Uint8Array(3000));
    expect((await infoOf(fileInput(file))).title).toBe('From ffprobe');
    expect(existsSync(marker)).toBe(true);
  });
});
