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
  /** Optional: the packets copied into groups of at least `groupBytes` (no view per packet). */
  pushPacked?(chunk: Uint8Array, groupBytes: number): PackedPackets;
  /** The bytes ended: throws if the stream was cut short. */
  end(): void;
}

/**
 * A chunk's packets, back to back in groups cut at packet ends: packet i ends at `ends[i]` bytes
 * into the chunk's packets; group g holds the packets before index `groupEnds[g]` that the groups
 * before it do not (each group at least the asked size, the last one may be less).
 */
export interface PackedPackets {
  ends: number[];
  groups: Uint8Array[];
  groupEnds: number[];
}

const NO_BYTES = new Uint8Array(0);
/** A chunk's packets are split into buffers of at least this many bytes (the last one may be less). */
const GROUP_BYTES = 2048;

/**
 * Where a chunk's packets (ending at `ends`) are cut into groups of at least `groupBytes` (the
 * last one may be less): the index after each group's last packet.
 */
export function packetGroupEnds(ends: readonly number[], groupBytes: number): number[] {
  const groupEnds: number[] = [];
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    if (end - start < groupBytes && i < ends.length - 1) continue;
    groupEnds.push(i + 1);
    start = end;
  }
  return groupEnds;
}

/**
 * Packets copied into groups cut at packetGroupEnds(ends, groupBytes): packet k is
 * `sources[k][starts[k], +its length)` (`starts` absent: from 0), its length from the running
 * `ends`. One copy per packet; packets that follow one another in the same bytes (a page's
 * packets) are copied as one range.
 */
export function packPackets(
  sources: readonly Uint8Array[],
  starts: readonly number[] | undefined,
  ends: number[],
  groupBytes: number,
): PackedPackets {
  const groupEnds = packetGroupEnds(ends, groupBytes);
  let first = 0;
  const groups = groupEnds.map((next) => {
    const groupStart = first === 0 ? 0 : ends[first - 1]!;
    const data = new Uint8Array(ends[next - 1]! - groupStart);
    let at = 0;
    for (let k = first; k < next;) {
      const source = sources[k]!;
      const from = starts?.[k] ?? 0;
      let to = from + ends[k]! - (k === 0 ? 0 : ends[k - 1]!);
      // The next packets of this range: one set() for the run.
      for (k++; k < next && sources[k] === source && (starts?.[k] ?? 0) === to; k++)
        to += ends[k]! - ends[k - 1]!;
      data.set(source.subarray(from, to), at);
      at += to - from;
    }
    first = next;
    return data;
  });
  return { ends, groups, groupEnds };
}

/**
 * The frames of a demuxed byte stream, a chunk at a time: each chunk's packets are copied into
 * groups of about GROUP_BYTES cut at packet boundaries (packPackets, from the chunk or the
 * demuxer's views: one copy, a few allocations per chunk, none per packet), and become frames only
 * as they are read,
 * so all but one read per chunk (hundreds of frames) are answered at once, and `readOpusNow()`
 * hands a passthrough frame over without a promise (the player's fast path). A frame object lives
 * from its read to its send, not for the second its chunk lasts: fewer objects survive a
 * scavenge, so the young generation and the old space of a node with hundreds of players grow less.
 * A frame is a view of its group, so a frame still in flight (the pump's pending frame, a relay's
 * last value) keeps a group alive, not the whole chunk, and a group is let go once framed: a player
 * holds the rest of its chunk and a group or two, not one or two whole chunks (about 20 KiB per
 * player of a node, bench/node.ts).
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
  /**
   * The current chunk's packets, back to back in groups: where each packet ends in the chunk, and
   * per group its buffer (let go once framed), the packet index it ends at and the chunk offset it
   * starts at. `next` is the next packet to frame, in `group`.
   */
  private groups: Uint8Array[] = [];
  private groupEnds: number[] = [];
  private groupStarts: number[] = [];
  private group = 0;
  private ends: number[] = [];
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
      if (this.next < this.ends.length) this.filling ??= this.loadDecoder();
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
      while (this.head >= this.tail) {
        const i = this.next;
        if (i >= this.ends.length || this.closed) return false;
        if (i >= this.groupEnds[this.group]!) this.groups[this.group++] = NO_BYTES;
        const start = this.groupStarts[this.group]!;
        const packet = this.groups[this.group]!.subarray(
          (i === 0 ? 0 : this.ends[i - 1]!) - start,
          this.ends[i]! - start,
        );
        if (this.framer.needsDecoder(packet)) return false;
        this.next = i + 1;
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

  private dropPackets(): void {
    this.groups = [];
    this.groupEnds = [];
    this.groupStarts = [];
    this.ends = [];
    this.next = 0;
    this.group = 0;
  }

  /** Takes a chunk's packets, grouped (see PackedPackets). */
  private takePackets({ ends, groups, groupEnds }: PackedPackets): void {
    this.dropPackets();
    this.ends = ends;
    this.groups = groups;
    this.groupEnds = groupEnds;
    for (let g = 0; g < groupEnds.length; g++)
      this.groupStarts.push(g === 0 ? 0 : ends[groupEnds[g - 1]! - 1]!);
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
      if (this.demuxer.pushPacked !== undefined) {
        const packed = this.demuxer.pushPacked(result.value, GROUP_BYTES);
        // The demuxer copied everything out: a pooled read buffer goes back at once.
        recycleReadBuffer(result.value);
        this.takePackets(packed);
      } else {
        const packets =
          this.demuxer.pushViews === undefined
            ? this.demuxer.push(result.value)
            : this.demuxer.pushViews(result.value);
        let total = 0;
        const ends: number[] = [];
        for (const packet of packets) ends.push((total += packet.length));
        this.takePackets(packPackets(packets, undefined, ends, GROUP_BYTES));
      }
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
