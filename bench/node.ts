/**
 * `npm run bench:node`: the node benchmark. P players, each in its own call on the local
 * voice server (DAVE on) with one deaf member (so every bot has a DAVE group to encrypt for),
 * playing a local Ogg/Opus file passed through. Three variants, each in its own process
 * (bench/node-process.ts), one after the other against a fresh server process:
 * - `voxcord-node`: a voxcord node driven over the Lavalink v4 protocol (REST + WebSocket);
 * - `library`: the in-process voxcord library (joinVoiceChannel + AudioPlayer; the protocol
 *   layer's cost is the difference);
 * - `djs-node`: the same node front end over @discordjs/voice + davey.
 * Measured per run: CPU (% of one core) and RSS per player over the window, packets at the server
 * against 50 per player per second, p99 send lateness (voxcord: the engine's own histograms; djs:
 * its main-thread UDP sends against the 20 ms grid), frameStats deficit and nulled (the node's own
 * `stats` messages), late frames (> 20 ms) under a 100 ms main-thread stall every second, p99 of a
 * PATCH play under load, and the seconds to migrate all P players to a second node of the same
 * kind after a SIGKILL (until the server gets 90 % of the expected packets again).
 *
 * Options: --quick (P = 20, short windows) --sizes=100,500,1000 --variants=voxcord-node,library,djs-node
 *          --window-ms=10000 --warmup-ms=3000 --no-migration --no-stall
 * Writes bench/results/node-latest.{json,md} (full runs) or partial.node.{json,md}, and prints a table.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { summarizeLateness } from '../src/media/lateness-histogram.js';
import type { LatenessData } from '../src/media/lateness-histogram.js';
import { createOggOpusWriter } from '../src/receive/recorder.js';
import { inBatches } from './clients/types.js';
import { isRecord, request } from './ipc.js';
import type { Allocation, ServerMark, ServerMessage } from './ipc.js';
import type { NodeBenchVariant, NodeProcessCounters, NodeProcessMessage } from './node-process.js';
import { countAtLeast, histogramDeltas } from './stats.js';
import { encodeToneFrames } from './tone.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const BOT = '1900000000000000001';
const PASSWORD = 'bench';
const VARIANTS: NodeBenchVariant[] = ['voxcord-node', 'library', 'djs-node'];

interface Config {
  sizes: number[];
  variants: NodeBenchVariant[];
  windowMs: number;
  warmupMs: number;
  migration: boolean;
  stall: boolean;
  full: boolean;
}

function parseArgs(argv: readonly string[]): Config {
  const get = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  const list = (name: string): string[] | undefined => get(name)?.split(',').filter(Boolean);
  const sizes = (list('sizes') ?? (quick ? ['20'] : ['100', '500', '1000'])).map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--sizes must be positive integers');
  const variants = (list('variants') ?? VARIANTS) as NodeBenchVariant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}`);
  const windowMs = Number(get('window-ms') ?? (quick ? 4000 : 10_000));
  const warmupMs = Number(get('warmup-ms') ?? (quick ? 1500 : 3000));
  return {
    sizes,
    variants,
    windowMs,
    warmupMs,
    migration: !argv.includes('--no-migration'),
    stall: !argv.includes('--no-stall'),
    full: argv.length === 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function forkTs(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return fork(path.join(here, file), args, {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

let nextId = 1;

function ask<T>(
  child: ChildProcess,
  message: object,
  type: string,
  what: string,
  timeoutMs = 180_000,
): Promise<T> {
  const id = nextId++;
  return request(
    child,
    { ...message, id },
    (reply) => {
      if (!isRecord(reply) || reply.id !== id) return undefined;
      if (reply.type === 'error') throw new Error(`${what}: ${String(reply.message)}`);
      return reply.type === type ? (reply as T) : undefined;
    },
    timeoutMs,
    what,
  );
}

function once<T>(child: ChildProcess, type: string, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (isRecord(m) && m.type === type) {
        child.off('message', onMessage);
        resolve(m as T);
      } else if (isRecord(m) && m.type === 'error') reject(new Error(`${what}: ${String(m.message)}`));
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`${what}: exited (${String(code)})`)));
  });
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** A Lavalink client's side of one node: its WebSocket (stats kept) and REST. */
class NodeClient {
  readonly stats: { at: number; frameStats: { sent: number; nulled: number; deficit: number } | null }[] = [];
  sessionId = '';
  /** Guilds whose player reported its voice connected (the playerUpdate at 'voice ready'). */
  readonly connected = new Set<string>();
  private ws: WebSocket | undefined;

