/**
 * Raw PCM input: s16le interleaved stereo at 48 kHz, in chunks of any size. Re-framed to 20 ms;
 * a partial last frame is padded with silence.
 */
import { PcmFramer } from '../../audio/pcm-framer.js';
import { PCM_FRAME_BYTES } from '../../protocol/constants.js';
import { byteOpener, framesIn, generatorSource, isReopenable, releaseIterator } from './source.js';
import type { ByteInput, FrameSource, OpenContext, SourceFrame, TrackInput } from './source.js';

/** Copies 3840 bytes of s16le into samples (the host is little-endian, as every Node platform is). */
export function pcmSamples(frame: Uint8Array): Int16Array {
  const out = new Int16Array(frame.length >> 1);
  new Uint8Array(out.buffer).set(frame.subarray(0, out.length * 2));
  return out;
}

/** Frames of s16le PCM from byte chunks, skipping the first `skipBytes` bytes. */
export async function* pcmFrames(
  chunks: AsyncIterator<Uint8Array>,
  skipBytes = 0,
): AsyncGenerator<SourceFrame, void, undefined> {
  const framer = new PcmFramer();
  let skip = skipBytes;
  try {
    for (;;) {
      const result = await chunks.next();
      if (result.done === true) break;
      let chunk = result.value;
      if (skip > 0) {
        const drop = Math.min(skip, chunk.length);
        skip -= drop;
        chunk = chunk.subarray(drop);
      }
      for (const frame of framer.push(chunk)) yield { kind: 'pcm', data: pcmSamples(frame) };
    }
    const last = framer.flush();
    if (last) yield { kind: 'pcm', data: pcmSamples(last) };
  } finally {
    releaseIterator(chunks);
  }
}

/** PCM (s16le, 48 kHz, stereo). Seekable when given bytes or a function that reopens the input. */
export function pcmInput(input: ByteInput): TrackInput {
  const open = byteOpener(input);
  return {
    kind: 'pcm',
    seekable: isReopenable(input),
    open(context: OpenContext): FrameSource {
      const chunks = open();
      return generatorSource(pcmFrames(chunks, framesIn(context.startMs) * PCM_FRAME_BYTES), () =>
        releaseIterator(chunks),
      );
    },
  };
}
