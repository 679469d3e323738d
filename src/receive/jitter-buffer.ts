/**
 * Per-SSRC playout (jitter) buffer. Pure: the caller passes arrival times in and polls with the
 * current time; there are no timers.
 *
 * Packets are ordered by extended sequence number (u16 wrap handled once, in sequence.ts) and
 * played one per 20 ms slot, `targetDelay` after the first packet of a talk spurt arrived. At a slot:
 * the packet if present; a 'lost' marker if it is missing but later packets are buffered (the caller
 * conceals it); nothing if the buffer is empty (a stall: the talk spurt ended or the network
 * hiccupped; the next packet restarts the playout clock, with 'lost' markers for any sequence gap).
 * A packet arriving after its slot has passed is counted late and never inserted out of order.
 *
 * Accounting: every packet pushed is played exactly once, or counted with one reason (invalid,
 * duplicate, late, stray, discarded), or still waiting (stats().buffered, stats().held). So
 * pushed = played + invalid + duplicate + late + stray + discarded + buffered + held.
 *
 * The target delay adapts within [min, max]: from the RFC 3550 interarrival jitter estimate at each
 * talk-spurt start, and upwards at once when packets arrive late. Timestamp jumps (sender paused or
 * restarted its clock) reset the jitter reference instead of inflating the estimate.
 */
import {
  FRAME_DURATION_MS,
  JITTER_CAPACITY_FRAMES,
  JITTER_MAX_CONCEALED_GAP_FRAMES,
  JITTER_MAX_DELAY_MS,
  JITTER_MAX_LATE_FRAMES,
  JITTER_MIN_DELAY_MS,
  JITTER_TARGET_DELAY_MS,
  RTP_SEQUENCE_MODULUS,
  RTP_TIMESTAMP_MODULUS,
  SAMPLE_RATE,
  SAMPLES_PER_FRAME,
} from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkOptions } from '../util/args.js';
import { addTimestamp, extendSequence, isTimestampJump, tsDiff, wrapSequence } from './sequence.js';

export interface JitterPacket {
  sequence: number;
  timestamp: number;
  payload: Uint8Array;
  /** Arrival time, ms (performance.now() clock). */
  receivedAt: number;
}

export interface JitterFrame {
  kind: 'frame';
  sequence: number;
  timestamp: number;
  receivedAt: number;
  payload: Uint8Array;
  /** The slot time this frame was due at (ms). */
  playoutAt: number;
}

export interface JitterLost {
  kind: 'lost';
  sequence: number;
  /** Interpolated: 960 after the previous frame. */
  timestamp: number;
  playoutAt: number;
  /** The following packet's payload when already buffered, for Opus in-band FEC. */
  next?: Uint8Array;
}

export type JitterOutput = JitterFrame | JitterLost;

export type JitterPushResult =
  /** Stored for playout. */
  | 'buffered'
  /** Already buffered or already played: dropped. */
  | 'duplicate'
  /** Its slot has passed: dropped and counted. */
  | 'late'
  /**
   * A sequence jump that may be a sender restart: held until a following packet confirms it (else
   * counted stray).
   */
  | 'held'
  /** Confirmed sequence restart: the buffer was reset around this packet. */
  | 'restart'
  /** Not a packet (bad sequence/timestamp/payload/time): dropped. */
  | 'invalid';

export interface JitterBufferOptions {
  /** Initial playout delay (ms), default 60. */
  targetDelayMs?: number;
  /** Bounds of the adaptive delay (ms), default 40..200. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Adapt the delay to observed jitter and late packets (default true). */
  adaptive?: boolean;
}

export interface JitterBufferStats {
  /** Packets accepted into the buffer (each is later played, or counted discarded). */
  received: number;
  duplicate: number;
  late: number;
  /** Accepted packets thrown away unplayed: buffered when a sequence restart or reset() cleared the buffer. */
  discarded: number;
  /**
   * Far-jump packets never confirmed as a sequence restart: superseded by another far packet, or
   * still held at a restart, flush() or reset().
   */
  stray: number;
  /** 'lost' markers emitted. */
  lost: number;
  /** Sequence restarts (sender restarted, or a jump too large to conceal). */
  restarts: number;
  /** Timestamp discontinuities seen between consecutive packets. */
  timestampJumps: number;
  /** Packets dropped as invalid. */
  invalid: number;
  /** Packets waiting for playout. */
  buffered: number;
  /** Far-jump packets waiting for confirmation (0 or 1). */
  held: number;
  /** RFC 3550 interarrival jitter estimate, ms. */
  jitterMs: number;
  targetDelayMs: number;
}

