/** Titles, artists and ISRC from Ogg Opus tags (OpusTags), through loadtracks for local files and URLs. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { webmSegmentInfo } from '../../src/audio/ebml.js';
import { oggOpusTags } from '../../src/player/inputs/file-info.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { createOggOpusWriter } from '../../src/receive/recorder.js';
import {
  concatBytes,
  el,
  elUnknown,
  ID,
  opusHead,
  text,
  trackEntry,
  uintBytes,
  webmHeader,
} from '../player/containers.js';
import { api, fixtureServer } from './helpers.js';

const f64 = (v: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v);
  return b;
};
/** A WebM header: Segment (unknown size) › Info (TimecodeScale, Duration, Title) › Tracks, then a Cluster. */
function webm(info: Uint8Array[]): Uint8Array {
  return concatBytes([
    webmHeader(),
    elUnknown(
      ID.Segment,
      el(ID.Void, new Uint8Array(10)),
      el(ID.Info, ...info),
      el(ID.Tracks, trackEntry(1, 'A_OPUS', 2, opusHead())),
      el(ID.Cluster, el(ID.Timecode, uintBytes(0))),
    ),
  ]);
}
const DURATION = ID.Duration;
const TITLE = ID.Title;

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
  fixtures = await fixtureServer({
    '/tagged.ogg': tagged,
    '/song.webm': webm([
      el(ID.TimecodeScale, Uint8Array.of(0x0f, 0x42, 0x40)),
      el(DURATION, f64(61_500)),
      el(TITLE, text('Live set')),
    ]),
  });
  node = await startNode({ port: 0, password: 'youshallnotpass', backend: createTimelineBackend() });
});

afterAll(async () => {
  await node.close();
  await fixtures.close();
});

describe('Ogg Opus tags', () => {
  it('reads TITLE, ARTIST (first wins, keys case-insensitive) and ISRC', () => {
    expect(oggOpusTags(tagged)).toEqual({ title: 'Blue Monday', artist: 'New Order', isrc: 'GBAAA8300001' });
    // Reading does not touch the caller's bytes (the demuxer's CRC check once zeroed them in a Buffer).
    expect(Buffer.compare(tagged, readFileSync(join(dir, 'tagged.ogg')))).toBe(0);
  });

  it('falls back to ALBUMARTIST, and gives nothing for no tags, a truncated head or non-Ogg bytes', async () => {
    const album = await taggedOgg(join(dir, 'album.ogg'), ['ALBUMARTIST=Various']);
    expect(oggOpusTags(album)).toEqual({ artist: 'Various' });
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

  it('WebM: length from Info › Duration × TimecodeScale and the title, through loadtracks too', async () => {
    // TimecodeScale 1 000 000 ns (1 ms): Duration 61 500 → 61.5 s.
    expect(webmSegmentInfo(webm([el(DURATION, f64(61_500)), el(TITLE, text('Live set'))]))).toEqual({
      durationMs: 61_500,
      title: 'Live set',
    });
    // TimecodeScale 10 ms and a 4-byte float.
    const f32 = new Uint8Array(4);
    new DataView(f32.buffer).setFloat32(0, 250);
    expect(
      webmSegmentInfo(webm([el(ID.TimecodeScale, Uint8Array.of(0x98, 0x96, 0x80)), el(DURATION, f32)])),
    ).toEqual({
      durationMs: 2500,
    });
    expect(webmSegmentInfo(webm([]))).toEqual({});
    expect(webmSegmentInfo(webm([el(DURATION, f64(61_500))]).subarray(0, 40))).toEqual({});
    const r = await api(
      node.url,
      `/v4/loadtracks?identifier=${encodeURIComponent(`${fixtures.base}/song.webm`)}`,
    );
    expect(r.json()).toMatchObject({
      loadType: 'track',
      data: { info: { title: 'Live set', author: 'Unknown artist', length: 61_500 } },
    });
  });
});
