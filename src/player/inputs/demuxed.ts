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

export interface OpusDemuxer {
  /** Packets completed by these bytes. */
  push(chunk: Uint8Array): Uint8Array[];
  /** The bytes ended: throws if the stream was cut short. */
  end(): void;
}

/**
 * The frames of a demuxed byte stream, a chunk at a time: each chunk's packets become frames in
 * one go, so all but one read per chunk (hundreds of frames) are answered at once, and
 * `readOpusNow()` hands a passthrough frame over without a promise (the player's fast path).
 * Frames completed before a failure are read first; then read() rejects with it.
 */
class DemuxedSource implements FrameSource {
  private frames: (SourceFrame | undefined)[] = [];
  private head = 0;
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
    const frame = this.frames[this.head];
    if (frame === undefined || frame.kind !== 'opus') return NOT_READY;
    this.frames[this.head++] = undefined;
    return frame.data;
  }

  async read(): Promise<SourceFrame | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const frame = this.frames[this.head];
      if (frame !== undefined) {
        this.frames[this.head++] = undefined;
        return frame;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.done) return undefined;
      this.filling ??= this.fill();
      await this.closing.race(this.filling);
    }
  }

  /** Demuxes the next chunk into frames (never rejects: a failure is kept for read()). */
  private async fill(): Promise<void> {
    try {
      this.frames = [];
      this.head = 0;
      const result = await this.chunks.next();
      if (this.closed) return;
      if (result.done === true) {
        this.demuxer.end();
        this.framer.flush(this.frames);
        this.done = true;
        this.framer.close();
        return;
      }
      for (const packet of this.demuxer.push(result.value)) {
        if (this.framer.needsDecoder(packet)) {
          await this.framer.loadDecoder();
          if (this.closed) return;
        }
        this.framer.push(packet, this.frames);
      }
    } catch (err) {
      this.failure = inputError('the audio input failed', err);
    } finally {
      this.filling = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.fire(undefined);
    this.frames = [];
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
