/**
 * One side of the node bench (bench/node.ts), in its own process so that its CPU and RSS are its
 * own. argv[2] is the variant:
 * - `voxcord-node`: `startNode` with the voice backend (voxcord's voice, one media engine);
 * - `djs-node`: the same front end over @discordjs/voice + davey (./node-djs-backend.ts);
 * - `library`: no protocol layer; the driver sends allocations over IPC and this process joins
 *   each with voxcord's `joinVoiceChannel` and plays the file with an `AudioPlayer`, as a
 *   one-process bot does.
 * IPC requests (all answered with the same id): `join` (library only), `counters` (CPU, RSS, send
 * lateness histograms), `stall` (busy-wait blockMs every everyMs for durationMs on the main thread).
 * Run only through `fork`.
 */
import { performance } from 'node:perf_hooks';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { joinVoiceChannel } from '../src/gateway/registry.js';
import type { VoiceConnection } from '../src/gateway/voice-connection.js';
import { createMediaEngine } from '../src/media/index.js';
import { WorkerMediaEngine } from '../src/media/worker-engine.js';
import { describeRealtime, supportRealtimeWorkers } from '../src/media/realtime.js';
import type { MediaChannel, MediaWorkerReady } from '../src/media/index.js';
import { startNode } from '../src/node/server.js';
import { createVoiceBackend, httpBytes } from '../src/node/voice-backend.js';
import { AudioPlayer } from '../src/player/audio-player.js';
import { fileInput } from '../src/player/inputs/file.js';
import { oggOpusInput } from '../src/player/inputs/ogg-opus.js';
import { Track } from '../src/player/track.js';
import type { LatenessData } from '../src/media/lateness-histogram.js';
import type { Allocation } from '../src/server/index.js';
import { entersState } from '../src/util/enters-state.js';
import { createTestAdapter } from '../test/interop/djs-adapter.js';
import { inBatches } from './clients/types.js';
import { watchedEngine } from './clients/voxcord.js';
import { isRecord } from './ipc.js';
import { createDjsBackend } from './node-djs-backend.js';
import { threadSwitches, threadTimes } from './thread-times.js';
import { installUdpProbe } from './udp-probe.js';

export type NodeBenchVariant = 'voxcord-node' | 'djs-node' | 'library';

export type NodeProcessRequest =
  | { type: 'join'; id: number; allocations: Allocation[]; file: string }
  | { type: 'counters'; id: number }
  | { type: 'snapshot'; id: number; file: string }
  | { type: 'profile'; id: number; phase: 'start' | 'stop'; file?: string }
  | { type: 'stall'; id: number; everyMs: number; blockMs: number; durationMs: number };

export interface NodeProcessCounters {
  /** This process's clock when collecting began (performance.now(), ms); cpuUs and mainCpuUs are of then. */
  at: number;
  cpuUs: number;
  rssBytes: number;
  /** CPU time of the main thread alone (Linux schedstat; 0 elsewhere), µs. */
  mainCpuUs: number;
  /** The main thread's memory (VOXCORD_BENCH_MEMORY: where the RSS went). */
  memory: NodeJS.MemoryUsage;
  /** The main thread's V8 heap spaces, committed bytes (VOXCORD_BENCH_MEMORY). */
  heapSpaces?: Record<string, number>;
  /**
   * VOXCORD_BENCH_MEMORY=1: every thread's V8 heap (process.report: main first, then each worker),
   * bytes, and the process's resident set split into anonymous and file-backed (Linux smaps_rollup).
   */
  census?: {
    threads: ThreadHeap[];
    anonBytes: number;
    fileBytes: number;
    /** RSS of the anonymous mappings by kind (Linux, /proc/self/smaps): see mappingCensus(). */
    mappings?: MappingCensus;
  };
  /** Cumulative per-channel send lateness (voxcord variants; the djs one: main-thread UDP sends). */
  lateness: LatenessData[];
  /** The voxcord node's media workers' scheduling as each started ('slot: outcome'; realtime.ts). */
  realtime?: string[];
  /** Diagnostics (voxcord variants): summed channel underruns and empty ticks, the engine clock's skipped cycles and late ticks. */
  sendGaps?: {
    underruns: number;
    emptyTicks: number;
    skippedCycles: number;
    lateTicks: number;
    /** Per media worker: channels and its clock's late ticks and deliveries so far. */
    workers?: { channels: number; lateTicks: number; ticks: number }[];
    /** Batches to the workers so far, through the frame ring and by message (frame-ring.ts). */
    batches?: { ring: number; port: number };
  };
  /**
   * The same clocks once collecting ended: a window starts at `before.end` and ends at `after`, so
   * the collection's own work (both threads) is outside it.
   */
  end: { at: number; cpuUs: number; mainCpuUs: number };
  /** How long collecting these counters took in this process, ms. */
  collectMs?: number;
  /**
   * VOXCORD_BENCH_WAKEUPS=1 (voxcord variants): messages so far across the media workers'
   * boundary, each way (counted from the first counters() call on).
   */
  messages?: { toWorker: number; fromWorker: number };
  /**
   * Per thread (Linux; empty elsewhere), as of `at`: name, ns on a core, ns runnable but waiting
   * for a core, voluntary context switches (wake-ups), user and kernel clock ticks (10 ms). The
   * main thread has tid = pid.
   */
  threads?: {
    tid: number;
    name: string;
    runNs: number;
    waitNs?: number;
    wakeups: number;
    utime?: number;
    stime?: number;
  }[];
}

