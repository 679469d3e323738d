/**
 * Worker-thread side of the worker engine: runs one pacing clock and the UDP channels, driven by
 * command batches from the main thread; events go back in batches once per event-loop turn.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isVoxcordError, VoxcordError } from '../errors.js';
import { ENGINE_SLOTS_PER_BUCKET, PacingClock } from './clock.js';
import { FRAME_DURATION_MS } from '../protocol/constants.js';
import { DaveSendKey } from '../dave/send-key.js';
import type { FileFeedOptions, FrameProtection, SendCounts } from './media-engine.js';
import type {
  CommandBatch,
  ReplyValue,
  SerializedError,
  WorkerCommand,
  WorkerData,
  WorkerEvent,
  WorkerMemory,
  WorkerToMain,
} from './engine-messages.js';
import { openUdpChannel } from './udp-channel.js';
import { RtpBatchWriter } from './rtp-batch.js';
import { DequeueReportWriter, FrameBatchReader } from './send-batch.js';
import { FrameRingReader, nextBatchSeq } from './frame-ring.js';
import { SlicedQueue } from './sliced-queue.js';
import { localFeedFiles, OggFileFeed } from './file-feed.js';
import type { FeedFile, FeedFiles } from './file-feed.js';
import { enterRealtime } from './realtime.js';
import { LateTickWriter } from './late-tick-trace.js';
import type { UdpMediaChannel } from './udp-channel.js';

interface Hosted {
  channel: UdpMediaChannel;
  /** Frames received from the main thread for this channel. */
  enqueued: number;
  /** A file this thread plays into the channel (file-feed.ts); while it plays, the queue holds only its frames. */
  feed?: OggFileFeed;
  /** The main side's number for `feed`. */
  feedSerial?: number;
  /** Hands `feed` its file when the main side has opened it. */
  feedOpened?: (file: FeedFile | undefined) => void;
  /** The DAVE send key made here for this channel (from the secret's copy): released once replaced or closed. */
  sendKey?: DaveSendKey;
}

const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');

const data = workerData as WorkerData | undefined;
const tuning = data?.tuning ?? {};
/** Dequeues are reported only at or below this queue length (the main side's drain threshold). */
const reportBelow = data?.lowWaterMark ?? 0;
/**
 * Below this a dequeue report goes at once; between it and reportBelow it waits for the next flush
 * that goes anyway. The first channel to get this low brings every other one at or below the drain
 * threshold along in the same message, so refills come in batches (one main-thread wake-up and one
 * command batch for many channels, every few ticks) rather than one channel per tick. A third of
 * the threshold (5 frames = 100 ms at the default 15) of slack: the queue still holds 200 ms when
 * the report goes.
 */
const urgentBelow = reportBelow >= 6 ? reportBelow - Math.floor(reportBelow / 3) : reportBelow;
const clockCounts = data?.clockCounts === undefined ? undefined : new Uint32Array(data.clockCounts);
const ring = data?.frameRing === undefined ? undefined : new FrameRingReader(data.frameRing);
const trace = data?.lateTrace === undefined ? undefined : new LateTickWriter(data.lateTrace);
trace?.observeCollections();
/** The feeds' file reads, timed for the trace when there is one. */
const feedFiles: FeedFiles =
  trace === undefined
    ? localFeedFiles
    : {
        ...localFeedFiles,
        readHere: (fd, buffer, length, position) => {
          const t = performance.now();
          const n = localFeedFiles.readHere(fd, buffer, length, position);
          trace.read(performance.now() - t);
          return n;
        },
      };
