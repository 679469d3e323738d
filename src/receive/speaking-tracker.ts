/**
 * Speaking start/end per user from packet flow, plus op 5. Pure: no timer per packet. A packet
 * starts a burst; the burst ends when one sweep (driven by the caller's clock, e.g. every 20 ms)
 * sees no audio packet for `endDelayMs`, or when op 5 says `speaking: 0` or op 13 says the user left
 * (packets arriving within `endDelayMs` after either belong to the ended burst).
 *
 * Opus silence frames (F8 FF FE) neither start nor extend a burst: senders append five of them when
 * they stop (media.md §5.1), and some send them on connect.
 */
import { SPEAKING_END_DELAY_MS } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';

export interface SpeakingEvent {
  type: 'start' | 'end';
  userId: string;
  /** The clock time of the packet, op 5 or sweep that decided it (ms). */
  at: number;
}

export interface SpeakingTrackerOptions {
  /** Silence that ends a burst, ms (default 200). */
  endDelayMs?: number;
}

export class SpeakingTracker {
  private readonly endDelay: number;
  /** Users speaking now, with their last audio packet time. Sweeps visit only these. */
  private readonly speaking = new Map<string, number>();
  /** After op 5 `speaking: 0`, stragglers (reordered packets) must not start a new burst. */
  private readonly stoppedAt = new Map<string, number>();

  constructor(options: SpeakingTrackerOptions = {}) {
    const d = options.endDelayMs ?? SPEAKING_END_DELAY_MS;
    if (!Number.isFinite(d) || d <= 0) {
      throw new VoxcordError('INVALID_ARGUMENT', 'speaking endDelayMs must be a positive number');
    }
    this.endDelay = d;
  }

  /** An audio packet from `userId` arrived at `at`. Returns the start event when a burst begins. */
  onPacket(userId: string, at: number, silence = false): SpeakingEvent | undefined {
    if (silence) return undefined;
    const last = this.speaking.get(userId);
    if (last !== undefined) {
      if (at > last) this.speaking.set(userId, at);
      return undefined;
    }
    const stopped = this.stoppedAt.get(userId);
    if (stopped !== undefined) {
      if (at - stopped < this.endDelay) return undefined;
      this.stoppedAt.delete(userId);
    }
    this.speaking.set(userId, at);
    return { type: 'start', userId, at };
  }

  /**
   * Op 5 for `userId`. A zero bitmask ends the burst at once. A non-zero one does not start a burst
   * by itself: Discord sends it when a user's SSRC is first announced, not per burst.
   */
  onSpeakingOp(userId: string, flags: number, at: number): SpeakingEvent | undefined {
    return flags === 0 ? this.stop(userId, at) : undefined;
  }

  /**
   * The user left (op 13): ends their burst if any. Their packets still on the way (UDP overtakes
   * the websocket, and the media worker batches) are audio sent before they left: no new burst.
   */
  remove(userId: string, at: number): SpeakingEvent | undefined {
    return this.stop(userId, at);
  }

  private stop(userId: string, at: number): SpeakingEvent | undefined {
    if (!this.speaking.delete(userId)) return undefined;
    this.stoppedAt.set(userId, at);
    return { type: 'end', userId, at };
  }

  /** Ends every burst with no audio packet for endDelayMs. */
  sweep(now: number): SpeakingEvent[] {
    // Swept every clock tick: no array unless a burst ends.
    let events: SpeakingEvent[] | undefined;
    for (const [userId, last] of this.speaking) {
      if (now - last >= this.endDelay) {
        this.speaking.delete(userId);
        (events ??= []).push({ type: 'end', userId, at: now });
      }
    }
    if (this.stoppedAt.size > 0) {
      for (const [userId, at] of this.stoppedAt) if (now - at >= this.endDelay) this.stoppedAt.delete(userId);
    }
    return events ?? [];
  }

  isSpeaking(userId: string): boolean {
    return this.speaking.has(userId);
  }

  /** How many users speak now (no array, for a clock's every-tick check). */
  get speakingCount(): number {
    return this.speaking.size;
  }

  speakingUsers(): string[] {
    return [...this.speaking.keys()];
  }
}
