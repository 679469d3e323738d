/**
 * Micro-benchmark of the media engine alone (no voice session, no transmit pump): N channels fed
 * synchronously on 'drain' with pre-encoded Opus, sending to a UDP sink in another process.
 * Prints CPU µs per packet (user and system) of this process, all threads, and RSS per channel.
 *
 * Run: npx tsx bench/engine-send.ts [inline|worker] [N] [auto|js|node|sodium] [dave] [--workers 1|2|auto] [--json] [--account]
 * With `dave`, every channel DAVE-encrypts each frame as it sends it (the engine's send-time
 * encryption, as in a DAVE call), so the cost of that encryption is in the figures.
 * `--workers`: the worker engine's worker count (default 'auto'). `--json`: one JSON line
 * (bench/engine-scaling.ts runs this in alternating rounds). `--account` (Linux): where the RSS
 * went, sampled once a second over the window (a worker's old space grows and shrinks between full
 * collections): the process's RSS by kind of mapping (memory-account.ts) less the same before the
 * engine started, per channel, and each worker's V8 heap by space, external and ArrayBuffer bytes.
 * `--dist`: the engine from dist (run `npm run build` first), so its workers run the bundle that a
 * user's would, not the TypeScript source through tsx (which costs each worker a few MiB more).
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import type { MediaChannel } from '../src/media/index.js';
import type * as MediaModule from '../src/media/index.js';
import { EncryptionMode } from '../src/protocol/constants.js';
import { DaveSendKey } from '../src/dave/send-key.js';
import { LATENESS_BUCKET_MS, summarizeLateness } from '../src/media/lateness-histogram.js';
import { LATE_TICK_MS } from '../src/media/clock.js';
import type { LatenessData } from '../src/media/lateness-histogram.js';
import { encodeToneFrames } from './tone.js';
import { busiestThreads, threadSwitches, threadTimes, wakeupsLine } from './thread-times.js';
import type { ThreadShare } from './thread-times.js';
import { rssAccount, RSS_KINDS } from './memory-account.js';
import type { RssAccount } from './memory-account.js';
import type { MediaEngine } from '../src/media/index.js';
import type { WorkerMemory } from '../src/media/engine-messages.js';

const WARMUP_MS = 2_000;
const WINDOW_MS = 4_000;
const OPEN_AT_ONCE = 50;

/** The sink: binds, reports its port, drains datagrams until told to stop. */
function runSink(): void {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', () => process.exit(0));
}

/** The positional arguments, and the value of --workers / presence of --json, --account. */
function parseArgs(argv: string[]): {
  positional: string[];
  workers: number | 'auto';
  json: boolean;
  account: boolean;
  dist: boolean;
} {
  const positional: string[] = [];
  let workers: number | 'auto' = 'auto';
  let json = false;
  let account = false;
  let dist = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--account') account = true;
    else if (arg === '--dist') dist = true;
    else if (arg === '--workers') {
      const value = argv[++i];
      workers = value === undefined || value === 'auto' ? 'auto' : Number(value);
    } else positional.push(arg);
  }
  return { positional, workers, json, account, dist };
}

/** One sample of the account: the process's mappings and each worker's isolate. */
interface AccountSample {
  rss: RssAccount;
  workers: WorkerMemory[];
  main: MainMemory;
}

/** The main thread's isolate, bytes: heap resident by space, external, ArrayBuffers. */
type MainMemory = Record<string, number>;

function mainMemory(): MainMemory {
  const usage = process.memoryUsage();
  const out: MainMemory = { external: usage.external, arrayBuffers: usage.arrayBuffers };
  for (const s of getHeapSpaceStatistics()) out[s.space_name] = s.physical_space_size;
  return out;
}

/** The engine's diagnostics hook (worker-engine.ts), where this build has it. */
function hasWorkerMemory(
  engine: MediaEngine,
): engine is MediaEngine & { workerMemory(collect?: boolean): Promise<WorkerMemory[]> } {
  return typeof (engine as { workerMemory?: unknown }).workerMemory === 'function';
}

async function accountSample(engine: MediaEngine): Promise<AccountSample | undefined> {
  const workers = hasWorkerMemory(engine) ? await engine.workerMemory() : [];
  const rss = rssAccount();
  return rss === undefined ? undefined : { rss, workers, main: mainMemory() };
}

