/**
 * track.title, track.artist and track.durationMs: from the file name, the stream's own metadata
 * (Ogg OpusTags, WebM Segment Info, MP3/FLAC/MP4 tags, ffprobe) and the container (Ogg's last
 * granule, WebM Duration, WAV sizes, MP3 frames, FLAC STREAMINFO, MP4 moov), told by the player's
 * 'trackInfo' event once the input is opened.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { oggOpusFileDurationMs } from '../../src/audio/ogg-duration.js';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AudioPlayer,
  ffmpegInput,
  fileInput,
  oggOpusInput,
  Track,
  webmOpusInput,
} from '../../src/player/index.js';
import { Readable } from 'node:stream';
import { createOggOpusWriter, wavHeader } from '../../src/receive/recorder.js';
import { oggOpusDurationMs } from '../../src/audio/ogg-duration.js';
import { opusTagsTitle } from '../../src/audio/opus-headers.js';
import { wavDurationMs } from '../../src/audio/wav.js';
import { webmSegmentInfo } from '../../src/audio/ebml.js';
import {
  FfmpegInputInfoParser,
  parseFfprobeFormat,
  titleFromPath,
} from '../../src/player/inputs/media-info.js';
import { ID, concatBytes, el, text, trackEntry, webmHeader, blockBody } from './containers.js';
import {
  ART_MP3,
  CBR_MP3,
  FFMPEG_M4A,
  FLAC,
  ID3_FLAC,
  id3Tags,
  LAME_MP3,
  MOOV_LAST_M4A,
  VBR_MP3,
} from '../audio/tagged-files.js';
import { FakeSession, fakeCodec, packet } from './helpers.js';

function float64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value);
  return out;
}

describe('track title and duration', () => {
  let dir: string;
  const players: AudioPlayer[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'voxcord-info-'));
  });
  afterEach(() => {
    for (const p of players.splice(0)) p.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Plays `track` to a fake session until its 'trackInfo' (or the end) and returns the events seen. */
  async function play(track: Track, frames = 3): Promise<string[]> {
    const player = new AudioPlayer({ opus: fakeCodec() });
    players.push(player);
    const events: string[] = [];
    player.on('trackInfo', (t) => events.push(`${t.title}|${String(t.durationMs)}`));
    player.on('trackError', (_t, e) => events.push(`error:${e.message}`));
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(track);
    await session.pull(frames);
    for (let i = 0; i < 50 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    return events;
  }

  async function oggFile(name: string, packets: number, comments: string[], preSkip = 312): Promise<string> {
    const path = join(dir, name);
    const writer = createOggOpusWriter(path, { comments, preSkip, packetsPerPage: 10 });
    for (let i = 0; i < packets; i++) writer.write(packet(1, i));
    await writer.close();
    return path;
  }

  it('Ogg Opus file: the OpusTags TITLE, and the duration from the last page granule', async () => {
    const path = await oggFile('night-drive.opus', 150, ['ARTIST=Someone', 'title=Night Drive'], 312);
    const track = new Track(fileInput(path));
    expect(track.title).toBe('night-drive'); // the file name until the stream says more
    expect(track.durationMs).toBeUndefined();
    const events = await play(track);
    expect(track.title).toBe('Night Drive');
    expect(track.durationMs).toBeCloseTo(150 * 20 - 312 / 48, 6);
    expect(events.at(-1)).toBe(`Night Drive|${150 * 20 - 312 / 48}`);
  });

  it('Ogg Opus file whose last page is longer than the first tail read (8 KiB): the duration still', async () => {
    const path = join(dir, 'big-pages.opus');
    const writer = createOggOpusWriter(path, { preSkip: 312, packetsPerPage: 10 });
    for (let i = 0; i < 100; i++) writer.write(new Uint8Array(1200).fill(i).fill(0xfc, 0, 1));
    await writer.close();
    const expected = 100 * 20 - 312 / 48;
    expect(await oggOpusFileDurationMs(path)).toBeCloseTo(expected, 6);
    const track = new Track(fileInput(path));
    await play(track);
    expect(track.durationMs).toBeCloseTo(expected, 6);
  });

  it('a file without a title tag keeps its file name; an explicit title and duration always win', async () => {
    const path = await oggFile('my%20song.final.ogg', 20, []);
    const named = new Track(fileInput(path));
    await play(named);
    expect(named.title).toBe('my%20song.final');
    expect(named.durationMs).toBeCloseTo(20 * 20 - 312 / 48, 6);
    const given = new Track(fileInput(await oggFile('b.ogg', 10, ['TITLE=Tagged'])), {
      title: 'Given',
      durationMs: 1234,
    });
    await play(given);
    expect(given.title).toBe('Given');
    expect(given.durationMs).toBe(1234);
  });

  it('Ogg bytes in memory: title and duration too', async () => {
    const path = await oggFile('mem.ogg', 50, ['TITLE=In Memory'], 0);
    const bytes = new Uint8Array(await import('node:fs/promises').then((fs) => fs.readFile(path)));
    const track = new Track(oggOpusInput(bytes));
    expect(track.title).toBe('ogg');
    await play(track);
    expect(track.title).toBe('In Memory');
    expect(track.durationMs).toBe(1000);
  });

  it('WebM: the Segment Info Title and Duration (scaled by TimecodeScale)', async () => {
    const webm = concatBytes([
      webmHeader(),
      el(
        ID.Segment,
        el(
          ID.Info,
          el(ID.TimecodeScale, Uint8Array.of(0x0f, 0x42, 0x40)), // 1 000 000 ns: Duration in ms
          el(ID.Duration, float64(183_456.5)),
          el(ID.Title, text('Live Set')),
        ),
        el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
        el(ID.Cluster, ...[0, 1, 2, 3].map((i) => el(ID.SimpleBlock, blockBody(1, [packet(2, i)])))),
      ),
    ]);
    const track = new Track(webmOpusInput(webm));
    await play(track);
    expect(track.title).toBe('Live Set');
    expect(track.durationMs).toBe(183_456.5);
  });

  /** Segment › Tags › Tag: Targets (a TagTrackUID when `trackUid` is given) and one SimpleTag per pair. */
  function tag(pairs: [string, string][], trackUid?: number): Uint8Array {
    return el(
      0x7373,
      el(0x63c0, ...(trackUid === undefined ? [] : [el(0x63c5, Uint8Array.of(trackUid))])),
      ...pairs.map(([name, value]) => el(0x67c8, el(0x45a3, text(name)), el(0x4487, text(value)))),
    );
  }
  const TAGS = 0x1254c367;

  it('WebM: a whole-file TITLE tag names the track (not a tag aimed at one stream), before or after the clusters', async () => {
    const cluster = el(
      ID.Cluster,
      ...[0, 1, 2, 3].map((i) => el(ID.SimpleBlock, blockBody(1, [packet(2, i)]))),
    );
    const tags = el(
      TAGS,
      tag([['TITLE', 'Stereo']], 7),
      tag([
        ['ARTIST', 'Band'],
        ['title', ' Song Two '],
      ]),
    );
    const before = concatBytes([
      webmHeader(),
      el(
        ID.Segment,
        el(ID.Info, el(ID.Duration, float64(4000))),
        el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
        tags,
        cluster,
      ),
    ]);
    const track = new Track(webmOpusInput(before));
    await play(track);
    expect(track.title).toBe('Song Two');
    expect(track.durationMs).toBe(4000);
    expect(webmSegmentInfo(before)).toEqual({ durationMs: 4000, title: 'Song Two' });

    const after = concatBytes([
      webmHeader(),
      el(
        ID.Segment,
        el(ID.Tracks, trackEntry(1, 'A_OPUS', 2)),
        cluster,
        el(TAGS, tag([['TITLE', 'At The End']])),
      ),
    ]);
    const late = new Track(webmOpusInput(after));
    const events = await play(late, 10);
    expect(late.title).toBe('At The End');
    expect(events).toContain('At The End|undefined');

    // The Info Title outranks a tag; a stream-only tag alone leaves the input's name.
    const both = concatBytes([
      webmHeader(),
      el(ID.Segment, el(ID.Info, el(ID.Title, text('Info Title'))), el(TAGS, tag([['TITLE', 'Tag Title']]))),
    ]);
    expect(webmSegmentInfo(both)).toEqual({ title: 'Info Title' });
    const streamOnly = concatBytes([webmHeader(), el(ID.Segment, el(TAGS, tag([['TITLE', 'Stereo']], 2)))]);
    expect(webmSegmentInfo(streamOnly)).toEqual({});
  });

  it('WAV through ffmpeg: the duration from the header sizes; ffprobe adds the title', async () => {
    const path = join(dir, 'voice memo.wav');
    const pcmBytes = 48_000 * 4 * 2.5; // 2.5 s of s16 stereo 48 kHz
    writeFileSync(path, concatBytes([wavHeader(pcmBytes), new Uint8Array(pcmBytes)]));
    const ffmpeg = join(dir, 'ffmpeg');
    writeFileSync(ffmpeg, `#!/bin/sh\nhead -c 7680 /dev/zero\n`);
    chmodSync(ffmpeg, 0o755);
    const noProbe = new Track(fileInput(path, { ffmpegPath: ffmpeg, probe: 'none' }));
    await play(noProbe, 2);
    expect(noProbe.title).toBe('voice memo');
    expect(noProbe.durationMs).toBe(2500);

    const ffprobe = join(dir, 'ffprobe');
    writeFileSync(
      ffprobe,
      `#!/bin/sh\necho '{"format":{"filename":"x","duration":"2.500000","tags":{"TITLE":"Memo 12"}}}'\n`,
    );
    chmodSync(ffprobe, 0o755);
    const probed = new Track(fileInput(path, { ffmpegPath: ffmpeg })); // ffprobe found next to ffmpeg
    await play(probed, 2);
    expect(probed.title).toBe('Memo 12');
    expect(probed.durationMs).toBe(2500);
  });

  /** A stand-in for ffmpeg (none is installed here): two frames of silent PCM, whatever the input. */
  function fakeFfmpeg(): string {
    const path = join(dir, 'ffmpeg');
    writeFileSync(path, `#!/bin/sh\nhead -c 7680 /dev/zero\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it('MP3, FLAC and MP4 files: title, artist and length from our own readers, with no ffprobe installed', async () => {
    // Deliberate bugs caught: fileInput asking only ffprobe for these (the old path) → file name,
    // no artist, no duration; no ID3v1 tail read → cbr's title; no moov follow → late.m4a's length.
    const ffmpegPath = fakeFfmpeg();
    const cases: [string, Uint8Array, string, string | undefined, number][] = [
      ['vbr.mp3', VBR_MP3, 'Xing Song', 'Xing Band', (2000 * 1152 * 1000) / 44_100],
      ['cbr.mp3', CBR_MP3, 'Tail Title', 'Tail Artist', 1042.5], // ID3v1 (the last 128 bytes) not counted as audio
      ['art.mp3', ART_MP3, 'Art Song', 'Art Band', (1000 * 1152 * 1000) / 44_100], // first frame past the head
      ['lame-22khz-mono.mp3', LAME_MP3, 'lame-22khz-mono', undefined, (45 * 576 * 1000) / 22_050],
      ['song.flac', FLAC, 'Flac Song', 'Flac Band', 200_000],
      ['id3.flac', ID3_FLAC, 'Behind ID3', 'ID3 Artist', 3000],
      ['late.m4a', MOOV_LAST_M4A, 'Late Moov', 'Far Band', 185_000], // the moov after 200 KB of mdat
      ['ffmpeg.m4a', FFMPEG_M4A, 'Fixture Título', 'Voxcord Ärtist', 628],
    ];
    for (const [name, bytes, title, artist, durationMs] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const track = new Track(fileInput(path, { ffmpegPath, ffprobePath: join(dir, 'no-such-ffprobe') }));
      const events = await play(track, 2);
      expect(track.title, name).toBe(title);
      expect(track.artist, name).toBe(artist);
      expect(track.durationMs, name).toBe(Math.round(durationMs)); // whole ms, as ffprobe's
      expect(events, name).toHaveLength(1); // one 'trackInfo' with all of it
    }
  });

  it('ffprobe runs only for what our readers lack (an MP3 with tags but no frames), never with probe none', async () => {
    // Deliberate bug caught: ffprobe run for every ffmpeg file (hasOwnLength ignored) → the mark.
    const ffmpegPath = fakeFfmpeg();
    const mark = join(dir, 'ffprobe-ran');
    const ffprobePath = join(dir, 'ffprobe-fake');
    const json = '{"format":{"duration":"7.0","tags":{"title":"From ffprobe","artist":"Probe Band"}}}';
    writeFileSync(ffprobePath, `#!/bin/sh\ntouch "${mark}"\necho '${json}'\n`);
    chmodSync(ffprobePath, 0o755);
    const file = (name: string, bytes: Uint8Array): string => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };

    for (const [name, bytes] of [
      ['v.mp3', VBR_MP3],
      ['f.flac', FLAC],
      ['m.m4a', FFMPEG_M4A],
    ] as const) {
      const track = new Track(fileInput(file(name, bytes), { ffmpegPath, ffprobePath }));
      await play(track, 2);
      expect(track.durationMs, name).toBeGreaterThan(0);
    }
    expect(existsSync(mark)).toBe(false);

    // Tags but no frame: ours name it, ffprobe gives the length (ours win where both tell).
    const noAudio = file('n.mp3', concatBytes([id3Tags('Ours', 'Our Band'), new Uint8Array(500)]));
    const unprobed = new Track(fileInput(noAudio, { ffmpegPath, ffprobePath, probe: 'none' }));
    await play(unprobed, 2);
    expect([unprobed.title, unprobed.artist, unprobed.durationMs]).toEqual(['Ours', 'Our Band', undefined]);
    expect(existsSync(mark)).toBe(false);
    const probed = new Track(fileInput(noAudio, { ffmpegPath, ffprobePath }));
    await play(probed, 2);
    expect([probed.title, probed.artist, probed.durationMs]).toEqual(['Ours', 'Our Band', 7000]);
    expect(existsSync(mark)).toBe(true);
  });

  it('a missing or failing ffprobe costs nothing but the metadata', async () => {
    const path = join(dir, 'clip.flac');
    writeFileSync(path, new Uint8Array(100));
    const ffmpeg = join(dir, 'ffmpeg');
    writeFileSync(ffmpeg, `#!/bin/sh\nhead -c 7680 /dev/zero\n`);
    chmodSync(ffmpeg, 0o755);
    const track = new Track(fileInput(path, { ffmpegPath: ffmpeg, ffprobePath: join(dir, 'nope') }));
    const player = new AudioPlayer({ opus: fakeCodec() });
    players.push(player);
    const session = new FakeSession();
    player.attach(session);
    player.enqueue(track);
    expect(await session.pull(10)).toHaveLength(2);
    expect(track.title).toBe('clip');
    expect(track.durationMs).toBeUndefined();
  });

  /** What ffmpeg 6 prints on stderr at -loglevel info for an mp3 with tags (stream and output metadata too). */
  const FFMPEG_STDERR = [
    "Input #0, mp3, from 'pipe:0':",
    '  Metadata:',
    '    artist          : Band',
    '    title           : Song From Tags',
    '  Duration: 00:03:25.12, start: 0.025057, bitrate: 320 kb/s',
    '  Stream #0:0: Audio: mp3, 44100 Hz, stereo, fltp, 320 kb/s',
    '    Metadata:',
    '      title           : Stereo mix',
    "Output #0, s16le, to 'pipe:1':",
    '  Metadata:',
    '    title           : Output Title',
    '    encoder         : Lavf60.16.100',
    'Stream mapping:',
    '  Stream #0:0 -> #0:0 (mp3 (mp3float) -> pcm_s16le (native))',
  ].join('\n');

  it('ffmpegInput of a stream or URL: title and duration from what ffmpeg prints on stderr (no ffprobe)', async () => {
    const stderr = join(dir, 'stderr.txt');
    writeFileSync(stderr, FFMPEG_STDERR + '\n');
    const ffmpeg = join(dir, 'ffmpeg');
    // Like ffmpeg: describes its input on stderr, then writes PCM.
    writeFileSync(ffmpeg, `#!/bin/sh\ncat "${stderr}" >&2\nhead -c 7680 /dev/zero\n`);
    chmodSync(ffmpeg, 0o755);
    const piped = new Track(ffmpegInput(Readable.from([Buffer.alloc(100)]), { ffmpegPath: ffmpeg }));
    expect(piped.title).toBe('ffmpeg');
    const events = await play(piped, 2);
    expect(piped.title).toBe('Song From Tags');
    expect(piped.durationMs).toBe(205_120);
    expect(events).toContain('Song From Tags|205120');

    const url = new Track(fileInput('https://radio.example/live/stream.mp3', { ffmpegPath: ffmpeg }));
    expect(url.title).toBe('stream');
    await play(url, 2);
    expect(url.title).toBe('Song From Tags');
    expect(url.artist).toBe('Band');
    expect(url.durationMs).toBe(205_120);
  });

  it('the ffmpeg stderr parser: input metadata only, in any chunking; N/A and missing fields', () => {
    const whole = new FfmpegInputInfoParser().push(FFMPEG_STDERR);
    expect(whole).toEqual({ title: 'Song From Tags', artist: 'Band', durationMs: 205_120 });
    const chunked = new FfmpegInputInfoParser();
    const found: unknown[] = [];
    for (let i = 0; i < FFMPEG_STDERR.length; i += 7) {
      const info = chunked.push(FFMPEG_STDERR.slice(i, i + 7));
      if (info !== undefined) found.push(info);
    }
    expect(found).toEqual([whole]); // once, as soon as the Duration line is whole
    const live = new FfmpegInputInfoParser().push(
      "Input #0, hls, from 'https://x/live.m3u8':\n  Duration: N/A, start: 1.0, bitrate: N/A\n",
    );
    expect(live).toEqual({});
    // No input-level Metadata: a stream's or the output's title is not the track's.
    const untitled = new FfmpegInputInfoParser().push(
      FFMPEG_STDERR.split('\n')
        .filter((_, i) => i < 1 || i > 3) // the input's Metadata block gone; the stream's and output's stay
        .join('\n'),
    );
    expect(untitled).toEqual({ durationMs: 205_120 });
    expect(
      new FfmpegInputInfoParser().push('pipe:0: Invalid data found when processing input\n'),
    ).toBeUndefined();
  });

  it('pure parsers: OpusTags, Ogg ends, WAV header, ffprobe JSON, file names', () => {
    expect(titleFromPath('/music/Artist - Song.mp3')).toBe('Artist - Song');
    expect(titleFromPath('https://example.com/a/Radio%20One.m3u8?token=secret')).toBe('Radio One');
    expect(titleFromPath('/')).toBeUndefined();
    expect(parseFfprobeFormat('{"format":{"duration":"N/A"}}')).toEqual({});
    expect(parseFfprobeFormat('not json')).toEqual({});
    expect(parseFfprobeFormat('{"format":{"duration":"61.5","tags":{"title":" T "}}}')).toEqual({
      durationMs: 61_500,
      title: 'T',
    });
    expect(wavDurationMs(wavHeader(19_200), 44 + 19_200)).toBe(100);
    expect(wavDurationMs(wavHeader(0xffffffff), 44 + 38_400)).toBe(200); // streamed WAV: to the end of the file
    expect(wavDurationMs(new Uint8Array(44), 1000)).toBeUndefined();
    expect(opusTagsTitle(new TextEncoder().encode('OpusTags'))).toBeUndefined();
    expect(oggOpusDurationMs(new Uint8Array(10), new Uint8Array(10))).toBeUndefined();
  });
});
