/**
 * loadtracks for formats the node does not read itself (all but Ogg/WebM Opus): title, artist and
 * length from ffprobe when it is installed, `error` (HTTP 200) when ffmpeg cannot decode the file,
 * and a plain track (length 0) when ffprobe is missing. ffprobe is a fake binary (a shell script
 * printing what ffprobe prints), so the tests run where ffmpeg is not installed.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import { loadTracks } from '../../src/node/sources.js';
import { decodeTrack, LIVE_STREAM_LENGTH } from '../../src/node/track-codec.js';
import type { ApiException, LoadResult } from '../../src/node/types.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { api, fixtureServer, loadedTrack, oggOpusFile, PASSWORD, writeFixture } from './helpers.js';

let dir: string;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;
/** An mp3 by its first bytes (an ID3 tag), and bytes no container matches. */
const MP3 = new Uint8Array(4096);
MP3.set([0x49, 0x44, 0x33, 3, 0]);
const AIFF = new TextEncoder().encode('FORM\0\0\x10\0AIFFCOMM' + '\0'.repeat(2000));

const MP3_JSON = JSON.stringify({
  streams: [{ codec_type: 'audio', codec_name: 'mp3' }],
  format: { format_name: 'mp3', duration: '61.500000', tags: { title: 'Song From Tags', artist: 'Band' } },
});

/** A fake ffprobe printing `json` (exit `code`); it also touches `<dir>/ran-<name>` so a test sees it ran. */
function fakeFfprobe(name: string, json: string, code = 0): string {
  const path = join(dir, `ffprobe-${name}`);
  writeFileSync(
    path,
    `#!/bin/sh\ntouch "${join(dir, `ran-${name}`)}"\ncat <<'EOF'\n${json}\nEOF\nexit ${code}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

const file = (name: string, bytes: Uint8Array): string => writeFixture(dir, name, bytes);

const track = loadedTrack;

function failure(result: LoadResult): ApiException {
  expect(result.loadType).toBe('error');
  return result.data as ApiException;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxcord-ffprobe-'));
  fixtures = await fixtureServer({ '/song.mp3': MP3, '/song.ogg': oggOpusFile(1) });
});

afterAll(async () => {
  await fixtures.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadtracks with ffprobe', () => {
  it('a local mp3: title, author and length from ffprobe; seekable; the encoded track says mp3', async () => {
    const ffprobePath = fakeFfprobe('mp3', MP3_JSON);
    const path = file('a song.mp3', MP3);
    const t = track(await loadTracks(path, { ffprobePath }));
    expect(t.info).toMatchObject({
      title: 'Song From Tags',
      author: 'Band',
      length: 61_500,
      isStream: false,
      isSeekable: true,
      sourceName: 'local',
      uri: path,
    });
    expect(decodeTrack(t.encoded).probeInfo).toBe('mp3');
  });

  it('an http mp3 with a Content-Length: the same from ffprobe run on the URL', async () => {
    const ffprobePath = fakeFfprobe('http', MP3_JSON);
    const url = `${fixtures.base}/song.mp3`;
    const t = track(await loadTracks(url, { ffprobePath }));
    expect(t.info).toMatchObject({
      title: 'Song From Tags',
      length: 61_500,
      isSeekable: true,
      sourceName: 'http',
    });
  });

  it('a format lavaplayer does not know but ffmpeg does: a track, named by ffprobe', async () => {
    const json = JSON.stringify({
      streams: [{ codec_type: 'audio' }],
      format: { format_name: 'aiff', duration: '2.0' },
    });
    const t = track(await loadTracks(file('x.aiff', AIFF), { ffprobePath: fakeFfprobe('aiff', json) }));
    expect(t.info).toMatchObject({ title: 'Unknown title', author: 'Unknown artist', length: 2000 });
    expect(decodeTrack(t.encoded).probeInfo).toBe('aiff');
  });

  it('undecodable: ffprobe fails, or finds no audio stream → error, not a track', async () => {
    const broken = failure(
      await loadTracks(file('broken.mp3', MP3), { ffprobePath: fakeFfprobe('fail', '', 1) }),
    );
    expect(broken).toMatchObject({ message: 'The file cannot be decoded.', severity: 'suspicious' });
    const videoOnly = JSON.stringify({ streams: [{ codec_type: 'video' }], format: { format_name: 'mp3' } });
    const silent = failure(
      await loadTracks(file('video.mp3', MP3), { ffprobePath: fakeFfprobe('video', videoOnly) }),
    );
    expect(silent.message).toBe('The file cannot be decoded.');
    const unknown = failure(
      await loadTracks(file('x.aiff', AIFF), { ffprobePath: fakeFfprobe('fail2', '', 1) }),
    );
    expect(unknown).toMatchObject({ message: 'Unknown file format.', severity: 'common' });
  });

  it('without ffprobe: a known container still loads (length unknown, as lavaplayer says: a stream), an unknown one is an error', async () => {
    const ffprobePath = join(dir, 'no-such-ffprobe');
    const t = track(await loadTracks(file('plain.mp3', MP3), { ffprobePath }));
    expect(t.info).toMatchObject({
      title: 'Unknown title',
      length: Number(LIVE_STREAM_LENGTH),
      isStream: true,
      isSeekable: false,
    });
    expect(failure(await loadTracks(file('y.aiff', AIFF), { ffprobePath })).message).toBe(
      'Unknown file format.',
    );
    // ffprobePath: false never runs it.
    fakeFfprobe('never', MP3_JSON);
    expect(track(await loadTracks(file('n.mp3', MP3), { ffprobePath: false })).info.isStream).toBe(true);
    expect(existsSync(join(dir, 'ran-never'))).toBe(false);
  });

  it('Ogg Opus is read by the node itself: ffprobe does not run', async () => {
    const ffprobePath = fakeFfprobe('ogg', MP3_JSON);
    const local = track(await loadTracks(file('s.ogg', oggOpusFile(2)), { ffprobePath }));
    const remote = track(await loadTracks(`${fixtures.base}/song.ogg`, { ffprobePath }));
    expect(local.info.length).toBe(2000);
    expect(remote.info.length).toBe(1000);
    expect(existsSync(join(dir, 'ran-ogg'))).toBe(false);
    // A server that ignores Range: the length is unknown, and the track a stream, as lavaplayer
    // makes every Ogg URL (a length of 0 reads as no track to some clients).
    const plain = await fixtureServer({ '/song.ogg': oggOpusFile(1) }, { ranges: false });
    try {
      expect(track(await loadTracks(`${plain.base}/song.ogg`, { ffprobePath })).info).toMatchObject({
        length: Number(LIVE_STREAM_LENGTH),
        isStream: true,
        isSeekable: false,
      });
    } finally {
      await plain.close();
    }
  });

  it('over REST: an undecodable file is loadType error with HTTP 200; a good one a track', async () => {
    const node = await startNode({
      port: 0,
      password: PASSWORD,
      backend: createTimelineBackend(),
      ffprobePath: fakeFfprobe('rest', '', 1),
    });
    try {
      const path = file('rest.mp3', MP3);
      const r = await api(node.url, `/v4/loadtracks?identifier=${encodeURIComponent(path)}`);
      expect(r.status).toBe(200);
      expect(r.json()).toMatchObject({ loadType: 'error', data: { message: 'The file cannot be decoded.' } });
    } finally {
      await node.close();
    }
  });
});
