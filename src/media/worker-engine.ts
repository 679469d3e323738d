/**
 * The media engine in worker threads (the default engine): clock, RTP, transport encryption and
 * UDP run there, so a busy main thread does not delay packets. Channels are spread over one or more
 * workers (shards, each with its own clock; see shard-policy.ts for when a second one starts). The main side keeps a proxy per
 * channel: it mirrors the send queue length (from the worker's dequeue reports), computes 'drain'
 * itself, and re-emits the worker's events. Commands are batched once per event-loop turn,
 * preserving order; the frames of a batch travel packed in one transferred buffer.
 *
 * A worker is unref'd while no channel of it is open and no request is pending, so a process that
 * forgets to close the engine still exits once its channels are closed.
 */
import { lateTraceMemory, readLateTrace } from './late-tick-trace.js';
import type { LateTraceRecord } from './late-tick-trace.js';
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { VoxcordError } from '../errors.js';
import { SUPPORTED_MODES, TRANSPORT_KEY_BYTES } from '../protocol/constants.js';
import type { EncryptionMode } from '../protocol/constants.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type {
  CommandBatch,
  ReplyValue,
  SerializedError,
  WorkerCommand,
  WorkerData,
  WorkerEvent,
  WorkerMemory,
  WorkerToMain,
  TakenFrames,
} from './engine-messages.js';
import { emptySendDrops, SEND_DROP_REASONS } from './media-engine.js';
import { readRtpBatch } from './rtp-batch.js';
import { FrameBatchWriter, readDequeueReports } from './send-batch.js';
import type { PacingClockStats } from './clock.js';
import { isOverloaded, placeChannel, shardClockOffsetMs, shardPolicy } from './shard-policy.js';
import type { ShardPolicy } from './shard-policy.js';
import type {
  DiscoveredAddress,
  EngineWorkerStats,
  FileFeedEnd,
  FileFeedOptions,
  MediaEngineStats,
  MediaFileFeed,
  FrameProtection,
  SendCounts,
  MediaChannel,
  MediaChannelEvents,
  MediaChannelOptions,
  MediaChannelStats,
  MediaEngine,
  MediaWorkerReady,
  ReceivedRtp,
} from './media-engine.js';
import type { ChannelTuning } from './udp-channel.js';
import { realtimePriority } from './realtime.js';
import { openFeedFile } from './file-feed.js';
import { FrameRingWriter, createFrameRingMemory, nextBatchSeq } from './frame-ring.js';
import { inputError } from '../audio/input-error.js';
import type { RealtimeOutcome } from './realtime.js';

/**
 * Queue marks of the worker engine (unless set in ChannelTuning): deeper than inline, so the
 * worker still has 300 ms of frames when the main thread (which feeds it) blocks.
 */
export const WORKER_HIGH_WATER_MARK = 25;
export const WORKER_LOW_WATER_MARK = 15;
/** Packed frame bytes per message, at most (the worker copies frames out: no queued frame pins one). */
const BATCH_DATA_BYTES = 32 * 1024;

export interface WorkerEngineOptions {
  channel?: ChannelTuning;
  /**
   * Accepted for compatibility; no effect. Frames are copied once into a packed buffer that is
   * transferred to the worker, so the caller's arrays are never detached.
   */
  transferFrames?: boolean;
  /**
   * Worker threads. 'auto' (default): one, and another (up to the cores available, at most
   * MAX_AUTO_WORKERS) once no worker's clock keeps up (see shard-policy.ts); a handful of connections
   * never starts a second one. A number K: up to K workers, channels spread evenly over them.
   */
  workers?: number | 'auto';
  /** Replaces the placement policy that `workers` implies (tests: small thresholds). */
  policy?: ShardPolicy;
  /** Real-time scheduling of the workers' threads (CreateMediaEngineOptions.realtime, realtime.ts). */
  realtime?: boolean | number;
  /** Called as each worker starts (also one that replaces a dead worker), e.g. to log its scheduling. */
  onWorkerReady?: (worker: MediaWorkerReady) => void;
  /** Diagnostics: each worker traces its late deliveries (late-tick-trace.ts, `lateTickTrace()`). */
  traceLateTicks?: boolean;
}

/**
 * The worker's young generation cap (MiB). V8 grows the nursery with the allocation rate (to tens
 * of MiB at 1000 channels) while almost nothing in it survives a tick: a small one keeps RSS down
 * (N = 300 with DAVE: 250 -> 192 KiB per channel at 6) for more, cheap scavenges. V8 commits two
 * semi-spaces of a third of it each: 6 -> 3 left each worker 2 MiB smaller (new space 4 -> 2 MiB;
 * `bench/engine-memory.ts`, N = 1000 with DAVE, 13 alternated pairs: 4-7 KiB per channel less
 * with 2 workers), old space the same, twice the scavenges at about 0.6x the pause each.
 */
export const WORKER_YOUNG_GENERATION_MB = 3;

