/**
 * MPEG audio (MP3, and layers I/II) as our file probe (player/inputs/file-info.ts) reads it: the
 * frame header (ISO 11172-3 / 13818-3, MPEG 2.5 included), the Xing/Info and VBRI headers in the
 * first frame, and a file's length and tags (audio/id3.ts). Reads untrusted bytes: never throws, reads only inside the array.
 */
import { readBe32, startsWithAscii } from '../util/bytes.js';
import { hasId3v1, ID3V1_BYTES, id3v2TagSize, readId3v1, readId3v2 } from './id3.js';
import type { Id3Tags } from './id3.js';

export interface MpegFrameHeader {
  /** 1, 2 or 2.5. */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  bitrateKbps: number;
  sampleRate: number;
  mono: boolean;
  /** Whether a 16-bit CRC follows the header. */
  crc: boolean;
  /** The whole frame, header included. */
  frameBytes: number;
  samplesPerFrame: number;
}

// kbps by bitrate index 1-14 (0 is "free format", 15 invalid).
const BITRATES: Readonly<Record<string, readonly number[]>> = {
  '1-1': [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MPEG1_RATES = [44_100, 48_000, 32_000] as const;

/** The frame header at `at`, undefined when the bytes there are not a valid one (or run out). */
export function readMpegFrameHeader(bytes: Uint8Array, at: number): MpegFrameHeader | undefined {
  if (at < 0 || at + 4 > bytes.length) return undefined;
  const b1 = bytes[at + 1]!;
  const b2 = bytes[at + 2]!;
  if (bytes[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
    return undefined;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const table = BITRATES[version === 1 ? `1-${layer}` : layer === 1 ? '2-1' : '2-2']!;
  const bitrateKbps = table[bitrateIndex - 1]!;
  const sampleRate = MPEG1_RATES[rateIndex]! / (version === 1 ? 1 : version === 2 ? 2 : 4);
  const padding = (b2 >> 1) & 1;
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
  const frameBytes =
    layer === 1
      ? (Math.floor((12_000 * bitrateKbps) / sampleRate) + padding) * 4
      : Math.floor(((samplesPerFrame / 8) * 1000 * bitrateKbps) / sampleRate) + padding;
  return {
    version,
    layer,
    bitrateKbps,
    sampleRate,
    mono: bytes[at + 3]! >> 6 === 3,
    crc: (b1 & 1) === 0,
    frameBytes,
    samplesPerFrame,
  };
}

function sameStream(a: MpegFrameHeader, b: MpegFrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/**
 * The first frame in `audio`: a valid header whose next frame (when `audio` reaches it) is also a
 * valid header of the same stream, so a stray 0xFF in junk is not taken for a frame.
 */
export function firstMpegFrame(audio: Uint8Array): { offset: number; header: MpegFrameHeader } | undefined {
  for (let at = 0; at + 4 <= audio.length; at++) {
    if (audio[at] !== 0xff) continue;
    const header = readMpegFrameHeader(audio, at);
    if (header === undefined) continue;
    const nextAt = at + header.frameBytes;
    if (nextAt + 4 <= audio.length) {
      const next = readMpegFrameHeader(audio, nextAt);
      if (next === undefined || !sameStream(header, next)) continue;
    }
    return { offset: at, header };
  }
  return undefined;
}

/**
 * The frame count a first frame's Xing/Info header (after the side information) or VBRI header
 * (32 bytes after the header) states; undefined when it has neither or states no count.
 */
export function vbrFrameCount(
  audio: Uint8Array,
  offset: number,
  header: MpegFrameHeader,
): number | undefined {
  const side = header.version === 1 ? (header.mono ? 17 : 32) : header.mono ? 9 : 17;
  // Writers differ on whether a CRC shifts it: look at both places.
  for (const at of header.crc ? [offset + 4 + side, offset + 6 + side] : [offset + 4 + side]) {
    if (!startsWithAscii(audio, 'Xing', at) && !startsWithAscii(audio, 'Info', at)) continue;
    if (at + 12 > audio.length || (audio[at + 7]! & 1) === 0) return undefined; // no frames field
    const frames = readBe32(audio, at + 8) >>> 0;
    return frames > 0 ? frames : undefined;
  }
  const vbri = offset + 36;
  if (startsWithAscii(audio, 'VBRI', vbri) && vbri + 18 <= audio.length) {
    const frames = readBe32(audio, vbri + 14) >>> 0;
    return frames > 0 ? frames : undefined;
  }
  return undefined;
}

/**
 * The length of MPEG audio, ms: `audio` is its first bytes (from the end of any ID3v2 tag),
 * `audioBytes` how many bytes of audio the file holds (undefined: unknown). A Xing/Info or VBRI
 * frame count gives it exactly; else a constant bitrate is assumed over `audioBytes`.
 */
export function mpegDurationMs(audio: Uint8Array, audioBytes: number | undefined): number | undefined {
  const first = firstMpegFrame(audio);
  if (first === undefined) return undefined;
  const { offset, header } = first;
  const frames = vbrFrameCount(audio, offset, header);
  if (frames !== undefined) return (frames * header.samplesPerFrame * 1000) / header.sampleRate;
  if (audioBytes === undefined || audioBytes - offset <= 0) return undefined;
  // bits / (kbit/s) = ms
  return ((audioBytes - offset) * 8) / header.bitrateKbps;
}

export interface Mp3Info extends Id3Tags {
  durationMs?: number;
}

/**
 * An MP3 file's length and tags from its first bytes (`head`), its size when known, and what else
 * the reader has: `audio`, the bytes from the end of the ID3v2 tag when the tag outgrows `head`;
 * `tail`, the file's last bytes (ID3v1, a fallback for title and artist). Returns what it could read.
 */
export function mp3Info(
  head: Uint8Array,
  size: number | undefined,
  more: { audio?: Uint8Array; tail?: Uint8Array } = {},
): Mp3Info {
  const tagBytes = id3v2TagSize(head);
  const v2 = readId3v2(head);
  const v1 = more.tail === undefined ? {} : readId3v1(more.tail);
  const audio = more.audio ?? head.subarray(Math.min(tagBytes, head.length));
  const tailTag = more.tail !== undefined && hasId3v1(more.tail) ? ID3V1_BYTES : 0;
  const durationMs = mpegDurationMs(audio, size === undefined ? undefined : size - tagBytes - tailTag);
  const title = v2.title ?? v1.title;
  const artist = v2.artist ?? v1.artist;
  return {
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { artist }),
    ...(v2.isrc === undefined ? {} : { isrc: v2.isrc }),
  };
}
