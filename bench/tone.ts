/**
 * The bench's audio: a few seconds of a tone, as PCM frames (the encode scenario) or encoded once to
 * Opus (the passthrough scenarios, so no encoder runs inside the measured window), then looped.
 */
import { loadOpus } from '../src/audio/opus.js';
import { PCM_FRAME_BYTES } from '../src/protocol/constants.js';

const SAMPLES_PER_FRAME = PCM_FRAME_BYTES / 4;

/** `seconds` of a stereo tone at 48 kHz, s16le, as 20 ms PCM frames (the encode scenario's input). */
export function tonePcmFrames(seconds = 3, hz = 440): Buffer[] {
  const frames: Buffer[] = [];
  for (let f = 0; f < seconds * 50; f++) {
    const pcm = Buffer.alloc(PCM_FRAME_BYTES);
    for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
      const n = f * SAMPLES_PER_FRAME + i;
      const v = Math.round(Math.sin((2 * Math.PI * hz * n) / 48_000) * 12_000);
      pcm.writeInt16LE(v, i * 4);
      pcm.writeInt16LE(v, i * 4 + 2);
    }
    frames.push(pcm);
  }
  return frames;
}

/** The same tone as 20 ms Opus frames (default bitrate). */
export async function encodeToneFrames(seconds = 3, hz = 440): Promise<Buffer[]> {
  const opus = await loadOpus();
  const encoder = opus.createEncoder();
  try {
    return tonePcmFrames(seconds, hz).map((pcm) => Buffer.from(encoder.encode(pcm)));
  } finally {
    encoder.close();
  }
}

/** The frames (Opus or PCM) again and again, forever (the consumer stops reading). */
export function* loopFrames(frames: readonly Buffer[]): Generator<Buffer> {
  if (frames.length === 0) return;
  for (let i = 0; ; i = (i + 1) % frames.length) yield frames[i]!;
}