  constructor(readonly port: number) {}

  async open(): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/v4/websocket`, {
      headers: { Authorization: PASSWORD, 'User-Id': BOT, 'Client-Name': 'voxcord-bench/1' },
    });
    this.ws = ws;
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as Record<string, unknown>;
        if (m.op === 'ready') {
          this.sessionId = m.sessionId as string;
          resolve();
        } else if (m.op === 'stats')
          this.stats.push({ at: performance.now(), frameStats: (m.frameStats as never) ?? null });
        else if (m.op === 'playerUpdate' && (m.state as { connected?: boolean }).connected === true)
          this.connected.add(m.guildId as string);
      });
      ws.once('close', () => reject(new Error('node WebSocket closed')));
    });
  }

  async rest(pathname: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> {
    const res = await fetch(`http://127.0.0.1:${this.port}${pathname}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: PASSWORD, 'Content-Type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${pathname}: ${res.status} ${text.slice(0, 200)}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  patch(guildId: string, body: unknown): Promise<unknown> {
    return this.rest(`/v4/sessions/${this.sessionId}/players/${guildId}`, { method: 'PATCH', body });
  }

  close(): void {
    this.ws?.terminate();
  }
}

function p99(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? null;
}

/** Lateness recorded between two counter snapshots (djs: each snapshot is its own window already). */
function windowLateness(
  variant: NodeBenchVariant,
  before: NodeProcessCounters,
  after: NodeProcessCounters,
): LatenessData[] {
  return variant === 'djs-node' ? after.lateness : histogramDeltas(before.lateness, after.lateness);
}

interface RunResult {
  variant: NodeBenchVariant;
  players: number;
  connectS: number;
  cpuCorePctPerPlayer: number;
  rssPerPlayerKiB: number;
  deliveredPct: number;
  latenessP99Ms: number | null;
  frameStats: { sent: number; nulled: number; deficit: number } | null;
  lateOver20msUnderStall: number | null;
  stalls: number | null;
  patchPlayP99Ms: number | null;
  migrationS: number | null;
  errors: string[];
}

async function startServer(): Promise<{
  child: ChildProcess;
  ready: Extract<ServerMessage, { type: 'ready' }>;
}> {
  const child = forkTs('server-process.ts', [JSON.stringify({ dave: true })]);
  const ready = await once<Extract<ServerMessage, { type: 'ready' }>>(child, 'ready', 'server');
  return { child, ready };
}

async function mark(server: ChildProcess): Promise<ServerMark> {
  return (await ask<{ mark: ServerMark }>(server, { type: 'mark' }, 'marked', 'server mark')).mark;
}

async function allocate(
  server: ChildProcess,
  n: number,
  round: number,
  members: boolean,
): Promise<Allocation[]> {
  const requests = Array.from({ length: n }, (_, i) => ({
    guildId: String(1900000000000100000n + BigInt(i)),
    channelId: String(1900000000000200000n + BigInt(i)),
    userId: members ? String(1900000000000300000n + BigInt(i)) : BOT,
    sessionId: `bench-${round}-${i}`,
    ...(members ? { deaf: true } : {}),
  }));
  return (
    await ask<{ allocations: Allocation[] }>(server, { type: 'allocate', requests }, 'allocated', 'allocate')
  ).allocations;
}

async function startSide(
  variant: NodeBenchVariant,
  ca: string,
  caFile: string,
): Promise<{ child: ChildProcess; port: number | null }> {
  const child = forkTs('node-process.ts', [variant], {
    ...process.env,
    VOXCORD_BENCH_CA: ca,
    NODE_EXTRA_CA_CERTS: caFile,
    VOXCORD_BENCH_STATS_MS: '1000',
  });
  const ready = await once<Extract<NodeProcessMessage, { type: 'ready' }>>(child, 'ready', variant);
  return { child, port: ready.port };
}

