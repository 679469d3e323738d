/** MP4/M4A length, title and artist (src/audio/mp4-info.ts) from built boxes and two files ffmpeg wrote. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open } from 'node:fs/promises';
import { MP4_MOOV_MAX_BYTES, mp4Info, mp4InfoFollowing } from '../../src/audio/mp4-info.js';
import type { Mp4Info } from '../../src/audio/mp4-info.js';
import { INFO_HEAD_BYTES } from '../../src/player/inputs/file-info.js';
import { bytesAt } from '../../src/player/inputs/file.js';
import { concatBytes } from '../../src/util/bytes.js';
import {
  box,
  fullBox,
  ftyp,
  hdlr,
  item,
  largeBox,
  mdat,
  mdhd,
  moov,
  mvex,
  mvhd,
  openBox,
  qtText,
  trak,
  u32,
  u64,
  udta,
} from './mp4-boxes.js';

const NAM = '\u00a9nam';
const ART = '\u00a9ART';

describe('mp4Info: a moov before the media (faststart)', () => {
  it('reads mvhd version 0 (32-bit timescale and duration) and the iTunes title and artist', () => {
    const file = concatBytes(ftyp(), moov({ timescale: 600, duration: 123_456 }), mdat(100));
    expect(mp4Info(file)).toEqual({ durationMs: 205_760, title: 'Song', artist: 'Band', moov: 'complete' });
  });

  it('reads mvhd version 1 (64-bit times and duration past 2^32)', () => {
    const duration = 5_000_000_000; // 48 kHz: 28.9 hours
    const file = concatBytes(ftyp(), moov({ version: 1, timescale: 48_000, duration }), mdat(10));
    expect(mp4Info(file).durationMs).toBeCloseTo((duration * 1000) / 48_000, 6);
  });

  it("takes the first sound track's mdhd when mvhd says 0, not a video track before it", () => {
    const file = concatBytes(
      ftyp(),
      box(
        'moov',
        mvhd(0, 1000, 0),
        trak('vide', mdhd(0, 90_000, 90_000 * 60)),
        trak('soun', mdhd(1, 44_100, 44_100 * 7)),
        trak('soun', mdhd(0, 1000, 99)),
      ),
    );
    expect(mp4Info(file)).toEqual({ durationMs: 7000, moov: 'complete' });
  });

  it('gives no duration for an unknown (all ones) or zero-timescale mvhd without a sound track', () => {
    expect(mp4Info(box('moov', mvhd(0, 1000, 0xffffffff))).durationMs).toBeUndefined();
    expect(mp4Info(box('moov', mvhd(1, 1000, 0xffffffffffffffffn))).durationMs).toBeUndefined();
    expect(mp4Info(box('moov', mvhd(0, 0, 500))).durationMs).toBeUndefined();
  });
});

describe('mp4Info: tags', () => {
  const withTags = (items: Uint8Array[], fullHeader = true): Uint8Array =>
    concatBytes(ftyp(), box('moov', mvhd(0, 1000, 1000), udta(items, fullHeader)));

  it('reads meta as a full box (Apple) and without its version/flags (QuickTime-style writers)', () => {
    const items = [item(NAM, 'Título'), item(ART, 'Ärtist')];
    expect(mp4Info(withTags(items, true))).toMatchObject({ title: 'Título', artist: 'Ärtist' });
    expect(mp4Info(withTags(items, false))).toMatchObject({ title: 'Título', artist: 'Ärtist' });
  });

  it('takes aART when there is no ©ART, ©ART when both are there', () => {
    expect(mp4Info(withTags([item('aART', 'Album Artist')])).artist).toBe('Album Artist');
    expect(mp4Info(withTags([item('aART', 'Album Artist'), item(ART, 'Track Artist')])).artist).toBe(
      'Track Artist',
    );
  });

  it('skips data that is not UTF-8 text (type 1), and empty or blank text', () => {
    const info = mp4Info(
      withTags([
        item(NAM, Uint8Array.of(0, 0, 0, 0x2a), 21), // a big-endian integer
        item(ART, '  '),
        item('covr', Uint8Array.of(0xff, 0xd8, 0xff), 13),
      ]),
    );
    expect(info).toEqual({ durationMs: 1000, moov: 'complete' });
  });

  it("reads QuickTime's udta text items (.mov) when there is no ilst, and ilst's first", () => {
    const mov = (...items: Uint8Array[]): Uint8Array =>
      box('moov', mvhd(0, 1000, 1000), box('udta', ...items));
    expect(mp4Info(mov(qtText(ART, 'Ärtist'), qtText(NAM, 'Títle')))).toMatchObject({
      title: 'Títle',
      artist: 'Ärtist',
    });
    // Mac language code 0 (English): Mac Roman, read only when ASCII.
    expect(mp4Info(mov(qtText(NAM, 'Plain', 0), qtText(ART, Uint8Array.of(0x8a, 0x41), 0)))).toEqual({
      durationMs: 1000,
      title: 'Plain',
      moov: 'complete',
    });
    const both = box(
      'moov',
      box(
        'udta',
        qtText(NAM, 'QuickTime'),
        fullBox('meta', 0, hdlr('mdir'), box('ilst', item(NAM, 'iTunes'))),
      ),
    );
    expect(mp4Info(both).title).toBe('iTunes');
    expect(mp4Info(mov(box(NAM, Uint8Array.of(0, 9, 0x55, 0xc4, 0x41)))).title).toBeUndefined(); // cut text
  });

  it('leaves a file without udta untagged (no title or artist keys)', () => {
    expect(mp4Info(concatBytes(ftyp(), box('moov', mvhd(0, 1000, 1000))))).toEqual({
      durationMs: 1000,
      moov: 'complete',
    });
  });
});

describe('mp4Info: a moov the input does not hold', () => {
  const file = concatBytes(ftyp(), box('free'), mdat(5000), moov({ duration: 4200, title: 'Late' }));
  const mdatEnd = ftyp().length + 8 + mdat(5000).length;

  it('points after an mdat the head ends in; the bytes there alone give the info', () => {
    const head = file.subarray(0, 200);
    expect(mp4Info(head)).toEqual({ moov: { offset: mdatEnd, size: MP4_MOOV_MAX_BYTES } });
    expect(mp4Info(file.subarray(mdatEnd))).toEqual({
      durationMs: 4200,
      title: 'Late',
      artist: 'Band',
      moov: 'complete',
    });
    expect(mp4Info(file)).toMatchObject({ durationMs: 4200, moov: 'complete' }); // the whole file
  });

  it('points at a moov the head cuts, with what its whole children told so far', () => {
    const big = concatBytes(
      ftyp(),
      box('moov', mvhd(0, 1000, 2500), box('free', new Uint8Array(3000)), udta([item(NAM, 'T')])),
    );
    const offset = ftyp().length;
    expect(mp4Info(big.subarray(0, 1000))).toEqual({
      durationMs: 2500,
      moov: { offset, size: big.length - offset },
    });
    expect(mp4Info(big.subarray(offset))).toEqual({ durationMs: 2500, title: 'T', moov: 'complete' });
  });

  it('caps the range of a moov larger than MP4_MOOV_MAX_BYTES', () => {
    const header = concatBytes(
      u32(MP4_MOOV_MAX_BYTES * 3),
      Uint8Array.from('moov', (c) => c.charCodeAt(0)),
    );
    expect(mp4Info(concatBytes(ftyp(), header, mvhd(0, 1, 1)))).toEqual({
      durationMs: 1000,
      moov: { offset: ftyp().length, size: MP4_MOOV_MAX_BYTES },
    });
  });

  it('points at a box header the input cuts, and past its last whole box', () => {
    expect(mp4Info(concatBytes(ftyp(), Uint8Array.of(0, 0, 1)))).toEqual({
      moov: { offset: ftyp().length, size: MP4_MOOV_MAX_BYTES },
    });
    expect(mp4Info(ftyp())).toEqual({ moov: { offset: ftyp().length, size: MP4_MOOV_MAX_BYTES } });
    // A moov with a largesize, its header cut after the type: the range starts there, also on a second read.
    const cutLarge = concatBytes(
      u32(1),
      Uint8Array.from('moov', (c) => c.charCodeAt(0)),
      Uint8Array.of(0, 0),
    );
    expect(mp4Info(cutLarge)).toEqual({ moov: { offset: 0, size: MP4_MOOV_MAX_BYTES } });
    expect(mp4Info(Uint8Array.of(0, 0, 0, 1, 0x6d))).toEqual({}); // no type shown: nothing says MP4
  });

  it('says there is no moov after an mdat of size 0 (to the end of the file)', () => {
    expect(mp4Info(concatBytes(ftyp(), openBox('mdat', new Uint8Array(50))))).toEqual({});
  });
});

describe('mp4Info: 64-bit largesize', () => {
  it('skips an mdat by its largesize and reads a moov written with one', () => {
    const inner = moov({ duration: 1500 }).subarray(8); // the moov's children
    const file = concatBytes(ftyp(), largeBox('mdat', new Uint8Array(300)), largeBox('moov', inner));
    expect(mp4Info(file)).toEqual({ durationMs: 1500, title: 'Song', artist: 'Band', moov: 'complete' });
  });

  it('points past an mdat whose largesize is beyond 4 GiB', () => {
    const size = 5 * 2 ** 32 + 16;
    const head = concatBytes(
      ftyp(),
      u32(1),
      Uint8Array.from('mdat', (c) => c.charCodeAt(0)),
      u64(size),
    );
    expect(mp4Info(head)).toEqual({ moov: { offset: ftyp().length + size, size: MP4_MOOV_MAX_BYTES } });
  });
});

describe('mp4Info: fragmented files', () => {
  it("gives no duration when mvex has no mehd, even where mvhd counts the moov's own samples", () => {
    const file = concatBytes(
      ftyp('iso5'),
      box(
        'moov',
        mvhd(0, 1000, 2048),
        trak('soun', mdhd(0, 8000, 16_384)),
        mvex(),
        udta([item(NAM, 'Frag')]),
      ),
      box('moof', new Uint8Array(40)),
      mdat(20),
    );
    expect(mp4Info(file)).toEqual({ title: 'Frag', moov: 'complete' });
  });

  it("takes mehd's fragment duration (movie timescale) when the writer gave one", () => {
    const file = concatBytes(ftyp('iso5'), box('moov', mvhd(0, 600, 0), mvex(600 * 95)));
    expect(mp4Info(file)).toEqual({ durationMs: 95_000, moov: 'complete' });
  });
});

describe('mp4Info: malformed input', () => {
  const good = concatBytes(ftyp(), moov({ duration: 9000 }), mdat(64));

  it('never throws on any prefix, and a prefix tells only what the whole file tells', () => {
    const whole = mp4Info(good);
    for (let n = 0; n <= good.length; n++) {
      const info = mp4Info(good.subarray(0, n));
      if (info.durationMs !== undefined) expect(info.durationMs).toBe(whole.durationMs);
      if (info.title !== undefined) expect(info.title).toBe(whole.title);
      if (info.artist !== undefined) expect(info.artist).toBe(whole.artist);
    }
  });

  it('stops at an impossible size or a type that is not four characters', () => {
    expect(
      mp4Info(
        concatBytes(
          u32(5),
          Uint8Array.from('ftyp', (c) => c.charCodeAt(0)),
        ),
      ),
    ).toEqual({});
    expect(mp4Info(concatBytes(ftyp(), u32(16), u32(0x00ff0102), new Uint8Array(8)))).toEqual({});
    expect(mp4Info(new TextEncoder().encode('ID3\u0004 not an mp4 at all'))).toEqual({});
    expect(mp4Info(new Uint8Array(0))).toEqual({});
  });

  it('keeps what whole boxes give when a child inside moov lies about its size', () => {
    const lying = concatBytes(
      u32(0x7fffffff),
      Uint8Array.from('trak', (c) => c.charCodeAt(0)),
    );
    const file = box('moov', mvhd(0, 1000, 800), udta([item(NAM, 'Kept')]), lying);
    expect(mp4Info(file)).toEqual({ durationMs: 800, title: 'Kept', moov: 'complete' });
  });

  it('reads mvhd, mdhd and data fields only when the box holds them', () => {
    const short = box(
      'moov',
      fullBox('mvhd', 1, new Uint8Array(20)),
      trak('soun', fullBox('mdhd', 0, new Uint8Array(8))),
    );
    expect(mp4Info(short)).toEqual({ moov: 'complete' });
    const shortData = box('moov', udta([box(NAM, box('data', u32(1)))]));
    expect(mp4Info(shortData)).toEqual({ moov: 'complete' });
    expect(mp4Info(box('moov', box('udta', box('meta', hdlr('mdir')))))).toEqual({ moov: 'complete' });
  });
});

/** A local MP4/M4A file's info: mp4InfoFollowing over the file from its first INFO_HEAD_BYTES; `{}` when it cannot be read. */
async function mp4FileInfo(path: string): Promise<Mp4Info> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return {};
  }
  try {
    const file = handle;
    const size = (await file.stat()).size;
    const read = (from: number, length: number): Promise<Uint8Array> =>
      bytesAt(file, from, Math.max(0, Math.min(length, size - from)));
    return await mp4InfoFollowing(await read(0, INFO_HEAD_BYTES), size, read);
  } catch {
    return {};
  } finally {
    await handle.close();
  }
}