/** Power of two ≥ capacity, so an extended sequence number maps to a slot with a mask. */
const RING = 64;
const HISTORY = 1024;
const SAMPLES_PER_MS = SAMPLE_RATE / 1000;
/** Late-driven delay boosts decay by one frame per this many ms without late packets. */
const LATE_BOOST_DECAY_MS = 10_000;
/** Arrivals further apart than this do not feed the jitter estimate (a pause, not jitter). */
const JITTER_REFERENCE_MAX_GAP_MS = 1_000;
/** Frames allowed above the target before playout catches up (bounds latency after a hiccup). */
const OVERFULL_SLACK_FRAMES = 2;

function roundUpToFrame(ms: number): number {
  return Math.ceil(ms / FRAME_DURATION_MS - 1e-9) * FRAME_DURATION_MS;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function isValidPacket(p: JitterPacket): boolean {
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.sequence) &&
    p.sequence >= 0 &&
    p.sequence < RTP_SEQUENCE_MODULUS &&
    Number.isInteger(p.timestamp) &&
    p.timestamp >= 0 &&
    p.timestamp < RTP_TIMESTAMP_MODULUS &&
    p.payload instanceof Uint8Array &&
    p.payload.length > 0 &&
    Number.isFinite(p.receivedAt)
  );
}

export class JitterBuffer {
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly adaptive: boolean;
  private target: number;

  /**
   * Buffered packets as the frames they will be played as (one object per packet, handed out by
   * poll() with its playout time set); ringExt holds each one's extended sequence number.
   */
  private readonly ring: (JitterFrame | undefined)[] = new Array<JitterFrame | undefined>(RING);
  private readonly ringExt = new Float64Array(RING);
  private buffered = 0;
  /** Highest extended sequence buffered (valid while buffered > 0). */
  private highestExt = 0;

  private started = false;
  private playing = false;
  private nextExt = 0;
  private nextPlayoutAt = 0;
  private lastTimestamp: number | undefined;

  /** Recently played extended sequence numbers: 1 = frame, 2 = lost marker. */
  private readonly historyExt = new Float64Array(HISTORY).fill(Number.NaN);
  private readonly historyKind = new Uint8Array(HISTORY);

  private refValid = false;
  private refExt = 0;
  private refTs = 0;
  private refArrival = 0;
  private jitter = 0;

  private lateBoost = 0;
  private lateBoostAt = 0;

  /** A far-jumped packet waiting for a consecutive one to confirm a restart. */
  private held: JitterPacket | undefined;

  private readonly counters = {
    received: 0,
    duplicate: 0,
    late: 0,
    discarded: 0,
    stray: 0,
    lost: 0,
    restarts: 0,
    timestampJumps: 0,
    invalid: 0,
  };

  constructor(options: JitterBufferOptions = {}) {
    checkOptions(options, 'jitter');
    const min = options.minDelayMs ?? JITTER_MIN_DELAY_MS;
    const max = options.maxDelayMs ?? JITTER_MAX_DELAY_MS;
    const target = options.targetDelayMs ?? JITTER_TARGET_DELAY_MS;
    if (![min, max, target].every((v) => Number.isFinite(v) && v >= 0) || min > max) {
      throw new VoxcordError('INVALID_ARGUMENT', 'jitter buffer delays must be finite, >= 0 and min <= max');
    }
    if (max > (JITTER_CAPACITY_FRAMES - OVERFULL_SLACK_FRAMES - 2) * FRAME_DURATION_MS) {
      throw new VoxcordError('INVALID_ARGUMENT', 'jitter buffer maxDelayMs exceeds its capacity');
    }
    this.minDelay = min;
    this.maxDelay = max;
    this.adaptive = options.adaptive ?? true;
    this.target = clamp(target, min, max);
  }

  /** Current playout delay, ms. */
  get targetDelayMs(): number {
    return this.target;
  }

  /** True while the playout clock runs (false before the first packet and after a stall). */
  get isPlaying(): boolean {
    return this.playing;
  }

  /** Packets waiting for playout. */
  get size(): number {
    return this.buffered;
  }

  push(packet: JitterPacket): JitterPushResult {
    if (!isValidPacket(packet)) {
      this.counters.invalid++;
      return 'invalid';
    }
    if (!this.started) {
      this.restartAt(packet, false);
      return 'buffered';
    }
    const ext = extendSequence(packet.sequence, this.nextExt);
    const d = ext - this.nextExt;

    if (d < 0 && -d <= JITTER_MAX_LATE_FRAMES) return this.behind(ext, packet);

    if (!this.playing) {
      // Stalled, buffer empty: the packet starts the next talk spurt.
      if (d > JITTER_MAX_CONCEALED_GAP_FRAMES || d < 0) {
        this.restartAt(packet, true);
        return 'restart';
      }
      this.resume(ext, d, packet);
      return 'buffered';
    }

    if (d >= JITTER_CAPACITY_FRAMES || d < 0) {
      // Far outside the window: a stray packet, or the sender restarted its sequence. Two
      // consecutive packets out there confirm a restart.
      const held = this.held;
      if (held !== undefined && wrapSequence(held.sequence + 1) === packet.sequence) {
        this.held = undefined;
        this.restartAt(held, true);
        this.push(packet);
        return 'restart';
      }
      this.dropHeld();
      this.held = packet;
      return 'held';
    }
    return this.insert(ext, packet);
  }

