/**
 * Timeline-aligned recording, pure (no I/O, no timers). One RecordingTimeline per recording gives
 * every per-user file the same origin (its start) and the same end; one TimelinePlacer per file says
 * how much silence goes before each frame, so that sample k of every file is the same instant.
 *
 * Positions are "timeline samples": 48 kHz samples per channel since the start. A frame's position
 * is its RTP timestamp (exact within and across a sender's bursts, since a sender's clock keeps
 * running through pauses, media.md §4.1) mapped onto the recording clock by an offset anchored on
 * the least-delayed packet seen (minimum of arrival - timestamp), so network jitter never moves a
 * burst; at each new burst the offset follows the best packet of the last one, so a sender clock
 * slower than ours is caught up in the pauses. A packet arriving more than RECORD_REANCHOR_MS
 * later than the mapping predicts means the sender's clock paused or restarted (a new SSRC after a
 * rejoin; a sender whose timestamp stops between bursts): the mapping re-anchors on its arrival.
 *
 * No audio is dropped: a frame placed before the end of what is already written (the anchor moved
 * earlier by a few ms) is written right after it, and the next gap absorbs the difference.
 */
import { RECORD_REANCHOR_MS, SAMPLE_RATE, SAMPLES_PER_FRAME } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkArg, checkNumber, checkOptions } from '../util/args.js';
import { tsDiff } from './sequence.js';

const SAMPLES_PER_MS = SAMPLE_RATE / 1000;
/**
 * A timestamp step this large starts a new burst (a pause: the jitter buffer fills lost slots, so
 * inside a burst steps are one frame; 100 ms also covers senders of 40 or 60 ms frames).
 */
const BURST_PAUSE_SAMPLES = 5 * SAMPLES_PER_FRAME;
/**
 * How far past now a stop or a frame may lie (tests place frames ahead of a clock they do not
 * move). Further is another clock, Date.now() against performance.now(): the silence up to it
 * would be written for decades.
 */
const CLOCK_SLACK_MS = 3_600_000;
const SLACK_SAMPLES = CLOCK_SLACK_MS * SAMPLES_PER_MS;

export interface RecordingTimelineOptions {
  /** The instant every file starts at, ms on the receiver's clock (default: now). */
  startAt?: number;
  /** The receiver's clock: the one packets' `receivedAt` is on (default performance.now). */
  now?: () => number;
}

/**
 * The shared clock of a timeline-aligned recording. Pass the same instance to every recorder
 * (`recordWav(..., { timeline })`), and call `stop()` before the streams end so that every file
 * ends at the same instant.
 */
export class RecordingTimeline {
  /** Start instant, ms on the receiver's clock. */
  readonly startAt: number;
  private readonly now: () => number;
  private end: number | undefined;

  constructor(options: RecordingTimelineOptions = {}) {
    checkOptions(options);
    checkArg(options.now, 'now', 'function', 'optional');
    this.now = options.now ?? (() => performance.now());
    const startAt = options.startAt ?? this.now();
    if (!Number.isFinite(startAt)) {
      throw new VoxcordError('INVALID_ARGUMENT', 'timeline startAt must be a finite number of ms');
    }
    this.startAt = startAt;
  }

  /** The end instant, once stop() was called. */
  get endAt(): number | undefined {
    return this.end;
  }

  /**
   * Fixes the instant every file ends at (default now; not before the start, not later than now).
   * The first call wins.
   */
  stop(at: number = this.now()): void {
    if (this.end !== undefined) return;
    checkNumber(at, 'at');
    const now = this.now();
    if (at > now + CLOCK_SLACK_MS)
      throw new VoxcordError('INVALID_ARGUMENT', `stop(at) is ${Math.round(at - now)} ms after now`, {
        details: { hint: "at is on the timeline's clock (`now`, default performance.now())" },
      });
    this.end = Math.max(at, this.startAt);
  }

  /** Timeline samples from the start to `at` (ms on the receiver's clock). */
  samplesAt(at: number): number {
    checkNumber(at, 'at');
    return (at - this.startAt) * SAMPLES_PER_MS;
  }