// Fill-first buckets: up to 100 channels are all sent in one wake-up per 20 ms (see clock.ts).
const clock = new PacingClock({
  slotsPerBucket: ENGINE_SLOTS_PER_BUCKET,
  // The frame ring's batches go before the ticks; the main side writes there only while the next
  // wake-up is at most a period away (frame-ring.ts).
  onRunStart: () => {
    trace?.runStarted(clock.now());
    catchUp();
  },
  ...(trace === undefined ? {} : { onLateTick: (now: number, lateMs: number) => trace.late(now, lateMs) }),
  onRunEnd: () => {
    const due = clock.nextRunDue();
    trace?.runEnded(due);
    if (ring === undefined) return;
    // A period and a half: a wake-up may come up to earlyMs before its bucket's due time.
    const polling = due !== undefined && due - clock.now() <= 1.5 * FRAME_DURATION_MS;
    ring.setPolling(polling);
    if (!polling && !ring.empty) catchUp();
  },
  ...(data?.clockEpoch === undefined ? {} : { epoch: data.clockEpoch - performance.timeOrigin }),
  // The main side reads these to judge whether this worker keeps up (shard-policy.ts).
  ...(clockCounts === undefined
    ? {}
    : {
        afterRun: (ticks: number, late: number) => {
          Atomics.store(clockCounts, 0, ticks >>> 0);
          Atomics.store(clockCounts, 1, late >>> 0);
        },
      }),
});
const channels = new Map<number, Hosted>();
/** A channel's frames kept with their own bytes (no batch behind them), for a channel still opening. */
interface OwnFrames {
  t: 'ownFrames';
  id: number;
  frames: Uint8Array[];
}
/** Channels opened before their 'open' reply: commands for them wait here, in order. */
const opening = new Map<number, (WorkerCommand | OwnFrames)[]>();
/** Channels that closed by themselves (socket failure) with frames queued: kept for one 'take'. */
const closedLeftovers = new Map<number, { frames: Uint8Array[]; sent: SendCounts }>();
/** Bound on closedLeftovers (a main side that never asks must not grow it). */
const MAX_CLOSED_LEFTOVERS = 64;

let outbox: WorkerEvent[] = [];
/**
 * Received packets go to the main thread packed. While they come densely (at least
 * RTP_DENSE_PACKETS in the last RTP_DENSE_WINDOW_MS), at most one batch per RTP_BATCH_MS: a packet
 * that comes sooner after the last batch waits for the rest of that time, so 100 speakers cost one
 * message (one main-thread wake-up) per 20 ms instead of one per datagram. A few speakers' packets
 * go at once, as before (a timer would cost the worker a wake-up and save nothing). Arrival times
 * are stamped here, and the receiver's jitter buffer plays a packet out at least 40 ms after it
 * arrived, so the wait delays no audio. Any other event's flush takes the waiting packets along.
 * 20 ms rather than 10: each message costs both threads tens of µs (measured with
 * bench/receive-path.ts --opus, 100 streams: 21.2 -> 17.5 µs per frame, main and worker alike).
 */
const RTP_BATCH_MS = 20;
/**
 * The arrival-rate window is one batch period: an SFU (or a sender's clock) that forwards a burst
 * per 20 ms has a window of nothing between two bursts, which a 10 ms window judged sparse, so
 * every burst went out in several messages (bench scenario 5: 39 % of the worker's time in
 * postMessage).
 */
const RTP_DENSE_WINDOW_MS = RTP_BATCH_MS;
const RTP_DENSE_PACKETS = 8;
/**
 * A packet this close to the end of the wait goes at the next flush, and the timer for waiting
 * packets is set this much later than the wait, as a fallback for when packets stop: while they
 * come (spread out, or in bursts once per 20 ms from an SFU or a sender's clock) a packet ends
 * each wait and the timer never fires. A timer at the end of the wait fired just before each next
 * burst, one more worker wake-up per burst (bench/receive-path.ts 20 --spread=1, 134 -> 157/s).
 * The longest wait, 25 ms, stays inside the jitter buffer's 40 ms.
 */
const RTP_FLUSH_SLACK_MS = 2;
const RTP_TIMER_GRACE_MS = 5;
/** A batch this large goes at the next flush without waiting for the timer. */
const RTP_BATCH_MAX_PACKETS = 256;
const received = new RtpBatchWriter();
let rtpTimer: ReturnType<typeof setTimeout> | undefined;
let lastRtpFlushAt = Number.NEGATIVE_INFINITY;
/** The arrival-rate window: its start, packets so far, and whether the previous one was dense. */
let rateWindowAt = Number.NEGATIVE_INFINITY;
let rateWindowPackets = 0;
let dense = false;
const dirty = new Set<number>();
const reportWriter = new DequeueReportWriter();
/** Channels at or below the drain threshold whose report waits for the next flush (see urgentBelow). */
const refillDue = new Set<number>();
let flushScheduled = false;

function serialize(err: unknown): SerializedError {
  if (isVoxcordError(err)) {
    return err.details === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, details: { ...err.details } };
  }
  return { code: 'UDP_ERROR', message: err instanceof Error ? err.message : String(err) };
}

function post(event: WorkerEvent): void {
  outbox.push(event);
  scheduleFlush();
}

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  // setImmediate coalesces every datagram and tick handled in the same loop turn.
  setImmediate(flush);
}

function flush(): void {
  if (trace === undefined) return flushEvents();
  const t = performance.now();
  flushEvents();
  trace.flushed(performance.now() - t);
}