  /**
   * Everything due at `now`, in timeline order. Call it often (every 10-20 ms); output for slots
   * that passed between calls comes out together. `out` (appended to, then returned) lets a caller
   * that polls many buffers every tick reuse one array.
   */
  poll(now: number, out: JitterOutput[] = []): JitterOutput[] {
    while (this.playing) {
      if (this.nextPlayoutAt > now) {
        // Catch up when a hiccup left more buffered than the delay needs (bounds latency).
        if (this.highestExt - this.nextExt + 1 <= this.overfullFrames()) break;
        this.nextPlayoutAt = now;
      }
      if (!this.emitSlot(out)) this.playing = false;
    }
    return out;
  }

  /**
   * Emits everything buffered at once (frames and lost markers between them), then stalls. A held
   * far-jump packet was never confirmed: it is counted stray.
   */
  flush(now: number): JitterOutput[] {
    const out: JitterOutput[] = [];
    this.dropHeld();
    if (!this.playing) return out;
    this.nextPlayoutAt = Math.min(this.nextPlayoutAt, now);
    while (this.emitSlot(out)) this.nextPlayoutAt = Math.min(this.nextPlayoutAt, now);
    this.playing = false;
    return out;
  }

  /** Forgets all state (counters are kept; packets still buffered are counted discarded). */
  reset(): void {
    this.clearRing();
    this.started = false;
    this.playing = false;
    this.refValid = false;
    this.dropHeld();
    this.lastTimestamp = undefined;
    this.historyExt.fill(Number.NaN);
  }

  stats(): JitterBufferStats {
    return {
      ...this.counters,
      buffered: this.buffered,
      held: this.held === undefined ? 0 : 1,
      jitterMs: this.jitter,
      targetDelayMs: this.target,
    };
  }

  // ---- internals ----

  private overfullFrames(): number {
    return Math.ceil(this.target / FRAME_DURATION_MS) + OVERFULL_SLACK_FRAMES;
  }

  /** Plays the slot `nextExt`. Returns false (nothing emitted) when the buffer is empty. */
  private emitSlot(out: JitterOutput[]): boolean {
    if (this.buffered === 0) return false;
    const ext = this.nextExt;
    const idx = ext & (RING - 1);
    const slot = this.ring[idx];
    const at = this.nextPlayoutAt;
    if (slot !== undefined && this.ringExt[idx] === ext) {
      this.ring[idx] = undefined;
      this.buffered--;
      this.lastTimestamp = slot.timestamp;
      slot.playoutAt = at;
      out.push(slot);
      this.remember(ext, 1);
    } else {
      const timestamp = this.interpolateTimestamp(ext);
      this.lastTimestamp = timestamp;
      const nextIdx = (ext + 1) & (RING - 1);
      const nextSlot = this.ring[nextIdx];
      const lost: JitterLost = { kind: 'lost', sequence: wrapSequence(ext), timestamp, playoutAt: at };
      if (nextSlot !== undefined && this.ringExt[nextIdx] === ext + 1) lost.next = nextSlot.payload;
      out.push(lost);
      this.counters.lost++;
      this.remember(ext, 2);
    }
    this.nextExt = ext + 1;
    this.nextPlayoutAt = at + FRAME_DURATION_MS;
    return true;
  }

  private interpolateTimestamp(ext: number): number {
    if (this.lastTimestamp !== undefined) return addTimestamp(this.lastTimestamp, SAMPLES_PER_FRAME);
    // After a restart nothing was played yet: count back from the nearest buffered packet.
    for (let k = 1; k < RING; k++) {
      const i = (ext + k) & (RING - 1);
      const s = this.ring[i];
      if (s !== undefined && this.ringExt[i] === ext + k)
        return addTimestamp(s.timestamp, -k * SAMPLES_PER_FRAME);
    }
    return 0;
  }

  private remember(ext: number, kind: 1 | 2): void {
    const i = ext & (HISTORY - 1);
    this.historyExt[i] = ext;
    this.historyKind[i] = kind;
  }

