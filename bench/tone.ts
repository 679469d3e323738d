/**
 * Pre-encoded Opus for the passthrough scenarios: a few seconds of a tone, encoded once, then
 * looped, so no encoder runs inside the measured window.
 */
import { loadOpus } from '../src/audio/opus.js';
import { PCM_FRAME_BYTES } from '../src/protocol/constants.js';

const SAMPLES_PER_FRAME = PCM_FRAME_BYTES / 4;

/** `seconds` of a 440 Hz stereo tone at 48 kHz as 20 ms Opus frames (default bitrate). */
export async function encodeToneFrames(seconds = 3, hz = 440): Promise<Buffer[]> {
  const opus = await loadOpus();
  const encoder = opus.createEncoder();
  const frames: Buffer[] = [];
  const pcm = Buffer.alloc(PCM_FRAME_BYTES);
  try {
    for (let f = 0; f < seconds * 50; f++) {
      for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
        const n = f * SAMPLES_PER_FRAME + i;
        const v = Math.round(Math.sin((2 * Math.PI * hz * n) / 48_000) * 12_000);
        pcm.writeInt16LE(v, i * 4);
        pcm.writeInt16LE(v, i * 4 + 2);
      }
      frames.push(Buffer.from(encoder.encode(pcm)));
    }
  } finally {
    encoder.close();
  }
  return frames;
}

/** The frames again and again, forever (the consumer stops reading). */
export function* loopFrames(frames: readonly Buffer[]): Generator<Buffer> {
  if (frames.length === 0) return;
  for (let i = 0; ; i = (i + 1) % frames.length) yield frames[i]!;
}
