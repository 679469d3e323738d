/**
 * Sequence numbering and replay buffer of one voice session (voice-gateway.md §6-§7). One 16-bit
 * counter, starting at 1 and wrapping 65535 -> 0, stamps every server message except Hello,
 * Heartbeat ACK and Resumed; the last `capacity` stamped frames are kept for Resume.
 */

export type Frame = string | Buffer;

export interface StampedFrame {
  seq: number;
  frame: Frame;
}

export class ReplayBuffer {
  private readonly entries: StampedFrame[] = [];
  private nextSeq = 1;
  /** Seq of the newest message no longer buffered; 0 = the virtual message before the first. */
  private evictedUpTo = 0;
  private evictedAny = false;

  constructor(private readonly capacity: number) {
    // Above half the seq space a wrapped seq could appear twice in the buffer.
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0x8000)
      throw new RangeError('capacity must be an integer in [1, 32768]');
  }

  /** Allocates the next sequence number (the caller builds the frame with it, then calls `push`). */
  take(): number {
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) & 0xffff;
    return seq;
  }

  push(seq: number, frame: Frame): void {
    this.entries.push({ seq, frame });
    if (this.entries.length > this.capacity) {
      const dropped = this.entries.shift()!;
      this.evictedUpTo = dropped.seq;
      this.evictedAny = true;
    }
  }

  /** Last seq stamped, or -1 if none yet. */
  get lastSeq(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? (this.evictedAny ? this.evictedUpTo : -1) : last.seq;
  }

  /**
   * Every buffered frame after `seqAck`, in order; null when the client acknowledged a seq this
   * session never sent, or when a frame it still needs was evicted (resume must fail).
   */
  since(seqAck: number): StampedFrame[] | null {
    if (seqAck < 0) return this.evictedAny ? null : [...this.entries];
    const index = this.entries.findIndex((e) => e.seq === seqAck);
    if (index >= 0) return this.entries.slice(index + 1);
    // Acknowledged exactly the last evicted message: everything after it is still here.
    if (seqAck === this.evictedUpTo && (this.evictedAny || seqAck === 0)) return [...this.entries];
    return null;
  }
}
