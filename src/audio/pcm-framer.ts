/**
 * Re-frames s16le stereo PCM arriving in arbitrary chunk sizes into exact 20 ms frames
 * (3840 bytes). Pure. Whole frames inside a chunk are returned as views of that chunk (no copy),
 * so consume them before the chunk's memory is reused; only frames spanning chunks are copied.
 */
import { VoxcordError } from '../errors.js';
import { PCM_FRAME_BYTES } from '../protocol/constants.js';

export class PcmFramer {
  readonly frameBytes: number;
  private partial: Uint8Array | null = null;
  private filled = 0;

  constructor(frameBytes: number = PCM_FRAME_BYTES) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'frame size must be a positive integer');
    }
    this.frameBytes = frameBytes;
  }

  /** Bytes buffered towards the next frame. */
  get pending(): number {
    return this.filled;
  }

  /** The frames this chunk completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const size = this.frameBytes;
    const frames: Uint8Array[] = [];
    let offset = 0;
    if (this.partial !== null) {
      const take = Math.min(size - this.filled, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.filled);
      this.filled += take;
      offset = take;
      if (this.filled < size) return frames;
      frames.push(this.partial);
      this.partial = null;
      this.filled = 0;
    }
    while (chunk.length - offset >= size) {
      frames.push(chunk.subarray(offset, offset + size));
      offset += size;
    }
    if (offset < chunk.length) {
      this.partial = new Uint8Array(size);
      this.partial.set(chunk.subarray(offset));
      this.filled = chunk.length - offset;
    }
    return frames;
  }

  /** The buffered partial frame padded with zeros (silence), or undefined if nothing is buffered. */
  flush(): Uint8Array | undefined {
    const last = this.partial;
    this.partial = null;
    this.filled = 0;
    return last ?? undefined; // the tail of a fresh Uint8Array is already zero
  }
}