/** Most workers the `workers` option accepts. */
export const MAX_WORKERS = 16;

function queueMarks(tuning: ChannelTuning): { high: number; low: number } {
  const high = Math.max(1, tuning.highWaterMark ?? WORKER_HIGH_WATER_MARK);
  const low = Math.min(high - 1, Math.max(0, tuning.lowWaterMark ?? WORKER_LOW_WATER_MARK));
  return { high, low };
}

function total(counts: SendCounts): number {
  let n = counts.encrypted + counts.plain + counts.emptyTicks;
  for (const reason of SEND_DROP_REASONS) n += counts.dropped[reason];
  return n;
}

function deserialize(e: SerializedError): VoxcordError {
  return new VoxcordError(e.code, e.message, e.details === undefined ? undefined : { details: e.details });
}

/** Node flags that load code into every new thread (tsx, ts-node, APM agents, dotenv...). */
const PRELOAD_FLAGS: ReadonlySet<string> = new Set([
  '--import',
  '--require',
  '-r',
  '--loader',
  '--experimental-loader',
]);

/**
 * The host's execArgv without its preload flags (`--import x`, `--require=x`, ...). The worker runs
 * only our own modules, and a worker inherits the host's execArgv, so without this each start also
 * loads the host's preloads: with `--import tsx` that is about 45 ms more before the first packet.
 */