describe('mp4InfoFollowing over a local file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxcord-mp4-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('follows the head to a moov after an mdat longer than the head', async () => {
    const path = write(
      'late.m4a',
      concatBytes(ftyp(), mdat(200_000), moov({ duration: 61_000, title: 'Far' })),
    );
    expect(await mp4FileInfo(path)).toEqual({
      durationMs: 61_000,
      title: 'Far',
      artist: 'Band',
      moov: 'complete',
    });
  });

  it('reads the rest of a faststart moov longer than the head', async () => {
    const longMoov = box(
      'moov',
      mvhd(0, 1000, 0),
      box('free', new Uint8Array(100_000)),
      trak('soun', mdhd(0, 1000, 4321)),
      udta([item(ART, 'Tail')]),
    );
    const path = write('long.m4a', concatBytes(ftyp(), longMoov, mdat(10)));
    expect(await mp4FileInfo(path)).toEqual({ durationMs: 4321, artist: 'Tail', moov: 'complete' });
  });

  it('walks past two mdats to the moov', async () => {
    const path = write('two.m4a', concatBytes(ftyp(), mdat(70_000), mdat(5_000_000), moov({ duration: 77 })));
    expect(await mp4FileInfo(path)).toMatchObject({ durationMs: 77, moov: 'complete' });
  });

  it('keeps what the first MP4_MOOV_MAX_BYTES of a longer moov tell, and no range', async () => {
    const hugeMoov = box(
      'moov',
      mvhd(0, 1000, 5555),
      box('free', new Uint8Array(MP4_MOOV_MAX_BYTES)),
      udta([item(NAM, 'Past the cap')]),
    );
    const path = write('huge.m4a', concatBytes(ftyp(), mdat(10), hugeMoov));
    expect(await mp4FileInfo(path)).toEqual({ durationMs: 5555 });
  });

  it('gives {} for a file that is missing or not MP4', async () => {
    expect(await mp4FileInfo(join(dir, 'missing.m4a'))).toEqual({});
    expect(await mp4FileInfo(write('text.m4a', new TextEncoder().encode('hello, not a box')))).toEqual({});
  });
});

