/**
 * loadtracks reads MP4/M4A itself (src/audio/mp4-info.ts), as lavaplayer does: title, author and
 * length with ffprobe off, for a local file and a URL, also when the moov comes after more media
 * data than the node's 64 KiB head (the common layout without `-movflags faststart`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTracks } from '../../src/node/sources.js';
import { decodeTrack } from '../../src/node/track-codec.js';
import { FFMPEG_M4A, MOOV_LAST_M4A as MOOV_LAST } from '../audio/tagged-files.js';
import { fixtureServer, loadedTrack } from './helpers.js';

let dir: string;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;

const track = loadedTrack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxcord-mp4-'));
  fixtures = await fixtureServer({ '/late.m4a': MOOV_LAST });
});

afterAll(async () => {
  await fixtures.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadtracks: MP4 without ffprobe', () => {
  it("a local m4a whose moov is past the head: the moov's title, artist and length; probe info mp4", async () => {
    // Deliberate bug caught: the readers reading only the head (mp4Info(head), file-info.ts) → length 0, Unknown title.
    const path = join(dir, 'late.m4a');
    writeFileSync(path, MOOV_LAST);
    const t = track(await loadTracks(path, { ffprobePath: false }));
    expect(t.info).toMatchObject({
      title: 'Late Moov',
      author: 'Far Band',
      length: 185_000,
      isStream: false,
      isSeekable: true,
    });
    expect(decodeTrack(t.encoded).probeInfo).toBe('mp4');
  });

  it('the same file over http: the moov is fetched with a Range request', async () => {
    // Deliberate bug caught: no `more.mp4` on the http path → length 0, Unknown title.
    const t = track(await loadTracks(`${fixtures.base}/late.m4a`, { ffprobePath: false }));
    expect(t.info).toMatchObject({
      title: 'Late Moov',
      author: 'Far Band',
      length: 185_000,
      isStream: false,
    });
  });

  it('an m4a ffmpeg wrote (moov after mdat, iTunes tags): what ffmpeg says of it', async () => {
    // Deliberate bug caught: no 'mp4' case in file-info.ts's infoOf → length 0, Unknown title (the file is
    // smaller than the head: the moov is in it).
    const path = join(dir, 'ffmpeg.m4a');
    writeFileSync(path, FFMPEG_M4A);
    const t = track(await loadTracks(path, { ffprobePath: false }));
    expect(t.info).toMatchObject({ title: 'Fixture Título', author: 'Voxcord Ärtist', length: 628 });
  });
});
