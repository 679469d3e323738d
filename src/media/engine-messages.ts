/**
 * Messages between the worker engine (main thread) and its worker. Commands travel in ordered
 * batches (one postMessage per event-loop turn, or, for a batch of frames only, the frame ring:
 * frame-ring.ts), numbered so that an endBurst never overtakes the frames queued before it;
 * events come back by message.
 */
import type { VoxcordErrorCode } from '../errors.js';
import type { EncryptionMode } from '../protocol/constants.js';
import type {
  DiscoveredAddress,
  FileFeedOptions,
  MediaChannelOptions,
  MediaChannelStats,
  RtpDropReason,
  SendCounts,
  SendDropReason,
} from './media-engine.js';
import type { ChannelTuning } from './udp-channel.js';
import type { FeedFile } from './file-feed.js';
import type { PacingClockStats } from './clock.js';
import type { PackedRtp } from './rtp-batch.js';
import type { RealtimeOutcome } from './realtime.js';

export type WorkerCommand =
  | { t: 'open'; req: number; id: number; options: MediaChannelOptions }
  | { t: 'discover'; req: number; id: number }
  | { t: 'transport'; id: number; mode: EncryptionMode; key: Uint8Array }
  /** The next `runs` runs of frames of the batch's `frames` (send-batch.ts: one run per channel's consecutive frames). */
  | { t: 'frames'; runs: number }
  /**
   * Frame protection (media-engine.ts FrameProtection). `secret`: the DAVE sender base secret for
   * 'encrypt' (structured-cloned to the worker, never logged).
   */
  | {
      t: 'protect';
      id: number;
      mode: 'plain' | 'encrypt' | 'hold' | 'drop';
      secret?: Uint8Array;
      reason?: SendDropReason;
    }
  | { t: 'endBurst'; id: number }
  | { t: 'clear'; id: number }
  /** Takes the unsent frames back (reply: TakenFrames). */
  | { t: 'take'; req: number; id: number }
  | { t: 'stats'; req: number; id: number }
  /** The worker's pacing clock counters (reply: PacingClockStats). */
  | { t: 'clock'; req: number }
  /**
   * The worker's own memory (reply: WorkerMemory; diagnostics). `collect`: run a full collection
   * first where the process exposes one (--expose-gc), so that heapUsed is the live size.
   */
  | { t: 'memory'; req: number; collect?: boolean }
  | { t: 'close'; id: number }
  /**
   * Plays a local Ogg Opus file into the channel (file-feed.ts); see MediaChannel.feedOggOpusFile.
   * Its file follows in a 'feedFile' command, once the main thread has opened it.
   */
  | { t: 'feed'; id: number; feed: number; options: FileFeedOptions }
  /** Feed `feed`'s file (its descriptor stays the main side's, closed after the feed's end); null: it could not be opened. */
  | { t: 'feedFile'; id: number; feed: number; file: FeedFile | null }
  /** Stops the channel's feed `feed` (reply: the frames it had taken; null when it had ended). */
  | { t: 'feedStop'; req: number; id: number; feed: number }
  | { t: 'shutdown'; req: number };

export interface CommandBatch {
  t: 'batch';
  /**
   * Its place among the main side's batches, counted with the frame ring's (frame-ring.ts); the
   * worker applies them in this order. Absent: a wake-up only (no commands), to look at the ring.
   */
  seq?: number;
  cmds: WorkerCommand[];
  /** Every frame of the batch and its run index (send-batch.ts; transferred, not cloned); absent when there is none. */
  frames?: FrameBatch;
}

/** The frames of a command batch, back to back, and their run index (layout: send-batch.ts). */
export interface FrameBatch {
  data: ArrayBuffer;
  /** Uint32 words. */
  index: ArrayBuffer;
}

