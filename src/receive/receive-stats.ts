/**
 * Receive statistics: per user (what their jitter buffer, decoder and DAVE decryptor saw) and per
 * receiver (packets that never reached a user). Counters only; snapshots are plain objects.
 */
import type { JitterBufferStats } from './jitter-buffer.js';
import type { DecodeCounters } from './decode-stage.js';

export interface UserReceiveStats {
  /** Packets accepted into the jitter buffer. */
  received: number;
  /** Slots with no packet at playout time (concealed in PCM mode). */
  lost: number;
  /** Packets that arrived after their slot (dropped, not inserted out of order). */
  late: number;
  duplicate: number;
  /** Accepted packets thrown away unplayed when a sequence restart or SSRC change cleared the buffer. */
  discarded: number;
  /** Packets far outside the sequence window that no following packet confirmed as a restart. */
  stray: number;
  /** Frames synthesised by PLC (lost, late or undecodable packets), in PCM mode. */
  concealed: number;
  /** Lost frames recovered from in-band FEC. */
  fecRecovered: number;
  /** Packets the Opus decoder rejected. */
  decodeErrors: number;
  /** Packets rejected before the jitter buffer (bad fields, empty payload). */
  invalid: number;
  /** Sequence restarts (sender restarted or changed SSRC). */
  restarts: number;
  timestampJumps: number;
  /** DAVE decryption failures by reason (e.g. 'no-key', 'replay'). */
  daveFailures: Record<string, number>;
  /** Current interarrival jitter estimate and playout delay, ms. */
  jitterMs: number;
  targetDelayMs: number;
}

export interface ReceiverTotals {
  /** Packets from an SSRC no user is mapped to (dropped). */
  unknownSsrc: number;
  /** Packets that were not ReceivedRtp-shaped (dropped). */
  malformed: number;
  /**
   * Datagrams the media channel dropped before any user, by reason (RtpDropReason: 'replay' for a
   * packet received before, 'auth-failed', 'rtcp'...).
   */
  transportDropped: Record<string, number>;
  /** Users with receive state. */
  users: number;
}

/** Per-user counters that outlive any one jitter buffer or decoder. */
export class UserReceiveCounters {
  /** Null prototype: a reason is a key like any other, 'constructor' too. */
  readonly daveFailures: Record<string, number> = Object.create(null) as Record<string, number>;
  invalid = 0;
  /** Accumulated from decoders already released. */
  private readonly releasedDecode: DecodeCounters = {
    decoded: 0,
    concealed: 0,
    fecRecovered: 0,
    decodeErrors: 0,
  };

  daveFailure(reason: string): void {
    this.daveFailures[reason] = (this.daveFailures[reason] ?? 0) + 1;
  }

  /** Folds in a decoder's counters when it is released. */
  absorbDecode(c: DecodeCounters): void {
    this.releasedDecode.decoded += c.decoded;
    this.releasedDecode.concealed += c.concealed;
    this.releasedDecode.fecRecovered += c.fecRecovered;
    this.releasedDecode.decodeErrors += c.decodeErrors;
  }

  snapshot(jitter: JitterBufferStats, liveDecode: DecodeCounters | undefined): UserReceiveStats {
    const d = this.releasedDecode;
    return {
      received: jitter.received,
      lost: jitter.lost,
      late: jitter.late,
      duplicate: jitter.duplicate,
      discarded: jitter.discarded,
      stray: jitter.stray,
      concealed: d.concealed + (liveDecode?.concealed ?? 0),
      fecRecovered: d.fecRecovered + (liveDecode?.fecRecovered ?? 0),
      decodeErrors: d.decodeErrors + (liveDecode?.decodeErrors ?? 0),
      invalid: this.invalid + jitter.invalid,
      restarts: jitter.restarts,
      timestampJumps: jitter.timestampJumps,
      daveFailures: { ...this.daveFailures },
      jitterMs: jitter.jitterMs,
      targetDelayMs: jitter.targetDelayMs,
    };
  }
}