const counters = async (child: ChildProcess): Promise<NodeProcessCounters> =>
  (await ask<{ counters: NodeProcessCounters }>(child, { type: 'counters' }, 'counters', 'counters'))
    .counters;

/**
 * Plays `encoded` for every allocation on `node` (voice, then the track), 50 joins at a time: the
 * node answers PATCH voice before the join, so each waits for the player's connected playerUpdate.
 */
async function playAll(node: NodeClient, allocations: readonly Allocation[], encoded: string): Promise<void> {
  await inBatches(allocations, 50, async (a) => {
    await node.patch(a.guildId, {
      voice: { token: a.token, endpoint: a.endpoint, sessionId: a.sessionId, channelId: a.channelId },
    });
    await node.patch(a.guildId, { track: { encoded } });
    for (const since = performance.now(); !node.connected.has(a.guildId); await sleep(20))
      if (performance.now() - since > 30_000) throw new Error(`player ${a.guildId}: no voice after 30 s`);
  });
}

/** Waits until the server receives ≥ 90 % of P players' packets over 250 ms; the time it took, s. */
async function untilFlowing(
  server: ChildProcess,
  players: number,
  since: number,
  limitMs: number,
): Promise<number | null> {
  let last = await mark(server);
  while (performance.now() - since < limitMs) {
    await sleep(250);
    const now = await mark(server);
    const rate = ((now.packetsReceived - last.packetsReceived) * 1000) / (now.at - last.at);
    last = now;
    if (rate >= 0.9 * players * 50) return (performance.now() - since) / 1000;
  }
  return null;
}

async function runOne(
  config: Config,
  variant: NodeBenchVariant,
  players: number,
  file: string,
  dir: string,
): Promise<RunResult> {
  const { child: server, ready } = await startServer();
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ready.tlsCa ?? '');
  const sides: ChildProcess[] = [];
  const nodes: NodeClient[] = [];
  const errors: string[] = [];
  try {
    const memberAllocations = await allocate(server, players, 0, true);
    await ask(
      server,
      { type: 'members', allocations: memberAllocations, play: false, dave: true },
      'members-ready',
      'members',
    );
    const a = await startSide(variant, ready.tlsCa ?? '', caFile);
    sides.push(a.child);
    const baseline = await counters(a.child);
    const bots = await allocate(server, players, 1, false);
    const t0 = performance.now();
    let encoded = '';
    if (a.port === null) {
      await ask(a.child, { type: 'join', allocations: bots, file }, 'joined', 'library join', 600_000);
    } else {
      const node = new NodeClient(a.port);
      nodes.push(node);
      await node.open();
      const loaded = (await node.rest(`/v4/loadtracks?identifier=${encodeURIComponent(file)}`)) as {
        data: { encoded: string };
      };
      encoded = loaded.data.encoded;
      await playAll(node, bots, encoded);
    }
    const connectS = (performance.now() - t0) / 1000;
    await sleep(config.warmupMs);

    // The window: CPU, RSS, packets at the server, lateness, frameStats.
    const before = await counters(a.child);
    const m0 = await mark(server);
    const windowStart = performance.now();
    await sleep(config.windowMs);
    const after = await counters(a.child);
    const m1 = await mark(server);
    const windowEnd = performance.now();
    const windowS = (m1.at - m0.at) / 1000;
    const lateness = windowLateness(variant, before, after);
    const latenessP99Ms = lateness.length > 0 ? summarizeLateness(lateness).p99Ms : null;
    const node = nodes[0];
    // Each stats message covers the second before it: those wholly inside the window.
    const windowStats = node?.stats.filter((s) => s.at >= windowStart + 1000 && s.at <= windowEnd) ?? [];
    const frameStats = windowStats.some((s) => s.frameStats !== null)
      ? windowStats.reduce(
          (sum, s) => ({
            sent: sum.sent + (s.frameStats?.sent ?? 0),
            nulled: sum.nulled + (s.frameStats?.nulled ?? 0),
            deficit: sum.deficit + (s.frameStats?.deficit ?? 0),
          }),
          { sent: 0, nulled: 0, deficit: 0 },
        )
      : null;

    // PATCH play under load: replace the track of up to 100 players, 10 at a time.
    const patchTimes: number[] = [];
    if (node !== undefined)
      await inBatches(bots.slice(0, 100), 10, async (b) => {
        const s = performance.now();
        await node.patch(b.guildId, { track: { encoded } });
        patchTimes.push(performance.now() - s);
      });

    // A 100 ms main-thread stall every second for the window.
    let lateOver20msUnderStall: number | null = null;
    let stalls: number | null = null;
    if (config.stall) {
      const s0 = await counters(a.child);
      const stalled = await ask<{ stalls: number }>(
        a.child,
        { type: 'stall', everyMs: 1000, blockMs: 100, durationMs: config.windowMs },
        'stalled',
        'stall',
      );
      const s1 = await counters(a.child);
      stalls = stalled.stalls;
      lateOver20msUnderStall = countAtLeast(windowLateness(variant, s0, s1), 20);
    }

    // Migration: a second node of the same kind takes every player after a SIGKILL of the first.
    let migrationS: number | null = null;
    if (config.migration && node !== undefined) {
      const b = await startSide(variant, ready.tlsCa ?? '', caFile);
      sides.push(b.child);
      const nodeB = new NodeClient(b.port ?? 0);
      nodes.push(nodeB);
      await nodeB.open();
      const fresh = await allocate(server, players, 2, false);
      kill(a.child);
      const killedAt = performance.now();
      const moved = playAll(nodeB, fresh, encoded).catch((err: unknown) => errors.push(String(err)));
      migrationS = await untilFlowing(server, players, killedAt, 60_000);
      await moved;
    }

    return {
      variant,
      players,
      connectS,
      cpuCorePctPerPlayer: (((after.cpuUs - before.cpuUs) / 1000 / (windowS * 1000)) * 100) / players,
      rssPerPlayerKiB: (after.rssBytes - baseline.rssBytes) / 1024 / players,
      deliveredPct: (100 * (m1.packetsReceived - m0.packetsReceived)) / (players * 50 * windowS),
      latenessP99Ms,
      frameStats,
      lateOver20msUnderStall,
      stalls,
      patchPlayP99Ms: p99(patchTimes),
      migrationS,
      errors,
    };
  } finally {
    for (const n of nodes) n.close();
    for (const s of sides) kill(s);
    kill(server);
  }
}