export interface MemoryAccount {
  samples: number;
  /** KiB per channel by kind of mapping (and `total`), over the before-engine figures. */
  rssKiBPerChannel: Record<string, number>;
  /** Malloc arenas with touched pages, mean over the samples (before the engine: `arenasBefore`). */
  arenas: number;
  arenasBefore: number;
  /** Per worker, MiB, means over the samples: each heap space's resident size, and the rest. */
  workers: Record<string, number>[];
  /** The main thread's isolate, KiB per channel over before the engine: heap spaces, external, ArrayBuffers. */
  mainKiBPerChannel: Record<string, number>;
  /**
   * The workers' heap after a full collection (run with `node --expose-gc`), KiB per channel: the
   * live size, and old space's resident size after it. Absent without --expose-gc.
   */
  liveHeapKiBPerChannel?: number;
  oldSpaceAfterGcKiBPerChannel?: number;
}

function mean(values: number[]): number {
  return values.reduce((a, v) => a + v, 0) / Math.max(1, values.length);
}

function summarizeAccount(
  before: RssAccount,
  mainBefore: MainMemory,
  samples: AccountSample[],
  n: number,
): MemoryAccount {
  const rssKiBPerChannel: Record<string, number> = {};
  for (const kind of [...RSS_KINDS, 'total'] as const)
    rssKiBPerChannel[kind] = (mean(samples.map((s) => s.rss[kind])) - before[kind]) / n;
  const mib = (bytes: number): number => bytes / 1024 / 1024;
  const workerCount = Math.min(...samples.map((s) => s.workers.length));
  const workers: Record<string, number>[] = [];
  for (let w = 0; w < workerCount; w++) {
    const of = samples.map((s) => s.workers[w]!);
    const row: Record<string, number> = {};
    for (const space of of[0]!.spaces)
      row[space.name] = mib(mean(of.map((m) => m.spaces.find((x) => x.name === space.name)?.physical ?? 0)));
    row['heap used'] = mib(mean(of.map((m) => m.heapUsed)));
    row['heap physical'] = mib(mean(of.map((m) => m.spaces.reduce((a, x) => a + x.physical, 0))));
    row.external = mib(mean(of.map((m) => m.external)));
    row.arrayBuffers = mib(mean(of.map((m) => m.arrayBuffers)));
    row['V8 malloc'] = mib(mean(of.map((m) => m.mallocedMemory)));
    workers.push(row);
  }
  const mainKiBPerChannel: Record<string, number> = {};
  for (const key of Object.keys(mainBefore))
    mainKiBPerChannel[key] = (mean(samples.map((s) => s.main[key] ?? 0)) - mainBefore[key]!) / 1024 / n;
  return {
    samples: samples.length,
    rssKiBPerChannel,
    mainKiBPerChannel,
    arenas: mean(samples.map((s) => s.rss.arenas)),
    arenasBefore: before.arenas,
    workers,
  };
}

function printAccount(account: MemoryAccount): void {
  const line = Object.entries(account.rssKiBPerChannel)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
  console.log(`  RSS by mapping, KiB/channel over before the engine (${account.samples} samples): ${line}`);
  const main = Object.entries(account.mainKiBPerChannel)
    .filter(([, v]) => Math.abs(v) >= 0.05)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
  console.log(`  main thread's isolate, KiB/channel over before the engine: ${main}`);
  console.log(
    `  malloc arenas touched: ${account.arenas.toFixed(1)} (before the engine ${account.arenasBefore})`,
  );
  account.workers.forEach((w, i) => {
    const parts = Object.entries(w)
      .filter(([, v]) => v >= 0.05)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    console.log(`  worker ${i}, MiB: ${parts}`);
  });
  if (account.liveHeapKiBPerChannel !== undefined)
    console.log(
      `  workers' heap after a full collection: used ${account.liveHeapKiBPerChannel.toFixed(1)} KiB/channel, ` +
        `old space resident ${(account.oldSpaceAfterGcKiBPerChannel ?? 0).toFixed(1)}`,
    );
}

