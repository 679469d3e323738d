/**
 * Ogg Opus (RFC 7845) demuxed to Opus packets without re-encoding: pure, push() bytes, get packets.
 * The player's Ogg input and the media worker's file feed both demux with it.
 *
 * Written here rather than taken from npm: prism-media's OggDemuxer (the one the Discord field uses)
 * declares an optional peer dependency on opusscript@^0.0.8, which conflicts with the opusscript
 * 0.1.x this project and many bots use (npm refuses the install with ERESOLVE), and it is a
 * stream Transform while we pull. Ogg framing (RFC 3533) is small enough to own.
 *
 * It verifies page CRCs (a corrupt page is dropped and counted, and the reader resynchronises on
 * the next "OggS"), picks the first Opus logical stream (others, e.g. a video stream, are
 * ignored), follows chained streams, and reports an input that is not Ogg, has no Opus stream, or
 * ends early (no end-of-stream page, or a cut page) as AUDIO_INPUT_ERROR.
 */
import { checkArg } from '../util/args.js';
import { inputError } from './input-error.js';
import { concatBytes, startsWithAscii } from '../util/bytes.js';
import { oggCrc } from './ogg-crc.js';
import { firstPacketStart, isOggCapture, OGG_HEADER_BYTES, oggPageLength } from './ogg-page.js';
import { opusTagsTitle, readOpusHead } from './opus-headers.js';
import type { OpusHead } from './opus-headers.js';

const FLAG_CONTINUED = 0x01;
const FLAG_BOS = 0x02;
const FLAG_EOS = 0x04;

export function parseOpusHead(packet: Uint8Array): OpusHead {
  checkArg(packet, 'packet', 'bytes');
  const head = readOpusHead(packet);
  if (head === undefined) throw inputError('the Opus stream has no valid OpusHead header');
  if (head.version >> 4 !== 0)
    throw inputError('unsupported OpusHead version', undefined, { version: head.version });
  if (head.channels === 0 || head.channels > 2) {
    // Multistream (surround) packets cannot be decoded by a stereo decoder nor sent to Discord.
    throw inputError('only mono and stereo Opus streams can be played', undefined, {
      channels: head.channels,
    });
  }
  return head;
}

export interface OggDemuxStats {
  pages: number;
  /** Pages dropped for a bad checksum or a bad header. */
  corruptPages: number;
  /** Bytes skipped while looking for the next page. */
  skippedBytes: number;
}

/** Where demuxed packets go: a range of `bytes` (made a view only by a sink that needs one). */
export interface PacketSink {
  packet(bytes: Uint8Array, start: number, end: number): void;
}

/** Packets as views (pushViews). */
class ViewSink implements PacketSink {
  readonly out: Uint8Array[] = [];
  packet(bytes: Uint8Array, start: number, end: number): void {
    this.out.push(bytes.subarray(start, end));
  }
}

export class OggOpusDemuxer {
  readonly stats: OggDemuxStats = { pages: 0, corruptPages: 0, skippedBytes: 0 };
  /** The OpusHead of the current stream, once seen. */
  head: OpusHead | undefined;
  /** The OpusTags packet of the current stream (RFC 7845 §5.2), once seen. */
  tags: Uint8Array | undefined;
  private buffer: Uint8Array = new Uint8Array(0);
  private serial: number | undefined;
  /** Packets of the selected stream seen so far (0 = OpusHead, 1 = OpusTags). */
  private packetIndex = 0;
  private partial: Uint8Array[] = [];
  private ended = false;
  private sawPage = false;

  /** `onTitle` hears the stream's title (OpusTags TITLE) when its header arrives. */
  constructor(private readonly onTitle?: (title: string) => void) {}

  /** Feeds bytes; returns the audio packets they complete. Throws AUDIO_INPUT_ERROR for a non-Ogg input. */
  push(chunk: Uint8Array): Uint8Array[] {
    const packets = this.pushViews(chunk);
    // Copies of their own (views would pin whole pages, and the caller may reuse its chunk).
    for (let i = 0; i < packets.length; i++) packets[i] = new Uint8Array(packets[i] as Uint8Array);
    return packets;
  }

  /**
   * Like push(), but the packets may be views of `chunk` or of the demuxer's own buffer: valid
   * only until the next call (a caller that keeps them copies them first, at once).
   */
  pushViews(chunk: Uint8Array): Uint8Array[] {
    const sink = new ViewSink();
    this.demux(chunk, sink);
    return sink.out;
  }

  /** Demuxes `chunk` into `out`: each packet as a range of bytes valid only during the call. */
  pushInto(chunk: Uint8Array, out: PacketSink): void {
    this.demux(chunk, out);
  }

