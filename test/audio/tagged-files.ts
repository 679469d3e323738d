/**
 * Whole tagged files for the loadtracks (test/node) and fileInput (test/player) tests: MP3s with
 * ID3v2/ID3v1 and Xing headers, FLAC with Vorbis comments, an M4A whose moov follows the media
 * data, and the real files ffmpeg and LAME wrote. Built with tagged-audio.ts and mp4-boxes.ts.
 */
import { readFileSync } from 'node:fs';
import { concatBytes } from '../../src/util/bytes.js';
import { ftyp, mdat, moov } from './mp4-boxes.js';
import {
  flacFile,
  id3Frame,
  id3Tag,
  id3v1,
  MP3_128K_FRAME,
  mpegFrame,
  textBody,
  xingFrame,
} from './tagged-audio.js';

const frames = (n: number): Uint8Array[] => Array.from({ length: n }, () => mpegFrame(MP3_128K_FRAME));
/** An ID3v2.4 tag with TIT2 and TPE1 (and `extra` frames). */
export const id3Tags = (title: string, artist: string, extra: Uint8Array[] = []): Uint8Array =>
  id3Tag(4, [id3Frame(4, 'TIT2', textBody(3, title)), id3Frame(4, 'TPE1', textBody(1, artist)), ...extra]);

/** VBR: a Xing header says 2 000 frames (52.245 s); the file holds only a few of them. */
export const VBR_MP3 = concatBytes(
  id3Tags('Xing Song', 'Xing Band', [id3Frame(4, 'TSRC', textBody(0, 'GBAYE0601498'))]),
  xingFrame(MP3_128K_FRAME, {}, 32, 2000),
  ...frames(8),
);
/** The length VBR_MP3's Xing header states, ms (rounded as loadtracks does). */
export const XING_MS = Math.round((2000 * 1152 * 1000) / 44_100);
/** CBR 128 kbps, 40 frames: 16 680 bytes of audio = 1 042.5 ms; ID3v1 only. */
export const CBR_MP3 = concatBytes(...frames(40), id3v1('Tail Title', 'Tail Artist'));
/** Album art pushes the first frame past the 64 KiB head; Xing: 1 000 frames. */
export const ART_MP3 = concatBytes(
  id3Tags('Art Song', 'Art Band', [id3Frame(4, 'APIC', new Uint8Array(100_000))]),
  xingFrame(MP3_128K_FRAME, {}, 32, 1000),
  ...frames(4),
);
/** 200 s at 44.1 kHz, VORBIS_COMMENT title and artist. */
export const FLAC = flacFile(44_100, 44_100 * 200, ['TITLE=Flac Song', 'ARTIST=Flac Band']);
/** FLAC behind an ID3v2 tag: 3 s; its own TITLE, the ID3 tag's artist. */
export const ID3_FLAC = concatBytes(
  id3Tags('ID3 Title', 'ID3 Artist'),
  flacFile(48_000, 48_000 * 3, ['TITLE=Behind ID3']),
);

/** 200 KB of media data, then the moov (185 s): a 64 KiB head ends inside the mdat. */
export const MOOV_LAST_M4A = concatBytes(
  ftyp(),
  mdat(200_000),
  moov({ timescale: 44_100, duration: 44_100 * 185, title: 'Late Moov', artist: 'Far Band' }),
);
/** ffmpeg's AAC m4a (moov after mdat, iTunes tags): 628 ms, 'Fixture Título' by 'Voxcord Ärtist'. */
export const FFMPEG_M4A = new Uint8Array(
  readFileSync(new URL('../fixtures/mp4/ffmpeg-aac-moov-last.m4a', import.meta.url)),
);
/** LAME's MPEG 2 layer III, no Xing, no title (fixtures/README.md): 45 frames = 1175.5 ms. */
export const LAME_MP3 = new Uint8Array(
  readFileSync(new URL('./fixtures/lame-22khz-mono.mp3', import.meta.url)),
);
