/**
 * WebM (Matroska) Opus demuxed to Opus packets without re-encoding.
 *
 * Written here rather than taken from npm for the reason given in ogg-opus.ts (prism-media's peer
 * dependency conflict); its WebmDemuxer also ignores laced blocks, which this one reads.
 *
 * `WebmOpusDemuxer` is pure: push() bytes, get packets. It walks the EBML element tree flatly —
 * descending into Segment, Info, Tracks, TrackEntry, Tags, Cluster and BlockGroup, skipping everything else
 * without buffering it — so unknown-size (live) segments and clusters work. The first A_OPUS track
 * is played; blocks of other tracks are dropped. Xiph, fixed and EBML lacing are supported.
 */
import { inputError } from './source.js';
import type { ByteInput, MediaInfo, TrackInput } from './source.js';
import { demuxedOpusInput } from './demuxed.js';
import { parseOpusHead } from '../../audio/ogg-opus-demuxer.js';
import { concatBytes } from '../../util/bytes.js';
import {
  EbmlId,
  ebmlString,
  ebmlUint,
  newSegmentInfo,
  readElementHeader,
  readId,
  readSegmentInfoField,
  readSegmentTag,
  readVint,
  segmentInfoMedia,
} from '../../audio/ebml.js';

const MASTERS: ReadonlySet<number> = new Set([
  EbmlId.Segment,
  EbmlId.Info,
  EbmlId.Tracks,
  EbmlId.TrackEntry,
  EbmlId.Cluster,
  EbmlId.BlockGroup,
  EbmlId.Tags,
]);
const READ: ReadonlySet<number> = new Set([
  EbmlId.EBML,
  EbmlId.TimecodeScale,
  EbmlId.Duration,
  EbmlId.Title,
  EbmlId.TrackNumber,
  EbmlId.TrackType,
  EbmlId.CodecID,
  EbmlId.CodecPrivate,
  EbmlId.Block,
  EbmlId.SimpleBlock,
  EbmlId.Tag,
]);
/** Larger elements we would have to hold in memory are refused. */
const MAX_ELEMENT_BYTES = 16 * 1024 * 1024;
const MAX_TAG_BYTES = 64 * 1024;

interface TrackInfo {
  number?: number;
  type?: number;
  codec?: string;
  codecPrivate?: Uint8Array;
}

function malformed(what: string): Error {
  return inputError(`the WebM input is malformed (${what})`);
}

/** The frames of a Block/SimpleBlock body (after the track number), honouring lacing. */
export function blockFrames(body: Uint8Array, headerLength: number): Uint8Array[] {
  let pos = headerLength + 3; // timecode (2) + flags (1)
  const flags = body[headerLength + 2];
  if (flags === undefined) throw malformed('short block');
  const lacing = (flags >> 1) & 3;
  if (lacing === 0) return [body.subarray(pos)];
  const countByte = body[pos++];
  if (countByte === undefined) throw malformed('short laced block');
  const count = countByte + 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      for (;;) {
        const b = body[pos++];
        if (b === undefined) throw malformed('short Xiph lacing');
        size += b;
        if (b < 255) break;
      }
      sizes.push(size);
    }
  } else if (lacing === 3) {
    let previous = 0;
    for (let i = 0; i < count - 1; i++) {
      const v = readVint(body, pos);
      if (typeof v === 'string') throw malformed('bad EBML lacing');
      pos += v.length;
      // The first size is unsigned; the others are signed differences (bias 2^(7n-1) - 1).
      previous = i === 0 ? v.value : previous + v.value - (2 ** (7 * v.length - 1) - 1);
      sizes.push(previous);
    }
  } else {
    const rest = body.length - pos;
    if (rest % count !== 0) throw malformed('bad fixed lacing');
    for (let i = 0; i < count - 1; i++) sizes.push(rest / count);
  }
  const frames: Uint8Array[] = [];
  for (const size of sizes) {
    if (size < 0 || pos + size > body.length) throw malformed('lace sizes exceed the block');
    frames.push(body.subarray(pos, pos + size));
    pos += size;
  }
  frames.push(body.subarray(pos));
  return frames;
}

export class WebmOpusDemuxer {
  private buffer: Uint8Array = new Uint8Array(0);
  private skipLeft = 0;
  /** Bytes consumed from the start of the input. */
  private offset = 0;
  private started = false;
  private segmentEnd: number | undefined;
  private readonly tracks: TrackInfo[] = [];
  private current: TrackInfo | undefined;
  private opusTrack: number | undefined;
  /** Blocks seen before the track was chosen would be a malformed file. */
  private chosen = false;
  /** Segment › Info: TimecodeScale, Duration and Title. */
  private readonly info = newSegmentInfo();

  /** `onInfo` hears the Segment's Title (Info, else a TITLE tag) and Duration once the header is read. */
  constructor(private readonly onInfo?: (info: MediaInfo) => void) {}

  /** Feeds bytes; returns the Opus packets they complete. Throws AUDIO_INPUT_ERROR for non-WebM input. */
  push(chunk: Uint8Array): Uint8Array[] {
    const packets = this.pushViews(chunk);
    // Copies of their own (the caller may reuse its chunk).
    for (let i = 0; i < packets.length; i++) packets[i] = packets[i]!.slice();
    return packets;
  }

