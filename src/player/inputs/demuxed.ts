/**
 * A container input (Ogg, WebM) whose demuxer turns bytes into Opus packets: the byte pump and the
 * track-input wrapper both containers share.
 */
import { NOT_READY } from '../../voice/frame-pull.js';
import type { NotReady } from '../../voice/frame-pull.js';
import { Interrupt } from '../../util/interrupt.js';
import { byteOpener, framesIn, inputError, isReopenable, releaseIterator } from './source.js';
import type { ByteInput, FrameSource, MediaInfo, OpenContext, SourceFrame, TrackInput } from './source.js';
import { OpusPacketFramer } from './opus-frames.js';
import { recycleReadBuffer } from './read-pool.js';

export interface OpusDemuxer {
  /** Packets completed by these bytes. */
  push(chunk: Uint8Array): Uint8Array[];
  /** Optional: like push(), but the packets may be views valid only until the next call. */
  pushViews?(chunk: Uint8Array): Uint8Array[];
  /**
   * Optional: the packets as ranges of `chunk` or of the demuxer's own copies (no object per
   * packet), valid until the next call; the demuxer keeps no view of `chunk` after it.
   */
  pushRanges?(chunk: Uint8Array, out: PacketRanges): void;
  /** The bytes ended: throws if the stream was cut short. */
  end(): void;
}

/**
 * A chunk's packets: packet k (k < count) is `sources[k]` from `starts[k]` to `ends[k]`. The
 * arrays are reused from chunk to chunk (entries past `count` are stale).
 */
export interface PacketRanges {
  count: number;
  sources: Uint8Array[];
  starts: number[];
  ends: number[];
}

const NO_BYTES = new Uint8Array(0);

/**
 * A packet's own copy, exactly its size: a frame in flight when a scavenge comes keeps only its own
 * bytes from dying young (a view of a shared slab, as Buffer.allocUnsafe's pool gives, promoted its
 * 8 KiB slab with it: bench/node.ts at P = 100, ~60 KiB per player more ArrayBuffers).
 */
function copyOut(source: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(source, start, end);
}

/**
 * The frames of a demuxed byte stream, a chunk at a time: the chunk is kept with its packets'
 * ranges (no object per packet), and each packet is copied out of it only as it is read, so all
 * but one read per chunk (hundreds of frames) are answered at once, and `readOpusNow()` hands a
 * passthrough frame over without a promise (the player's fast path). A frame is a small copy
 * that lives from its read to its send and dies young; the chunk, the one buffer that lives for
 * the seconds its audio lasts, goes back to the read pool (./read-pool.ts) once its last packet
 * was copied out, for the next read of any player. Before, packets were copied into 2 KiB groups
 * that outlived a scavenge each: promoted, freed only by a full collection (bench/node.ts at
 * P = 100: ~100-170 KiB per player of ArrayBuffers waiting for one; docs/voxcord-node.md).
 * Frames completed before a failure are read first; then read() rejects with it.
 */