export interface ThreadHeap {
  thread: string;
  /** V8's reserved heap (all spaces), committed, used, new space (young generation), old space, malloced. */
  total: number;
  committed: number;
  used: number;
  newSpace: number;
  oldSpace: number;
  malloced: number;
}

export type NodeProcessMessage =
  | { type: 'ready'; port: number | null }
  | { type: 'joined'; id: number; joinMs: number[]; failed: number; firstError?: string }
  | { type: 'counters'; id: number; counters: NodeProcessCounters }
  | { type: 'stalled'; id: number; stalls: number; timeline: string }
  | { type: 'snapshotted'; id: number }
  | { type: 'profiled'; id: number }
  | { type: 'error'; id: number; message: string };

const variant = process.argv[2] as NodeBenchVariant;
const tlsCa = process.env.VOXCORD_BENCH_CA ?? '';
const PASSWORD = 'bench';
/** The nodes' stats interval (frameStats windows); the driver sets 1 s. */
const statsIntervalMs = Number(process.env.VOXCORD_BENCH_STATS_MS ?? 60_000);

function send(message: NodeProcessMessage): void {
  process.send?.(message);
}

const channels: MediaChannel[] = [];
/** A/B of engine settings (bench/node.ts --new-env): the worker count. */
const mediaWorkers = process.env.VOXCORD_BENCH_WORKERS;
/**
 * The voxcord node's engine as `voxcord node` makes it: real-time scheduling asked for (the CLI's
 * default; VOXCORD_BENCH_REALTIME=0 turns it off for an A/B), and with it V8's young-generation
 * collections kept on their own threads. The library variant keeps the library's default (off).
 */
const realtime = variant === 'voxcord-node' && process.env.VOXCORD_BENCH_REALTIME !== '0';
const realtimeOutcomes: string[] = [];
// As the CLI does (VOXCORD_BENCH_KEEP_GC=0, VOXCORD_BENCH_RAISE_HELPERS=0: not, for an A/B).
const supportWorker = realtime
  ? await supportRealtimeWorkers((line) => realtimeOutcomes.push(line), {
      keepCollections: process.env.VOXCORD_BENCH_KEEP_GC !== '0',
      raiseHelpers: process.env.VOXCORD_BENCH_RAISE_HELPERS !== '0',
    })
  : undefined;
/** VOXCORD_BENCH_TRACE_LATE=1 (diagnostics): the workers trace their late deliveries (media/late-tick-trace.ts). */
const traceLate = process.env.VOXCORD_BENCH_TRACE_LATE === '1';
const workersOption =
  mediaWorkers === undefined
    ? {}
    : { workers: mediaWorkers === 'auto' ? ('auto' as const) : Number(mediaWorkers) };
