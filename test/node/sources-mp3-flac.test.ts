/**
 * loadtracks reads MP3 and FLAC itself (src/audio/id3.ts, mpeg-audio.ts, flac.ts), as lavaplayer
 * does: title, author and length with ffprobe off, for local files and URLs.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTracks } from '../../src/node/sources.js';
import { probeName } from '../../src/player/inputs/file-info.js';
import { decodeTrack } from '../../src/node/track-codec.js';
import { concatBytes } from '../audio/tagged-audio.js';
import {
  ART_MP3,
  CBR_MP3,
  FLAC,
  ID3_FLAC,
  id3Tags as tags,
  VBR_MP3,
  XING_MS,
} from '../audio/tagged-files.js';
import { fixtureServer, loadedTrack, writeFixture } from './helpers.js';

let dir: string;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;

const file = (name: string, bytes: Uint8Array): string => writeFixture(dir, name, bytes);

const track = loadedTrack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxcord-mp3-flac-'));
  fixtures = await fixtureServer({
    '/vbr.mp3': VBR_MP3,
    '/cbr.mp3': CBR_MP3,
    '/art.mp3': ART_MP3,
    '/song.flac': FLAC,
  });
});

afterAll(async () => {
  await fixtures.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadtracks: MP3 and FLAC without ffprobe', () => {
  it('a local VBR mp3: ID3v2.4 title/author, the Xing length; seekable; probe info mp3', async () => {
    // Deliberate bug caught: sources.ts not asking mpeg-audio.ts (the old path) → length 0, Unknown title.
    const t = track(await loadTracks(file('vbr.mp3', VBR_MP3), { ffprobePath: false }));
    expect(t.info).toMatchObject({
      title: 'Xing Song',
      author: 'Xing Band',
      length: XING_MS,
      isStream: false,
      isSeekable: true,
      isrc: 'GBAYE0601498',
    });
    expect(decodeTrack(t.encoded).probeInfo).toBe('mp3');
  });

  it('a local CBR mp3 with only ID3v1: the tail names it; the 128-byte tag is not counted as audio', async () => {
    // Deliberate bug caught: not reading the file's last 128 bytes → Unknown title / Unknown artist.
    const t = track(await loadTracks(file('cbr.mp3', CBR_MP3), { ffprobePath: false }));
    expect(t.info).toMatchObject({ title: 'Tail Title', author: 'Tail Artist', length: 1043 });
  });

  it('an http mp3: the length over Content-Length; no ID3v1 for a URL (no tail is fetched)', async () => {
    const t = track(await loadTracks(`${fixtures.base}/cbr.mp3`, { ffprobePath: false }));
    // 16 808 bytes (ID3v1 counted: the URL's tail is not read) at 128 kbps.
    expect(t.info).toMatchObject({
      title: 'Unknown title',
      length: 1051,
      isSeekable: true,
      sourceName: 'http',
    });
    const v = track(await loadTracks(`${fixtures.base}/vbr.mp3`, { ffprobePath: false }));
    expect(v.info).toMatchObject({ title: 'Xing Song', author: 'Xing Band', length: XING_MS });
  });

  it('album art longer than the head: the audio after the tag is read (a second read; a Range request)', async () => {
    // Deliberate bug caught: searching for the first frame only in the 64 KiB head → length 0.
    const want = { title: 'Art Song', author: 'Art Band', length: Math.round((1000 * 1152 * 1000) / 44_100) };
    expect(track(await loadTracks(file('art.mp3', ART_MP3), { ffprobePath: false })).info).toMatchObject(
      want,
    );
    expect(track(await loadTracks(`${fixtures.base}/art.mp3`, { ffprobePath: false })).info).toMatchObject(
      want,
    );
  });

  it('a FLAC file and URL: VORBIS_COMMENT title/author, STREAMINFO length; probe info flac', async () => {
    // Deliberate bug caught: the FLAC reader not wired (only mp3) → length 0, Unknown title.
    for (const id of [file('song.flac', FLAC), `${fixtures.base}/song.flac`]) {
      const t = track(await loadTracks(id, { ffprobePath: false }));
      expect(t.info).toMatchObject({
        title: 'Flac Song',
        author: 'Flac Band',
        length: 200_000,
        isSeekable: true,
      });
      expect(decodeTrack(t.encoded).probeInfo).toBe('flac');
    }
  });

  it('FLAC behind an ID3v2 tag is FLAC: its own comments first, the ID3 tag for what they lack', async () => {
    // Deliberate bug caught: probeName calling every ID3 file mp3 → probe info mp3, length 0.
    expect(probeName(ID3_FLAC)).toBe('flac');
    expect(probeName(VBR_MP3)).toBe('mp3');
    const t = track(await loadTracks(file('id3.flac', ID3_FLAC), { ffprobePath: false }));
    expect(t.info).toMatchObject({ title: 'Behind ID3', author: 'ID3 Artist', length: 3000 });
    expect(decodeTrack(t.encoded).probeInfo).toBe('flac');
  });

  it('ffprobe is not run for an mp3/flac ours read; it is for one whose audio ours cannot find', async () => {
    const ffprobePath = join(dir, 'ffprobe-fake');
    const json = JSON.stringify({
      streams: [{ codec_type: 'audio' }],
      format: { format_name: 'mp3', duration: '7.0', tags: { title: 'From ffprobe' } },
    });
    writeFileSync(ffprobePath, `#!/bin/sh\ntouch "${join(dir, 'ran')}"\ncat <<'EOF'\n${json}\nEOF\n`);
    chmodSync(ffprobePath, 0o755);
    expect(track(await loadTracks(file('v.mp3', VBR_MP3), { ffprobePath })).info.title).toBe('Xing Song');
    expect(track(await loadTracks(file('f.flac', FLAC), { ffprobePath })).info.length).toBe(200_000);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    // Tags but no frame: ours names it, ffprobe gives the length.
    const noAudio = concatBytes([tags('Ours', 'Ours'), new Uint8Array(500)]);
    const t = track(await loadTracks(file('n.mp3', noAudio), { ffprobePath }));
    expect(t.info).toMatchObject({ title: 'Ours', length: 7000 });
    expect(existsSync(join(dir, 'ran'))).toBe(true);
  });
});
