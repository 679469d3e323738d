/**
 * A container input (Ogg, WebM) whose demuxer turns bytes into Opus packets: the byte pump and the
 * track-input wrapper both containers share.
 */
import { byteOpener, framesIn, generatorSource, isReopenable, releaseIterator } from './source.js';
import type { ByteInput, FrameSource, MediaInfo, OpenContext, TrackInput } from './source.js';
import { opusPacketFrames } from './opus-frames.js';

export interface OpusDemuxer {
  /** Packets completed by these bytes. */
  push(chunk: Uint8Array): Uint8Array[];
  /** The bytes ended: throws if the stream was cut short. */
  end(): void;
}

/** Opus packets of a byte stream (the demuxer's end() check runs when the bytes end). */
export async function* demuxOpusPackets(
  chunks: AsyncIterator<Uint8Array>,
  demuxer: OpusDemuxer,
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    for (;;) {
      const result = await chunks.next();
      if (result.done === true) break;
      yield* demuxer.push(result.value);
    }
    demuxer.end();
  } finally {
    releaseIterator(chunks);
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
      const chunks = open();
      return generatorSource(
        opusPacketFrames(demuxOpusPackets(chunks, createDemuxer(onInfo)), context, framesIn(context.startMs)),
        () => releaseIterator(chunks),
      );
    },
  };
}
