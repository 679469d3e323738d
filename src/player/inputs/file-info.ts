/**
 * What a file's own bytes tell of it, read by voxcord's readers (audio/): the container (as
 * lavaplayer's probe names it), title, artist, ISRC and length. One home for the player's
 * fileInput and the node's loadtracks. Pure over bytes: the caller hands the first bytes and a
 * reader for the few more a container needs (a file handle, HTTP Range requests), and decides
 * whether to ask ffprobe for what this did not find.
 */
import { webmSegmentInfo } from '../../audio/ebml.js';
import { flacInfo, isFlac } from '../../audio/flac.js';
import { ID3V1_BYTES, id3v2TagSize, readId3v2 } from '../../audio/id3.js';
import { mp3Info } from '../../audio/mpeg-audio.js';
import { mp4Info, mp4InfoFollowing } from '../../audio/mp4-info.js';
import type { ByteRangeReader, Mp4Info } from '../../audio/mp4-info.js';
import { opusTagFields } from '../../audio/opus-headers.js';
import { wavDurationMs } from '../../audio/wav.js';
import { startsWithAscii } from '../../util/bytes.js';
import { OggOpusDemuxer } from '../../audio/ogg-opus-demuxer.js';

/** How much of a file's start the readers want first (`readFileInfo`'s `head`). */
export const INFO_HEAD_BYTES = 64 * 1024;
/**
 * An ID3v2 tag (album art: often hundreds of KiB) that leaves fewer bytes of the head than this
 * after it: the bytes after the tag are read too (a second read, or a Range request), so that
 * MP3's first frames and FLAC's STREAMINFO and VORBIS_COMMENT are seen.
 */
const MIN_AFTER_TAG_BYTES = 16 * 1024;

/**
 * lavaplayer's container probe name for a file's first bytes; undefined when none matches. An ID3v2
 * tag is MP3's, unless `fLaC` follows it (in `head`, or in `afterTag`: the bytes after a tag that
 * outgrows `head`).
 */