function table(results: readonly RunResult[]): string {
  const f = (v: number | null | undefined, d = 2): string =>
    v === null || v === undefined ? 'n/a' : v.toFixed(d);
  const rows = results.map((r) =>
    [
      r.variant,
      r.players,
      f(r.cpuCorePctPerPlayer, 3),
      f(r.rssPerPlayerKiB, 0),
      f(r.deliveredPct, 1),
      f(r.latenessP99Ms),
      r.frameStats === null ? 'n/a' : `${r.frameStats.deficit} / ${r.frameStats.nulled}`,
      r.lateOver20msUnderStall === null ? 'n/a' : `${r.lateOver20msUnderStall} (${r.stalls ?? 0} stalls)`,
      f(r.patchPlayP99Ms, 1),
      f(r.migrationS, 2),
      f(r.connectS, 1),
    ].join(' | '),
  );
  return [
    'variant | P | CPU %core/player | RSS KiB/player | delivered % | p99 lateness ms | frameStats deficit / nulled | late > 20 ms under stall | PATCH play p99 ms | migration s | connect s',
    '--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voxcord-node-bench-'));
  try {
    const file = path.join(dir, 'tone.ogg');
    // 60 s of a tone: longer than any run's play time, so no track ends inside a window.
    const writer = createOggOpusWriter(file);
    for (const f of await encodeToneFrames(60)) writer.write(f);
    await writer.close();
    const results: RunResult[] = [];
    for (const players of config.sizes)
      for (const variant of config.variants) {
        process.stderr.write(`node bench: ${variant}, P = ${players}\n`);
        results.push(await runOne(config, variant, players, file, dir));
      }
    const out = table(results);
    console.log(out);
    mkdirSync(path.join(here, 'results'), { recursive: true });
    const name = config.full ? 'node-latest' : 'partial.node'; // partial.* is git-ignored
    writeFileSync(
      path.join(here, 'results', `${name}.json`),
      JSON.stringify(
        { machine: { cpus: os.cpus().length, node: process.version }, config, results },
        null,
        2,
      ),
    );
    writeFileSync(path.join(here, 'results', `${name}.md`), `${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