// Made with ffmpeg 4.1 (a static build from npm's @ffmpeg-installer/linux-x64, not a dependency):
//   ffmpeg -f lavfi -i anullsrc=r=8000:cl=mono -t 0.5 -c:a aac -b:a 8k \
//     -metadata 'title=Fixture Título' -metadata 'artist=Voxcord Ärtist' -fflags +bitexact -flags:a +bitexact \
//     [-movflags frag_keyframe+empty_moov] out.m4a
// ffmpeg -i says Duration 00:00:00.63 (mvhd 628 ms: 0.5 s and the encoder's priming) for both.
describe('files ffmpeg wrote', () => {
  const fixture = (name: string): string => new URL(`../fixtures/mp4/${name}`, import.meta.url).pathname;

  it('a moov after the mdat (the default): length and tags, through the pointer and through the file', async () => {
    const path = fixture('ffmpeg-aac-moov-last.m4a');
    const bytes = new Uint8Array(readFileSync(path));
    const pointer = mp4Info(bytes.subarray(0, 40)).moov;
    expect(pointer).toEqual({ offset: 60, size: MP4_MOOV_MAX_BYTES });
    const expected = { durationMs: 628, title: 'Fixture Título', artist: 'Voxcord Ärtist', moov: 'complete' };
    expect(mp4Info(bytes.subarray(60))).toEqual(expected);
    expect(await mp4FileInfo(path)).toEqual(expected);
  });

  it('a QuickTime .mov (-c:a aac -t 2): udta text items, not ilst', async () => {
    expect(await mp4FileInfo(fixture('ffmpeg-aac.mov'))).toEqual({
      durationMs: 2128,
      title: 'T1',
      artist: 'A1',
      moov: 'complete',
    });
  });

  it('fragmented with an empty moov: tags, no duration', async () => {
    expect(await mp4FileInfo(fixture('ffmpeg-aac-fragmented.m4a'))).toEqual({
      title: 'Fixture Título',
      artist: 'Voxcord Ärtist',
      moov: 'complete',
    });
  });
});
