/**
 * Ogg Opus (RFC 7845) as a player input: the demuxer (audio/ogg-opus-demuxer.ts) with its packets
 * packed into groups for the player's read-ahead.
 */
import type { ByteInput, TrackInput } from './source.js';
import { demuxedOpusInput, packPackets } from './demuxed.js';
import type { OpusDemuxer, PackedPackets } from './demuxed.js';
import { OggOpusDemuxer } from '../../audio/ogg-opus-demuxer.js';
import type { PacketSink } from '../../audio/ogg-opus-demuxer.js';
import { oggOpusDurationMs, OGG_TAIL_BYTES } from '../../audio/ogg-duration.js';

/**
 * Packets copied back to back into buffers of at least `groupBytes` cut at packet ends (pushPacked):
 * one copy per packet from the chunk (no view per packet, and no packed buffer to cut again).
 * Packets that follow one another in the same bytes (a page's packets) are copied as one range.
 */
class PackingSink implements PacketSink {
  private readonly sources: Uint8Array[] = [];
  private readonly starts: number[] = [];
  readonly ends: number[] = [];
  private total = 0;

  packet(bytes: Uint8Array, start: number, end: number): void {
    this.sources.push(bytes);
    this.starts.push(start);
    this.total += end - start;
    this.ends.push(this.total);
  }

  pack(groupBytes: number): PackedPackets {
    return packPackets(this.sources, this.starts, this.ends, groupBytes);
  }
}

/** The demuxer with pushPacked, for demuxedOpusInput. */
export class PackingOggDemuxer extends OggOpusDemuxer implements OpusDemuxer {
  /**
   * Like push(), the packets copied back to back into buffers of at least `groupBytes` cut at
   * packet ends (see PackedPackets): one copy per packet, no view per packet.
   */
  pushPacked(chunk: Uint8Array, groupBytes: number): PackedPackets {
    const sink = new PackingSink();
    this.pushInto(chunk, sink);
    return sink.pack(groupBytes);
  }
}

/** An Ogg Opus file or stream. Seekable when given bytes or a function that reopens the input. */
export function oggOpusInput(input: ByteInput): TrackInput {
  return demuxedOpusInput(
    'ogg',
    input,
    (onInfo) => new PackingOggDemuxer((title) => onInfo({ title })),
    (bytes) => ({
      durationMs: oggOpusDurationMs(bytes, bytes.subarray(Math.max(0, bytes.length - OGG_TAIL_BYTES))),
    }),
  );
}
