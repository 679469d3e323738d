/**
 * One bench client run in its own process, so that CPU and RSS belong to one library only. Started
 * by bench/run.ts with fork (and --expose-gc); receives a ClientRunRequest, connects, plays, measures
 * one window, replies with a SendMeasurement and exits.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDjsClient } from './clients/djs.js';
import { createVoxcordClient } from './clients/voxcord.js';
import type { BenchClient, EngineCounters } from './clients/types.js';
import { isRecord } from './ipc.js';
import type { ClientMessage, ClientRunRequest, SendMeasurement } from './ipc.js';
import { latenessBetween } from './stats.js';
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
    await sleep(scenario.warmupMs);
    const loaded = memory();
    await sleep(250); // let the clock catch up after the collection pause

    const before: EngineCounters | undefined = await client.engineCounters?.();
    await send({ type: 'window', phase: 'start' });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    probe.start();
    await sleep(scenario.windowMs);
    const seen = probe.stop();
    const cpu = process.cpuUsage(cpu0);
    const elapsedMs = performance.now() - t0;
    await send({ type: 'window', phase: 'end' });
    const after: EngineCounters | undefined = await client.engineCounters?.();

    // The probe sees sends on this thread only; the worker engine's come from its counters.
    const engineDelta = before && after ? after.packetsSent - before.packetsSent : 0;
    const packets = seen.packets > 0 ? seen.packets : engineDelta;
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
