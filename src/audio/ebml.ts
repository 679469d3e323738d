/**
 * EBML (WebM/Matroska) building blocks: the element IDs voxcord reads, the two variable-length
 * integer forms (RFC 8794 §4), and the Segment › Info fields (TimecodeScale, Duration, Title) and
 * Segment › Tags (TITLE) that give a file's length and title. One home for the player's WebM demuxer and the node's probe.
 */

export const EbmlId = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Title: 0x7ba9,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  BlockGroup: 0xa0,
  Block: 0xa1,
  SimpleBlock: 0xa3,
  Tags: 0x1254c367,
  Tag: 0x7373,
  Targets: 0x63c0,
  TagTrackUID: 0x63c5,
  TagEditionUID: 0x63c9,
  TagChapterUID: 0x63c4,
  TagAttachmentUID: 0x63c6,
  SimpleTag: 0x67c8,
  TagName: 0x45a3,
  TagString: 0x4487,
} as const;

export type Vint = { value: number; length: number; unknown: boolean } | 'more' | 'invalid';

/** An element ID (marker bits kept, 1-4 bytes). */
export function readId(buf: Uint8Array, pos: number): Vint {
  const v = readVarInt(buf, pos, 4, true);
  return typeof v === 'string' ? v : { ...v, unknown: false };
}

/** A data size or block track number (marker removed, 1-8 bytes); all ones = unknown size. */
export function readVint(buf: Uint8Array, pos: number): Vint {
  return readVarInt(buf, pos, 8, false);
}

/** RFC 8794 §4: the leading zeros of the first byte tell the length; a 1 bit marks its end. */
function readVarInt(buf: Uint8Array, pos: number, maxLength: number, keepMarker: boolean): Vint {
  const first = buf[pos];
  if (first === undefined) return 'more';
  const length = Math.clz32(first) - 23;
  if (first === 0 || length > maxLength) return 'invalid';
  if (buf.length - pos < length) return 'more';
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = (first & (0xff >> length)) === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[pos + i] ?? 0;
    value = value * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  return { value, length, unknown: allOnes };
}

/** An element's header: ID, data size (`unknownSize`: all ones) and where its body starts. */
export interface ElementHeader {
  id: number;
  size: number;
  unknownSize: boolean;
  body: number;
}

/** The header of the element at `pos`; undefined when `buf` holds no whole, valid one there. */
export function readElementHeader(buf: Uint8Array, pos: number): ElementHeader | undefined {
  const id = readId(buf, pos);
  if (typeof id === 'string') return undefined;
  const size = readVint(buf, pos + id.length);
  if (typeof size === 'string') return undefined;
  return { id: id.value, size: size.value, unknownSize: size.unknown, body: pos + id.length + size.length };
}

/** An EBML unsigned integer element's body (big-endian, 0-8 bytes). */
export function ebmlUint(body: Uint8Array): number {
  let v = 0;
  for (const b of body) v = v * 256 + b;
  return v;
}

/** An EBML string element's body (UTF-8, trailing NULs dropped). */
export function ebmlString(body: Uint8Array): string {
  return new TextDecoder().decode(body).replace(/\0+$/, '');
}

/** Segment › Info as read so far: ns per Duration unit (default 1 ms), the Duration and the Title. */
export interface SegmentInfo {
  timecodeScale: number;
  duration?: number;
  title?: string;
  /** The TITLE of a whole-file Tag (Segment › Tags), used when Info has no Title. */
  tagTitle?: string;
}

export function newSegmentInfo(): SegmentInfo {
  return { timecodeScale: 1_000_000 };
}

/** Takes one Info field into `info`; false when `id` is not one of them. */
export function readSegmentInfoField(info: SegmentInfo, id: number, body: Uint8Array): boolean {
  switch (id) {
    case EbmlId.TimecodeScale:
      if (body.length > 0 && body.length <= 8 && ebmlUint(body) > 0) info.timecodeScale = ebmlUint(body);
      return true;
    case EbmlId.Duration: {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const value =
        body.length === 4 ? view.getFloat32(0) : body.length === 8 ? view.getFloat64(0) : Number.NaN;
      if (Number.isFinite(value) && value > 0) info.duration = value;
      return true;
    }
    case EbmlId.Title: {
      const title = ebmlString(body).trim();
      if (title.length > 0) info.title = title;
      return true;
    }
    default:
      return false;
  }
}

/** Children of an element body, as (id, body) pairs; stops at the first incomplete or unknown-size one. */
function* children(body: Uint8Array): Generator<[number, Uint8Array]> {
  let pos = 0;
  while (pos < body.length) {
    const element = readElementHeader(body, pos);
    if (element === undefined || element.unknownSize || element.body + element.size > body.length) return;
    yield [element.id, body.subarray(element.body, element.body + element.size)];
    pos = element.body + element.size;
  }
}

/**
 * Takes one Segment › Tags › Tag (its whole body) into `info`: the TagString of a SimpleTag named
 * TITLE. Tags aimed at one track, edition, chapter or attachment (a stream's own name, e.g.
 * "Stereo") are not the file's title and are ignored; the first whole-file TITLE wins.
 */
export function readSegmentTag(info: SegmentInfo, tag: Uint8Array): void {
  let title: string | undefined;
  for (const [id, body] of children(tag)) {
    if (id === EbmlId.Targets) {
      for (const [targetId, uid] of children(body)) {
        const aimed =
          targetId === EbmlId.TagTrackUID ||
          targetId === EbmlId.TagEditionUID ||
          targetId === EbmlId.TagChapterUID ||
          targetId === EbmlId.TagAttachmentUID;
        if (aimed && ebmlUint(uid) !== 0) return; // UID 0 means "all of them"
      }
    } else if (id === EbmlId.SimpleTag && title === undefined) {
      let name: string | undefined;
      let value: string | undefined;
      for (const [field, fieldBody] of children(body)) {
        if (field === EbmlId.TagName) name = ebmlString(fieldBody);
        else if (field === EbmlId.TagString) value = ebmlString(fieldBody).trim();
      }
      if (name?.toUpperCase() === 'TITLE' && value !== undefined && value.length > 0) title = value;
    }
  }
  if (title !== undefined) info.tagTitle ??= title;
}

/** The length (Duration × TimecodeScale, ns → ms) and title an Info gives; keys absent when unknown. */
export function segmentInfoMedia(info: SegmentInfo): { durationMs?: number; title?: string } {
  const title = info.title ?? info.tagTitle;
  return {
    ...(info.duration === undefined ? {} : { durationMs: (info.duration * info.timecodeScale) / 1_000_000 }),
    ...(title === undefined ? {} : { title }),
  };
}

/**
 * A WebM/Matroska file's length and title from its first bytes (Info comes before the first Cluster
 * in practice; ffmpeg writes Tags there too). A flat walk: Segment, Info and Tags are entered,
 * everything else is skipped by its size.
 */
export function webmSegmentInfo(head: Uint8Array): { durationMs?: number; title?: string } {
  const info = newSegmentInfo();
  let pos = 0;
  while (pos < head.length) {
    const element = readElementHeader(head, pos);
    if (element === undefined || element.id === EbmlId.Cluster) break;
    const { id, size, body } = element;
    if (id === EbmlId.Segment || id === EbmlId.Info || id === EbmlId.Tags) {
      pos = body; // enter
      continue;
    }
    if (element.unknownSize || body + size > head.length) break;
    if (id === EbmlId.Tag) readSegmentTag(info, head.subarray(body, body + size));
    else readSegmentInfoField(info, id, head.subarray(body, body + size));
    pos = body + size;
  }
  return segmentInfoMedia(info);
}
