import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { inputFor } from '../../src/node/voice-backend.js';
import type { TrackInfo } from '../../src/node/track-codec.js';
import { encodeTones, hex, tempDir, writeOgg } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { fixtureServer } from './helpers.js';

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
  it('plays an http Ogg Opus track by demuxing (the file’s own packets), seekable by reopening', async () => {
    const dir = await tempDir(cleanup, 'voxcord-node-inputs-');
    const frames = await encodeTones({ notes: [{ frequency: 500, ms: 400 }] });
    const file = join(dir, 'a.ogg');
    await writeOgg(file, frames);
    const fixtures = await fixtureServer({ '/a.ogg': new Uint8Array(await readFile(file)) });
    cleanup.add(() => fixtures.close());
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
    // Reopened at 200 ms: starts 10 frames in.
    const again = await input.open({ startMs: 200, codec: () => Promise.resolve(opus) });
    const first = await again.read();
    again.close();
    expect(first?.kind === 'opus' ? hex(first.data) : '').toBe(hex(frames[10] ?? new Uint8Array()));
  });
});