export function withoutPreloads(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.indexOf('=');
    if (PRELOAD_FLAGS.has(eq === -1 ? arg : arg.slice(0, eq))) {
      if (eq === -1) i += 1; // the value is the next argument
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

/** The flags named by ERR_WORKER_INVALID_EXEC_ARGV ("...invalid execArgv flags: --a, --b=1"). */
export function invalidExecArgv(message: string): Set<string> {
  const at = message.lastIndexOf(': ');
  if (at === -1) return new Set();
  return new Set(
    message
      .slice(at + 2)
      .split(', ')
      .map((flag) => flag.trim())
      .filter((flag) => flag.length > 0),
  );
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/**
 * new Worker() with the host's execArgv minus its preloads. An explicit execArgv may not hold
 * process-wide flags (--expose-gc, --max-old-space-size...; they apply to every thread anyway):
 * Node names them in the error, so they are dropped and the worker started again; failing that, it
 * inherits everything, as before.
 */
function newWorker(entry: string | URL, options: WorkerOptions): Worker {
  const execArgv = withoutPreloads(process.execArgv);
  if (execArgv.length === process.execArgv.length) return new Worker(entry, options);
  try {
    return new Worker(entry, { ...options, execArgv });
  } catch (err) {
    if (errorCode(err) !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    const invalid = invalidExecArgv(err instanceof Error ? err.message : '');
    try {
      return new Worker(entry, { ...options, execArgv: execArgv.filter((arg) => !invalid.has(arg)) });
    } catch (again) {
      if (errorCode(again) !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw again;
      return new Worker(entry, options);
    }
  }
}

/**
 * The worker's entry in dist: the one-module bundle that `npm run build` writes (each worker loads
 * its own copy of its modules; one module instead of 34 leaves a worker about 2 MiB smaller), or
 * tsc's engine-worker.js when the bundle is missing (a build that ran tsc only).
 */
function distEntry(here: string): URL {
  const bundle = new URL('./engine-worker.bundle.js', here);
  return existsSync(bundle) ? bundle : new URL('./engine-worker.js', here);
}

/** Starts the worker: the .js file from dist, or the .ts source through tsx when running from source. */
function startWorker(data: WorkerData): Worker {
  const here = import.meta.url;
  const limits = { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
  if (!here.endsWith('.ts')) {
    return newWorker(distEntry(here), { workerData: data, ...limits });
  }
  // Node 20 does not apply `--import tsx` to a worker's entry module, so a small bootstrap
  // registers tsx and then imports the TypeScript worker.
  // require.resolve finds the CommonJS build; the worker needs tsx's ESM API next to it.
  const cjs = createRequire(here).resolve('tsx/esm/api');
  const esm = cjs.replace(/\.cjs$/, '.mjs');
  const tsxApi = pathToFileURL(existsSync(esm) ? esm : cjs).href;
  const entry = new URL('./engine-worker.ts', here).href;
  const bootstrap =
    `import(${JSON.stringify(tsxApi)}).then((m) => { (m.register ?? m.default.register)(); ` +
    `return import(${JSON.stringify(entry)}); });`;
  return newWorker(bootstrap, { eval: true, workerData: data, ...limits });
}

interface Pending {
  resolve(value: ReplyValue): void;
  reject(error: VoxcordError): void;
}

/** How often a shard's event-loop utilisation is re-read (at most; only when a channel opens). */
const UTILIZATION_SAMPLE_MS = 250;
/** How long an extra shard with no channel is kept before its worker is stopped. */
export const SHARD_IDLE_MS = 10_000;

interface ShardHost {
  tuning: ChannelTuning;
  lowWaterMark: number;
  /** SCHED_FIFO priority for the workers' threads (WorkerEngineOptions.realtime), if any. */
  realtime: number | undefined;
  /** Each worker writes a late-tick trace (WorkerEngineOptions.traceLateTicks). */
  traceLateTicks: boolean;
  onWorkerReady: ((worker: MediaWorkerReady) => void) | undefined;
  /** The shard's worker died; `lost`: queued audio frames that went with it. */
  onShardDeath(shard: WorkerShard, lost: number): void;
  /** The shard's last channel closed. */
  onShardEmpty(shard: WorkerShard): void;
  policy: ShardPolicy;
}

/**
 * One worker thread and the proxies of the channels it hosts: its own pacing clock, command
 * batches and pending requests. The engine owns one or more of them.
 */
/** A file feed of a shard's channel, by its number (kept past the channel's close: its end comes after). */
interface FeedRecord {
  frames: number;
  framesAt: number;
  discarded: number;
  onEnd: (end: FileFeedEnd) => void;
  /** Its file, open on this thread while the worker may read it (closed at the end). */
  file?: FileHandle;
  /** Why the file could not be opened (the worker's failure then reports this). */
  openError?: Error;
}
let nextFeed = 1;

class WorkerShard {
  readonly worker: Worker;
  readonly channels = new Map<number, WorkerMediaChannel>();
  private readonly feeds = new Map<number, FeedRecord>();
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private batch: WorkerCommand[] = [];
  /** Frames of the current batch, packed in runs (send-batch.ts). */
  private readonly frames = new FrameBatchWriter(BATCH_DATA_BYTES);
  /** The batch's last command, when it is the frames marker the open run belongs to. */
  private framesCmd: Extract<WorkerCommand, { t: 'frames' }> | undefined;
  private flushQueued = false;
  private readonly flushNow = (): void => this.flush();
  /** Frames-only batches go to the worker through shared memory while it polls (frame-ring.ts). */
  private readonly ring = new FrameRingWriter(createFrameRingMemory());
  /** The sequence number of the next batch, whichever way it goes (frame-ring.ts). */
  private seq = 0;
  /** Batches that went through the ring, and through the port (WorkerMediaEngine.batchCounts). */
  readonly batchesBy = { ring: 0, port: 0 };
  private reffed = true;
  /** The worker answered 'ready' (it is unref'd only after: stopping a worker mid-start-up can hang exit). */
  private started = false;
  /** worker performance.timeOrigin - ours, to move receivedAt onto our clock. */
  private timeOffset = 0;
  /** Its thread's real-time scheduling, as the worker reported it with 'ready' (when asked for). */
  realtime: RealtimeOutcome | undefined;
  dead: VoxcordError | undefined;
  private closing: Promise<void> | undefined;
  private elu: EventLoopUtilization | undefined;
  private eluAt = 0;
  private lastUtilization = 0;
  /** The worker's clock counts, [ticks, late ticks] (engine-messages.ts WorkerData.clockCounts). */
  private readonly clockCounts = new Uint32Array(new SharedArrayBuffer(8));
  /** The worker's late-tick trace, when the engine asked for one. */
  readonly lateTrace: SharedArrayBuffer | undefined;
  private ticksAt = 0;
  private lateAt = 0;
  /** Its clock could not keep up at the last sample (shard-policy.ts isOverloaded, with hysteresis). */
  private overloadedNow = false;

  constructor(
    private readonly host: ShardHost,
    /** Its place among the engine's shards (its clock's phase offset; reused once freed). */
    readonly slot: number,
    clockEpoch: number,
  ) {
    this.lateTrace = host.traceLateTicks ? lateTraceMemory() : undefined;
    this.worker = startWorker({
      tuning: host.tuning,
      lowWaterMark: host.lowWaterMark,
      clockCounts: this.clockCounts.buffer,
      frameRing: this.ring.memory,
      clockEpoch,
      ...(host.realtime === undefined ? {} : { realtime: host.realtime }),
      ...(this.lateTrace === undefined ? {} : { lateTrace: this.lateTrace }),
    });
    this.updateRef();
    this.worker.on('message', (msg: WorkerToMain) => this.onMessage(msg));
    this.worker.on('error', (err) =>
      this.onDeath(new VoxcordError('UDP_ERROR', 'media worker failed', { cause: err })),
    );
    this.worker.on('exit', (code) => {
      if (this.closing === undefined) {
        this.onDeath(new VoxcordError('UDP_ERROR', `media worker exited (code ${code})`));
      }
    });
  }

  /** Event-loop utilisation since the previous sample (re-read at most every UTILIZATION_SAMPLE_MS). */
  utilization(now = performance.now()): number {
    this.sample(now);
    return this.lastUtilization;
  }

  /** The clock's [deliveries, late deliveries] so far (Uint32, wrapping), read from shared memory. */
  clockCountsNow(): { ticksDelivered: number; lateTicks: number } {
    return {
      ticksDelivered: Atomics.load(this.clockCounts, 0),
      lateTicks: Atomics.load(this.clockCounts, 1),
    };
  }

  /** Whether the worker's clock keeps up, from its own signals (busy share, late deliveries). */
  overloaded(now = performance.now()): boolean {
    this.sample(now);
    return this.overloadedNow;
  }

  private sample(now: number): void {
    if (!this.started || this.dead !== undefined) return;
    if (this.elu !== undefined && now - this.eluAt < UTILIZATION_SAMPLE_MS) return;
    const elu = this.worker.performance.eventLoopUtilization();
    const { ticksDelivered: ticks, lateTicks: late } = this.clockCountsNow();
    if (this.elu !== undefined) {
      this.lastUtilization = this.worker.performance.eventLoopUtilization(elu, this.elu).utilization;
      // Uint32 counters: the differences wrap correctly.
      const delivered = (ticks - this.ticksAt) >>> 0;
      const lateShare = delivered > 0 ? ((late - this.lateAt) >>> 0) / delivered : 0;
      this.overloadedNow = isOverloaded(
        this.overloadedNow,
        { utilization: this.lastUtilization, lateShare },
        this.host.policy,
      );
    }
    this.elu = elu;
    this.eluAt = now;
    this.ticksAt = ticks;
    this.lateAt = late;
  }

  async openChannel(id: number, options: MediaChannelOptions): Promise<MediaChannel> {
    const channel = new WorkerMediaChannel(this, id, this.host.tuning);
    this.channels.set(id, channel);
    try {
      await this.request((req) => ({ t: 'open', req, id, options }));
    } catch (err) {
      this.forget(id);
      throw err;
    }
    return channel;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead === undefined) {
        try {
          await this.request((req) => ({ t: 'shutdown', req }));
        } catch {
          // the worker is going away regardless
        }
      }
      for (const ch of this.channels.values()) ch.markClosed();
      this.channels.clear();
      this.dead ??= new VoxcordError('DESTROYED', 'media engine is closed');
      await this.worker.terminate();
    })();
    return this.closing;
  }

  // ---- used by channels ----

  command(cmd: WorkerCommand): void {
    if (this.dead) return;
    this.batch.push(cmd);
    // Frames queued after this command go in a run of their own, after it.
    this.framesCmd = undefined;
    this.frames.breakRun();
    this.scheduleFlush();
  }

  /**
   * Copies a frame into the batch's packed buffer. Consecutive frames of a channel share one run,
   * and consecutive runs (the refill of many channels) one command: no object per frame or channel.
   */
  frame(id: number, frame: Uint8Array): void {
    if (this.dead) return;
    if (!this.frames.fits(frame.length)) this.flush();
    const opened = this.frames.add(id, frame);
    if (this.framesCmd === undefined) {
      this.framesCmd = { t: 'frames', runs: 1 };
      this.batch.push(this.framesCmd);
    } else if (opened) this.framesCmd.runs++;
    this.scheduleFlush();
  }

  request(make: (req: number) => WorkerCommand): Promise<ReplyValue> {
    if (this.dead) return Promise.reject(this.dead);
    const req = this.nextReq++;
    return new Promise<ReplyValue>((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.updateRef();
      this.command(make(req));
    });
  }

  forget(id: number): void {
    if (!this.channels.delete(id)) return;
    this.updateRef();
    if (this.channels.size === 0 && this.dead === undefined) this.host.onShardEmpty(this);
  }

  /** Keeps the process alive only while the worker has something to do for us. */
  private updateRef(): void {
    const busy =
      this.dead === undefined && (!this.started || this.channels.size > 0 || this.pending.size > 0);
    if (busy === this.reffed) return;
    this.reffed = busy;
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Once per loop turn: every channel woken by the same 'drain' batch shares one message.
    setImmediate(this.flushNow);
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.batch.length === 0 || this.dead) return;
    const seq = this.seq;
    this.seq = nextBatchSeq(seq);
    const cmds = this.batch;
    this.batch = [];
    this.framesCmd = undefined;
    // Frames only, and the worker's clock runs within a period: no message (frame-ring.ts).
    const view =
      this.ring.workerPolling && cmds.every((cmd) => cmd.t === 'frames') ? this.frames.view() : undefined;
    if (view !== undefined && this.ring.write(seq, view)) {
      this.frames.clear();
      this.batchesBy.ring++;
      // It stopped polling meanwhile and may not have seen the batch: wake it.
      if (!this.ring.workerPolling) this.worker.postMessage({ t: 'batch', cmds: [] } satisfies CommandBatch);
      return;
    }
    this.batchesBy.port++;
    const message: CommandBatch = { t: 'batch', seq, cmds };
    // Exact-size copies go (transferred); the scratch buffers stay for the next batch.
    const frames = this.frames.take();
    if (frames !== undefined) {
      message.frames = frames;
      this.worker.postMessage(message, [frames.data, frames.index]);
    } else {
      this.worker.postMessage(message);
    }
  }

  private onMessage(msg: WorkerToMain): void {
    if (msg.t === 'ready') {
      this.timeOffset = msg.timeOrigin - performance.timeOrigin;
      this.started = true;
      this.realtime = msg.realtime;
      this.updateRef();
      this.host.onWorkerReady?.({
        slot: this.slot,
        ...(msg.realtime === undefined ? {} : { realtime: msg.realtime }),
      });
      return;
    }
    // Received packets first: they arrived before the events posted with them (a channel's
    // 'closed' must not overtake its last packets).
    if (msg.rtp !== undefined) readRtpBatch(msg.rtp, this.timeOffset, this.onRtp);
    // Queue reports next, so that `queued` is current when a 'burstEnd' or a reply is handled.
    if (msg.reports !== undefined) readDequeueReports(msg.reports, this.onReport, this.reportScratch);
    for (const e of msg.events) this.onEvent(e);
  }

  /** Each dequeue report is read into this one object; the channel copies the counts out. */
  private readonly reportScratch: SendCounts = {
    encrypted: 0,
    plain: 0,
    emptyTicks: 0,
    dropped: emptySendDrops(),
  };

  private readonly onReport = (
    id: number,
    dequeued: number,
    sent: SendCounts,
    countsAt: number | undefined,
  ): void => {
    // The worker's clock time onto this thread's.
    this.channels
      .get(id)
      ?.onDequeued(dequeued, sent, countsAt === undefined ? undefined : countsAt + this.timeOffset);
  };

  private readonly onRtp = (id: number, packet: ReceivedRtp): void => {
    this.channels.get(id)?.emit('rtp', packet);
  };

  private onEvent(e: WorkerEvent): void {
    if (e.t === 'reply') {
      const p = this.pending.get(e.req);
      if (!p) return;
      this.pending.delete(e.req);
      this.updateRef();
      if (e.ok) p.resolve(e.value);
      else p.reject(deserialize(e.error));
      return;
    }
    if (e.t === 'feed') {
      this.onFeed(e);
      return;
    }
    const ch = this.channels.get(e.id);
    if (!ch) return;
    switch (e.t) {
      case 'drop':
        ch.emit('drop', e.reason);
        break;
      case 'burstEnd':
        ch.emit('burstEnd');
        break;
      case 'error':
        ch.fail(deserialize(e.error));
        break;
      case 'closed':
        ch.markClosed();
        this.forget(e.id);
        break;
    }
  }

  /** Starts a file feed on channel `id` (WorkerMediaChannel.feedOggOpusFile). */
  startFeed(
    id: number,
    path: string,
    options: FileFeedOptions,
    onEnd: (end: FileFeedEnd) => void,
  ): MediaFileFeed {
    const serial = nextFeed++;
    const record: FeedRecord = { frames: 0, framesAt: performance.now(), discarded: 0, onEnd };
    this.feeds.set(serial, record);
    this.command({ t: 'feed', id, feed: serial, options: { ...options } });
    // Opened here, not in the worker: there the open, its checks and its close would each wait on
    // libuv's threadpool (file-feed.ts). Commands after this one still reach the worker in order.
    openFeedFile(path).then(
      ({ handle, here }) => {
        if (!this.feeds.has(serial)) return void handle.close().catch(() => undefined); // ended meanwhile
        record.file = handle;
        this.command({ t: 'feedFile', id, feed: serial, file: { fd: handle.fd, here } });
      },
      (err: unknown) => {
        if (!this.feeds.has(serial)) return;
        record.openError = inputError('the file cannot be opened', err);
        this.command({ t: 'feedFile', id, feed: serial, file: null });
      },
    );
    return {
      get frames() {
        return record.frames;
      },
      get framesAt() {
        return record.framesAt;
      },
      get discarded() {
        return record.discarded;
      },
      stop: async () => {
        if (!this.feeds.has(serial)) return record.frames;
        // Its end event comes before the reply, so record.frames is final either way.
        const frames = await this.request((req) => ({ t: 'feedStop', req, id, feed: serial })).catch(
          () => null,
        );
        return typeof frames === 'number' ? frames : record.frames;
      },
    };
  }

  private onFeed(e: Extract<WorkerEvent, { t: 'feed' }>): void {
    const record = this.feeds.get(e.feed);
    if (record === undefined) return;
    // In order, and never ahead of the end's exact count (a stop sets the end before it clears).
    const frames = e.frames;
    record.frames = frames;
    record.framesAt = e.at === undefined ? performance.now() : e.at + this.timeOffset;
    if (e.end === undefined) return;
    this.endFeed(e.feed, record);
    record.discarded = e.discarded ?? 0;
    record.onEnd(
      e.end === 'failed'
        ? {
            reason: 'failed',
            frames,
            error:
              record.openError ??
              deserialize(e.error ?? { code: 'AUDIO_INPUT_ERROR', message: 'the feed failed' }),
          }
        : { reason: e.end, frames },
    );
  }

  /** The worker no longer reads the feed's file (it ended, or the worker is gone): it is closed. */
  private endFeed(serial: number, record: FeedRecord): void {
    this.feeds.delete(serial);
    void record.file?.close().catch(() => undefined);
    record.file = undefined;
  }

  /** The worker is gone: every request fails, every channel errors, its queued frames are counted lost. */
  private onDeath(error: VoxcordError): void {
    if (this.dead) return;
    this.dead = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    let lost = 0;
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const ch of channels) lost += ch.failWithWorker(error);
    // Feeds end where the worker last reported them: the caller plays on from there.
    const feeds = [...this.feeds];
    for (const [serial, f] of feeds) this.endFeed(serial, f);
    for (const [, f] of feeds) f.onEnd({ reason: 'stopped', frames: f.frames });
    this.updateRef();
    this.host.onShardDeath(this, lost);
  }
}

/**
 * The worker engine: one worker thread (a shard) to start with, more when one worker's clock
 * cannot keep up (see shard-policy.ts). Each channel lives on one shard for its whole life; each
 * shard paces its channels with its own clock.
 */
export class WorkerMediaEngine implements MediaEngine {
  readonly kind = 'worker' as const;
  readonly transferFrames: boolean;
  private readonly host: ShardHost;
  private readonly policy: ShardPolicy;
  private shards: WorkerShard[] = [];
  private nextId = 1;
  private crashes = 0;
  private lostInCrashes = 0;
  private closing: Promise<void> | undefined;
  /** Wall time (timeOrigin-based ms) of cycle 0 of every shard's clock, before its offset. */
  private readonly clockEpoch = performance.timeOrigin + performance.now();

  constructor(options: WorkerEngineOptions = {}) {
    const workers = options.workers ?? 'auto';
    if (workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS)) {
      throw new VoxcordError('INVALID_ARGUMENT', `workers must be 'auto' or an integer 1-${MAX_WORKERS}`, {
        details: { workers: String(workers) },
      });
    }
    this.policy = options.policy ?? shardPolicy(workers);
    const marks = queueMarks(options.channel ?? {});
    const tuning = { ...options.channel, highWaterMark: marks.high, lowWaterMark: marks.low };
    this.transferFrames = options.transferFrames ?? false;
    const realtime = realtimePriority(options.realtime);
    if (realtime !== undefined && !(Number.isInteger(realtime) && realtime >= 1 && realtime <= 99)) {
      throw new VoxcordError('INVALID_ARGUMENT', 'realtime must be true, false or a priority 1-99', {
        details: { realtime: String(options.realtime) },
      });
    }
    this.host = {
      tuning,
      lowWaterMark: marks.low,
      realtime,
      traceLateTicks: options.traceLateTicks === true,
      onWorkerReady: options.onWorkerReady,
      onShardDeath: (shard, lost) => {
        this.shards = this.shards.filter((s) => s !== shard);
        if (this.closing !== undefined) return;
        this.crashes += 1;
        this.lostInCrashes += lost;
      },
      onShardEmpty: (shard) => this.retireLater(shard),
      policy: this.policy,
    };
    // The first worker starts now, so the first join does not wait for it.
    this.startShard();
  }

  /** close() was called: the engine opens no more channels. (A worker that dies is replaced.) */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Worker threads running now. */
  get workerCount(): number {
    return this.shards.length;
  }

  /** The engine's worker threads (diagnostics: threadId, resourceUsage(), heap snapshots). */
  workers(): readonly Worker[] {
    return this.shards.map((s) => s.worker);
  }

  /**
   * Each worker's clock deliveries and late deliveries so far (Uint32 counters that wrap), read
   * from shared memory: no message to the workers, so sampling it often costs them nothing. A
   * message would: the worker, woken at real-time priority while the posting thread still holds
   * the port's lock, then waits for that thread to get a core again.
   */
  clockCounts(): { ticksDelivered: number; lateTicks: number }[] {
    return this.shards.map((s) => s.clockCountsNow());
  }

  /** Per running worker, its traced late deliveries and collections (empty unless `traceLateTicks`), from shared memory. */
  lateTickTrace(): LateTraceRecord[][] {
    return this.shards.map((s) => (s.lateTrace === undefined ? [] : readLateTrace(s.lateTrace)));
  }

  /** The main side's batches to the running workers so far, by the way they went (frame-ring.ts). */
  batchCounts(): { ring: number; port: number } {
    let ring = 0;
    let port = 0;
    for (const s of this.shards) {
      ring += s.batchesBy.ring;
      port += s.batchesBy.port;
    }
    return { ring, port };
  }

  async openChannel(options: MediaChannelOptions): Promise<MediaChannel> {
    if (this.closing !== undefined) throw new VoxcordError('DESTROYED', 'media engine is closed');
    const now = performance.now();
    const loads = this.shards.map((s) => ({ channels: s.channels.size, overloaded: s.overloaded(now) }));
    const at = placeChannel(loads, this.policy);
    const shard = this.shards[at] ?? this.startShard();
    return shard.openChannel(this.nextId++, options);
  }

  async stats(): Promise<MediaEngineStats> {
    const shards = [...this.shards];
    const clocks = await Promise.all(
      shards.map((s) =>
        s
          .request((req) => ({ t: 'clock', req }))
          .then(
            (value) => value as PacingClockStats,
            () => undefined,
          ),
      ),
    );
    const perWorker: EngineWorkerStats[] = [];
    const clock: PacingClockStats = {
      slots: 0,
      ticksDelivered: 0,
      skippedCycles: 0,
      listenerErrors: 0,
      lateTicks: 0,
      timerWakeups: 0,
      immediateWakeups: 0,
    };
    shards.forEach((shard, i) => {
      const c = clocks[i];
      if (c === undefined) return; // died meanwhile: counted in workerCrashes
      for (const key of Object.keys(clock) as (keyof PacingClockStats)[]) clock[key] += c[key];
      perWorker.push({
        channels: shard.channels.size,
        utilization: shard.utilization(),
        clock: c,
        ...(shard.realtime === undefined ? {} : { realtime: shard.realtime }),
      });
    });
    return {
      workers: perWorker.length,
      channels: perWorker.reduce((n, w) => n + w.channels, 0),
      workerCrashes: this.crashes,
      framesLostInCrashes: this.lostInCrashes,
      clock,
      perWorker,
    };
  }

  /**
   * Each worker's memory as its isolate sees it (diagnostics: heap spaces, external, ArrayBuffers;
   * bench/engine-send.ts --account). A worker that dies meanwhile is left out. `collect`: each
   * worker runs a full collection first where the process runs with --expose-gc (a pause of ms).
   */
  async workerMemory(collect = false): Promise<WorkerMemory[]> {
    const all = await Promise.all(
      this.shards.map((s) =>
        s
          .request((req) => ({ t: 'memory', req, collect }))
          .then(
            (value) => value as WorkerMemory,
            () => undefined,
          ),
      ),
    );
    return all.filter((m): m is WorkerMemory => m !== undefined);
  }

  async close(): Promise<void> {
    this.closing ??= Promise.all(this.shards.map((s) => s.close())).then(() => {
      this.shards = [];
    });
    return this.closing;
  }

  private startShard(): WorkerShard {
    let slot = 0;
    while (this.shards.some((s) => s.slot === slot)) slot++;
    const epoch = this.clockEpoch + shardClockOffsetMs(slot, this.policy.maxWorkers);
    const shard = new WorkerShard(this.host, slot, epoch);
    this.shards.push(shard);
    return shard;
  }

  /** An extra shard left without channels stops after SHARD_IDLE_MS unless it got one back. */
  private retireLater(shard: WorkerShard): void {
    if (this.shards.length <= 1) return;
    const timer = setTimeout(() => {
      if (this.closing !== undefined || shard.channels.size > 0 || this.shards.length <= 1) return;
      if (!this.shards.includes(shard)) return;
      this.shards = this.shards.filter((s) => s !== shard);
      shard.close().catch(() => undefined);
    }, SHARD_IDLE_MS);
    timer.unref();
  }
}

