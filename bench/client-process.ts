/**
 * One bench client run in its own process, so that CPU and RSS belong to one library only. Started
 * by bench/run.ts with fork (and --expose-gc); receives a ClientRunRequest, runs its scenario,
 * replies with a Measurement and exits.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { writeHeapSnapshot } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDjsClient, createDjsFirstAudioClient, createDjsReceiveClient } from './clients/djs.js';
import { installDjsOpus } from './clients/djs-opus.js';
import {
  createVoxcordClient,
  createVoxcordFirstAudioClient,
  createVoxcordReceiveClient,
} from './clients/voxcord.js';
import { loadVoxcord } from './clients/voxcord-lib.js';
import type { BenchClient, EngineCounters, FirstAudioClient, ReceiveClient } from './clients/types.js';
import { startAllocationSampling } from './alloc-sampling.js';
import { isRecord } from './ipc.js';
import type {
  ClientMessage,
  ClientRunRequest,
  FirstAudioMeasurement,
  Measurement,
  ReceiveMeasurement,
  SendMeasurement,
} from './ipc.js';
import { countAtLeast, histogramDeltas, latenessBetween } from './stats.js';
import {
  busiestThreads,
  threadCpuLine,
  threadSwitches,
  threadTimes,
  threadUserSystemLine,
  wakeupsLine,
} from './thread-times.js';
import { encodeToneFrames, tonePcmFrames } from './tone.js';
import { installUdpProbe } from './udp-probe.js';
import { markWindow } from './window-marks.js';
import { rssAccount, RSS_KINDS } from './memory-account.js';
import type { WindowPort } from './window-marks.js';
import { PCM_FRAME_BYTES } from '../src/protocol/constants.js';

function send(message: ClientMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, () => resolve());
  });
}

function collectGarbage(): void {
  if (typeof gc === 'function') gc();
}

function memory(): { rss: number; heapUsed: number; usage: NodeJS.MemoryUsage } {
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, usage: m };
}

/** Linux: this process's resident memory by kind of mapping (memory-account.ts), MiB. */
function rssByMapping(): string {
  const account = rssAccount();
  if (account === undefined) return 'n/a';
  return [
    ...RSS_KINDS.map((kind) => `${kind} ${(account[kind] / 1024).toFixed(1)}`),
    `(${account.arenas} arenas)`,
  ].join(', ');
}

/**
 * VOXCORD_BENCH_MEMORY=dir (diagnostics, not part of the results): prints where the loaded RSS
 * went (main-thread heap, external, ArrayBuffers, per connection) and writes heap snapshots of the
 * main thread and of each worker into dir.
 */
async function memoryDetail(
  label: string,
  n: number,
  base: NodeJS.MemoryUsage,
  loaded: NodeJS.MemoryUsage,
  workers: readonly Worker[],
): Promise<void> {
  const dir = process.env.VOXCORD_BENCH_MEMORY;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const kib = (key: keyof NodeJS.MemoryUsage): string =>
    `${key} ${((loaded[key] - base[key]) / 1024 / n).toFixed(1)}`;
  const keys: (keyof NodeJS.MemoryUsage)[] = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'];
  console.error(`[memory] ${label} N=${n} KiB/conn: ${keys.map(kib).join(', ')}`);
  console.error(`[memory] ${label} N=${n} RSS by mapping, MiB: ${rssByMapping()}`);
  if (process.env.VOXCORD_BENCH_MEMORY_SNAPSHOTS !== '1') return;
  writeHeapSnapshot(path.join(dir, `${label}-n${n}-main.heapsnapshot`));
  for (const [i, worker] of workers.entries()) {
    const stream = await worker.getHeapSnapshot();
    await pipeline(stream, createWriteStream(path.join(dir, `${label}-n${n}-worker${i}.heapsnapshot`)));
  }
}

/**
 * Main-thread CPU profile of the measured window only (not the connecting), when
 * VOXCORD_BENCH_WINDOW_PROFILE names a directory (bench/run.ts --window-profile).
 */
