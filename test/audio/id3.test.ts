/** ID3v2 (2.2/2.3/2.4) and ID3v1 tags: src/audio/id3.ts, on tags built from the spec (tagged-audio.ts). */
import { describe, expect, it } from 'vitest';
import { id3v2TagSize, readId3v1, readId3v2 } from '../../src/audio/id3.js';
import { concatBytes, id3Frame, id3Tag, id3v1, textBody } from './tagged-audio.js';
import type { Id3Version, TextEncoding } from './tagged-audio.js';

const TITLE = 'Déjà vu — ♫';
const LATIN1_TITLE = 'Déjà vu';

function tag(version: Id3Version, encoding: TextEncoding, title: string, artist: string): Uint8Array {
  const [album, t, a] = version === 2 ? ['TAL', 'TT2', 'TP1'] : ['TALB', 'TIT2', 'TPE1'];
  return id3Tag(version, [
    id3Frame(version, album, textBody(0, 'Album first')),
    id3Frame(version, t, textBody(encoding, title)),
    id3Frame(version, a, textBody(encoding, artist)),
  ]);
}

describe('ID3v2', () => {
  // Deliberate bugs caught: UTF-16 read without its BOM (or BE as LE) garbles the title; v2.4
  // sizes read as plain integers would misplace every frame after a 128+ byte one.
  it.each([
    [3, 0, LATIN1_TITLE],
    [3, 1, TITLE],
    [4, 1, TITLE],
    [4, 2, TITLE],
    [4, 3, TITLE],
    [2, 1, TITLE],
    [2, 0, LATIN1_TITLE],
  ] as const)('v2.%i, text encoding %i: title and artist', (version, encoding, title) => {
    const bytes = tag(version, encoding, title, 'Ünïcode Band');
    expect(readId3v2(bytes)).toEqual({ title, artist: 'Ünïcode Band' });
    expect(id3v2TagSize(bytes)).toBe(bytes.length);
  });

  it('UTF-16 with a big-endian BOM, and a BOM before each of several values', () => {
    // Deliberate bug caught: the FE FF BOM read as little-endian gives "䄀䈀".
    const be = id3Tag(3, [id3Frame(3, 'TIT2', Uint8Array.of(1, 0xfe, 0xff, 0, 0x41, 0, 0x42))]);
    expect(readId3v2(be).title).toBe('AB');
    const two = id3Tag(4, [
      id3Frame(4, 'TPE1', Uint8Array.of(1, 0xff, 0xfe, 0x41, 0, 0, 0, 0xff, 0xfe, 0x42, 0)),
    ]);
    expect(readId3v2(two).artist).toBe('A/B');
  });

  it('a frame over 127 bytes: v2.4 sizes are syncsafe, v2.3 sizes are not', () => {
    // Deliberate bug caught: decoding v2.4 frame sizes as plain 32-bit integers (200 → 0x148 read as 0xc8).
    for (const version of [3, 4] as const) {
      const bytes = id3Tag(version, [
        id3Frame(version, 'COMM', new Uint8Array(200).fill(0x41)),
        id3Frame(version, 'TIT2', textBody(3, 'After a long frame')),
      ]);
      expect(readId3v2(bytes).title).toBe('After a long frame');
    }
  });

  it('a v2.4 tag with plain (not syncsafe) frame sizes, as old iTunes wrote: the plain walk is tried', () => {
    // Deliberate bug caught: only the syncsafe walk → 328 read as 200, the title frame never found.
    for (const fill of [0x89, 0x00]) {
      const art = new Uint8Array(10 + 328).fill(fill);
      art.set([0x41, 0x50, 0x49, 0x43, 0, 0, 0x01, 0x48, 0, 0]); // APIC, 328 bytes
      const bytes = id3Tag(4, [art, id3Frame(3, 'TIT2', textBody(3, 'iTunes'))], { padding: 20 });
      expect(readId3v2(bytes).title).toBe('iTunes');
    }
  });

  it('skips the extended header (v2.3: size without itself; v2.4: syncsafe, with itself) and counts the footer', () => {
    const v3 = id3Tag(3, [id3Frame(3, 'TIT2', textBody(0, 'Ext3'))], {
      extended: Uint8Array.of(0, 0, 0, 6, 0, 0, 0, 0, 0, 0),
    });
    const v4 = id3Tag(4, [id3Frame(4, 'TIT2', textBody(3, 'Ext4'))], {
      extended: Uint8Array.of(0, 0, 0, 6, 1, 0),
      footer: true,
      padding: 30,
    });
    expect(readId3v2(v3).title).toBe('Ext3');
    expect(readId3v2(v4).title).toBe('Ext4');
    // Deliberate bug caught: forgetting the v2.4 footer puts the audio search 10 bytes early.
    expect(id3v2TagSize(v4)).toBe(v4.length);
  });

  it('unsynchronisation: v2.3 tag-wide and v2.4 per frame, 0xFF 0x00 read back as 0xFF', () => {
    // "ÿ" is 0xFF in Latin-1; the writer inserts 0x00 after it. v2.3 applies it to the whole tag
    // after the frames are built (their sizes count the plain bytes), v2.4 within a frame (its size
    // counts the inserted bytes).
    const v3 = id3Tag(3, [id3Frame(3, 'TIT2', Uint8Array.of(0, 0x41, 0xff, 0x42))], { flags: 0x80 });
    const v3Unsync = concatBytes([v3.subarray(0, 23), Uint8Array.of(0x00), v3.subarray(23)]);
    v3Unsync[9] = v3[9]! + 1;
    const v4 = id3Tag(4, [id3Frame(4, 'TIT2', Uint8Array.of(0, 0x41, 0xff, 0x00, 0x42), 0x02)]);
    // Deliberate bug caught: no resync leaves "Aÿ\0B" → "Aÿ/B".
    expect(readId3v2(v3Unsync).title).toBe('AÿB');
    expect(readId3v2(v4).title).toBe('AÿB');
  });

  it('v2.4 multiple values, v2.3 group id, compressed frames skipped, ISRC read', () => {
    const bytes = id3Tag(4, [
      id3Frame(4, 'TIT2', textBody(3, 'Packed'), 0x08), // compressed: not readable text
      id3Frame(4, 'TPE1', textBody(3, 'One\0Two')),
      id3Frame(4, 'TSRC', textBody(0, 'USRC17607839')),
      id3Frame(4, 'TIT2', textBody(3, 'Plain')),
    ]);
    expect(readId3v2(bytes)).toEqual({ title: 'Plain', artist: 'One/Two', isrc: 'USRC17607839' });
    const grouped = id3Tag(3, [id3Frame(3, 'TIT2', concatBytes([Uint8Array.of(7), textBody(0, 'G')]), 0x20)]);
    expect(readId3v2(grouped).title).toBe('G');
  });

  it('malformed or cut: what came before the damage, never a throw', () => {
    const whole = tag(4, 1, TITLE, 'Band');
    for (let n = 0; n <= whole.length; n++) expect(() => readId3v2(whole.subarray(0, n))).not.toThrow();
    // Cut inside the artist frame: the title is still there.
    expect(readId3v2(whole.subarray(0, whole.length - 3))).toEqual({ title: TITLE });
    // A frame size past the tag's end, an unknown encoding, a bad version, a compressed v2.2 tag.
    const huge = id3Tag(3, [Uint8Array.of(0x54, 0x49, 0x54, 0x32, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0x41)]);
    expect(readId3v2(huge)).toEqual({});
    expect(readId3v2(id3Tag(3, [id3Frame(3, 'TIT2', Uint8Array.of(9, 0x41))]))).toEqual({});
    const v5 = tag(3, 0, 'x', 'y');
    v5[3] = 5;
    expect(readId3v2(v5)).toEqual({});
    expect(id3v2TagSize(v5)).toBe(0);
    expect(readId3v2(id3Tag(2, [id3Frame(2, 'TT2', textBody(0, 'z'))], { flags: 0x40 }))).toEqual({});
  });
});

describe('ID3v1', () => {
  it('title and artist from the last 128 bytes; none without "TAG"', () => {
    const tail = concatBytes([new Uint8Array(50), id3v1('Old Style', 'Old Band')]);
    expect(readId3v1(tail)).toEqual({ title: 'Old Style', artist: 'Old Band' });
    expect(readId3v1(tail.subarray(0, tail.length - 1))).toEqual({});
    expect(readId3v1(new Uint8Array(10))).toEqual({});
  });
});
