/**
 * MPEG audio frame headers and MP3 length/tags: src/audio/mpeg-audio.ts, on frames built from the
 * spec (tagged-audio.ts) and on one real LAME file (fixtures/lame-22khz-mono.mp3: 9,436 bytes,
 * 45 MPEG 2 layer III frames of 576 samples at 22,050 Hz, 64 kbps mono, after a 32-byte ID3v2.4
 * tag; gsutil's test data, Apache-2.0).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { firstMpegFrame, mp3Info, mpegDurationMs, readMpegFrameHeader } from '../../src/audio/mpeg-audio.js';
import {
  concatBytes,
  id3Frame,
  id3Tag,
  id3v1,
  MP3_128K_FRAME,
  mpegFrame,
  mpegHeader,
  textBody,
  vbriFrame,
  xingFrame,
} from './tagged-audio.js';

const frames = (n: number, bytes = MP3_128K_FRAME): Uint8Array[] =>
  Array.from({ length: n }, () => mpegFrame(bytes));

describe('MPEG audio frame header', () => {
  // Deliberate bugs caught: MPEG 2 using MPEG 1's sample rates (22 050 → 44 100) or 1152 samples,
  // layer I frames not counted in 4-byte slots, the padding bit ignored.
  it.each([
    ['MPEG 1 layer III 128k 44.1k', { bitrateIndex: 9 }, 1, 3, 128, 44_100, 417, 1152],
    ['MPEG 1 layer III 128k 44.1k padded', { bitrateIndex: 9, padding: true }, 1, 3, 128, 44_100, 418, 1152],
    ['MPEG 1 layer III 320k 48k', { bitrateIndex: 14, rateIndex: 1 }, 1, 3, 320, 48_000, 960, 1152],
    ['MPEG 2 layer III 64k 22.05k', { version: 2, bitrateIndex: 8 }, 2, 3, 64, 22_050, 208, 576],
    ['MPEG 2.5 layer III 8k 8k', { version: 0, bitrateIndex: 1, rateIndex: 2 }, 2.5, 3, 8, 8000, 72, 576],
    ['MPEG 1 layer II 192k 48k', { layer: 2, bitrateIndex: 10, rateIndex: 1 }, 1, 2, 192, 48_000, 576, 1152],
    ['MPEG 1 layer I 384k 32k', { layer: 3, bitrateIndex: 12, rateIndex: 2 }, 1, 1, 384, 32_000, 576, 384],
  ] as const)('%s', (_name, bits, version, layer, kbps, rate, bytes, samples) => {
    expect(readMpegFrameHeader(mpegHeader(bits), 0)).toMatchObject({
      version,
      layer,
      bitrateKbps: kbps,
      sampleRate: rate,
      frameBytes: bytes,
      samplesPerFrame: samples,
    });
  });

  it('rejects reserved and free-format values, and bytes that run out', () => {
    for (const bits of [
      { version: 1 },
      { layer: 0 },
      { bitrateIndex: 0 },
      { bitrateIndex: 15 },
      { rateIndex: 3 },
    ])
      expect(readMpegFrameHeader(mpegHeader(bits), 0)).toBeUndefined();
    expect(readMpegFrameHeader(mpegHeader(), 1)).toBeUndefined();
    expect(readMpegFrameHeader(Uint8Array.of(0xff, 0xfb, 0x90), 0)).toBeUndefined();
  });

  it('the first frame is one followed by another: a stray sync word in junk is skipped', () => {
    // Deliberate bug caught: taking the first 0xFFEx as a frame reads 0 frames of garbage here.
    const junk = concatBytes([Uint8Array.of(0, 0xff, 0xfb, 0x10, 0, 0, 0), ...frames(3)]);
    expect(firstMpegFrame(junk)?.offset).toBe(7);
  });
});

describe('MP3 length', () => {
  it('Xing frame count (MPEG 1 stereo, side info 32 bytes): frames × 1152 / 44 100', () => {
    const audio = concatBytes([xingFrame(MP3_128K_FRAME, {}, 32, 1000), ...frames(3)]);
    // Deliberate bug caught: a CBR estimate over the (small) size would give ~83 ms.
    expect(mpegDurationMs(audio, audio.length)).toBeCloseTo((1000 * 1152 * 1000) / 44_100, 6);
  });

  it('Xing in an MPEG 2 mono frame (side info 9 bytes), and after a CRC', () => {
    const bits = { version: 2, bitrateIndex: 8, mono: true };
    const audio = concatBytes([xingFrame(208, bits, 9, 500), mpegFrame(208, bits)]);
    expect(mpegDurationMs(audio, undefined)).toBeCloseTo((500 * 576 * 1000) / 22_050, 6);
    const crc = { crc: true };
    const withCrc = concatBytes([xingFrame(MP3_128K_FRAME, crc, 32, 10), mpegFrame(MP3_128K_FRAME, crc)]);
    expect(mpegDurationMs(withCrc, undefined)).toBeCloseTo((10 * 1152 * 1000) / 44_100, 6);
  });

  it('VBRI frame count', () => {
    const audio = concatBytes([vbriFrame(MP3_128K_FRAME, {}, 2000), ...frames(2)]);
    expect(mpegDurationMs(audio, undefined)).toBeCloseTo((2000 * 1152 * 1000) / 44_100, 6);
  });

  it('CBR: the audio bytes over the bitrate; an Info header without a count too; unknown size: none', () => {
    const audio = concatBytes(frames(4));
    // 10 s of 128 kbps = 160 000 bytes.
    expect(mpegDurationMs(audio, 160_000)).toBe(10_000);
    const info = concatBytes([xingFrame(MP3_128K_FRAME, {}, 32, undefined, 'Info'), ...frames(2)]);
    expect(mpegDurationMs(info, 160_000)).toBe(10_000);
    expect(mpegDurationMs(audio, undefined)).toBeUndefined();
    expect(mpegDurationMs(new Uint8Array(1000), 160_000)).toBeUndefined();
  });

  it('mp3Info: ID3v2 tags, the tag not counted in a CBR length, ID3v1 as the fallback and not counted either', () => {
    const tag = id3Tag(3, [id3Frame(3, 'TIT2', textBody(1, 'Front Title'))], { padding: 1000 });
    const head = concatBytes([tag, ...frames(3)]);
    const size = tag.length + 160_000 + 128;
    const tail = concatBytes([mpegFrame(MP3_128K_FRAME), id3v1('Back Title', 'Back Artist')]);
    // Deliberate bug caught: the tag (and ID3v1) counted as audio → 10 070 ms.
    expect(mp3Info(head, size, { tail })).toEqual({
      durationMs: 10_000,
      title: 'Front Title',
      artist: 'Back Artist',
    });
    expect(mp3Info(head, size - 128)).toEqual({ durationMs: 10_000, title: 'Front Title' });
  });

  it('mp3Info: the audio after a tag longer than the head comes in `audio`', () => {
    const tag = id3Tag(4, [
      id3Frame(4, 'TIT2', textBody(3, 'Big Art')),
      id3Frame(4, 'APIC', new Uint8Array(70_000)),
    ]);
    const head = tag.subarray(0, 65_536);
    const audio = concatBytes([xingFrame(MP3_128K_FRAME, {}, 32, 100), ...frames(2)]);
    expect(mp3Info(head, tag.length + 1_000_000, { audio })).toEqual({
      durationMs: (100 * 1152 * 1000) / 44_100,
      title: 'Big Art',
    });
    expect(mp3Info(head, tag.length + 1_000_000)).toEqual({ title: 'Big Art' });
  });

  it('a real LAME file (MPEG 2 layer III, no Xing): 45 frames = 1175.5 ms, by the CBR estimate', () => {
    const file = new Uint8Array(readFileSync(new URL('./fixtures/lame-22khz-mono.mp3', import.meta.url)));
    const info = mp3Info(file, file.length, { tail: file });
    expect(info.durationMs).toBeCloseTo((45 * 576 * 1000) / 22_050, 0);
    expect(firstMpegFrame(file.subarray(32))?.header).toMatchObject({
      version: 2,
      sampleRate: 22_050,
      mono: true,
    });
  });

  it('malformed and cut inputs never throw', () => {
    const whole = concatBytes([
      id3Tag(4, [id3Frame(4, 'TIT2', textBody(1, 'Cut'))]),
      xingFrame(MP3_128K_FRAME, {}, 32, 50),
      vbriFrame(MP3_128K_FRAME, {}, 20),
    ]);
    for (let n = 0; n <= whole.length; n += 7) {
      const cut = whole.subarray(0, n);
      expect(() => mp3Info(cut, n, { tail: cut })).not.toThrow();
      expect(() => mp3Info(cut, undefined, { audio: cut.subarray(n >> 1) })).not.toThrow();
    }
    expect(mp3Info(new Uint8Array(0), 0)).toEqual({});
    expect(mp3Info(Uint8Array.of(0xff, 0xfb, 0x90, 0x00), -5)).toEqual({});
  });
});
