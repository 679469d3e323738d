/**
 * The node's own MP3 and FLAC readers (src/audio/id3.ts, mpeg-audio.ts, flac.ts, vorbis-comment.ts):
 * the first bytes of files and URLs anyone can hand to loadtracks. They never throw (any throw is a
 * crash). Oracles: a length is finite and not negative; values are capped; the same bytes give the
 * same answer wherever they sit in their buffer (a DataView or subarray that forgot byteOffset).
 */
import { flacInfo } from '../../../src/audio/flac.js';
import { id3v2TagSize, readId3v1, readId3v2 } from '../../../src/audio/id3.js';
import { firstMpegFrame, mp3Info } from '../../../src/audio/mpeg-audio.js';
import { probeName } from '../../../src/player/inputs/file-info.js';
import {
  concatBytes,
  flacFile,
  id3Frame,
  id3Tag,
  id3v1,
  MP3_128K_FRAME,
  mpegFrame,
  textBody,
  vbriFrame,
  xingFrame,
} from '../../audio/tagged-audio.js';
import { oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

/** `input` copied to offset 5 of a larger buffer: a reader must not see the bytes around it. */
function shifted(input: Uint8Array): Uint8Array {
  const big = new Uint8Array(input.length + 10).fill(0xff);
  big.set(input, 5);
  return big.subarray(5, 5 + input.length);
}

function checkLength(ms: number | undefined): void {
  oracle(ms === undefined || (Number.isFinite(ms) && ms >= 0), `length ${ms}`);
}

function checkText(value: string | undefined): void {
  oracle(value === undefined || (value.length > 0 && value.length <= 512), `tag value of ${value?.length}`);
}

const never = (): boolean => false;

const id3Seeds = (): Uint8Array[] => [
  id3Tag(2, [id3Frame(2, 'TT2', textBody(1, 'T')), id3Frame(2, 'TP1', textBody(0, 'A'))]),
  id3Tag(3, [id3Frame(3, 'TIT2', textBody(1, 'Tïtle')), id3Frame(3, 'TPE1', textBody(0, 'Art'))], {
    flags: 0x80,
    extended: Uint8Array.of(0, 0, 0, 6, 0, 0, 0, 0, 0, 0),
  }),
  id3Tag(
    4,
    [
      id3Frame(4, 'TIT2', textBody(2, 'Be')),
      id3Frame(4, 'TPE1', textBody(3, 'A\0B'), 0x03),
      id3Frame(4, 'TSRC', textBody(0, 'X'), 0x40),
    ],
    { extended: Uint8Array.of(0, 0, 0, 6, 1, 0), footer: true, padding: 8 },
  ),
  concatBytes([new Uint8Array(20), id3v1('Title', 'Artist')]),
];

const mp3Seeds = (): Uint8Array[] => [
  concatBytes([
    id3Tag(3, [id3Frame(3, 'TIT2', textBody(0, 'x'))]),
    xingFrame(MP3_128K_FRAME, {}, 32, 100),
    mpegFrame(MP3_128K_FRAME),
  ]),
  concatBytes([vbriFrame(MP3_128K_FRAME, {}, 50), mpegFrame(MP3_128K_FRAME)]),
  concatBytes([
    xingFrame(208, { version: 2, bitrateIndex: 8, mono: true, crc: true }, 9, 7),
    mpegFrame(208, { version: 2, bitrateIndex: 8, mono: true, crc: true }),
  ]),
  concatBytes([
    mpegFrame(72, { version: 0, bitrateIndex: 1, rateIndex: 2 }),
    mpegFrame(72, { version: 0, bitrateIndex: 1, rateIndex: 2 }),
  ]),
  concatBytes([mpegFrame(576, { layer: 2, bitrateIndex: 10, rateIndex: 1 }), id3v1('t', 'a')]),
];

const flacSeeds = (): Uint8Array[] => [
  flacFile(44_100, 44_100 * 3, ['TITLE=t', 'ARTIST=a']),
  flacFile(96_000, 2 ** 33, []),
  concatBytes([id3Tag(4, [id3Frame(4, 'TIT2', textBody(3, 'i'))], { padding: 4 }), flacFile(48_000, 0)]),
];

export const trackInfoTargets: FuzzTarget[] = [
  {
    name: 'id3-tags',
    modules: ['src/audio/id3.ts readId3v2 id3v2TagSize readId3v1'],
    create: () => ({
      seeds: id3Seeds(),
      isTypedRejection: never,
      run(input) {
        const v2 = readId3v2(input);
        for (const value of [v2.title, v2.artist, v2.isrc]) checkText(value);
        const size = id3v2TagSize(input);
        oracle(size === 0 || size >= 10, `tag size ${size}`);
        const v1 = readId3v1(input);
        oracle(
          JSON.stringify(readId3v2(shifted(input))) === JSON.stringify(v2),
          'ID3v2 depends on byteOffset',
        );
        oracle(
          JSON.stringify(readId3v1(shifted(input))) === JSON.stringify(v1),
          'ID3v1 depends on byteOffset',
        );
        return v2.title === undefined && v1.title === undefined ? 'rejected' : 'ok';
      },
    }),
  },
  {
    name: 'mp3-info',
    modules: ['src/audio/mpeg-audio.ts mp3Info firstMpegFrame', 'src/player/inputs/file-info.ts probeName'],
    create: () => ({
      seeds: mp3Seeds(),
      isTypedRejection: never,
      run(input) {
        const info = mp3Info(input, input.length, { tail: input });
        checkLength(info.durationMs);
        checkText(info.title);
        checkText(info.artist);
        checkLength(mp3Info(input, undefined, { audio: input.subarray(input.length >> 1) }).durationMs);
        const again = mp3Info(shifted(input), input.length, { tail: shifted(input) });
        oracle(JSON.stringify(again) === JSON.stringify(info), 'mp3Info depends on byteOffset');
        const first = firstMpegFrame(input);
        oracle(first === undefined || first.header.frameBytes > 4, 'a frame shorter than its header');
        probeName(input);
        return info.durationMs === undefined ? 'rejected' : 'ok';
      },
    }),
  },
  {
    name: 'flac-info',
    modules: ['src/audio/flac.ts flacInfo', 'src/audio/vorbis-comment.ts readVorbisComment'],
    create: () => ({
      seeds: flacSeeds(),
      isTypedRejection: never,
      run(input) {
        const info = flacInfo(input);
        checkLength(info.durationMs);
        const again = flacInfo(shifted(input));
        oracle(
          again.durationMs === info.durationMs && [...again.fields].join() === [...info.fields].join(),
          'flacInfo depends on byteOffset',
        );
        return info.durationMs === undefined ? 'rejected' : 'ok';
      },
    }),
  },
];
