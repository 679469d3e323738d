/**
 * The MP4/M4A info reader (src/audio/mp4-info.ts): the node reads it from local files and URL
 * heads. Oracles: lengths are finite and positive, tags non-empty and trimmed, a range is one the
 * caller can read (at most MP4_MOOV_MAX_BYTES); and reading from a range's start inside the input
 * (a cut moov) tells what the whole input told, as the caller's second read relies on.
 */
import { isDeepStrictEqual } from 'node:util';
import { MP4_MOOV_MAX_BYTES, mp4Info } from '../../../src/audio/mp4-info.js';
import { concatBytes } from '../../../src/util/bytes.js';
import {
  box,
  ftyp,
  item,
  largeBox,
  mdat,
  mdhd,
  moov,
  mvex,
  mvhd,
  qtText,
  trak,
  udta,
} from '../../audio/mp4-boxes.js';
import { oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

function seeds(): Uint8Array[] {
  const tagged = moov({
    version: 1,
    timescale: 48_000,
    duration: 480_000,
    title: 'Título',
    artist: 'Ärtist',
  });
  return [
    concatBytes(ftyp(), tagged, mdat(64)),
    concatBytes(ftyp(), box('free'), mdat(48), moov({ duration: 4200 })),
    concatBytes(ftyp(), largeBox('mdat', new Uint8Array(32)), largeBox('moov', tagged.subarray(8))),
    concatBytes(
      ftyp('iso5'),
      box(
        'moov',
        mvhd(0, 600, 0),
        trak('vide', mdhd(0, 90_000, 9000)),
        trak('soun', mdhd(0, 8000, 800)),
        mvex(6000),
      ),
      box('moof', new Uint8Array(24)),
      mdat(16),
    ),
    box(
      'moov',
      mvhd(0, 1000, 0),
      trak('soun', mdhd(0, 44_100, 441_000)),
      udta([item('aART', 'Both')], false),
    ),
    concatBytes(
      ftyp('qt  '),
      mdat(8),
      box('moov', mvhd(0, 600, 1200), box('udta', qtText('\u00a9nam', 'Mov'))),
    ),
  ];
}

const text = (s: string | undefined): boolean => s === undefined || (s.length > 0 && s === s.trim());

export const mp4Targets: FuzzTarget[] = [
  {
    name: 'mp4-info',
    modules: ['src/audio/mp4-info.ts mp4Info'],
    create: () => ({
      seeds: seeds(),
      isTypedRejection: () => false, // it never throws
      run(input) {
        const info = mp4Info(input);
        const { durationMs, title, artist, moov: range } = info;
        oracle(
          durationMs === undefined || (Number.isFinite(durationMs) && durationMs > 0),
          `length ${durationMs}`,
        );
        oracle(text(title) && text(artist), `tags ${JSON.stringify([title, artist])}`);
        if (range === undefined) return 'rejected';
        if (range === 'complete') return 'ok';
        oracle(
          Number.isSafeInteger(range.offset) &&
            range.offset >= 0 &&
            range.size > 0 &&
            range.size <= MP4_MOOV_MAX_BYTES,
          `range ${JSON.stringify(range)}`,
        );
        const cutMoov =
          Buffer.from(input.subarray(range.offset + 4, range.offset + 8)).toString('latin1') === 'moov';
        // A range inside the input starts at the moov it cuts, or at a box header it cuts.
        oracle(
          range.offset >= input.length || cutMoov || input.length - range.offset < 16,
          `range ${JSON.stringify(range)} inside the input at no cut moov or header`,
        );
        if (cutMoov) {
          const resumed = mp4Info(input.subarray(range.offset));
          oracle(
            isDeepStrictEqual(resumed, { ...info, moov: { offset: 0, size: range.size } }),
            `from the range: ${JSON.stringify(resumed)}, whole: ${JSON.stringify(info)}`,
          );
        }
        return 'ok';
      },
    }),
  },
];