const realtimeOptions = realtime
  ? {
      realtime: true,
      onWorkerReady: ({ slot, realtime: outcome }: MediaWorkerReady) => {
        realtimeOutcomes.push(`${slot}: ${outcome === undefined ? 'normal' : describeRealtime(outcome)}`);
        supportWorker?.(outcome);
      },
    }
  : {};
const rawEngine =
  variant === 'djs-node'
    ? undefined
    : traceLate
      ? // What createMediaEngine makes, with the trace (an option of the worker engine only).
        new WorkerMediaEngine({ channel: {}, ...workersOption, ...realtimeOptions, traceLateTicks: true })
      : createMediaEngine({ ...workersOption, ...realtimeOptions });
const engine = rawEngine === undefined ? undefined : watchedEngine(rawEngine, channels);
// djs sends on the main thread: the probe measures its sends against the 20 ms grid.
const probe = variant === 'djs-node' ? installUdpProbe() : undefined;
probe?.start();

let port: number | null = null;
if (variant === 'voxcord-node' && engine !== undefined)
  port = (
    await startNode({
      port: 0,
      password: PASSWORD,
      statsIntervalMs,
      backend: createVoiceBackend({ engine, tls: { ca: tlsCa } }),
    })
  ).port;
else if (variant === 'djs-node')
  port = (await startNode({ port: 0, password: PASSWORD, statsIntervalMs, backend: createDjsBackend() }))
    .port;

const connections: VoiceConnection[] = [];

/** Joins and plays every allocation; a join that fails is counted, not fatal (the driver judges). */
async function joinAll(
  allocations: readonly Allocation[],
  file: string,
): Promise<{ joinMs: number[]; failed: number; firstError?: string }> {
  const times: number[] = [];
  const errors: string[] = [];
  await inBatches(allocations, 50, async (a) => {
    try {
      await joinOne(a, file, times);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  });
  return {
    joinMs: times,
    failed: errors.length,
    ...(errors[0] === undefined ? {} : { firstError: errors[0] }),
  };
}

async function joinOne(a: Allocation, file: string, times: number[]): Promise<void> {
  const t0 = performance.now();
  const connection = joinVoiceChannel({
    guildId: a.guildId,
    channelId: a.channelId,
    adapterCreator: createTestAdapter(a).adapterCreator,
    selfDeaf: true,
    tls: { ca: tlsCa },
    ...(engine === undefined ? {} : { engine }),
  });
  try {
    await entersState(connection, 'ready', 60_000);
  } catch (err) {
    connection.destroy(); // left out of the run, not retrying in the background
    throw err;
  }
  connections.push(connection);
  const player = new AudioPlayer();
  connection.subscribe(player);
  // --source=http: the URL, fetched (the node's own http client) and demuxed, as a library user would.
  player.play(new Track(/^https?:/i.test(file) ? oggOpusInput(httpBytes(file)) : fileInput(file)));
  times.push(performance.now() - t0);
}

interface ReportHeap {
  totalMemory: number;
  totalCommittedMemory: number;
  usedMemory: number;
  mallocedMemory: number;
  heapSpaces: Record<string, { memorySize: number }>;
}

/**
 * The anonymous RSS by kind: `mainArena` is the brk heap, glibc's arena for the main thread's
 * malloc (ArrayBuffer stores, OpenSSL, libuv, Node's own objects); `threadArenas` the rw parts of
 * the other threads' arenas (64 MiB-aligned mappings: the media workers, libuv's pool, V8's
 * helpers); `pages256k` the 256 KiB mappings (V8 heap pages, every isolate); `other` the rest
 * (malloc's mmap of blocks >= 128 KiB, large V8 objects, thread stacks).
 */
export interface MappingCensus {
  mainArena: number;
  threadArenas: number;
  pages256k: number;
  other: number;
}

function mappingCensus(): MappingCensus | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined; // not Linux
  }
  const out: MappingCensus = { mainArena: 0, threadArenas: 0, pages256k: 0, other: 0 };
  let kind: keyof MappingCensus | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head !== null) {
      const start = BigInt(`0x${head[1]!}`);
      const size = Number(BigInt(`0x${head[2]!}`) - start);
      const name = head[5]!;
      if (name === '[heap]') kind = 'mainArena';
      else if (name !== '' || head[4] !== '0')
        kind = undefined; // file-backed or a named region
      else if (start % 0x4000000n === 0n && head[3]!.startsWith('rw')) kind = 'threadArenas';
      else if (size === 256 * 1024) kind = 'pages256k';
      else kind = 'other';
      continue;
    }
    if (kind !== undefined && line.startsWith('Rss:'))
      out[kind] += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  }
  return out;
}

