/**
 * A FLAC file's metadata blocks as our file probe (player/inputs/file-info.ts) reads them:
 * STREAMINFO (length) and VORBIS_COMMENT (tags, audio/vorbis-comment.ts). An ID3v2 tag in front
 * of `fLaC` (written by some taggers) is skipped. Reads untrusted bytes: never throws, reads only inside the array.
 */
import { readBe32, startsWithAscii } from '../util/bytes.js';
import { id3v2TagSize } from './id3.js';
import { commentFields, readVorbisComment } from './vorbis-comment.js';

export interface FlacInfo {
  /** Undefined when STREAMINFO is missing or says the total is unknown (0 samples). */
  durationMs?: number;
  sampleRate?: number;
  /** The VORBIS_COMMENT fields by upper-cased name (empty without one). */
  fields: Map<string, string>;
}

const STREAMINFO = 0;
const VORBIS_COMMENT = 4;
const STREAMINFO_BYTES = 34;

/** Whether `bytes` holds FLAC's `fLaC` at `at`. */
export function isFlac(bytes: Uint8Array, at = 0): boolean {
  return startsWithAscii(bytes, 'fLaC', at);
}

/**
 * Length and tags from a FLAC file's first bytes (`head`); `audio`: the bytes from the end of an
 * ID3v2 tag that outgrows `head`. Blocks cut off by the end of the bytes are not read.
 */
export function flacInfo(head: Uint8Array, audio?: Uint8Array): FlacInfo {
  const info: FlacInfo = { fields: new Map() };
  const bytes = audio ?? head.subarray(Math.min(id3v2TagSize(head), head.length));
  if (!isFlac(bytes)) return info;
  let pos = 4;
  for (let last = false; !last && pos + 4 <= bytes.length;) {
    const type = bytes[pos]! & 0x7f;
    last = (bytes[pos]! & 0x80) !== 0;
    const length = (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const start = pos + 4;
    pos = start + length;
    if (pos > bytes.length) break;
    if (type === STREAMINFO && length >= STREAMINFO_BYTES) {
      // Bytes 10-17: sample rate (20 bits), channels - 1 (3), bits - 1 (5), total samples (36).
      const sampleRate = (bytes[start + 10]! << 12) | (bytes[start + 11]! << 4) | (bytes[start + 12]! >> 4);
      const samples = (bytes[start + 13]! & 0x0f) * 2 ** 32 + (readBe32(bytes, start + 14) >>> 0);
      if (sampleRate > 0) {
        info.sampleRate = sampleRate;
        if (samples > 0) info.durationMs = (samples * 1000) / sampleRate;
      }
    } else if (type === VORBIS_COMMENT) {
      const comment = readVorbisComment(bytes.subarray(start, pos), 0);
      if (comment !== undefined) info.fields = commentFields(comment.comments);
    }
  }
  return info;
}
