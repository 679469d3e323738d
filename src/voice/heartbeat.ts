/**
 * Pure heartbeat bookkeeping for the voice websocket (voice-gateway.md §5.6): nonces, missed ACKs
 * and round-trip time. The session owns the timer and calls `beat()` on each tick; nothing here
 * touches sockets or clocks, so it is tested with plain numbers.
 */
import {
  HEARTBEAT_INTERVAL_MAX_MS,
  HEARTBEAT_INTERVAL_MIN_MS,
  MAX_MISSED_HEARTBEAT_ACKS,
} from '../protocol/constants.js';
import type { HeartbeatData } from '../protocol/voice-messages.js';

export type HeartbeatTick =
  /** Send this op 3 payload now. */
  | { action: 'send'; data: HeartbeatData }
  /** Too many beats went unanswered: close the socket and resume. */
  | { action: 'dead'; missed: number };

/**
 * The interval to heartbeat at for a Hello `heartbeat_interval`: clamped to
 * [HEARTBEAT_INTERVAL_MIN_MS, HEARTBEAT_INTERVAL_MAX_MS], so neither 0.001 ms nor 2^31 ms (which
 * setInterval overflows to 1 ms) turns the heartbeat into a busy loop.
 */
export function clampHeartbeatInterval(intervalMs: number): number {
  if (!Number.isFinite(intervalMs)) return HEARTBEAT_INTERVAL_MAX_MS;
  return Math.min(HEARTBEAT_INTERVAL_MAX_MS, Math.max(HEARTBEAT_INTERVAL_MIN_MS, intervalMs));
}

export class HeartbeatTracker {
  /** Milliseconds between beats, from op 8 Hello. */
  readonly intervalMs: number;
  private readonly maxMissed: number;
  /** Nonce -> time sent, for beats not yet acknowledged. */
  private readonly pending = new Map<number, number>();
  private lastNonce = 0;
  private missedCount = 0;
  private lastPing: number | undefined;

  constructor(intervalMs: number, maxMissed: number = MAX_MISSED_HEARTBEAT_ACKS) {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0)
      throw new RangeError('heartbeat interval must be positive');
    this.intervalMs = intervalMs;
    this.maxMissed = maxMissed;
  }

  /** Consecutive beats sent without an ACK. */
  get missed(): number {
    return this.missedCount;
  }

  /** Round-trip time of the latest acknowledged beat, in ms. */
  get ping(): number | undefined {
    return this.lastPing;
  }

  /**
   * One timer tick. `now` is a millisecond clock; `seqAck` the last server `seq` seen (-1 if none).
   * Returns 'dead' once `maxMissed` beats in a row went unanswered (the beat is then not sent).
   */
  beat(now: number, seqAck: number): HeartbeatTick {
    if (this.missedCount >= this.maxMissed) return { action: 'dead', missed: this.missedCount };
    // Integer nonce from the clock like discord.js, but strictly increasing so two beats in the same
    // millisecond (short test intervals) never share one.
    const nonce = Math.max(Math.floor(now), this.lastNonce + 1);
    this.lastNonce = nonce;
    this.pending.set(nonce, now);
    // Only the last few beats can still be acknowledged; bound the map.
    if (this.pending.size > this.maxMissed + 1) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.missedCount += 1;
    return { action: 'send', data: { t: nonce, seq_ack: seqAck } };
  }

  /**
   * An op 6 ACK echoing nonce `t` arrived at `now`. Returns the round-trip time when `t` matches a
   * beat we sent, else undefined (unknown nonces are ignored and do not reset the miss count).
   */
  ack(t: number, now: number): number | undefined {
    const sentAt = this.pending.get(t);
    if (sentAt === undefined) return undefined;
    // An ACK answers this beat and implies every earlier one was seen too.
    for (const nonce of [...this.pending.keys()]) {
      if (nonce <= t) this.pending.delete(nonce);
    }
    this.missedCount = 0;
    this.lastPing = Math.max(0, now - sentAt);
    return this.lastPing;
  }
}