function flushEvents(): void {
  flushScheduled = false;
  // Queue reports are read before the events, so the main side's `queued` is current when a burstEnd arrives.
  for (const id of refillDue) dirty.add(id);
  refillDue.clear();
  for (const id of dirty) {
    const h = channels.get(id);
    if (h)
      reportWriter.add(
        id,
        h.feed === undefined ? h.enqueued - h.channel.queued : h.enqueued,
        h.channel.liveSendCounts(),
        h.channel.sendCountsAt(),
      );
  }
  dirty.clear();
  const reports = reportWriter.take();
  const events = outbox;
  outbox = [];
  const rtp = received.take();
  if (rtp !== undefined) {
    lastRtpFlushAt = performance.now();
    if (rtpTimer !== undefined) clearTimeout(rtpTimer);
    rtpTimer = undefined;
  }
  if (rtp === undefined && reports === undefined && events.length === 0) return;
  const message: WorkerToMain = { t: 'events', events };
  const transfer: ArrayBuffer[] = [];
  if (rtp !== undefined) {
    message.rtp = rtp;
    transfer.push(rtp.meta, rtp.data);
  }
  if (reports !== undefined) {
    message.reports = reports;
    transfer.push(reports);
  }
  port!.postMessage(message, transfer);
}

function flushReceived(): void {
  rtpTimer = undefined;
  flush();
}

function reply(req: number, value: ReplyValue): void {
  post({ t: 'reply', req, ok: true, value });
}

function fail(req: number, err: unknown): void {
  post({ t: 'reply', req, ok: false, error: serialize(err) });
}

function host(id: number, channel: UdpMediaChannel): void {
  const h: Hosted = { channel, enqueued: 0 };
  channels.set(id, h);
  channel.onDequeue = () => {
    if (h.feed !== undefined) {
      h.feed.pump();
      return;
    }
    // Above the drain threshold the main side has no use for the count: no message per frame.
    const queued = channel.queued;
    if (queued > reportBelow) return;
    if (queued > urgentBelow) {
      refillDue.add(id);
      return;
    }
    dirty.add(id);
    scheduleFlush();
  };
  // An empty tick inside a burst: the main side's counts must show a stall while it lasts.
  channel.onCountsChanged = () => {
    dirty.add(id);
    scheduleFlush();
  };
  // Packets are decrypted straight into the batch; this runs after each one was added.
  channel.receiveInto(received, id, (receivedAt) => {
    if (receivedAt - rateWindowAt >= RTP_DENSE_WINDOW_MS) {
      dense = rateWindowPackets >= RTP_DENSE_PACKETS && receivedAt - rateWindowAt < 2 * RTP_DENSE_WINDOW_MS;
      rateWindowAt = receivedAt;
      rateWindowPackets = 0;
    }
    rateWindowPackets++;
    const wait = lastRtpFlushAt + RTP_BATCH_MS - receivedAt;
    if (!dense || wait <= RTP_FLUSH_SLACK_MS || received.count >= RTP_BATCH_MAX_PACKETS) scheduleFlush();
    else rtpTimer ??= setTimeout(flushReceived, wait + RTP_TIMER_GRACE_MS);
  });
  channel.on('drop', (reason) => post({ t: 'drop', id, reason }));
  // The main side mirrors the counts (and emits its own 'sendDrop') from the next report.
  channel.on('sendDrop', () => {
    dirty.add(id);
    scheduleFlush();
  });
  channel.on('burstEnd', () => {
    dirty.add(id);
    post({ t: 'burstEnd', id });
  });
  channel.on('error', (error) => {
    post({ t: 'error', id, error: serialize(error) });
  });
}

/** File feeds' progress waits this long for a message to go with. */
const FEED_REPORT_MS = 500;
let feedReportTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Plays a file into the channel (file-feed.ts): the main side's frames still queued are cleared
 * first (counted as taken in the next report). Progress and the end go back as 'feed' events, each
 * with a dequeue report, so the main side's send counts keep up with the file's frames.
 */
function startFeed(id: number, serial: number, h: Hosted, options: FileFeedOptions): void {
  h.feed?.stop();
  h.channel.clearQueue();
  const file = new Promise<FeedFile | undefined>((resolve) => (h.feedOpened = resolve));
  const feed = new OggFileFeed(
    h.channel,
    file,
    options,
    (end) => {
      if (h.feed === feed) h.feed = undefined;
      dirty.add(id);
      post({
        t: 'feed',
        id,
        feed: serial,
        frames: end.frames,
        end: end.reason,
        discarded: feed.discarded,
        ...(end.reason === 'failed' ? { error: serialize(end.error) } : {}),
      });
    },
    () => {
      // Progress is not urgent: every feed's report of the last half second goes in one message.
      dirty.add(id);
      outbox.push({ t: 'feed', id, feed: serial, frames: feed.frames, at: performance.now() });
      feedReportTimer ??= setTimeout(() => {
        feedReportTimer = undefined;
        scheduleFlush();
      }, FEED_REPORT_MS);
    },
    feedFiles,
  );
  h.feed = feed;
  h.feedSerial = serial;
  feed.pump();
}