  /**
   * Like push(), but the packets are views of `chunk` or of the bytes kept from the last call:
   * valid only until the next call (a caller that keeps them copies them first, at once). The
   * player's demuxed source joins them into its own buffers, so a copy per packet is not made.
   */
  pushViews(chunk: Uint8Array): Uint8Array[] {
    const buf = this.buffer.length === 0 ? chunk : concatBytes(this.buffer, chunk);
    const out: Uint8Array[] = [];
    let pos = 0;
    for (;;) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, buf.length - pos);
        pos += n;
        this.skipLeft -= n;
        if (this.skipLeft > 0) break;
        continue;
      }
      const id = readId(buf, pos);
      if (id === 'more') break;
      if (id === 'invalid') {
        if (!this.started) throw inputError('the input is not a WebM/Matroska file');
        throw malformed('bad element ID');
      }
      if (!this.started && id.value !== EbmlId.EBML)
        throw inputError('the input is not a WebM/Matroska file');
      const size = readVint(buf, pos + id.length);
      if (size === 'more') break;
      if (size === 'invalid') throw malformed('bad element size');
      const header = id.length + size.length;
      if (MASTERS.has(id.value)) {
        pos += header;
        this.onMaster(id.value, size.unknown ? undefined : size.value, this.offset + pos);
        continue;
      }
      if (size.unknown) throw malformed('unknown size on a non-container element');
      // A Tag that large holds binary data, not a title: skipped rather than refused.
      if (READ.has(id.value) && !(id.value === EbmlId.Tag && size.value > MAX_TAG_BYTES)) {
        if (size.value > MAX_ELEMENT_BYTES) throw malformed('element too large');
        if (buf.length - pos - header < size.value) break;
        const body = buf.subarray(pos + header, pos + header + size.value);
        pos += header + size.value;
        this.onElement(id.value, body, out);
        continue;
      }
      pos += header;
      this.skipLeft = size.value;
    }
    this.offset += pos;
    this.buffer = pos === 0 && buf === chunk ? chunk.slice() : buf.slice(pos);
    return out;
  }

  /** Call at the end of the input: throws if it ended early or held no Opus track. */
  end(): void {
    if (!this.started) throw inputError('the input is empty or not a WebM/Matroska file');
    this.choose();
    if (
      this.buffer.length > 0 ||
      this.skipLeft > 0 ||
      (this.segmentEnd !== undefined && this.offset < this.segmentEnd)
    ) {
      throw inputError('the WebM input ended early (truncated file or stream)', undefined, {
        reason: 'truncated',
      });
    }
  }

  private onMaster(id: number, size: number | undefined, bodyStart: number): void {
    if (id === EbmlId.Segment && size !== undefined) this.segmentEnd = bodyStart + size;
    else if (id === EbmlId.TrackEntry) {
      this.current = {};
      this.tracks.push(this.current);
    } else if (id === EbmlId.Cluster) this.choose();
  }

  private onElement(id: number, body: Uint8Array, out: Uint8Array[]): void {
    if (readSegmentInfoField(this.info, id, body)) return;
    switch (id) {
      case EbmlId.Tag: {
        const before = segmentInfoMedia(this.info).title;
        readSegmentTag(this.info, body);
        // Tags written after the clusters (at the end of the file) still name the track.
        if (this.chosen && segmentInfoMedia(this.info).title !== before)
          this.onInfo?.(segmentInfoMedia(this.info));
        return;
      }
      case EbmlId.EBML:
        this.started = true;
        this.checkDocType(body);
        return;
      case EbmlId.TrackNumber:
        if (this.current) this.current.number = ebmlUint(body);
        return;
      case EbmlId.TrackType:
        if (this.current) this.current.type = ebmlUint(body);
        return;
      case EbmlId.CodecID:
        if (this.current) this.current.codec = ebmlString(body);
        return;
      case EbmlId.CodecPrivate:
        if (this.current) this.current.codecPrivate = body.slice();
        return;
      default: {
        // Block / SimpleBlock
        this.choose();
        const track = readVint(body, 0);
        if (typeof track === 'string') throw malformed('bad block track number');
        if (track.value !== this.opusTrack) return;
        for (const frame of blockFrames(body, track.length)) if (frame.length > 0) out.push(frame);
      }
    }
  }

  private checkDocType(body: Uint8Array): void {
    let pos = 0;
    while (pos < body.length) {
      const element = readElementHeader(body, pos);
      if (element === undefined) break;
      const start = element.body;
      if (element.id === EbmlId.DocType) {
        const docType = ebmlString(body.subarray(start, start + element.size));
        if (docType !== 'webm' && docType !== 'matroska') {
          throw inputError('the EBML input is not WebM/Matroska', undefined, { docType });
        }
        return;
      }
      pos = start + element.size;
    }
  }

  /** Picks the Opus track (once the track list is complete: at the first cluster or block). */
  private choose(): void {
    if (this.chosen) return;
    this.chosen = true;
    const opus = this.tracks.find((t) => t.codec === 'A_OPUS' && t.number !== undefined);
    if (opus === undefined) {
      throw inputError('the WebM input has no Opus audio track', undefined, {
        codecs: this.tracks.map((t) => t.codec ?? 'unknown'),
      });
    }
    if (opus.codecPrivate !== undefined && opus.codecPrivate.length > 0) parseOpusHead(opus.codecPrivate);
    this.opusTrack = opus.number;
    const info: MediaInfo = segmentInfoMedia(this.info);
    if (info.title !== undefined || info.durationMs !== undefined) this.onInfo?.(info);
  }
}

/** A WebM (or Matroska) file or stream with an Opus track. Seekable when given bytes or a reopening function. */
export function webmOpusInput(input: ByteInput): TrackInput {
  return demuxedOpusInput('webm', input, (onInfo) => new WebmOpusDemuxer(onInfo));
}