/** Diagnostics (VOXCORD_BENCH_MEMORY): each thread's heap from Node's report, and the RSS by kind. */
function memoryCensus(): NodeProcessCounters['census'] {
  const report = process.report.getReport() as unknown as {
    javascriptHeap: ReportHeap;
    workers: { javascriptHeap: ReportHeap }[];
  };
  const heap = (thread: string, h: ReportHeap): ThreadHeap => ({
    thread,
    total: h.totalMemory,
    committed: h.totalCommittedMemory,
    used: h.usedMemory,
    newSpace: h.heapSpaces.new_space?.memorySize ?? 0,
    oldSpace: h.heapSpaces.old_space?.memorySize ?? 0,
    malloced: h.mallocedMemory,
  });
  let anonBytes = 0;
  let fileBytes = 0;
  try {
    const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kib = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
    anonBytes = kib('Anonymous') * 1024;
    fileBytes = (kib('Rss') - kib('Anonymous')) * 1024;
  } catch {
    // not Linux
  }
  return {
    threads: [
      heap('main', report.javascriptHeap),
      ...report.workers.map((w, i) => heap(`worker ${i + 1}`, w.javascriptHeap)),
    ],
    anonBytes,
    fileBytes,
    mappings: mappingCensus(),
  };
}

async function snapshotWorkers(file: string): Promise<void> {
  const list =
    rawEngine !== undefined && 'workers' in rawEngine && typeof rawEngine.workers === 'function'
      ? (rawEngine.workers as () => readonly Worker[])()
      : [];
  for (const [i, worker] of list.entries())
    await pipeline(
      await worker.getHeapSnapshot(),
      createWriteStream(file.replace(/\.heapsnapshot$/, `.worker${i}.heapsnapshot`)),
    );
}

/** VOXCORD_BENCH_WAKEUPS: messages across the media workers' boundary (counted from the first look). */
const messages = { toWorker: 0, fromWorker: 0 };
const counted = new WeakSet<object>();
function countMessages(): NodeProcessCounters['messages'] {
  if (!process.env.VOXCORD_BENCH_WAKEUPS || rawEngine === undefined) return undefined;
  const list =
    'workers' in rawEngine && typeof rawEngine.workers === 'function'
      ? (rawEngine.workers as () => readonly Worker[])()
      : [];
  for (const w of list) {
    if (counted.has(w)) continue;
    counted.add(w);
    const post = w.postMessage.bind(w);
    w.postMessage = (...args: Parameters<Worker['postMessage']>) => {
      messages.toWorker++;
      post(...args);
    };
    w.on('message', () => messages.fromWorker++);
  }
  return { ...messages };
}

const mainCpuUs = (): number => (threadTimes().get(process.pid)?.run ?? 0) / 1000;