function windowProfiler(label: string): { start(): Promise<void>; stop(): Promise<void> } {
  const dir = process.env.VOXCORD_BENCH_WINDOW_PROFILE;
  if (!dir) return { start: async () => undefined, stop: async () => undefined };
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  return {
    async start() {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
    },
    async stop() {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(path.join(dir, `${label}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Blocks this thread for `blockMs` every `everyMs` (the bot's own code hogging the main thread). */
function startStaller(spec: { everyMs: number; blockMs: number }): { stalls(): number; stop(): void } {
  let count = 0;
  const timer = setInterval(() => {
    const end = performance.now() + spec.blockMs;
    while (performance.now() < end) {
      // busy-wait on purpose
    }
    count++;
  }, spec.everyMs);
  return {
    stalls: () => count,
    stop: () => clearInterval(timer),
  };
}

/** The window's edges go to the orchestrator, which answers once the server's mark is taken. */
const WINDOW_ACK_TIMEOUT_MS = 15_000; // run.ts waits up to 10 s for a server mark
const windowPort: WindowPort = { send, ack: () => fromParent('window-ack', WINDOW_ACK_TIMEOUT_MS) };

/** Late threshold of the stall scenario (issue 7: packets sent more than 20 ms late). */
const LATE_MS = 20;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The next message from the orchestrator of this type. */
function fromParent(type: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (!isRecord(m) || m.type !== type) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve();
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error(`no '${type}' from the orchestrator within ${timeoutMs} ms`));
    }, timeoutMs);
    process.on('message', onMessage);
  });
}

async function createClient(req: ClientRunRequest): Promise<BenchClient> {
  if (req.implementation === 'djs') return createDjsClient({ dave: req.scenario.dave });
  return createVoxcordClient(await loadVoxcord(), {
    engine: req.scenario.engine ?? 'inline',
    dave: req.scenario.dave,
  });
}

async function runSend(req: ClientRunRequest): Promise<SendMeasurement> {
  const { scenario, allocations } = req;
  const n = allocations.length;
  const frames = await encodeToneFrames(3);
  const probe = installUdpProbe();
  const client = await createClient(req);
  try {
    const base = memory();
    const connectStart = performance.now();
    await client.connect(allocations, req.tlsCa);
    const connectMs = performance.now() - connectStart;
    if (scenario.kind === 'encode') client.playPcm(tonePcmFrames(3));
    else client.play(frames);
    const staller = scenario.kind === 'stall' && scenario.stall ? startStaller(scenario.stall) : undefined;
    await sleep(scenario.warmupMs);
    const loaded = memory();
    await memoryDetail(
      `${req.implementation}-${req.scenario.engine ?? ''}`,
      n,
      base.usage,
      loaded.usage,
      client.workers?.() ?? [],
    );
    await sleep(250); // let the clock catch up after the collection pause

    const before: EngineCounters | undefined = await client.engineCounters?.();
    const stallsBefore = staller?.stalls() ?? 0;
    const profiler = windowProfiler(
      `${req.implementation}-${req.scenario.engine ?? ''}-n${n}`.replace('--', '-'),
    );
    await profiler.start();
    // VOXCORD_BENCH_ALLOC=1: the main thread's allocation sites over the window, per packet.
    const sampler = process.env.VOXCORD_BENCH_ALLOC ? await startAllocationSampling() : undefined;
    await markWindow('start', windowPort);
    const cpu0 = process.cpuUsage();
    const threads0 = threadTimes();
    const switches0 = process.env.VOXCORD_BENCH_THREADS ? threadSwitches() : undefined;
    const wakeups = process.env.VOXCORD_BENCH_WAKEUPS ? countWakeups(client.workers?.() ?? []) : undefined;
    const t0 = performance.now();
    probe.start();
    await sleep(scenario.windowMs);
    const seen = probe.stop();
    const cpu = process.cpuUsage(cpu0);
    const elapsedMs = performance.now() - t0;
    const threads1 = threadTimes();
    const switches1 = switches0 === undefined ? undefined : threadSwitches();
    const threads = busiestThreads(threads0, threads1, elapsedMs);
    wakeups?.report(elapsedMs);
    const stalls = (staller?.stalls() ?? 0) - stallsBefore;
    staller?.stop();
    await profiler.stop();
    await markWindow('end', windowPort);
    if (process.env.VOXCORD_BENCH_MEMORY) {
      const end = memory();
      console.error(
        `[memory] at the window's end: rss ${((end.rss - base.rss) / 1024 / n).toFixed(1)} KiB/conn`,
      );
    }
    const after: EngineCounters | undefined = await client.engineCounters?.();

    // The probe sees sends on this thread only; the worker engine's come from its counters.
    const engineDelta = before && after ? after.packetsSent - before.packetsSent : 0;
    const packets = seen.packets > 0 ? seen.packets : engineDelta;
    const engineHistograms = before && after ? histogramDeltas(before.lateness, after.lateness) : null;
    const lateOver20ms =
      seen.packets > 0
        ? countAtLeast([seen.histogram], LATE_MS)
        : engineHistograms
          ? countAtLeast(engineHistograms, LATE_MS)
          : null;
    const cpuTotal = cpu.user + cpu.system;
    if (process.env.VOXCORD_BENCH_THREADS) {
      console.error(`[threads] ${threadCpuLine(threads0, threads1, packets)}`);
      // Per packet, user and kernel time of each thread (main, media workers, V8's helpers).
      if (switches0 !== undefined && switches1 !== undefined)
        console.error(`[threads] ${threadUserSystemLine(switches0, switches1, packets)}`);
    }
    await sampler?.stop(packets, (line) => console.error(`[alloc main] ${line}`));
    if (client.errors.length > 0)
      throw new Error(`errors during the run: ${client.errors.slice(0, 3).join('; ')}`);
    return {
      type: 'send',
      connections: n,
      windowMs: elapsedMs,
      packets,
      packetsPerSecond: (packets * 1000) / elapsedMs,
      targetPacketsPerSecond: 50 * n,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      cpuUsPerPacket: packets > 0 ? cpuTotal / packets : NaN,
      cpuCoreShare: cpuTotal / 1000 / elapsedMs,
      gridLateness: seen.lateness,
      engineLateness: before && after ? latenessBetween(before.lateness, after.lateness) : null,
      latePackets: before && after ? after.latePackets - before.latePackets : null,
      lateOver20ms,
      underruns: before && after ? after.underruns - before.underruns : null,
      stalls,
      rssBaselineBytes: base.rss,
      rssLoadedBytes: loaded.rss,
      rssPerConnectionBytes: (loaded.rss - base.rss) / n,
      heapUsedPerConnectionBytes: (loaded.heapUsed - base.heapUsed) / n,
      connectMs,
      workers: after?.workers ?? null,
      threadWaitMsPerSecond: threads.length > 0 ? threads.reduce((n, t) => n + t.waitPercent * 10, 0) : null,
    };
  } finally {
    probe.uninstall();
    await Promise.race([client.close(), sleep(5_000)]);
  }
}

/**
 * VOXCORD_BENCH_WAKEUPS=1: wake-ups per second of each busy thread (voluntary context switches)
 * and messages per second each way across the media workers' boundary, for the window.
 */
function countWakeups(workers: readonly Worker[]): { report(windowMs: number): void } {
  const before = threadSwitches();
  let toWorker = 0;
  let fromWorker = 0;
  const restore: (() => void)[] = [];
  for (const w of workers) {
    const post = w.postMessage.bind(w);
    w.postMessage = (...args: Parameters<Worker['postMessage']>) => {
      toWorker++;
      post(...args);
    };
    const onMessage = (): void => {
      fromWorker++;
    };
    w.on('message', onMessage);
    restore.push(() => {
      w.postMessage = post;
      w.off('message', onMessage);
    });
  }
  return {
    report(windowMs) {
      const line = wakeupsLine(before, threadSwitches(), windowMs);
      for (const r of restore) r();
      const rate = (n: number): string => ((n * 1000) / windowMs).toFixed(0);
      console.error(
        `[wakeups] ${line}; messages/s main->worker ${rate(toWorker)}, worker->main ${rate(fromWorker)}`,
      );
    },
  };
}

/** Scenario 4: join, play at once, wait until the orchestrator saw the first audio, leave; n times. */
async function runFirstAudio(req: ClientRunRequest): Promise<FirstAudioMeasurement> {
  const frames = await encodeToneFrames(1);
  const client: FirstAudioClient =
    req.implementation === 'djs'
      ? createDjsFirstAudioClient()
      : createVoxcordFirstAudioClient(await loadVoxcord());
  const joinedAt: number[] = [];
  try {
    for (const [index, allocation] of req.allocations.entries()) {
      const at = epochNow();
      await send({ type: 'joining', index, at });
      joinedAt.push(at);
      client.joinAndPlay(allocation, req.tlsCa, frames);
      await fromParent('next', 30_000);
      await client.leave();
      await sleep(200); // the server sees the leave before the next join
    }
    if (client.errors.length > 0)
      throw new Error(`errors during the run: ${client.errors.slice(0, 3).join('; ')}`);
    return { type: 'first-audio', joinedAt };
  } finally {
    await Promise.race([client.close(), sleep(5_000)]);
  }
}

/** Scenario 5: decode every incoming stream to PCM for one window. */
async function runReceive(req: ClientRunRequest): Promise<ReceiveMeasurement> {
  const { scenario } = req;
  const listener = req.allocations[0];
  const senders = req.receiveFrom ?? [];
  if (!listener) throw new Error('receive: no listener allocation');
  const client: ReceiveClient =
    req.implementation === 'djs'
      ? createDjsReceiveClient({ dave: scenario.dave })
      : createVoxcordReceiveClient(await loadVoxcord());
  try {
    const base = memory();
    const connectStart = performance.now();
    await client.connect(listener, req.tlsCa, senders);
    const connectMs = performance.now() - connectStart;
    await sleep(scenario.warmupMs);
    const loaded = memory();
    await sleep(250);
    const profiler = windowProfiler(`${req.implementation}-receive-n${senders.length}`);
    await profiler.start();
    await markWindow('start', windowPort);
    const bytes0 = client.pcmBytes();
    const concealed0 = client.concealedFrames?.();
    const threads0 =
      process.env.VOXCORD_BENCH_THREADS || process.env.VOXCORD_BENCH_WAKEUPS ? threadSwitches() : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(scenario.windowMs);
    const cpu = process.cpuUsage(cpu0);
    const elapsedMs = performance.now() - t0;
    const pcmFrames = (client.pcmBytes() - bytes0) / PCM_FRAME_BYTES;
    const threads1 = threads0 === undefined ? undefined : threadSwitches();
    if (threads0 !== undefined && threads1 !== undefined) {
      if (process.env.VOXCORD_BENCH_THREADS)
        console.error(`[threads] ${threadUserSystemLine(threads0, threads1, Math.round(pcmFrames))}`);
      if (process.env.VOXCORD_BENCH_WAKEUPS)
        console.error(`[wakeups] ${wakeupsLine(threads0, threads1, elapsedMs)}`);
    }
    const concealed1 = client.concealedFrames?.();
    await profiler.stop();
    await markWindow('end', windowPort);
    if (client.errors.length > 0)
      throw new Error(`errors during the run: ${client.errors.slice(0, 3).join('; ')}`);
    const cpuTotal = cpu.user + cpu.system;
    return {
      type: 'receive',
      streams: senders.length,
      windowMs: elapsedMs,
      pcmFrames,
      expectedFrames: (senders.length * 50 * elapsedMs) / 1000,
      concealedFrames: concealed0 !== undefined && concealed1 !== undefined ? concealed1 - concealed0 : null,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      cpuUsPerFrame: pcmFrames > 0 ? cpuTotal / pcmFrames : NaN,
      cpuCoreShare: cpuTotal / 1000 / elapsedMs,
      rssPerStreamBytes: (loaded.rss - base.rss) / Math.max(1, senders.length),
      connectMs,
    };
  } finally {
    await Promise.race([client.close(), sleep(5_000)]);
  }
}

function runScenario(req: ClientRunRequest): Promise<Measurement> {
  // djs encodes and decodes through prism-media, which needs an Opus backend (see ./clients/djs-opus.ts).
  if (req.implementation === 'djs') installDjsOpus();
  switch (req.scenario.kind) {
    case 'first-audio':
      return runFirstAudio(req);
    case 'receive':
      return runReceive(req);
    default:
      return runSend(req);
  }
}

function parseRun(value: unknown): ClientRunRequest | undefined {
  return isRecord(value) && value.type === 'run' ? (value as unknown as ClientRunRequest) : undefined;
}

process.on('message', (raw: unknown) => {
  const req = parseRun(raw);
  if (!req) return;
  runScenario(req)
    .then(
      (measurement) => send({ type: 'result', measurement }),
      (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    )
    .finally(() => {
      // Libraries may keep handles (sockets closing, timers): the run is over either way.
      setTimeout(() => process.exit(0), 200).unref();
      process.disconnect();
    });
});
