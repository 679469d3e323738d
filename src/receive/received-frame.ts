/**
 * What a user's subscription yields, apart from the stream class itself, so that the byte view
 * (byte-stream.ts) and the stream (user-stream.ts) need not import each other.
 */
import type { Readable } from 'node:stream';

export type ReceiveMode = 'opus' | 'pcm';

export interface ReceivedFrame {
  /** RTP sequence number (u16). */
  sequence: number;
  /** RTP timestamp (u32, 48 kHz); interpolated for concealed frames. */
  timestamp: number;
  /** Arrival time (performance.now() ms); undefined for a concealed frame. */
  receivedAt: number | undefined;
  /** Opus mode: the frame; absent when lost (concealed: true). */
  payload?: Uint8Array;
  /** PCM mode: 1920 interleaved s16 stereo samples (20 ms). */
  pcm?: Int16Array;
  /** True for a slot whose packet was lost, late or undecodable (PCM mode: PLC/FEC output). */
  concealed: boolean;
}

/** A user's object-mode stream of `ReceivedFrame`s (a `UserAudioStream`), as a byte view reads it. */
export interface FrameStream extends Readable {
  readonly mode: ReceiveMode;
  /** Frames dropped because the consumer was not reading. */
  readonly dropped: number;
}