async function counters(): Promise<NodeProcessCounters> {
  const at = performance.now();
  const cpu = process.cpuUsage();
  const main = mainCpuUs();
  const threads = [...threadSwitches()].map(([tid, t]) => ({
    tid,
    name: tid === process.pid ? 'main' : t.name,
    runNs: t.run,
    waitNs: t.wait,
    wakeups: t.voluntary,
    utime: t.utime,
    stime: t.stime,
  }));
  let lateness: LatenessData[];
  let sendGaps: NodeProcessCounters['sendGaps'];
  if (probe !== undefined) {
    lateness = [probe.stop().histogram];
    probe.start();
  } else {
    const all = await Promise.all(channels.map((c) => c.stats().catch(() => undefined)));
    lateness = all.flatMap((s) => (s?.sendLateness ? [s.sendLateness] : []));
    const engineStats = rawEngine?.stats === undefined ? undefined : await rawEngine.stats();
    const clock = engineStats?.clock;
    sendGaps = {
      underruns: all.reduce((n, s) => n + (s?.underruns ?? 0), 0),
      emptyTicks: all.reduce((n, s) => n + (s?.send?.emptyTicks ?? 0), 0),
      skippedCycles: clock?.skippedCycles ?? 0,
      lateTicks: clock?.lateTicks ?? 0,
      workers: (engineStats?.perWorker ?? []).map((w) => ({
        channels: w.channels,
        lateTicks: w.clock.lateTicks,
        ticks: w.clock.ticksDelivered,
      })),
      ...(rawEngine instanceof WorkerMediaEngine ? { batches: rawEngine.batchCounts() } : {}),
    };
  }
  const counts = countMessages();
  const memory = process.memoryUsage();
  const cpuEnd = process.cpuUsage();
  const endAt = performance.now();
  return {
    at,
    cpuUs: cpu.user + cpu.system,
    mainCpuUs: main,
    end: { at: endAt, cpuUs: cpuEnd.user + cpuEnd.system, mainCpuUs: mainCpuUs() },
    rssBytes: memory.rss,
    memory,
    lateness,
    ...(sendGaps === undefined ? {} : { sendGaps }),
    heapSpaces: Object.fromEntries(getHeapSpaceStatistics().map((h) => [h.space_name, h.space_size])),
    ...(process.env.VOXCORD_BENCH_MEMORY ? { census: memoryCensus() } : {}),
    collectMs: endAt - at,
    threads,
    ...(realtime ? { realtime: [...realtimeOutcomes] } : {}),
    ...(counts === undefined ? {} : { messages: counts }),
  };
}

/** One sample of the media workers' clocks (late ticks and deliveries so far, per worker). */
interface ClockSample {
  at: number;
  late: number[];
  ticks: number[];
}

/**
 * Read from the workers' shared counters, not asked for: a message every 25 ms made the late
 * deliveries it was there to time (session 22: each one woke a real-time worker that then waited
 * for the main thread to release the port's lock, up to 12.6 ms).
 */
function clockSample(): ClockSample | undefined {
  if (!(rawEngine instanceof WorkerMediaEngine)) return undefined;
  const counts = rawEngine.clockCounts();
  return {
    at: performance.now(),
    late: counts.map((c) => c.lateTicks),
    ticks: counts.map((c) => c.ticksDelivered),
  };
}

/**
 * When the workers' clocks started deliveries late, against the stalls (diagnostics): the clocks
 * sampled every `sampleMs` (not during a stall: the main thread is busy), one line per sample
 * interval in which a worker's clock counted late ticks, with the stalls' times.
 */
function describeTimeline(samples: ClockSample[], stallsAt: [number, number][], t0: number): string {
  const parts: string[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const late = b.late.map((n, w) => n - (a.late[w] ?? 0));
    if (late.every((n) => n === 0)) continue;
    parts.push(`${(a.at - t0).toFixed(0)}-${(b.at - t0).toFixed(0)}: ${late.join('+')}`);
  }
  const stalls = stallsAt.map(([s, e]) => `${(s - t0).toFixed(0)}-${(e - t0).toFixed(0)}`).join(', ');
  return `stalls at ${stalls} ms; late ticks per worker by interval: ${parts.join('; ') || 'none'}`;
}

/**
 * VOXCORD_BENCH_TRACE_LATE=1: each late delivery since `t0` (ms on this thread's clock), per
 * worker: when, how late, whether its wake-up came late or earlier work in it held it, and the
 * worker thread's time on a core and waiting for one since its previous wake-up (schedstat); and
 * each collection of the worker's heap of 1 ms or more.
 */