/** One frame of a batch for channel `id`: queued, or kept (copied) while the channel opens. */
function enqueueFrame(id: number, frame: Uint8Array): void {
  const waiting = opening.get(id);
  if (waiting !== undefined) {
    const last = waiting[waiting.length - 1];
    const own = frame.slice();
    if (last !== undefined && last.t === 'ownFrames') last.frames.push(own);
    else waiting.push({ t: 'ownFrames', id, frames: [own] });
    return;
  }
  const h = channels.get(id);
  if (h === undefined) return; // closed: its frames are gone with it (the main side counted them)
  h.feed?.stop(); // the main side's own frames take over the channel
  h.enqueued++;
  // A view into the batch buffer; the send queue copies it, so the batch dies young.
  h.channel.enqueue(frame);
}

function apply(cmd: WorkerCommand | OwnFrames, frames?: FrameBatchReader): void {
  if (cmd.t === 'frames') {
    for (let k = 0; k < cmd.runs; k++) if (frames?.readRun(enqueueFrame) !== true) break;
    return;
  }
  if (cmd.t === 'shutdown') {
    for (const h of channels.values()) h.channel.close();
    channels.clear();
    clock.close();
    reply(cmd.req, null);
    return;
  }
  if (cmd.t === 'clock') {
    reply(cmd.req, clock.stats());
    return;
  }
  if (cmd.t === 'memory') {
    if (cmd.collect === true) (globalThis as { gc?: () => void }).gc?.();
    reply(cmd.req, workerMemory());
    return;
  }
  if (cmd.t === 'open') {
    opening.set(cmd.id, []);
    openUdpChannel(cmd.options, clock, tuning, () => {
      const h = channels.get(cmd.id);
      if (h !== undefined) {
        let frames = h.channel.takeQueuedNow();
        if (h.feed !== undefined) {
          h.feed.closed(frames.length); // the main side plays on from the feed's count
          frames = [];
        }
        closedLeftovers.set(cmd.id, { frames, sent: h.channel.sendCounts() });
        if (closedLeftovers.size > MAX_CLOSED_LEFTOVERS)
          closedLeftovers.delete(closedLeftovers.keys().next().value as number);
        h.sendKey?.release();
      }
      channels.delete(cmd.id);
      // After the 'error' event that a socket failure emits right after closing.
      queueMicrotask(() => post({ t: 'closed', id: cmd.id }));
    }).then(
      (channel) => {
        host(cmd.id, channel);
        reply(cmd.req, null);
        const waiting = opening.get(cmd.id) ?? [];
        opening.delete(cmd.id);
        for (const c of waiting) apply(c);
      },
      (err: unknown) => {
        opening.delete(cmd.id);
        fail(cmd.req, err);
      },
    );
    return;
  }
  const waiting = opening.get(cmd.id);
  if (waiting) {
    waiting.push(cmd);
    return;
  }
  const h = channels.get(cmd.id);
  if (!h) {
    if (cmd.t === 'take') {
      const leftover = closedLeftovers.get(cmd.id);
      closedLeftovers.delete(cmd.id);
      if (leftover === undefined) fail(cmd.req, new VoxcordError('DESTROYED', 'media channel is closed'));
      else replyTaken(cmd.req, leftover.frames, leftover.sent);
    } else if ('req' in cmd) fail(cmd.req, new VoxcordError('DESTROYED', 'media channel is closed'));
    return;
  }
  try {
    switch (cmd.t) {
      case 'discover':
        h.channel.discoverAddress().then(
          (address) => reply(cmd.req, address),
          (err: unknown) => fail(cmd.req, err),
        );
        break;
      case 'transport':
        h.channel.setTransport(cmd.mode, cmd.key);
        break;
      case 'ownFrames':
        h.feed?.stop();
        for (const frame of cmd.frames) {
          h.enqueued++;
          h.channel.enqueue(frame);
        }
        break;
      case 'protect': {
        const protection = protectionOf(cmd);
        h.channel.setFrameProtection(protection);
        // The channel encrypts with the new key from its next frame: the one before is done.
        if (protection.mode === 'encrypt') {
          h.sendKey?.release();
          h.sendKey = protection.key;
        }
        break;
      }
      case 'take':
        h.feed?.stop();
        replyTaken(cmd.req, h.channel.takeQueuedNow(), h.channel.sendCounts());
        break;
      case 'endBurst':
        h.channel.endBurst();
        break;
      case 'clear':
        if (h.feed !== undefined) h.feed.stop();
        else h.channel.clearQueue();
        break;
      case 'feed':
        startFeed(cmd.id, cmd.feed, h, cmd.options);
        break;
      case 'feedFile':
        if (h.feedSerial !== cmd.feed) break; // a feed replaced meanwhile
        h.feedOpened?.(cmd.file ?? undefined);
        h.feedOpened = undefined;
        break;
      case 'feedStop':
        reply(cmd.req, h.feed !== undefined && h.feedSerial === cmd.feed ? h.feed.stop() : null);
        break;
      case 'stats':
        statsDue.push({ h, req: cmd.req });
        break;
      case 'close':
        h.channel.close();
        break;
    }
  } catch (err) {
    // setTransport with a bad key, for instance: report it as a channel error.
    post({ t: 'error', id: cmd.id, error: serialize(err) });
  }
}