  private demux(chunk: Uint8Array, out: PacketSink): void {
    this.buffer = this.buffer.length === 0 ? chunk : concatBytes(this.buffer, chunk);
    let pos = 0;
    const buf = this.buffer;
    while (buf.length - pos >= OGG_HEADER_BYTES) {
      if (!isOggCapture(buf, pos)) {
        if (!this.sawPage) throw inputError('the input is not an Ogg stream');
        const next = findCapture(buf, pos + 1);
        const to = next < 0 ? Math.max(pos, buf.length - 3) : next;
        this.stats.skippedBytes += to - pos;
        pos = to;
        if (next < 0) break;
        continue;
      }
      const segments = buf[pos + 26] ?? 0;
      const total = oggPageLength(buf, pos);
      if (total === undefined || buf.length - pos < total) break;
      const page = buf.subarray(pos, pos + total);
      if (!this.pageValid(page)) {
        if (!this.sawPage) throw inputError('the input is not an Ogg stream (bad first page)');
        this.stats.corruptPages++;
        this.stats.skippedBytes += 1;
        pos += 1;
        continue;
      }
      this.sawPage = true;
      this.stats.pages++;
      this.onPage(page, segments, out);
      pos += total;
    }
    // Keep only the unread tail, and a packet continued on the next page, as copies (the caller's
    // chunk may be reused; Buffer#slice would be a view).
    this.buffer =
      pos === 0 && this.buffer !== chunk ? this.buffer : Uint8Array.prototype.slice.call(this.buffer, pos);
    if (this.partial.length > 0) this.partial = [concatBytes(...this.partial)];
  }

  /** Call at the end of the input: throws if it ended early or held no Opus stream. */
  end(): void {
    if (!this.sawPage) throw inputError('the input is empty or not an Ogg stream');
    if (this.head === undefined) throw inputError('the Ogg input has no Opus audio stream');
    if (!this.ended || this.buffer.length > 0 || this.partial.length > 0) {
      throw inputError('the Ogg Opus input ended early (truncated file or stream)', undefined, {
        reason: 'truncated',
      });
    }
  }

  private pageValid(page: Uint8Array): boolean {
    if (page[4] !== 0) return false; // stream structure version
    const stored = new DataView(page.buffer, page.byteOffset + 22, 4).getUint32(0, true);
    return oggCrc(page, 22) === stored; // the checksum field counts as zero
  }

  private onPage(page: Uint8Array, segments: number, out: PacketSink): void {
    const flags = page[5] ?? 0;
    const serial = new DataView(page.buffer, page.byteOffset + 14, 4).getUint32(0, true);
    const table = page.subarray(OGG_HEADER_BYTES, OGG_HEADER_BYTES + segments);
    const body = page.subarray(OGG_HEADER_BYTES + segments);
    if (flags & FLAG_BOS && (this.serial === undefined || this.ended)) {
      // A new logical stream: take it if it is Opus (chained streams follow one another).
      const first = firstPacketStart(table, body);
      if (startsWithAscii(first, 'OpusHead')) {
        this.serial = serial;
        this.packetIndex = 0;
        this.partial = [];
        this.ended = false;
      }
    }
    if (serial !== this.serial || this.ended) return;
    let offset = 0;
    /** Where the packet being read began on this page (its segments are contiguous here). */
    let start = 0;
    let skipContinuation = false;
    if (flags & FLAG_CONTINUED) {
      if (this.partial.length === 0) skipContinuation = true;
    } else if (this.partial.length > 0) {
      this.partial = []; // the rest of that packet was lost (a dropped page)
    }
    for (const lace of table) {
      offset += lace;
      if (lace < 255) {
        if (!skipContinuation) {
          // A range of the page when the packet is on this page alone; pieces from earlier pages are joined.
          if (this.partial.length === 0) this.onPacket(body, start, offset, out);
          else {
            const joined = concatBytes(...this.partial, body.subarray(start, offset));
            this.onPacket(joined, 0, joined.length, out);
          }
        }
        if (this.partial.length > 0) this.partial = []; // (not a new array per packet)
        skipContinuation = false;
        start = offset;
      }
    }
    // A packet continued on the next page.
    if (start < offset && !skipContinuation) this.partial.push(body.subarray(start, offset));
    if (flags & FLAG_EOS) {
      this.ended = true;
      this.partial = [];
    }
  }

  private onPacket(bytes: Uint8Array, start: number, end: number, out: PacketSink): void {
    const index = this.packetIndex++;
    if (index === 0) this.head = parseOpusHead(bytes.subarray(start, end));
    else if (index === 1) {
      const packet = bytes.subarray(start, end);
      if (!startsWithAscii(packet, 'OpusTags')) throw inputError('the Opus stream has no OpusTags header');
      this.tags = new Uint8Array(packet); // kept: a copy, not a view of a page
      const title = opusTagsTitle(packet);
      if (title !== undefined) this.onTitle?.(title);
    } else out.packet(bytes, start, end);
  }
}

function findCapture(buf: Uint8Array, from: number): number {
  for (let i = from; i + 4 <= buf.length; i++) if (isOggCapture(buf, i)) return i;
  return -1;
}