function describeLateTrace(t0: number): string {
  if (!(rawEngine instanceof WorkerMediaEngine) || !traceLate) return '';
  const f = (ms: number): string => (Number.isNaN(ms) ? '?' : ms.toFixed(1));
  const lines = rawEngine.lateTickTrace().flatMap((records, w) =>
    records
      .filter((r) => r.at - performance.timeOrigin >= t0)
      .map((r) => {
        const at = `w${w} @${(r.at - performance.timeOrigin - t0).toFixed(0)}`;
        if (r.kind === 'gc') return `${at}: ${r.gc} GC ${f(r.durationMs)} ms`;
        return (
          `${at}: ${f(r.lateMs)} late (woke ${f(r.wokeLateMs)} late, ${f(r.inRunMs)} into its run; since ` +
          `its last run ${f(r.onCoreMs)} on a core, ${f(r.waitingMs)} waiting, ${r.slices} slices; its last ` +
          `message ${f(r.messageMs)} ms, ${r.messageCommands} commands, ended ${f(r.messageAgoMs)} ms before; ` +
          `since its last run ${r.reads} file reads ${f(r.readMs)} ms, ${r.flushes} flushes ${f(r.flushMs)} ms)`
        );
      }),
  );
  return `; late deliveries traced: ${lines.join('; ') || 'none'}`;
}

function stall(
  everyMs: number,
  blockMs: number,
  durationMs: number,
): Promise<{ stalls: number; timeline: string }> {
  const t0 = performance.now();
  const stallsAt: [number, number][] = [];
  const samples: ClockSample[] = [];
  const sample = (): void => {
    const s = clockSample();
    if (s !== undefined) samples.push(s);
  };
  sample();
  const sampler = setInterval(sample, 25);
  const timer = setInterval(() => {
    const start = performance.now();
    const end = start + blockMs;
    while (performance.now() < end) {
      // busy-wait on purpose: a main-thread stall
    }
    stallsAt.push([start, performance.now()]);
  }, everyMs);
  return new Promise((resolve) =>
    setTimeout(() => {
      clearInterval(timer);
      clearInterval(sampler);
      sample();
      const timeline = describeTimeline(samples, stallsAt, t0) + describeLateTrace(t0);
      resolve({ stalls: stallsAt.length, timeline });
    }, durationMs),
  );
}

/** The main thread's CPU profile of the measured window only (VOXCORD_BENCH_WINDOW_PROFILE). */
let profiler: Session | undefined;
function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    profiler?.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );
}
/**
 * VOXCORD_BENCH_HEAP_SAMPLING=1: the window's profile samples allocations instead (every object
 * allocated, also those collected since: where the young generation's churn comes from).
 */
const heapSampling = process.env.VOXCORD_BENCH_HEAP_SAMPLING === '1';
async function profile(phase: 'start' | 'stop', file: string | undefined): Promise<void> {
  if (heapSampling) return heapProfile(phase, file);
  if (phase === 'start') {
    profiler = new Session();
    profiler.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    return;
  }
  const { profile: result } = (await post('Profiler.stop')) as { profile: unknown };
  if (file !== undefined) writeFileSync(file, JSON.stringify(result));
  profiler?.disconnect();
  profiler = undefined;
}

async function heapProfile(phase: 'start' | 'stop', file: string | undefined): Promise<void> {
  if (phase === 'start') {
    profiler = new Session();
    profiler.connect();
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    return;
  }
  const { profile: result } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
  if (file !== undefined)
    writeFileSync(file.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(result));
  profiler?.disconnect();
  profiler = undefined;
}

process.on('message', (raw: unknown) => {
  if (!isRecord(raw) || typeof raw.id !== 'number') return;
  const req = raw as unknown as NodeProcessRequest;
  const fail = (err: unknown): void =>
    send({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) });
  if (req.type === 'join')
    joinAll(req.allocations, req.file).then(
      (joined) => send({ type: 'joined', id: req.id, ...joined }),
      fail,
    );
  else if (req.type === 'counters')
    counters().then((c) => send({ type: 'counters', id: req.id, counters: c }), fail);
  else if (req.type === 'profile')
    profile(req.phase, req.file).then(() => send({ type: 'profiled', id: req.id }), fail);
  else if (req.type === 'snapshot') {
    // Diagnostics only (VOXCORD_BENCH_MEMORY_SNAPSHOTS=dir): the main thread's, then each media
    // worker's next to it (name.workerN.heapsnapshot).
    writeHeapSnapshot(req.file);
    snapshotWorkers(req.file).then(() => send({ type: 'snapshotted', id: req.id }), fail);
  } else if (req.type === 'stall')
    stall(req.everyMs, req.blockMs, req.durationMs).then(
      (stalled) => send({ type: 'stalled', id: req.id, ...stalled }),
      fail,
    );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port });