/**
 * Stats requests, answered a slice at a time: answered in one go (with their replies in one
 * message), hundreds at once held the clock's next tick for tens of ms (the node bench's counters
 * at P = 500 left late ticks at its window edges).
 */
const statsDue = new SlicedQueue<{ h: Hosted; req: number }>(
  ({ h, req }) => {
    try {
      reply(req, h.channel.statsNow());
    } catch (err) {
      fail(req, err);
    }
  },
  1,
  32,
);

/** This worker's isolate: heap spaces, external and ArrayBuffer bytes, V8's malloc. */
function workerMemory(): WorkerMemory {
  const usage = process.memoryUsage();
  return {
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    mallocedMemory: getHeapStatistics().malloced_memory,
    spaces: getHeapSpaceStatistics().map((s) => ({
      name: s.space_name,
      size: s.space_size,
      used: s.space_used_size,
      physical: s.physical_space_size,
    })),
  };
}

function protectionOf(cmd: Extract<WorkerCommand, { t: 'protect' }>): FrameProtection {
  switch (cmd.mode) {
    case 'encrypt':
      return {
        mode: 'encrypt',
        key: cmd.secret === undefined ? DaveSendKey.none : DaveSendKey.encrypt(cmd.secret),
      };
    case 'drop':
      return { mode: 'drop', reason: cmd.reason ?? 'no-key' };
    default:
      return { mode: cmd.mode };
  }
}

/** Replies with frames packed in one transferred buffer. */
function replyTaken(req: number, frames: Uint8Array[], sent: SendCounts): void {
  let total = 0;
  for (const f of frames) total += f.length;
  const data = new Uint8Array(total);
  const ends: number[] = [];
  let at = 0;
  for (const f of frames) {
    data.set(f, at);
    at += f.length;
    ends.push(at);
  }
  reply(req, { data: data.buffer, ends, sent });
}

/** The next batch to apply, by the main side's count (frame-ring.ts). */
let expected = 0;
/** Port batches that came before a ring batch numbered lower (rare: the port is slower). */
const held = new Map<number, CommandBatch>();

/** Applies the batches due, in the main side's order, from the ring and the port. */
function catchUp(): void {
  for (;;) {
    const next = ring?.peek();
    if (next !== undefined && next.seq === expected) {
      // Frames only: every run of it.
      const frames = new FrameBatchReader(next.batch);
      while (frames.readRun(enqueueFrame));
      ring!.consume();
    } else {
      const msg = held.get(expected);
      if (msg === undefined) return;
      held.delete(expected);
      const frames = msg.frames === undefined ? undefined : new FrameBatchReader(msg.frames);
      for (const cmd of msg.cmds) apply(cmd, frames);
    }
    expected = nextBatchSeq(expected);
  }
}

port.on('message', (msg: CommandBatch) => {
  const started = trace === undefined ? 0 : clock.now();
  if (msg.seq !== undefined) held.set(msg.seq, msg);
  catchUp();
  trace?.handled(started, clock.now(), msg.cmds.length);
});

// Real-time scheduling first (when asked): the engine learns the outcome with 'ready'.
const realtime = data?.realtime === undefined ? undefined : await enterRealtime(data.realtime);
const ready: WorkerToMain = {
  t: 'ready',
  timeOrigin: performance.timeOrigin,
  ...(realtime === undefined ? {} : { realtime }),
};
port.postMessage(ready);