export function probeName(head: Uint8Array, afterTag?: Uint8Array): string | undefined {
  const b0 = head[0] ?? -1;
  const b1 = head[1] ?? -1;
  if (startsWithAscii(head, 'OggS')) return 'ogg';
  if (b0 === 0x1a && b1 === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'matroska/webm';
  if (startsWithAscii(head, 'fLaC')) return 'flac';
  if (startsWithAscii(head, 'RIFF') && startsWithAscii(head, 'WAVE', 8)) return 'wav';
  if (startsWithAscii(head, 'ftyp', 4)) return 'mp4';
  if (startsWithAscii(head, 'ID3'))
    return isFlac(afterTag ?? head, afterTag ? 0 : id3v2TagSize(head)) ? 'flac' : 'mp3';
  if (b0 === 0xff && (b1 & 0xf6) === 0xf0) return 'adts';
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return 'mp3';
  if (b0 === 0x47 && head[188] === 0x47) return 'mpegts-adts';
  return undefined;
}

/** Title, artist and ISRC from a file's tags (OpusTags, VORBIS_COMMENT, ID3, iTunes…). */
export interface FileTags {
  title?: string;
  artist?: string;
  isrc?: string;
}

/** What the readers found in a file: its container and what its bytes say of it. */
export interface FileInfo extends FileTags {
  /** lavaplayer's probe name (probeName); undefined: no container the readers know. */
  probe?: string;
  /** The length, ms; undefined when the bytes do not tell. */
  durationMs?: number;
}

/**
 * The tags of an Ogg Opus stream from its first bytes (the OpusTags packet follows OpusHead,
 * RFC 7845 §5.2: "OpusTags", vendor length + vendor, count, then length + "KEY=value" each, all
 * lengths u32 little-endian; read by audio/opus-headers.ts). A malformed packet gives none.
 */
export function oggOpusTags(head: Uint8Array): FileTags {
  const demuxer = new OggOpusDemuxer();
  try {
    demuxer.push(head);
  } catch {
    return {};
  }
  const packet = demuxer.tags;
  return commentTags(packet === undefined ? new Map<string, string>() : opusTagFields(packet));
}

/** TITLE, ARTIST (else ALBUMARTIST, PERFORMER), ISRC of Vorbis comment fields. */
function commentTags(fields: Map<string, string>): FileTags {
  return tags(
    fields.get('TITLE'),
    fields.get('ARTIST') ?? fields.get('ALBUMARTIST') ?? fields.get('PERFORMER'),
    fields.get('ISRC'),
  );
}

/** FileTags with only the values that are there. */
function tags(title: string | undefined, artist: string | undefined, isrc?: string): FileTags {
  return {
    ...(title === undefined ? {} : { title }),
    ...(artist === undefined ? {} : { artist }),
    ...(isrc === undefined ? {} : { isrc }),
  };
}

/**
 * What a reader may have besides the head: the bytes after a long ID3v2 tag, the file's tail, and
 * an MP4's info read through its moov (which often comes after the media data, past the head).
 */
interface MoreBytes {
  audio?: Uint8Array;
  tail?: Uint8Array;
  mp4?: Mp4Info;
}

/**
 * Tags and length from the file's bytes: OpusTags (the Ogg length needs the last page:
 * audio/ogg-duration.ts), WebM's Title/Duration, WAV sizes, MP3's ID3 and frame headers, FLAC's
 * metadata blocks, MP4's moov (mvhd/mdhd, iTunes tags). `size`: the file's (or Content-Length),
 * undefined for a stream.
 */
function infoOf(
  probe: string | undefined,
  head: Uint8Array,
  size: number | undefined,
  more: MoreBytes,
): FileInfo {
  switch (probe) {
    case 'ogg':
      return oggOpusTags(head);
    case 'matroska/webm': {
      const { title, durationMs } = webmSegmentInfo(head);
      return { ...tags(title, undefined), ...length(durationMs) };
    }
    case 'wav':
      return size === undefined ? {} : length(wavDurationMs(head, size));
    case 'mp3': {
      const { durationMs, title, artist, isrc } = mp3Info(head, size, more);
      return { ...tags(title, artist, isrc), ...length(durationMs) };
    }
    case 'mp4': {
      const { durationMs, title, artist } = more.mp4 ?? mp4Info(head);
      return { ...tags(title, artist), ...length(durationMs) };
    }
    case 'flac': {
      const { durationMs, fields } = flacInfo(head, more.audio);
      // An ID3v2 tag in front (some taggers write one) names it when its own comments do not.
      const { title, artist } = readId3v2(head);
      return { ...tags(title, artist), ...commentTags(fields), ...length(durationMs) };
    }
    default:
      return {};
  }
}

function length(durationMs: number | undefined): { durationMs?: number } {
  return durationMs === undefined ? {} : { durationMs };
}

/** Where the audio starts when an ID3v2 tag leaves too little of `head` after it; undefined otherwise. */
function afterTagOffset(head: Uint8Array, size: number): number | undefined {
  const tagBytes = id3v2TagSize(head);
  // A head that holds the whole file has nothing more to give.
  return tagBytes > 0 && tagBytes + MIN_AFTER_TAG_BYTES > head.length && head.length < size && tagBytes < size
    ? tagBytes
    : undefined;
}

export interface ReadFileInfoOptions {
  /** Whether an MP3's last 128 bytes are read for an ID3v1 tag (one more read; a URL's costs a request). */
  id3v1?: boolean;
}

/**
 * What a file tells of itself from `head` (its first INFO_HEAD_BYTES, fewer for a smaller file),
 * its `size` (a URL's Content-Length; undefined for a stream: nothing more is read) and, through
 * `read`, the bytes after an ID3v2 tag that outgrows the head, an MP3's ID3v1 tail (with
 * `id3v1`) and an MP4's moov past the head. Rejects only when `read` does.
 */
export async function readFileInfo(
  head: Uint8Array,
  size: number | undefined,
  read: ByteRangeReader,
  options: ReadFileInfoOptions = {},
): Promise<FileInfo> {
  const more: MoreBytes = {};
  const tagEnd = size === undefined ? undefined : afterTagOffset(head, size);
  if (size !== undefined && tagEnd !== undefined) {
    const audio = await read(tagEnd, Math.min(INFO_HEAD_BYTES, size - tagEnd));
    if (audio !== undefined) more.audio = audio;
  }
  const probe = probeName(head, more.audio);
  if (size !== undefined) {
    // ID3v1 sits in the last 128 bytes (the head already holds them for a small file).
    if (probe === 'mp3' && options.id3v1 === true) {
      const tail = size <= head.length ? head : await read(Math.max(0, size - ID3V1_BYTES), ID3V1_BYTES);
      if (tail !== undefined) more.tail = tail;
    }
    if (probe === 'mp4') more.mp4 = await mp4InfoFollowing(head, size, read);
  }
  return { ...(probe === undefined ? {} : { probe }), ...infoOf(probe, head, size, more) };
}

/**
 * Whether the readers found what ffprobe would tell of the file: an MP3, FLAC or MP4 whose length
 * they found (its tags are read with it). ffprobe is not needed then; for other formats (and WAV,
 * whose header names nothing) it may know more.
 */
export function hasOwnLength(info: FileInfo): boolean {
  return (
    (info.probe === 'mp3' || info.probe === 'flac' || info.probe === 'mp4') && (info.durationMs ?? 0) > 0
  );
}
