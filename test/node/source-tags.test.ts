/** Titles, artists and ISRC from Ogg Opus tags (OpusTags), through loadtracks for local files and URLs. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { oggOpusTags } from '../../src/node/sources.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { createOggOpusWriter } from '../../src/receive/recorder.js';
import { api, fixtureServer } from './helpers.js';

const FRAME = Uint8Array.of(0xfc, 0xff, 0xfe); // a 20 ms Opus silence packet

async function taggedOgg(path: string, comments: string[], frames = 100): Promise<Uint8Array> {
  const writer = createOggOpusWriter(path, { comments });
  for (let i = 0; i < frames; i++) writer.write(FRAME);
  await writer.close();
  return readFileSync(path);
}

let node: VoxcordNode;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;
let dir: string;
let tagged: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxcord-node-tags-'));
  tagged = await taggedOgg(join(dir, 'tagged.ogg'), [
    'title=Blue Monday ',
    'ARTIST=New Order',
    'ISRC=GBAAA8300001',
    'ARTIST=second artist is ignored',
  ]);
  fixtures = await fixtureServer({ '/tagged.ogg': tagged });
  node = await startNode({ port: 0, password: 'youshallnotpass', backend: createTimelineBackend() });
});

afterAll(async () => {
  await node.close();
  await fixtures.close();
});

describe('Ogg Opus tags', () => {
  it('reads TITLE, ARTIST (first wins, keys case-insensitive) and ISRC', () => {
    expect(oggOpusTags(tagged)).toEqual({ title: 'Blue Monday', author: 'New Order', isrc: 'GBAAA8300001' });
    // Reading does not touch the caller's bytes (the demuxer's CRC check once zeroed them in a Buffer).
    expect(Buffer.compare(tagged, readFileSync(join(dir, 'tagged.ogg')))).toBe(0);
  });

  it('falls back to ALBUMARTIST, and gives nothing for no tags, a truncated head or non-Ogg bytes', async () => {
    const album = await taggedOgg(join(dir, 'album.ogg'), ['ALBUMARTIST=Various']);
    expect(oggOpusTags(album)).toEqual({ author: 'Various' });
    expect(oggOpusTags(await taggedOgg(join(dir, 'none.ogg'), []))).toEqual({});
    expect(oggOpusTags(tagged.subarray(0, 60))).toEqual({});
    expect(oggOpusTags(new TextEncoder().encode('not an ogg file at all'))).toEqual({});
  });

  it('loadtracks gives them as title, author and isrc for a local file and a URL, with the length', async () => {
    for (const identifier of [join(dir, 'tagged.ogg'), `${fixtures.base}/tagged.ogg`]) {
      const r = await api(node.url, `/v4/loadtracks?identifier=${encodeURIComponent(identifier)}`);
      expect(r.json(), identifier).toMatchObject({
        loadType: 'track',
        data: { info: { title: 'Blue Monday', author: 'New Order', isrc: 'GBAAA8300001', length: 2000 } },
      });
    }
  });
});