class DemuxedSource implements FrameSource {
  /**
   * A packet that is itself the next frame (passthrough), at hand: held bare, without a frame
   * object (readOpusNow() hands it over as is). Only set while `frames` holds nothing unread.
   */
  private opus: Uint8Array | undefined;
  /**
   * The framer's other output not read yet, `head` to `tail` (PCM frames of a decoded packet);
   * the array is reused, not emptied (emptying it freed its store, and the next frame made one).
   */
  private readonly frames: (SourceFrame | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private readonly sink = { push: (frame: SourceFrame): void => void (this.frames[this.tail++] = frame) };
  /** The current chunk (given back to the read pool once its packets were copied out) and its packets. */
  private chunk: Uint8Array | undefined;
  private readonly packets: PacketRanges = { count: 0, sources: [], starts: [], ends: [] };
  /** The next packet to frame. */
  private next = 0;
  /** The bytes ended and the demuxer's end check passed. */
  private done = false;
  private failure: Error | undefined;
  private filling: Promise<void> | undefined;
  private closed = false;
  private readonly closing = new Interrupt<undefined>();

  constructor(
    private readonly chunks: AsyncIterator<Uint8Array>,
    private readonly demuxer: OpusDemuxer,
    private readonly framer: OpusPacketFramer,
  ) {}

  readOpusNow(): Uint8Array | NotReady {
    if (!this.frameAtHand()) return NOT_READY;
    const packet = this.opus;
    if (packet !== undefined) {
      this.opus = undefined;
      return packet;
    }
    const frame = this.frames[this.head];
    if (frame === undefined || frame.kind !== 'opus') return NOT_READY;
    this.frames[this.head++] = undefined;
    return frame.data;
  }

  async read(): Promise<SourceFrame | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      if (this.frameAtHand()) {
        const packet = this.opus;
        if (packet !== undefined) {
          this.opus = undefined;
          return { kind: 'opus', data: packet };
        }
        const frame = this.frames[this.head];
        this.frames[this.head++] = undefined;
        return frame;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.next < this.packets.count) this.filling ??= this.loadDecoder();
      else if (this.done) return undefined;
      else this.filling ??= this.fill();
      await this.closing.race(this.filling);
    }
  }

  /**
   * Frames packets of the current chunk until a frame is at hand; false when none is left, or the
   * next packet needs the decoder loaded first, or it failed (kept for read()).
   */
  private frameAtHand(): boolean {
    if (this.opus !== undefined) return true;
    try {
      const packets = this.packets;
      while (this.head >= this.tail) {
        const i = this.next;
        if (i >= packets.count || this.closed) return false;
        const packet = copyOut(packets.sources[i]!, packets.starts[i]!, packets.ends[i]!);
        // (Copied again once the decoder is there: once per track at most.)
        if (this.framer.needsDecoder(packet)) return false;
        this.next = i + 1;
        if (this.next === packets.count) this.dropPackets();
        this.head = 0;
        this.tail = 0;
        if (this.framer.takePassthrough(packet)) {
          this.opus = packet;
          return true;
        }
        this.framer.push(packet, this.sink);
      }
      return true;
    } catch (err) {
      this.failure = inputError('the audio input failed', err);
      this.dropPackets();
      return false;
    }
  }

  /** Lets the chunk go (to the read pool: no view of it was handed out) with its packets. */
  private dropPackets(): void {
    const packets = this.packets;
    packets.sources.fill(NO_BYTES, 0, packets.count); // no reference kept to the chunk
    packets.count = 0;
    this.next = 0;
    const chunk = this.chunk;
    this.chunk = undefined;
    if (chunk !== undefined) recycleReadBuffer(chunk);
  }

  /** Demuxes the next chunk (never rejects: a failure is kept for read()). */
  private async fill(): Promise<void> {
    try {
      const result = await this.chunks.next();
      if (this.closed) return;
      this.head = 0;
      this.tail = 0;
      if (result.done === true) {
        this.demuxer.end();
        this.framer.flush(this.sink);
        this.done = true;
        this.framer.close();
        return;
      }
      const chunk = result.value;
      const packets = this.packets;
      if (this.demuxer.pushRanges !== undefined) {
        this.chunk = chunk;
        this.demuxer.pushRanges(chunk, packets);
      } else {
        // Views (valid until the next call, which comes only once they are all copied out) or copies.
        const list =
          this.demuxer.pushViews === undefined ? this.demuxer.push(chunk) : this.demuxer.pushViews(chunk);
        for (let k = 0; k < list.length; k++) {
          packets.sources[k] = list[k]!;
          packets.starts[k] = 0;
          packets.ends[k] = list[k]!.length;
        }
        packets.count = list.length;
      }
      this.next = 0;
      if (packets.count === 0) this.dropPackets();
    } catch (err) {
      this.failure = inputError('the audio input failed', err);
    } finally {
      this.filling = undefined;
    }
  }

  /** The next packet is not 20 ms: load the decoder (never rejects: a failure is kept for read()). */
  private async loadDecoder(): Promise<void> {
    try {
      await this.framer.loadDecoder();
    } catch (err) {
      this.failure = inputError('the audio input failed', err);
      this.dropPackets();
    } finally {
      this.filling = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.fire(undefined);
    this.opus = undefined;
    this.frames.length = 0;
    this.head = 0;
    this.tail = 0;
    this.dropPackets();
    this.framer.close();
    releaseIterator(this.chunks);
  }
}

/** A container file or stream. Seekable when given bytes or a function that reopens the input. */
export function demuxedOpusInput(
  kind: string,
  input: ByteInput,
  createDemuxer: (onInfo: (info: MediaInfo) => void) => OpusDemuxer,
  /** Metadata known from the bytes before demuxing (e.g. an Ogg buffer's length). */
  known?: (bytes: Uint8Array) => MediaInfo,
): TrackInput {
  const open = byteOpener(input);
  return {
    kind,
    seekable: isReopenable(input),
    open(context: OpenContext): FrameSource {
      const onInfo = (info: MediaInfo): void => context.info?.(info);
      if (known !== undefined && input instanceof Uint8Array) onInfo(known(input));
      return new DemuxedSource(
        open(),
        createDemuxer(onInfo),
        new OpusPacketFramer(context, framesIn(context.startMs)),
      );
    },
  };
}