  private behind(ext: number, packet: JitterPacket): JitterPushResult {
    const i = ext & (HISTORY - 1);
    if (this.historyExt[i] === ext && this.historyKind[i] === 1) {
      this.counters.duplicate++;
      return 'duplicate';
    }
    this.counters.late++;
    if (this.adaptive && this.playing) {
      // How far past its slot it came: raise the delay by that much (rounded to frames) at once.
      const slotAt = this.nextPlayoutAt - (this.nextExt - ext) * FRAME_DURATION_MS;
      const lateBy = Math.max(FRAME_DURATION_MS, roundUpToFrame(packet.receivedAt - slotAt));
      const boosted = clamp(this.target + lateBy, this.minDelay, this.maxDelay);
      this.lateBoost = boosted;
      this.lateBoostAt = packet.receivedAt;
      if (boosted > this.target) {
        this.nextPlayoutAt += boosted - this.target;
        this.target = boosted;
      }
    }
    return 'late';
  }

  private insert(ext: number, packet: JitterPacket): JitterPushResult {
    const idx = ext & (RING - 1);
    const existing = this.ring[idx];
    if (existing !== undefined && this.ringExt[idx] === ext) {
      this.counters.duplicate++;
      return 'duplicate';
    }
    this.ring[idx] = {
      kind: 'frame',
      sequence: packet.sequence,
      timestamp: packet.timestamp,
      receivedAt: packet.receivedAt,
      payload: packet.payload,
      playoutAt: 0,
    };
    this.ringExt[idx] = ext;
    if (this.buffered === 0 || ext > this.highestExt) this.highestExt = ext;
    this.buffered++;
    this.counters.received++;
    this.observe(ext, packet);
    return 'buffered';
  }

  /** Feeds the RFC 3550 jitter estimate from packets that advance the sequence. */
  private observe(ext: number, packet: JitterPacket): void {
    if (!this.refValid) {
      this.setReference(ext, packet);
      return;
    }
    if (ext <= this.refExt) return;
    const seqDelta = ext - this.refExt;
    const tsDelta = tsDiff(packet.timestamp, this.refTs);
    const arrivalDelta = packet.receivedAt - this.refArrival;
    if (isTimestampJump(seqDelta, tsDelta)) {
      this.counters.timestampJumps++;
    } else if (arrivalDelta >= 0 && arrivalDelta <= JITTER_REFERENCE_MAX_GAP_MS) {
      const transitChange = Math.abs(arrivalDelta - tsDelta / SAMPLES_PER_MS);
      this.jitter += (transitChange - this.jitter) / 16;
    }
    this.setReference(ext, packet);
  }

  private setReference(ext: number, packet: JitterPacket): void {
    this.refValid = true;
    this.refExt = ext;
    this.refTs = packet.timestamp;
    this.refArrival = packet.receivedAt;
  }

  /** Restarts the playout clock after a stall; `gap` missing packets come out as lost markers at once. */
  private resume(ext: number, gap: number, packet: JitterPacket): void {
    this.adaptTarget(packet.receivedAt);
    // A pause between talk spurts is not jitter: start a fresh reference.
    this.refValid = false;
    this.playing = true;
    this.nextPlayoutAt = packet.receivedAt + this.target - gap * FRAME_DURATION_MS;
    this.insert(ext, packet);
  }

  private restartAt(packet: JitterPacket, counted: boolean): void {
    if (counted) this.counters.restarts++;
    this.clearRing();
    this.historyExt.fill(Number.NaN);
    this.dropHeld();
    this.lastTimestamp = undefined;
    this.started = true;
    this.nextExt = packet.sequence;
    this.adaptTarget(packet.receivedAt);
    this.refValid = false;
    this.playing = true;
    this.nextPlayoutAt = packet.receivedAt + this.target;
    this.insert(packet.sequence, packet);
  }

  /** At a talk-spurt start: delay from the jitter estimate and any recent late-packet boost. */
  private adaptTarget(now: number): void {
    if (!this.adaptive || !this.started || this.counters.received === 0) return;
    const fromJitter = roundUpToFrame(FRAME_DURATION_MS + 3 * this.jitter);
    const decaySteps = Math.floor(Math.max(0, now - this.lateBoostAt) / LATE_BOOST_DECAY_MS);
    const boost = this.lateBoost - decaySteps * FRAME_DURATION_MS;
    this.target = clamp(Math.max(fromJitter, boost), this.minDelay, this.maxDelay);
  }

  /** Empties the ring; what was buffered is never played. */
  private clearRing(): void {
    this.counters.discarded += this.buffered;
    this.ring.fill(undefined);
    this.buffered = 0;
  }

  /** Gives up on the held far-jump packet (it was never confirmed). */
  private dropHeld(): void {
    if (this.held === undefined) return;
    this.held = undefined;
    this.counters.stray++;
  }
}