export class WorkerMediaChannel extends TypedEmitter<MediaChannelEvents> implements MediaChannel {
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private enqueued = 0;
  private dequeued = 0;
  private needDrain = false;
  private closed = false;
  /** The worker's counts as of its last report: this channel's own object, updated in place. */
  private readonly sent: SendCounts = { encrypted: 0, plain: 0, dropped: emptySendDrops(), emptyTicks: 0 };
  /** The due time (this thread's clock) of the last tick `sent` includes, from the same report. */
  private sentAt: number | undefined;

  constructor(
    private readonly engine: WorkerShard,
    private readonly id: number,
    tuning: ChannelTuning,
  ) {
    super();
    const marks = queueMarks(tuning);
    this.highWaterMark = marks.high;
    this.lowWaterMark = marks.low;
  }

  /** Frames queued here or in the worker, as of the worker's last report. */
  get queued(): number {
    return this.enqueued - this.dequeued;
  }

  async discoverAddress(): Promise<DiscoveredAddress> {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media channel is closed');
    return (await this.engine.request((req) => ({ t: 'discover', req, id: this.id }))) as DiscoveredAddress;
  }

  setTransport(mode: EncryptionMode, key: Uint8Array): void {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media channel is closed');
    // Validate here so a bad argument throws to the caller, as the inline engine does.
    if (!SUPPORTED_MODES.includes(mode)) {
      throw new VoxcordError('INVALID_ARGUMENT', 'unsupported transport encryption mode', {
        details: { mode: String(mode) },
      });
    }
    if (!(key instanceof Uint8Array) || key.length !== TRANSPORT_KEY_BYTES) {
      throw new VoxcordError('INVALID_ARGUMENT', `transport key must be ${TRANSPORT_KEY_BYTES} bytes`);
    }
    this.engine.command({ t: 'transport', id: this.id, mode, key: Uint8Array.from(key) });
  }

