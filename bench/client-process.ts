/**
 * One bench client run in its own process, so that CPU and RSS belong to one library only. Started
 * by bench/run.ts with fork (and --expose-gc); receives a ClientRunRequest, connects, plays, measures
 * one window, replies with a SendMeasurement and exits.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDjsClient } from './clients/djs.js';
import { createVoxcordClient } from './clients/voxcord.js';
import type { BenchClient, EngineCounters } from './clients/types.js';
import { isRecord } from './ipc.js';
import type { ClientMessage, ClientRunRequest, SendMeasurement } from './ipc.js';
import { countAtLeast, histogramDeltas, latenessBetween } from './stats.js';
import { encodeToneFrames } from './tone.js';
import { installUdpProbe } from './udp-probe.js';

function send(message: ClientMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, () => resolve());
  });
}

function collectGarbage(): void {
  if (typeof gc === 'function') gc();
}

function memory(): { rss: number; heapUsed: number } {
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
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

/** Late threshold of the stall scenario (issue 7: packets sent more than 20 ms late). */
const LATE_MS = 20;

function createClient(req: ClientRunRequest): BenchClient {
  if (req.implementation === 'djs') return createDjsClient({ dave: req.scenario.dave });
  return createVoxcordClient({ engine: req.scenario.engine ?? 'inline', dave: req.scenario.dave });
}

async function runSend(req: ClientRunRequest): Promise<SendMeasurement> {
  const { scenario, allocations } = req;
  const n = allocations.length;
  const frames = await encodeToneFrames(3);
  const probe = installUdpProbe();
  const client = createClient(req);
  try {
    const base = memory();
    const connectStart = performance.now();
    await client.connect(allocations, req.tlsCa);
    const connectMs = performance.now() - connectStart;
    client.play(frames);
    const staller = scenario.kind === 'stall' && scenario.stall ? startStaller(scenario.stall) : undefined;
    await sleep(scenario.warmupMs);
    const loaded = memory();
    await sleep(250); // let the clock catch up after the collection pause

    const before: EngineCounters | undefined = await client.engineCounters?.();
    const stallsBefore = staller?.stalls() ?? 0;
    const profiler = windowProfiler(
      `${req.implementation}-${req.scenario.engine ?? ''}-n${n}`.replace('--', '-'),
    );
    await profiler.start();
    await send({ type: 'window', phase: 'start' });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    probe.start();
    await sleep(scenario.windowMs);
    const seen = probe.stop();
    const cpu = process.cpuUsage(cpu0);
    const elapsedMs = performance.now() - t0;
    const stalls = (staller?.stalls() ?? 0) - stallsBefore;
    staller?.stop();
    await profiler.stop();
    await send({ type: 'window', phase: 'end' });
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
    if (client.errors.length > 0)
      throw new Error(`errors during the run: ${client.errors.slice(0, 3).join('; ')}`);
    return {
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
    };
  } finally {
    probe.uninstall();
    await Promise.race([client.close(), sleep(5_000)]);
  }
}

function parseRun(value: unknown): ClientRunRequest | undefined {
  return isRecord(value) && value.type === 'run' ? (value as unknown as ClientRunRequest) : undefined;
}

process.on('message', (raw: unknown) => {
  const req = parseRun(raw);
  if (!req) return;
  runSend(req)
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
