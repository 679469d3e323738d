/** FLAC STREAMINFO and VORBIS_COMMENT: src/audio/flac.ts, on files built from the spec (tagged-audio.ts). */
import { describe, expect, it } from 'vitest';
import { flacInfo } from '../../src/audio/flac.js';
import { concatBytes, flacBlock, flacFile, id3Frame, id3Tag, streamInfo, textBody } from './tagged-audio.js';

describe('FLAC', () => {
  it('length from STREAMINFO, tags from VORBIS_COMMENT (names case-insensitive)', () => {
    // 3 minutes at 44.1 kHz. Deliberate bug caught: the 20-bit sample rate read one nibble short
    // (44 100 >> 4) gives a length 16 times too long.
    const info = flacInfo(flacFile(44_100, 180 * 44_100, ['title=Lossless', 'ARTIST=Band', 'Artist=Second']));
    expect(info.durationMs).toBe(180_000);
    expect(info.sampleRate).toBe(44_100);
    expect(Object.fromEntries(info.fields)).toEqual({ TITLE: 'Lossless', ARTIST: 'Band' });
  });

  it('a total over 32 bits (36-bit field) and the 0 = unknown total', () => {
    // Deliberate bug caught: dropping the top 4 bits of the sample count.
    const long = 2 ** 32 + 96_000;
    expect(flacInfo(flacFile(96_000, long)).durationMs).toBeCloseTo((long * 1000) / 96_000, 6);
    expect(flacInfo(flacFile(48_000, 0)).durationMs).toBeUndefined();
  });

  it('an ID3v2 tag in front of fLaC is skipped', () => {
    const tag = id3Tag(3, [id3Frame(3, 'TIT2', textBody(0, 'ID3 title'))], { padding: 200 });
    const info = flacInfo(concatBytes([tag, flacFile(48_000, 48_000 * 5, ['TITLE=Vorbis title'])]));
    // Deliberate bug caught: without the skip, the file is not FLAC at all (no length).
    expect(info.durationMs).toBe(5000);
    expect(info.fields.get('TITLE')).toBe('Vorbis title');
    // The bytes after a tag longer than the head come in `audio`.
    expect(flacInfo(tag.subarray(0, 20), flacFile(48_000, 48_000)).durationMs).toBe(1000);
  });

  it('malformed and cut: blocks before the damage, never a throw', () => {
    const whole = flacFile(44_100, 44_100, ['TITLE=Cut here']);
    for (let n = 0; n <= whole.length; n++) expect(() => flacInfo(whole.subarray(0, n))).not.toThrow();
    // Cut inside VORBIS_COMMENT: the length still, no tags.
    const cut = flacInfo(whole.subarray(0, 4 + 38 + 20));
    expect(cut.durationMs).toBe(1000);
    expect(cut.fields.size).toBe(0);
    // A comment count far past the block, a short STREAMINFO, a sample rate of 0.
    const lying = concatBytes([
      Uint8Array.of(0x66, 0x4c, 0x61, 0x43),
      flacBlock(0, streamInfo(0, 1000)),
      flacBlock(4, Uint8Array.of(0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), true),
    ]);
    expect(flacInfo(lying)).toEqual({ fields: new Map() });
    const short = concatBytes([
      Uint8Array.of(0x66, 0x4c, 0x61, 0x43),
      flacBlock(0, new Uint8Array(20), true),
    ]);
    expect(flacInfo(short).durationMs).toBeUndefined();
    expect(flacInfo(new TextEncoder().encode('fLaX'))).toEqual({ fields: new Map() });
  });
});