  setFrameProtection(protection: FrameProtection): void {
    if (this.closed) return;
    const cmd: WorkerCommand = { t: 'protect', id: this.id, mode: protection.mode };
    if (protection.mode === 'encrypt') {
      const secret = protection.key.baseSecret();
      if (secret !== undefined) cmd.secret = Uint8Array.from(secret);
    } else if (protection.mode === 'drop') {
      cmd.reason = protection.reason;
    }
    this.engine.command(cmd);
  }

  sendCounts(): SendCounts {
    return { ...this.sent, dropped: { ...this.sent.dropped } };
  }

  sendCountsAt(): number | undefined {
    return this.closed ? undefined : this.sentAt;
  }

  /** Also after close(): the frames queued when the worker closed the channel (once). */
  async takeQueued(): Promise<Uint8Array[]> {
    let taken: TakenFrames;
    try {
      taken = (await this.engine.request((req) => ({ t: 'take', req, id: this.id }))) as TakenFrames;
    } catch {
      return []; // the worker is gone, and the frames with it
    }
    this.updateCounts(taken.sent, undefined);
    const frames: Uint8Array[] = [];
    let start = 0;
    for (const end of taken.ends) {
      frames.push(new Uint8Array(taken.data, start, end - start));
      start = end;
    }
    return frames;
  }