  /** Where a file finished now ends: at stop()'s instant, or now while the timeline runs. */
  endSamples(): number {
    return this.samplesAt(this.end ?? this.now());
  }
}

/** What the placer reads of a received frame (ReceivedFrame has both). */
export interface TimedFrame {
  /** RTP timestamp (u32, 48 kHz). */
  timestamp?: number;
  /** Arrival time on the receiver's clock; undefined for a concealed frame. */
  receivedAt?: number | undefined;
}

/** Places one sender's frames on a RecordingTimeline (one placer per file). */
export class TimelinePlacer {
  private cursor = 0;
  /** Timeline position minus unwrapped RTP timestamp; undefined until a frame has arrived. */
  private offset: number | undefined;
  private lastTimestamp: number | undefined;
  private unwrapped = 0;
  /** Least (arrival - timestamp) of the current burst. */
  private burstMin: number | undefined;
  private readonly reanchor = RECORD_REANCHOR_MS * SAMPLES_PER_MS;

  /**
   * @param quantum gaps are whole multiples of this many timeline samples (960 for an Ogg file
   *   padded with 20 ms silence packets; 48000 / rate for a WAV file at another rate).
   */
  constructor(
    private readonly timeline: RecordingTimeline,
    private readonly quantum = 1,
  ) {
    if (!(Number.isFinite(quantum) && quantum > 0)) {
      throw new VoxcordError('INVALID_ARGUMENT', 'timeline quantum must be a positive number');
    }
  }

  /** Timeline samples accounted for so far (silence and frames). */
  get position(): number {
    return this.cursor;
  }

  /**
   * Silence (timeline samples, a multiple of the quantum) to write before `frame`, which lasts
   * `samples`; both are then counted as written.
   */
  place(frame: TimedFrame, samples: number): number {
    let at = this.positionOf(frame);
    // A frame from far in the future (an arrival time on another clock) goes no further than that.
    // Only a long gap asks the clock: a frame right after the last one needs no check.
    if (at !== undefined && at > this.cursor + SLACK_SAMPLES)
      at = Math.min(at, Math.max(this.timeline.endSamples(), this.cursor) + SLACK_SAMPLES);
    const gap = at === undefined ? 0 : this.round(at - this.cursor);
    this.cursor += gap + samples;
    return gap;
  }

  /** Silence to write after the last frame so the file ends where the timeline does. */
  end(): number {
    const gap = this.round(this.timeline.endSamples() - this.cursor);
    this.cursor += gap;
    return gap;
  }

  private round(gap: number): number {
    return Math.max(0, Math.round(gap / this.quantum) * this.quantum);
  }

  private positionOf(frame: TimedFrame): number | undefined {
    const { timestamp, receivedAt } = frame;
    const arrival =
      typeof receivedAt === 'number' && Number.isFinite(receivedAt)
        ? this.timeline.samplesAt(receivedAt)
        : undefined;
    if (typeof timestamp !== 'number' || !Number.isInteger(timestamp)) return arrival;
    const step = this.lastTimestamp === undefined ? 0 : tsDiff(timestamp, this.lastTimestamp);
    this.unwrapped += step;
    this.lastTimestamp = timestamp;
    if (Math.abs(step) > BURST_PAUSE_SAMPLES && this.burstMin !== undefined && this.offset !== undefined) {
      // A new burst: catch up with a sender clock slower than ours, by the best packet of the last
      // burst (a jitter-free figure), here in the pause rather than by a jump inside a burst.
      if (this.burstMin > this.offset) this.offset = this.burstMin;
      this.burstMin = undefined;
    }
    if (arrival !== undefined) {
      const candidate = arrival - this.unwrapped;
      if (this.offset === undefined || candidate < this.offset || candidate - this.offset > this.reanchor) {
        this.offset = candidate;
      }
      this.burstMin = Math.min(this.burstMin ?? candidate, candidate);
    }
    return this.offset === undefined ? undefined : this.unwrapped + this.offset;
  }
}