export interface EngineSendResult {
  kind: 'inline' | 'worker';
  n: number;
  workers: number | 'auto';
  /** Workers running at the end of the window. */
  workersUsed: number;
  dave: boolean;
  usPerPacket: number;
  corePercent: number;
  packetsPerSecond: number;
  late: number;
  p50Ms: number;
  p99Ms: number;
  rssKiBPerChannel: number;
  /** With --account: where the RSS went. */
  account?: MemoryAccount;
  /**
   * Where the lateness comes from: the share of the window's packets sent more than LATE_TICK_MS
   * (5 ms) late, and the share of the clocks' bucket deliveries that already started that late
   * (the worker was not running at the due time: no core, a GC pause, a long message). Close
   * shares mean the late packets are late because their worker woke late, not from bursts.
   */
  lateSendShare: number;
  lateStartShare: number;
  /**
   * Linux only: the busiest threads of this process over the window (main first), from
   * /proc/self/task/<tid>/schedstat: time on a core and time runnable but waiting for one, as a
   * share of the window. A thread that waits as long as it runs is short of CPU, not of threads.
   */
  threads?: ThreadShare[];
  /** Sum of the run-queue wait of the threads above except main, ms per second of window. */
  waitMsPerSecond?: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const kind = args.positional[0] === 'inline' ? 'inline' : 'worker';
  const n = Number(args.positional[1] ?? 100);
  const arg = args.positional[2];
  const backend = arg === 'js' || arg === 'node' || arg === 'sodium' ? arg : 'auto';
  const dave = args.positional[3] === 'dave';
  const sink = fork(fileURLToPath(import.meta.url), ['sink'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sink.once('message', (m) => resolve(Number(m))));
  const frames = await encodeToneFrames(3);
  const from = new URL(args.dist ? '../dist/media/index.js' : '../src/media/index.js', import.meta.url);
  const { createMediaEngine } = (await import(from.href)) as typeof MediaModule;
  const rss0 = process.memoryUsage().rss;
  const before = args.account ? rssAccount() : undefined;
  const mainBefore = mainMemory();
  const engine = createMediaEngine({ kind, workers: args.workers, channel: { transportBackend: backend } });
  const key = new Uint8Array(32).fill(7);
  const channels: MediaChannel[] = [];
  const start = (ch: MediaChannel, i: number): void => {
    ch.setTransport(EncryptionMode.AesGcm, key);
    if (dave)
      ch.setFrameProtection?.({ mode: 'encrypt', key: DaveSendKey.encrypt(new Uint8Array(16).fill(i)) });
    let k = i;
    const feed = (): void => {
      while (ch.enqueue(frames[k++ % frames.length]!)) {
        // fill to the high-water mark
      }
    };
    ch.on('drain', feed);
    feed();
    channels.push(ch);
  };
  // A few dozen opens in flight: one at a time, 1000 round trips to a busy worker take minutes.
  for (let first = 0; first < n; first += OPEN_AT_ONCE) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(OPEN_AT_ONCE, n - first) }, (_, j) =>
        engine.openChannel({ ssrc: first + j + 1, serverHost: '127.0.0.1', serverPort: port }),
      ),
    );
    opened.forEach((ch, j) => start(ch, first + j));
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const sent = async (): Promise<{ packets: number; late: number; lateness: LatenessData[] }> => {
    const all = await Promise.all(channels.map((c) => c.stats()));
    return {
      packets: all.reduce((a, s) => a + s.packetsSent, 0),
      late: all.reduce((a, s) => a + s.latePackets, 0),
      lateness: all.flatMap((s) => (s.sendLateness === undefined ? [] : [s.sendLateness])),
    };
  };
  await sleep(WARMUP_MS);
  const rssPerChannel = (process.memoryUsage().rss - rss0) / n / 1024;
  const clock0 = (await engine.stats?.())?.clock;
  const s0 = await sent();
  const cpu0 = process.cpuUsage();
  const threads0 = threadTimes();
  const switches0 = threadSwitches();
  const t0 = performance.now();
  const samples: AccountSample[] = [];
  if (before === undefined) await sleep(WINDOW_MS);
  else
    for (let s = 0; s < 4; s++) {
      await sleep(WINDOW_MS / 4);
      const sample = await accountSample(engine);
      if (sample !== undefined) samples.push(sample);
    }
  const account =
    before === undefined || samples.length === 0
      ? undefined
      : summarizeAccount(before, mainBefore, samples, n);
  if (
    account !== undefined &&
    typeof (globalThis as { gc?: unknown }).gc === 'function' &&
    hasWorkerMemory(engine)
  ) {
    const collected = await engine.workerMemory(true);
    account.liveHeapKiBPerChannel = collected.reduce((a, m) => a + m.heapUsed, 0) / 1024 / n;
    account.oldSpaceAfterGcKiBPerChannel =
      collected.reduce((a, m) => a + (m.spaces.find((x) => x.name === 'old_space')?.physical ?? 0), 0) /
      1024 /
      n;
  }
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const threads = busiestThreads(threads0, threadTimes(), elapsed);
  const wakeups = wakeupsLine(switches0, threadSwitches(), elapsed);
  const s1 = await sent();
  const packets = s1.packets - s0.packets;
  const per = (us: number): string => (us / packets).toFixed(2);
  // Lateness over the window only: the end histograms minus the start ones.
  const windowLateness = s1.lateness.map((h, i) => {
    const before = s0.lateness[i];
    if (before === undefined) return h;
    return {
      ...h,
      counts: h.counts.map((c, k) => c - (before.counts[k] ?? 0)),
      count: h.count - before.count,
    };
  });
  const lateness = summarizeLateness(windowLateness);
  const engineStats = await engine.stats?.();
  const merged = summedCounts(windowLateness);
  const lateSendShare = merged.count > 0 ? merged.over(LATE_TICK_MS) / merged.count : 0;
  const deliveries = (engineStats?.clock.ticksDelivered ?? 0) - (clock0?.ticksDelivered ?? 0);
  const lateStarts = (engineStats?.clock.lateTicks ?? 0) - (clock0?.lateTicks ?? 0);
  const lateStartShare = deliveries > 0 ? lateStarts / deliveries : 0;
  if (args.json) {
    const result: EngineSendResult = {
      kind,
      n,
      workers: args.workers,
      workersUsed: engineStats?.workers ?? 0,
      dave,
      usPerPacket: (cpu.user + cpu.system) / packets,
      corePercent: (cpu.user + cpu.system) / 10 / elapsed,
      packetsPerSecond: (packets * 1000) / elapsed,
      late: s1.late - s0.late,
      p50Ms: lateness.p50Ms,
      p99Ms: lateness.p99Ms,
      rssKiBPerChannel: rssPerChannel,
      ...(account === undefined ? {} : { account }),
      lateSendShare,
      lateStartShare,
      ...(threads.length > 0
        ? {
            threads,
            waitMsPerSecond: threads.filter((t) => !t.main).reduce((n, t) => n + t.waitPercent * 10, 0),
          }
        : {}),
    };
    console.log(JSON.stringify(result));
    await engine.close();
    sink.send('stop');
    return;
  }
  console.log(
    `${kind} N=${n} ${backend}${dave ? ' +DAVE' : ''}: ${per(cpu.user + cpu.system)} µs/packet (user ${per(cpu.user)}, ` +
      `system ${per(cpu.system)}), ${((packets * 1000) / elapsed).toFixed(0)}/${50 * n} packets/s, ` +
      `${((cpu.user + cpu.system) / 10 / elapsed).toFixed(0)}% of a core, ${s1.late - s0.late} late > 20 ms, ` +
      `p50/p99 lateness ${lateness.p50Ms.toFixed(2)}/${lateness.p99Ms.toFixed(2)} ms, ` +
      `RSS ${rssPerChannel.toFixed(1)} KiB/channel after warm-up, ${engineStats?.workers ?? 0} worker(s)`,
  );
  console.log(
    `  sent > ${LATE_TICK_MS} ms late: ${(lateSendShare * 100).toFixed(2)}% of packets; ` +
      `bucket deliveries that started > ${LATE_TICK_MS} ms late: ${(lateStartShare * 100).toFixed(2)}%`,
  );
  if (wakeups !== '') console.log(`  wake-ups: ${wakeups}`);
  if (account !== undefined) printAccount(account);
  for (const t of threads)
    console.log(
      `  ${t.main ? 'main thread ' : 'other thread'}: on a core ${t.runPercent.toFixed(0)}% of the window, ` +
        `waiting for one ${t.waitPercent.toFixed(0)}%`,
    );
  await engine.close();
  sink.send('stop');
}

/** The window's histograms merged: total count and how many were later than a bound. */
function summedCounts(histograms: readonly LatenessData[]): { count: number; over(ms: number): number } {
  const counts: number[] = [];
  let count = 0;
  for (const h of histograms) {
    h.counts.forEach((c, i) => (counts[i] = (counts[i] ?? 0) + c));
    count += h.count;
  }
  return {
    count,
    over: (ms) => counts.slice(Math.ceil(ms / LATENESS_BUCKET_MS)).reduce((a, c) => a + c, 0),
  };
}

if (process.argv[2] === 'sink') runSink();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