  enqueue(frame: Uint8Array): boolean {
    if (this.closed) return false;
    if (!(frame instanceof Uint8Array))
      throw new VoxcordError('INVALID_ARGUMENT', 'frame must be a Uint8Array');
    this.engine.frame(this.id, frame);
    this.enqueued++;
    if (this.queued >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  endBurst(): void {
    if (!this.closed) this.engine.command({ t: 'endBurst', id: this.id });
  }

  feedOggOpusFile(path: string, options: FileFeedOptions, onEnd: (end: FileFeedEnd) => void): MediaFileFeed {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media channel is closed');
    return this.engine.startFeed(this.id, path, options, onEnd);
  }

  clearQueue(): void {
    if (!this.closed) this.engine.command({ t: 'clear', id: this.id });
  }

  async stats(): Promise<MediaChannelStats> {
    if (this.closed) throw new VoxcordError('DESTROYED', 'media channel is closed');
    return (await this.engine.request((req) => ({ t: 'stats', req, id: this.id }))) as MediaChannelStats;
  }

  close(): void {
    if (this.closed) return;
    this.engine.command({ t: 'close', id: this.id });
    this.markClosed();
    this.engine.forget(this.id);
  }

  // ---- called by the engine ----

  onDequeued(count: number, sent: SendCounts, countsAt: number | undefined): void {
    this.updateCounts(sent, countsAt);
    const before = this.queued;
    this.dequeued = Math.max(this.dequeued, count);
    const now = this.queued;
    const crossed = before > this.lowWaterMark && now <= this.lowWaterMark;
    if (crossed || (this.needDrain && now <= this.lowWaterMark)) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  markClosed(): void {
    this.closed = true;
  }

  /**
   * The worker's counts (they only grow): mirror them with the tick time they are as of (undefined
   * from a reply: taken now), and report new drops as 'sendDrop'.
   */
  private updateCounts(sent: SendCounts, countsAt: number | undefined): void {
    const own = this.sent;
    if (total(sent) < total(own)) return; // an older report (a reply computed before it)
    // Copied, not kept: `sent` may be the engine's scratch object, reused for the next report.
    let dropsGrew = false;
    for (const reason of SEND_DROP_REASONS) if (sent.dropped[reason] > own.dropped[reason]) dropsGrew = true;
    // Rare: the counts before, for the 'sendDrop' events, which go once every count is current.
    const before = dropsGrew ? { ...own.dropped } : undefined;
    own.encrypted = sent.encrypted;
    own.plain = sent.plain;
    own.emptyTicks = sent.emptyTicks;
    for (const reason of SEND_DROP_REASONS) own.dropped[reason] = sent.dropped[reason];
    this.sentAt = countsAt;
    if (before === undefined) return;
    for (const reason of SEND_DROP_REASONS) {
      const more = own.dropped[reason] - before[reason];
      if (more > 0) this.emit('sendDrop', reason, more);
    }
  }

  fail(error: VoxcordError): void {
    this.markClosed();
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * The worker died with this channel's queued frames: they are counted as dropped
   * ('session-ended', with a 'sendDrop' event) before the 'error'. Returns how many.
   */
  failWithWorker(error: VoxcordError): number {
    const lost = this.closed ? 0 : Math.max(0, this.queued);
    if (lost > 0) {
      this.sent.dropped['session-ended'] += lost;
      this.dequeued = this.enqueued;
      this.emit('sendDrop', 'session-ended', lost);
    }
    this.fail(error);
    return lost;
  }
}