export interface SerializedError {
  code: VoxcordErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Frames taken back from a channel, packed: frame k spans data[ends[k-1] (or 0), ends[k]). */
export interface TakenFrames {
  data: ArrayBuffer;
  ends: number[];
  /** The channel's send counts at that moment (final once it is closed). */
  sent: SendCounts;
}

/**
 * One worker's memory as its own isolate sees it (bytes): V8's heap by space, and what V8 counts
 * outside it. RSS is the process's (threads share it), so it is not repeated here.
 */
export interface WorkerMemory {
  heapTotal: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript ones (Buffers, ArrayBuffers, sockets). */
  external: number;
  arrayBuffers: number;
  /** V8's own malloc (zone memory of the compiler, parser...), outside the heap spaces. */
  mallocedMemory: number;
  /** Each heap space: reserved (`size`), in use, and resident (`physical`). */
  spaces: { name: string; size: number; used: number; physical: number }[];
}

export type ReplyValue =
  DiscoveredAddress | MediaChannelStats | TakenFrames | PacingClockStats | WorkerMemory | number | null;

export type WorkerEvent =
  | { t: 'reply'; req: number; ok: true; value: ReplyValue }
  | { t: 'reply'; req: number; ok: false; error: SerializedError }
  | { t: 'drop'; id: number; reason: RtpDropReason }
  | { t: 'burstEnd'; id: number }
  | { t: 'error'; id: number; error: SerializedError }
  | { t: 'closed'; id: number }
  /**
   * A file feed's progress (`end` absent) or end: the frames it had taken at their tick. Sent after
   * the dequeue report that carries the same counts.
   */
  | {
      t: 'feed';
      id: number;
      /** The main side's number for the feed (its 'feed' command's). */
      feed: number;
      frames: number;
      /** When `frames` was counted (the worker's performance.now()); progress reports only. */
      at?: number;
      /** At the end: the frames it had queued and threw away. */
      discarded?: number;
      end?: 'finished' | 'failed' | 'stopped';
      error?: SerializedError;
    };

/**
 * Received packets of one message, packed (two transfers per message, no object per packet; the
 * layout is rtp-batch.ts's). The main side handles them before the message's events.
 */
export type WorkerToMain =
  /** `realtime`: the outcome of WorkerData.realtime, when it was asked for. */
  | { t: 'ready'; timeOrigin: number; realtime?: RealtimeOutcome }
  | {
      t: 'events';
      events: WorkerEvent[];
      rtp?: PackedRtp;
      /**
       * Dequeue reports (send-batch.ts layout, transferred): frames the worker has taken off each
       * channel's queue so far (sent, dropped or cleared) and its send counts. Sent when a queue is
       * at or below the low-water mark (or emptied, or a burst ended, or frames were dropped), not
       * per frame. The main side reads them after `rtp` and before `events`.
       */
      reports?: ArrayBuffer;
    };

/** Channel knobs passed as workerData (plain data only). */
export interface WorkerData {
  tuning: ChannelTuning;
  /** The drain threshold the main side uses: the worker reports dequeues once at or below it. */
  lowWaterMark: number;
  /**
   * Where the worker publishes its clock's running counts for the shard policy, as Uint32 words:
   * [ticks delivered, ticks started more than LATE_TICK_MS late] (read without a message).
   */
  clockCounts?: SharedArrayBuffer;
  /** The frame ring's memory (frame-ring.ts): frames-only batches come this way while the worker polls. */
  frameRing?: SharedArrayBuffer;
  /**
   * Cycle 0 of the worker's clock, wall time (performance.timeOrigin + performance.now() ms): the
   * engine staggers its workers' phases (shard-policy.ts shardClockOffsetMs).
   */
  clockEpoch?: number;
  /** SCHED_FIFO priority to run the worker's thread at (realtime.ts); absent: normal scheduling. */
  realtime?: number;
  /** Where the worker writes its late-tick trace (late-tick-trace.ts); absent: no trace. */
  lateTrace?: SharedArrayBuffer;
}
