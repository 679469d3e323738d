/**
 * `npm run bench:node`: the issue's node benchmark. P players, each in its own call on the local
 * voice server (DAVE on) with one deaf member (so every bot has a DAVE group to encrypt for),
 * playing a local Ogg/Opus file passed through (`--source=http`: the same file served over http by
 * this process, which every side fetches and demuxes on its main thread). Three variants, each in its own process
 * (bench/node-process.ts), one after the other against a fresh server process:
 * - `voxcord-node`: a voxcord node driven over the Lavalink v4 protocol (REST + WebSocket);
 * - `library`: the in-process voxcord library (joinVoiceChannel + AudioPlayer; the protocol
 *   layer's cost is the difference);
 * - `djs-node`: the same node front end over @discordjs/voice + davey.
 * One server process per size P (its P deaf members joined once), the variants in turn against it
 * (order reversed at every other size, so a drift in the machine's load does not favour one).
 * Measured per run: CPU (% of one core) and RSS per player over the window, packets at the server
 * against 50 per player per second, p99 send lateness (voxcord: the engine's own histograms; djs:
 * its main-thread UDP sends against the 20 ms grid), frameStats deficit and nulled (the node's own
 * `stats` messages), late frames (> 20 ms) under a 100 ms main-thread stall every second, p99 of a
 * PATCH play under load, and the seconds to migrate all P players to a second node of the same
 * kind after a SIGKILL (until the server gets 90 % of the expected packets again), at one size
 * only (the smallest by default: it doubles that run's connections).
 *
 * Every run has a deadline (the warm-up + 60 s + 0.25 s per player) after which its processes are killed and
 * the run is reported as failed; a failed server start fails that size only. Children exit when
 * this process goes (IPC disconnect), so nothing lingers.
 *
 * Options: --quick (P = 20, short windows) --sizes=100,500,1000 --variants=voxcord-node,library,djs-node
 *          --window-ms=4000 --warmup-ms=20000 --migration-at=P --no-migration --no-stall --source=http
 *          --profile=dir (CPU profiles of the node processes; implies --no-migration)
 *          --json=file (also write the results there: `npm run bench` runs this scenario so)
 *          --base=dir --rounds=N (A/B: another tree's build alternated with this one's, N rounds)
 * The node processes run the build (dist/ on plain node, ./node-build.ts; `npm run bench:node`
 * builds first, a missing or stale dist/ fails at once); VOXCORD_BENCH_SOURCE=src runs them from
 * src/ through tsx instead.
 * Writes bench/results/node-latest.{json,md} (full runs) or partial.node.{json,md}, and prints a table.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { sideLauncher } from './node-build.js';
import type { SideLauncher } from './node-build.js';
import { checkNodeTargets, nodeTable, nodeTargetsTable } from './node-report.js';
import type { NodeRunResult } from './node-report.js';
import { countAtLeast, histogramDeltas } from './stats.js';
import { userSystemTicks } from './thread-times.js';
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
  /** The size whose run also measures migration (null: none). */
  migrationAt: number | null;
  stall: boolean;
  /** Diagnostics: after the stall window, the same window without a stall. */
  stallControl: boolean;
  full: boolean;
  /**
   * Where the tracks come from: `file` (a local Ogg Opus file, which the voxcord node's media
   * worker plays itself) or `http` (the same file served by this process over http on 127.0.0.1,
   * which each side fetches and demuxes on its main thread: Lavalink's usual case).
   */
  source: 'file' | 'http';
  profileDir: string | undefined;
  json: string | undefined;
  /** A/B: another tree whose build runs alternately with this one's (`--base=dir`). */
  base: string | undefined;
  /**
   * Runs of each variant (and build) per size, alternating; `--rounds` for every size, else
   * defaultRounds: either node's per-player CPU swings by up to 40 % from one run to the next, so
   * a verdict on one round is a coin toss near 0.5x. P = 100, where both nodes keep up and CPU is
   * judged per player as measured, gets 3 (a median, not the mean of two: one slow round of
   * either side no longer decides it; about 2 minutes more); 2 up to P = 500; 1 above (P = 1000
   * runs take minutes).
   */
  rounds: (players: number) => number;
  /** A/B: environment variables for this tree's sides only (`--new-env=K=V,K2=V2`). */
  newEnv: Record<string, string>;
}

const defaultRounds = (players: number): number => (players <= 100 ? 3 : players <= 500 ? 2 : 1);

/**
 * From the last join to the window. Both nodes' RSS grows for tens of seconds after the joins
 * (VOXCORD_BENCH_SERIES=1; docs/node-bench-history.md, session 19): the djs node's from 346 to
 * ~600 KiB per player at P = 500 by 20 s and ~700 after, the voxcord node's 0.5 KiB per player a
 * second until a full collection. From 20 s on the ratio holds (0.29-0.44 at P = 500 and 1000
 * in runs of up to 150 s); 2 s after the joins it measured the djs node half-grown. The JIT's warm-up
 * tail on V8's helper threads is mostly over by then too.
 */
const DEFAULT_WARMUP_MS = 20_000;

function parseArgs(argv: readonly string[]): Config {
  const get = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  const list = (name: string): string[] | undefined => get(name)?.split(',').filter(Boolean);
  const sizes = (list('sizes') ?? (quick ? ['20'] : ['100', '500', '1000'])).map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--sizes must be positive integers');
  const variants = (list('variants') ?? VARIANTS) as NodeBenchVariant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}`);
  const windowMs = Number(get('window-ms') ?? (quick ? 3000 : 4000));
  const warmupMs = Number(get('warmup-ms') ?? (quick ? 1500 : DEFAULT_WARMUP_MS));
  const profileDir = get('profile');
  const migrationAt =
    argv.includes('--no-migration') || profileDir !== undefined
      ? null
      : Number(get('migration-at') ?? Math.min(...sizes));
  const json = get('json');
  const source = get('source') ?? 'file';
  if (source !== 'file' && source !== 'http') throw new Error('--source is file or http');
  const base = get('base');
  const given = get('rounds');
  const fixed = Number(given ?? 1);
  if (!Number.isInteger(fixed) || fixed <= 0) throw new Error('--rounds must be a positive integer');
  const rounds = (players: number): number => (given !== undefined || quick ? fixed : defaultRounds(players));
  const newEnv: Record<string, string> = {};
  for (const pair of list('new-env') ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error('--new-env takes K=V pairs, comma-separated');
    newEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    newEnv,
    base: base === undefined ? undefined : path.resolve(base),
    rounds,
    sizes,
    variants,
    windowMs,
    warmupMs,
    migrationAt,
    stall: !argv.includes('--no-stall'),
    stallControl: argv.includes('--stall-control'),
    source,
    full: argv.filter((a) => !a.startsWith('--json=')).length === 0,
    profileDir: profileDir === undefined ? undefined : path.resolve(profileDir),
    json,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function forkTs(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return fork(path.join(here, file), args, {
    cwd: root,
    env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * The server's SFU socket's receive buffer for this scenario (VOXCORD_BENCH_SERVER_RCVBUF overrides;
 * 0: the OS's 208 KiB). @discordjs/voice sends its IP discovery once and waits with no timeout, so
 * a discovery dropped at a full socket (the players already connected fill 208 KiB in a few ms of a
 * busy server) left djs players connecting for good: 19 of 100 at P = 100 in one run.
 */
const NODE_SERVER_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** The measured processes' script and flags (./node-build.ts), per build; set once by main(). */
const launchers = new Map<'new' | 'base', SideLauncher>();

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

type RunResult = NodeRunResult;

async function startServer(children: ChildProcess[]): Promise<Extract<ServerMessage, { type: 'ready' }>> {
  const child = forkTs('server-process.ts', [JSON.stringify({ dave: true })], {
    ...process.env,
    VOXCORD_BENCH_SERVER_RCVBUF:
      process.env.VOXCORD_BENCH_SERVER_RCVBUF ?? String(NODE_SERVER_RECEIVE_BUFFER),
  });
  children.push(child);
  return once<Extract<ServerMessage, { type: 'ready' }>>(child, 'ready', 'server');
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
  children: ChildProcess[],
  profileDir: string | undefined,
  build: 'new' | 'base' = 'new',
): Promise<{ child: ChildProcess; port: number | null }> {
  const launcher = launchers.get(build);
  if (launcher === undefined) throw new Error('startSide before main()');
  const child = fork(launcher.script, [variant], {
    cwd: root,
    // Diagnostics: the measured side under a wrapper executable (e.g. a script that execs heaptrack node "$@").
    ...(process.env.VOXCORD_BENCH_SIDE_EXEC ? { execPath: process.env.VOXCORD_BENCH_SIDE_EXEC } : {}),
    execArgv: [
      ...launcher.execArgv,
      // Diagnostics: extra node flags for the measured side (e.g. --trace-gc).
      ...(process.env.VOXCORD_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ...(profileDir === undefined
        ? []
        : // One file per thread (main, media worker), named by Node with pid and thread id.
          ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${variant}-${Date.now()}`)}`]),
    ],
    env: {
      ...process.env,
      VOXCORD_BENCH_CA: ca,
      NODE_EXTRA_CA_CERTS: caFile,
      VOXCORD_BENCH_STATS_MS: '1000',
      ...(build === 'new' ? newEnvironment : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const ready = await once<Extract<NodeProcessMessage, { type: 'ready' }>>(child, 'ready', variant);
  return { child, port: ready.port };
}

/** How the voxcord node's media workers were scheduled in the runs (each distinct outcome once). */
function schedulingNote(results: readonly RunResult[]): string {
  const seen = new Set(results.flatMap((r) => (r.mediaScheduling ?? []).map((s) => s.replace(/^\d+: /, ''))));
  return seen.size === 0 ? '' : ` voxcord node's media workers: ${[...seen].join('; ')}.`;
}

/** `--new-env`: set by main() before any side starts. */
let newEnvironment: Record<string, string> = {};

const counters = async (child: ChildProcess): Promise<NodeProcessCounters> =>
  (await ask<{ counters: NodeProcessCounters }>(child, { type: 'counters' }, 'counters', 'counters'))
    .counters;

/**
 * VOXCORD_BENCH_MEMORY=1 (diagnostics, not part of the results): where the main thread's share of
 * the RSS per player went; VOXCORD_BENCH_MEMORY_SNAPSHOTS=dir also writes heap snapshots of the
 * node's main thread before the players and after the window.
 */
function memoryDetail(
  variant: string,
  players: number,
  base: NodeProcessCounters,
  loaded: NodeProcessCounters,
): void {
  if (!process.env.VOXCORD_BENCH_MEMORY) return;
  const keys: (keyof NodeJS.MemoryUsage)[] = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'];
  const parts = keys.map((k) => `${k} ${((loaded.memory[k] - base.memory[k]) / 1024 / players).toFixed(1)}`);
  const spaces = Object.entries(loaded.heapSpaces ?? {})
    .map(
      ([name, bytes]) => `${name} ${((bytes - (base.heapSpaces?.[name] ?? 0)) / 1024 / players).toFixed(1)}`,
    )
    .join(', ');
  process.stderr.write(
    `[memory] ${variant} P=${players} KiB/player: ${parts.join(', ')}; heap spaces: ${spaces}\n`,
  );
  const b = base.census;
  const l = loaded.census;
  if (b === undefined || l === undefined) return;
  const kib = (bytes: number): string => (bytes / 1024 / players).toFixed(1);
  const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
  // Per thread: KiB per player of the growth, and the loaded size in MiB.
  for (const t of l.threads) {
    const t0 = b.threads.find((x) => x.thread === t.thread);
    const d = (k: 'total' | 'committed' | 'used' | 'newSpace' | 'oldSpace' | 'malloced'): string =>
      `${k} ${kib(t[k] - (t0?.[k] ?? 0))} (${mib(t0?.[k] ?? 0)} -> ${mib(t[k])} MiB)`;
    process.stderr.write(
      `[memory] ${variant} P=${players} ${t.thread}${t0 === undefined ? ' (new)' : ''} KiB/player: ` +
        `${(['total', 'committed', 'used', 'newSpace', 'oldSpace', 'malloced'] as const).map(d).join(', ')}\n`,
    );
  }
  const heaps = (c: NonNullable<NodeProcessCounters['census']>): number =>
    c.threads.reduce((n, t) => n + t.total + t.malloced, 0);
  const rssDelta = loaded.memory.rss - base.memory.rss;
  process.stderr.write(
    `[memory] ${variant} P=${players} KiB/player: anonymous ${kib(l.anonBytes - b.anonBytes)}, file-backed ` +
      `${kib(l.fileBytes - b.fileBytes)}; V8 heaps + malloced of all threads ${kib(heaps(l) - heaps(b))}, ` +
      `external (main) ${kib(loaded.memory.external - base.memory.external)}, rest (native: sockets, TLS, ` +
      `libuv, allocator slack) ${kib(rssDelta - (heaps(l) - heaps(b)) - (loaded.memory.external - base.memory.external))}\n`,
  );
  const m0 = b.mappings;
  const m1 = l.mappings;
  if (m0 === undefined || m1 === undefined) return;
  process.stderr.write(
    `[memory] ${variant} P=${players} anonymous RSS KiB/player by mapping: ` +
      (['mainArena', 'threadArenas', 'pages256k', 'other'] as const)
        .map((k) => `${k} ${kib(m1[k] - m0[k])} (${mib(m0[k])} -> ${mib(m1[k])} MiB)`)
        .join(', ') +
      '\n',
  );
}

/** VOXCORD_BENCH_WINDOW_PROFILE=dir: a main-thread CPU profile of the node over the window only. */
async function windowProfile(child: ChildProcess, phase: 'start' | 'stop', name: string): Promise<void> {
  const dir = process.env.VOXCORD_BENCH_WINDOW_PROFILE;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${Date.now()}.cpuprofile`);
  await ask(child, { type: 'profile', phase, file }, 'profiled', 'profile');
}

async function snapshot(child: ChildProcess, name: string): Promise<void> {
  const dir = process.env.VOXCORD_BENCH_MEMORY_SNAPSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.heapsnapshot`);
  await ask(child, { type: 'snapshot', file }, 'snapshotted', 'snapshot');
}

/**
 * Plays `encoded` for every allocation on `node` (voice, then the track), 50 joins at a time: the
 * node answers PATCH voice before the join, so each waits for the player's connected playerUpdate.
 * A player that fails (a PATCH refused, or no voice after 30 s on a loaded machine) is left out:
 * the allocations that play, and the first errors.
 */
async function playAll(
  node: NodeClient,
  allocations: readonly Allocation[],
  encoded: string,
): Promise<{ playing: Allocation[]; failures: string[] }> {
  const playing: Allocation[] = [];
  const failures: string[] = [];
  await inBatches(allocations, 50, async (a) => {
    try {
      await node.patch(a.guildId, {
        voice: { token: a.token, endpoint: a.endpoint, sessionId: a.sessionId, channelId: a.channelId },
      });
      await node.patch(a.guildId, { track: { encoded } });
      for (const since = performance.now(); !node.connected.has(a.guildId); await sleep(20))
        if (performance.now() - since > 30_000) throw new Error(`player ${a.guildId}: no voice after 30 s`);
      playing.push(a);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  });
  return { playing, failures };
}

/** More than this share of players failing to connect fails the run (fewer are reported). */
const MAX_CONNECT_FAILURES = 0.1;

function checkConnected(players: number, failed: number, firstError: string | undefined): void {
  if (failed > players * MAX_CONNECT_FAILURES)
    throw new Error(`${failed} of ${players} players failed to connect (${firstError ?? 'no error'})`);
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

/** The server of one size: its process, CA, and the P deaf members already in their calls. */
interface SizeServer {
  child: ChildProcess;
  ca: string;
  caFile: string;
}

/** Diagnostics of one stall (or control) window: late frames, queue underruns, skipped clock cycles. */
function gapDiagnostics(
  variant: NodeBenchVariant,
  players: number,
  label: string,
  before: NodeProcessCounters,
  after: NodeProcessCounters,
  server?: { before: ServerMark; after: ServerMark },
): void {
  const late = countAtLeast(windowLateness(variant, before, after), 20);
  const g0 = before.sendGaps;
  const g1 = after.sendGaps;
  const gaps =
    g0 === undefined || g1 === undefined
      ? ''
      : `, underruns ${g1.underruns - g0.underruns}, empty ticks ${g1.emptyTicks - g0.emptyTicks}, ` +
        `skipped cycles ${g1.skippedCycles - g0.skippedCycles}, late ticks ${g1.lateTicks - g0.lateTicks}` +
        (g1.workers === undefined
          ? ''
          : ` (workers: ${g1.workers
              .map((w, i) => {
                const w0 = g0.workers?.[i];
                return `${w.channels} ch ${w.lateTicks - (w0?.lateTicks ?? 0)}/${w.ticks - (w0?.ticks ?? 0)}`;
              })
              .join(', ')} late/ticks)`) +
        (g0.batches === undefined || g1.batches === undefined
          ? ''
          : `, batches to the workers ${g1.batches.ring - g0.batches.ring} by ring / ` +
            `${g1.batches.port - g0.batches.port} by message`);
  process.stderr.write(
    `node bench: ${variant}, P = ${players}, ${label}: late > 20 ms ${late}${gaps}; ` +
      `counters took ${before.collectMs?.toFixed(1) ?? '?'} / ${after.collectMs?.toFixed(1) ?? '?'} ms ` +
      `(CPU ${((before.end.cpuUs - before.cpuUs) / 1000).toFixed(1)} / ${((after.end.cpuUs - after.cpuUs) / 1000).toFixed(1)} ms; ` +
      `between them ${((after.cpuUs - before.end.cpuUs) / 1000).toFixed(0)} ms CPU in ${(after.at - before.end.at).toFixed(0)} ms)\n`,
  );
  process.stderr.write(
    `node bench: ${variant}, P = ${players}, ${label}: ${threadWaits(before, after, server)}\n`,
  );
}

/**
 * One window of `durationMs` in which the node's main thread busy-waits `blockMs` every second
 * (0: none), with its counters, the server's marks around it and the diagnostics printed.
 */
async function stallWindow(
  child: ChildProcess,
  server: ChildProcess,
  variant: NodeBenchVariant,
  players: number,
  label: 'stall' | 'control',
  blockMs: number,
  durationMs: number,
): Promise<{ before: NodeProcessCounters; after: NodeProcessCounters; stalls: number }> {
  const before = await counters(child);
  const m0 = await mark(server);
  const stalled = await ask<{ stalls: number; timeline?: string }>(
    child,
    { type: 'stall', everyMs: 1000, blockMs, durationMs },
    'stalled',
    label,
  );
  const m1 = await mark(server);
  const after = await counters(child);
  if (stalled.timeline !== undefined)
    process.stderr.write(`node bench: ${variant}, P = ${players}, ${label}: ${stalled.timeline}\n`);
  gapDiagnostics(variant, players, label, before, after, { before: m0, after: m1 });
  return { before, after, stalls: stalled.stalls };
}

/**
 * Per thread of the node over a window (Linux): % of the wall time on a core and runnable but
 * waiting for one (schedstat), for every thread that ran at least 1 % of it; with the server
 * process's CPU over the same window (the other processes the node's threads share the cores with).
 */
function threadWaits(
  before: NodeProcessCounters,
  after: NodeProcessCounters,
  server?: { before: ServerMark; after: ServerMark },
): string {
  const b = new Map((before.threads ?? []).map((t) => [t.tid, t]));
  const windowMs = after.at - before.at;
  const pct = (ns: number): number => ns / 1e4 / windowMs;
  const rows = (after.threads ?? [])
    .map((t) => {
      const was = b.get(t.tid);
      return {
        name: t.name === 'main' ? 'main' : `${t.name}#${t.tid}`,
        run: pct(t.runNs - (was?.runNs ?? 0)),
        wait: pct((t.waitNs ?? 0) - (was?.waitNs ?? 0)),
      };
    })
    .filter((r) => r.run >= 1 || r.name === 'main')
    .sort((x, y) => y.run - x.run);
  const serverPct =
    server === undefined
      ? ''
      : `; server ${(
          ((server.after.cpuUserUs +
            server.after.cpuSystemUs -
            server.before.cpuUserUs -
            server.before.cpuSystemUs) /
            1000 /
            (server.after.at - server.before.at)) *
          100
        ).toFixed(0)} % of a core, received ${server.after.packetsReceived - server.before.packetsReceived}` +
        (server.before.socketDrops === undefined || server.after.socketDrops === undefined
          ? ''
          : `, its socket dropped ${server.after.socketDrops - server.before.socketDrops} (receive buffer full)`);
  return (
    `threads (% of the window on a core / waiting for one): ` +
    rows.map((r) => `${r.name} ${r.run.toFixed(1)} / ${r.wait.toFixed(1)}`).join(', ') +
    serverPct
  );
}

/**
 * Where the node's CPU went, per thread over the window (Linux): % of a core per player and
 * wake-ups (voluntary context switches) per second per player, for the main thread and every
 * thread that ran at least 1 % of the process's CPU; the rest summed.
 */
function threadSplit(
  before: NodeProcessCounters,
  after: NodeProcessCounters,
  players: number,
): { line: string; main: number; total: number; mainWakeups: number } {
  const b = new Map((before.threads ?? []).map((t) => [t.tid, t]));
  const windowMs = after.at - before.at;
  const rows = (after.threads ?? []).map((t) => {
    const was = b.get(t.tid) ?? { runNs: 0, wakeups: 0 };
    return {
      name: t.name === 'main' ? 'main' : `${t.name}#${t.tid}`,
      main: t.name === 'main',
      pct: (t.runNs - was.runNs) / 1e4 / windowMs / players,
      wakeups: ((t.wakeups - was.wakeups) * 1000) / windowMs / players,
    };
  });
  const total = rows.reduce((n, r) => n + r.pct, 0);
  const shown = rows
    .filter((r) => r.main || r.pct >= total / 100)
    .sort((x, y) => Number(y.main) - Number(x.main) || y.pct - x.pct);
  const rest = total - shown.reduce((n, r) => n + r.pct, 0);
  const main = rows.find((r) => r.main);
  const line =
    `threads (% core / player, wake-ups/s / player): ` +
    shown.map((r) => `${r.name} ${r.pct.toFixed(4)} ${r.wakeups.toFixed(2)}`).join(', ') +
    `, rest ${rest.toFixed(4)}, total ${total.toFixed(4)}`;
  return { line, main: main?.pct ?? NaN, total, mainWakeups: main?.wakeups ?? NaN };
}

/**
 * The same window per packet the server received (Linux): per thread that ran at least 1 % of the
 * process's CPU, µs of user and of kernel time per packet (/proc's 10 ms ticks: over a 4 s window
 * a thread's figure is within about 10 ms / window of its true share) and wake-ups per second.
 */
function threadAccount(before: NodeProcessCounters, after: NodeProcessCounters, packets: number): string {
  const b = new Map((before.threads ?? []).map((t) => [t.tid, t]));
  const windowMs = after.at - before.at;
  const per = (ticks: number): number => (ticks * 10_000) / Math.max(1, packets);
  const rows = (after.threads ?? []).map((t) => {
    const was = b.get(t.tid);
    return {
      name: t.name === 'main' ? 'main' : `${t.name}#${t.tid}`,
      main: t.name === 'main',
      user: per((t.utime ?? 0) - (was?.utime ?? 0)),
      system: per((t.stime ?? 0) - (was?.stime ?? 0)),
      wakeups: ((t.wakeups - (was?.wakeups ?? 0)) * 1000) / windowMs,
    };
  });
  const total = rows.reduce((n, r) => ({ user: n.user + r.user, system: n.system + r.system }), {
    user: 0,
    system: 0,
  });
  const shown = rows
    .filter((r) => r.main || r.user + r.system >= (total.user + total.system) / 100)
    .sort((x, y) => Number(y.main) - Number(x.main) || y.user + y.system - (x.user + x.system));
  const wakeups = rows.reduce((n, r) => n + r.wakeups, 0);
  return (
    `µs/packet user+kernel (wake-ups/s): ` +
    shown
      .map((r) => `${r.name} ${r.user.toFixed(1)}+${r.system.toFixed(1)} (${r.wakeups.toFixed(0)})`)
      .join(', ') +
    `, total ${total.user.toFixed(1)}+${total.system.toFixed(1)} (${wakeups.toFixed(0)}), ${packets} packets` +
    messageRates(before, after, windowMs)
  );
}

/** VOXCORD_BENCH_WAKEUPS=1: messages per second each way across the media workers' boundary. */
function messageRates(before: NodeProcessCounters, after: NodeProcessCounters, windowMs: number): string {
  if (before.messages === undefined || after.messages === undefined) return '';
  const rate = (n: number): string => ((n * 1000) / windowMs).toFixed(0);
  return (
    `; messages/s main->worker ${rate(after.messages.toWorker - before.messages.toWorker)}, ` +
    `worker->main ${rate(after.messages.fromWorker - before.messages.fromWorker)}`
  );
}

/** A/B (--base): per variant and size, medians and ranges of each build's CPU per player, split by thread. */
function abSummary(results: readonly RunResult[]): string {
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const cell = (xs: number[], d: number): string =>
    xs.length === 0
      ? 'n/a'
      : `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;
  const columns: [string, (r: RunResult) => number | undefined, number][] = [
    ['CPU %core/player', (r) => r.cpuCorePctPerPlayer, 4],
    ['main thread', (r) => r.mainCpuPctPerPlayer, 4],
    ['other threads', (r) => r.otherCpuPctPerPlayer, 4],
    ['main wake-ups/s/player', (r) => r.mainWakeupsPerPlayerS, 2],
    ['RSS KiB/player', (r) => r.rssPerPlayerKiB, 0],
    ['delivered %', (r) => r.deliveredPct, 1],
    ["dropped by the server's socket %", (r) => r.serverDroppedPct, 1],
    ['p99 lateness ms', (r) => r.latenessP99Ms ?? undefined, 2],
    ['late > 20 ms under stall', (r) => r.lateOver20msUnderStall ?? undefined, 0],
    ['late > 20 ms without stall', (r) => r.lateOver20msControl, 0],
    ['CPU µs per packet delivered', (r) => perPacket(r, r.cpuCorePctPerPlayer), 2],
    ['main thread µs per packet', (r) => perPacket(r, r.mainCpuPctPerPlayer), 2],
  ];
  const lines = [
    `| variant | P | build | runs | ${columns.map(([name]) => name).join(' | ')} |`,
    `| --- | ---: | --- | ---: | ${columns.map(() => '---:').join(' | ')} |`,
  ];
  const keys = [...new Set(results.map((r) => `${r.variant}|${r.players}`))];
  for (const key of keys)
    for (const build of ['base', 'new'] as const) {
      const rs = results.filter(
        (r) =>
          `${r.variant}|${r.players}` === key && r.build === build && Number.isFinite(r.cpuCorePctPerPlayer),
      );
      const [variant, players] = key.split('|');
      const cells = columns.map(([, get, digits]) =>
        cell(
          rs.map(get).filter((v): v is number => v !== undefined && Number.isFinite(v)),
          digits,
        ),
      );
      lines.push(`| ${variant} | ${players} | ${build} | ${rs.length} | ${cells.join(' | ')} |`);
    }
  return `A/B (medians, ranges in parentheses):\n\n${lines.join('\n')}`;
}

/**
 * µs of CPU per packet the server received, from a % of a core per player: a starved node sends
 * fewer packets and spends less, so per packet is the fairer figure on a loaded machine.
 */
function perPacket(r: RunResult, pctPerPlayer: number | undefined): number | undefined {
  if (pctPerPlayer === undefined || !(r.deliveredPct > 0)) return undefined;
  return (pctPerPlayer * 1e4) / (0.5 * r.deliveredPct);
}

/**
 * VOXCORD_BENCH_SERIES=1 (diagnostics, Linux): the node's RSS per player over its baseline and its
 * CPU per player (% of a core, all threads) each second from the last join to the window's end,
 * read from /proc: when each settles, i.e. which warm-up measures steady state.
 */
function series(child: ChildProcess, variant: string, players: number, baselineRss: number): () => void {
  if (process.env.VOXCORD_BENCH_SERIES !== '1' || child.pid === undefined || players <= 0)
    return () => undefined;
  const pid = child.pid;
  const read = (): { rss: number; cpuTicks: number } | undefined => {
    try {
      const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kib === undefined) return undefined;
      const { utime, stime } = userSystemTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      return { rss: Number(kib) * 1024, cpuTicks: utime + stime };
    } catch {
      return undefined;
    }
  };
  const t0 = performance.now();
  let last = read();
  let lastAt = t0;
  const points: string[] = [];
  const timer = setInterval(() => {
    const now = read();
    const at = performance.now();
    if (now === undefined) return;
    if (last === undefined) {
      last = now;
      lastAt = at;
      return;
    }
    // Clock ticks are 10 ms: % of a core = ticks * 10 ms / elapsed ms * 100.
    const cpu = (((now.cpuTicks - last.cpuTicks) * 1000) / (at - lastAt) / players).toFixed(3);
    points.push(
      `${((at - t0) / 1000).toFixed(0)}s ${((now.rss - baselineRss) / 1024 / players).toFixed(0)} KiB ${cpu}`,
    );
    last = now;
    lastAt = at;
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    process.stderr.write(
      `node bench: ${variant}, P = ${players}, series (s after the last join: RSS per player, CPU % of a core per player): ${points.join(', ')}\n`,
    );
  };
}

/** Per-run deadline: generous for a loaded 2-core machine, finite for an unattended run. */
/** VOXCORD_BENCH_DEADLINE_SCALE (diagnostics): a busy machine's joins may need longer. */
const deadlineScale = Number(process.env.VOXCORD_BENCH_DEADLINE_SCALE ?? 1) || 1;
const runDeadlineMs = (players: number): number => (60_000 + players * 250) * deadlineScale;

async function runOne(
  config: Config,
  variant: NodeBenchVariant,
  players: number,
  file: string,
  { child: server, ca, caFile }: SizeServer,
  /** Distinct per run on this server (voice session ids). */
  runIndex: number,
  sides: ChildProcess[],
  build: 'new' | 'base',
): Promise<RunResult> {
  const nodes: NodeClient[] = [];
  const errors: string[] = [];
  try {
    const a = await startSide(variant, ca, caFile, sides, config.profileDir, build);
    const baseline = await counters(a.child);
    await snapshot(a.child, `${variant}-p${players}-0`);
    const bots = await allocate(server, players, 1 + runIndex * 2, false);
    const t0 = performance.now();
    let encoded = '';
    let connectFailures = 0;
    let playing: Allocation[] = bots;
    if (a.port === null) {
      const joined = await ask<{ failed: number; firstError?: string }>(
        a.child,
        { type: 'join', allocations: bots, file },
        'joined',
        'library join',
        runDeadlineMs(players),
      );
      checkConnected(players, joined.failed, joined.firstError);
      connectFailures = joined.failed;
    } else {
      const node = new NodeClient(a.port);
      nodes.push(node);
      await node.open();
      const loaded = (await node.rest(`/v4/loadtracks?identifier=${encodeURIComponent(file)}`)) as {
        data: { encoded: string };
      };
      encoded = loaded.data.encoded;
      const played = await playAll(node, bots, encoded);
      checkConnected(players, played.failures.length, played.failures[0]);
      connectFailures = played.failures.length;
      playing = played.playing;
    }
    // Per-player figures are over the players that play.
    const live = players - connectFailures;
    const connectS = (performance.now() - t0) / 1000;
    const stopSeries = series(a.child, variant, live, baseline.rssBytes);
    await sleep(config.warmupMs);

    // The window: CPU, RSS, packets at the server, lateness, frameStats.
    await windowProfile(a.child, 'start', `${variant}-p${players}`);
    const before = await counters(a.child);
    const m0 = await mark(server);
    const windowStart = performance.now();
    await sleep(config.windowMs);
    const after = await counters(a.child);
    const m1 = await mark(server);
    const windowEnd = performance.now();
    const windowS = (m1.at - m0.at) / 1000;
    stopSeries();
    await windowProfile(a.child, 'stop', `${variant}-p${players}`);
    // The main thread's share (the rest is the media worker, or djs's own threads): diagnostics.
    // CPU over the node process's own window, between the two collections (not counting them).
    const cpuWindowMs = after.at - before.end.at;
    const mainPct = ((after.mainCpuUs - before.end.mainCpuUs) / 1000 / cpuWindowMs) * 100;
    process.stderr.write(
      `node bench: ${variant}, P = ${players}: main thread ${(mainPct / (players - connectFailures)).toFixed(3)} % of a core per player\n`,
    );
    const split = threadSplit(before, after, live);
    process.stderr.write(
      `node bench: ${variant}${config.base === undefined ? '' : ` (${build})`}, P = ${players}: ${split.line}\n`,
    );
    process.stderr.write(
      `node bench: ${variant}${config.base === undefined ? '' : ` (${build})`}, P = ${players}: ${threadAccount(before, after, m1.packetsReceived - m0.packetsReceived)}\n`,
    );
    memoryDetail(variant, players - connectFailures, baseline, after);
    gapDiagnostics(variant, players, 'window', before, after, { before: m0, after: m1 });
    await snapshot(a.child, `${variant}-p${players}-1`);
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
      await inBatches(playing.slice(0, 100), 10, async (b) => {
        const s = performance.now();
        await node.patch(b.guildId, { track: { encoded } });
        patchTimes.push(performance.now() - s);
      });

    // A 100 ms main-thread stall every second for the window.
    let lateOver20msUnderStall: number | null = null;
    let lateOver20msControl: number | undefined;
    let stalls: number | null = null;
    if (config.stall) {
      const stalled = await stallWindow(a.child, server, variant, players, 'stall', 100, config.windowMs);
      stalls = stalled.stalls;
      lateOver20msUnderStall = countAtLeast(windowLateness(variant, stalled.before, stalled.after), 20);
      // The same measurement without the stall (a "stall" of 0 ms: the same clock sampling, no
      // busy-wait): what the load alone makes late.
      if (config.stallControl) {
        const control = await stallWindow(a.child, server, variant, players, 'control', 0, config.windowMs);
        lateOver20msControl = countAtLeast(windowLateness(variant, control.before, control.after), 20);
      }
    }

    // Migration: a second node of the same kind takes every player after a SIGKILL of the first.
    let migrationS: number | null = null;
    if (config.migrationAt === players && node !== undefined) {
      const b = await startSide(variant, ca, caFile, sides, undefined, build);
      const nodeB = new NodeClient(b.port ?? 0);
      nodes.push(nodeB);
      await nodeB.open();
      const fresh = await allocate(server, players, 2 + runIndex * 2, false);
      kill(a.child);
      const killedAt = performance.now();
      const moved = playAll(nodeB, fresh, encoded).then(
        ({ failures }) => {
          if (failures.length > 0)
            errors.push(`migration: ${failures.length} players failed (${failures[0]})`);
        },
        (err: unknown) => errors.push(String(err)),
      );
      migrationS = await untilFlowing(server, players, killedAt, 60_000);
      await moved;
    }

    return {
      variant,
      ...(config.base === undefined ? {} : { build }),
      mainCpuPctPerPlayer: split.main,
      otherCpuPctPerPlayer: split.total - split.main,
      mainWakeupsPerPlayerS: split.mainWakeups,
      players,
      connectS,
      connectFailures,
      cpuCorePctPerPlayer: (((after.cpuUs - before.end.cpuUs) / 1000 / cpuWindowMs) * 100) / live,
      rssPerPlayerKiB: (after.rssBytes - baseline.rssBytes) / 1024 / live,
      deliveredPct: (100 * (m1.packetsReceived - m0.packetsReceived)) / (live * 50 * windowS),
      ...(m0.socketDrops === undefined || m1.socketDrops === undefined
        ? {}
        : { serverDroppedPct: (100 * (m1.socketDrops - m0.socketDrops)) / (live * 50 * windowS) }),
      latenessP99Ms,
      frameStats,
      lateOver20msUnderStall,
      ...(lateOver20msControl === undefined ? {} : { lateOver20msControl }),
      stalls,
      patchPlayP99Ms: p99(patchTimes),
      migrationS,
      ...(after.realtime === undefined ? {} : { mediaScheduling: after.realtime }),
      errors,
    };
  } finally {
    for (const n of nodes) n.close();
    // A profiled process must exit by itself to write its profile (it exits on disconnect).
    if (config.profileDir !== undefined) await Promise.all(sides.map((s) => stopGently(s, 10_000)));
    for (const s of sides) kill(s);
  }
}

/** Disconnects a child (it exits on its own) and waits for it, killing it after `ms`. */
async function stopGently(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => kill(child), ms);
  await exited;
  clearTimeout(timer);
}

/** A run that failed: its error, and no figures. */
function failed(variant: NodeBenchVariant, players: number, error: string): RunResult {
  return {
    variant,
    players,
    connectS: NaN,
    connectFailures: 0,
    cpuCorePctPerPlayer: NaN,
    rssPerPlayerKiB: NaN,
    deliveredPct: NaN,
    latenessP99Ms: null,
    frameStats: null,
    lateOver20msUnderStall: null,
    stalls: null,
    patchPlayP99Ms: null,
    migrationS: null,
    errors: [error],
  };
}

/** runOne under its deadline: past it, the run's processes are killed and the run fails. */
async function runGuarded(
  config: Config,
  variant: NodeBenchVariant,
  players: number,
  file: string,
  server: SizeServer,
  runIndex: number,
  build: 'new' | 'base',
): Promise<RunResult> {
  const sides: ChildProcess[] = [];
  let timedOut = false;
  const limit =
    config.warmupMs + runDeadlineMs(players) + (config.migrationAt === players ? runDeadlineMs(players) : 0);
  const timer = setTimeout(() => {
    timedOut = true;
    for (const s of sides) kill(s);
  }, limit);
  try {
    return await runOne(config, variant, players, file, server, runIndex, sides, build);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return failed(variant, players, timedOut ? `timed out after ${limit / 1000} s (${message})` : message);
  } finally {
    clearTimeout(timer);
    for (const s of sides) kill(s);
  }
}

/** Every variant at one size, against one server with its members. */
async function runSize(
  config: Config,
  players: number,
  order: readonly NodeBenchVariant[],
  file: string,
  dir: string,
): Promise<RunResult[]> {
  const spawned: ChildProcess[] = [];
  const results: RunResult[] = [];
  try {
    // A server that never becomes ready must not hold the run up.
    const ready = await withTimeout(startServer(spawned), 60_000, 'server start');
    const server = spawned[0]!;
    const caFile = path.join(dir, `ca-${players}.pem`);
    writeFileSync(caFile, ready.tlsCa ?? '');
    const members = await allocate(server, players, 0, true);
    await ask(
      server,
      { type: 'members', allocations: members, play: false, dave: true },
      'members-ready',
      'members',
      runDeadlineMs(players),
    );
    const sizeServer = { child: server, ca: ready.tlsCa ?? '', caFile };
    // A/B (--base): the two builds alternate, base first in even rounds, this tree's in odd ones;
    // without, the variants' order is reversed in odd rounds.
    let runIndex = 0;
    for (let round = 0; round < config.rounds(players); round++) {
      const builds: ('new' | 'base')[] =
        config.base === undefined ? ['new'] : round % 2 === 0 ? ['base', 'new'] : ['new', 'base'];
      const roundOrder = config.base === undefined && round % 2 === 1 ? [...order].reverse() : order;
      for (const build of builds)
        for (const variant of roundOrder) {
          const label = `${variant}${config.base === undefined ? '' : ` (${build})`}, P = ${players}`;
          process.stderr.write(`node bench: ${label}, round ${round + 1}\n`);
          const r = await runGuarded(config, variant, players, file, sizeServer, runIndex++, build);
          if (r.errors.length > 0) process.stderr.write(`node bench: ${label}: ${r.errors.join('; ')}\n`);
          results.push(r);
        }
    }
  } catch (err) {
    const message = `size ${players} failed: ${err instanceof Error ? err.message : String(err)}`;
    process.stderr.write(`node bench: ${message}\n`);
    for (const v of order)
      if (!results.some((r) => r.variant === v)) results.push(failed(v, players, message));
  } finally {
    for (const c of spawned) kill(c);
  }
  return results;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** `--source=http`: the track file over http on 127.0.0.1 (whole body per request, no ranges). */
async function serveFile(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const body = readFileSync(file);
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'audio/ogg', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tone.ogg`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const USAGE = `npm run bench:node -- [options]   (builds first; or: npx tsx bench/node.ts after npm run build)
  --quick                      P = 20, short windows
  --sizes=100,500,1000         player counts P
  --variants=voxcord-node,library,djs-node
  --window-ms=4000 --warmup-ms=20000
  --migration-at=P | --no-migration   SIGKILL failover at one size (default: the smallest)
  --no-stall                   skip the 100 ms main-thread stall scenario
  --stall-control              diagnostics: then the same window without stalls
  --source=file|http           the track: a local Ogg Opus file (default), or the same file over
                               http from this process (every side fetches and demuxes it itself)
  --profile=dir                --cpu-prof of every thread of each side (implies --no-migration)
  --json=file                  also write the results there
  --rounds=N                   runs per variant and size (default 3 up to P = 100, 2 up to 500, 1 above; the
                               variants' order reversed every other round; verdicts on medians)
  --base=dir                   A/B: that tree's build (its dist/, built) alternated with this one's
                               over the rounds, medians per build and the CPU split per thread
  --new-env=K=V,K2=V2          A/B: environment variables for this tree's sides only (e.g. --base=.
                               --new-env=VOXCORD_BENCH_WORKERS=1: one build, two settings)
Environment: VOXCORD_BENCH_SOURCE=src (run the sides from src/ through tsx), VOXCORD_BENCH_NODE_FLAGS
  (extra node flags for the measured sides, e.g. --trace-gc; with --trace-gc-nvp, bench/gc-trace.ts
  splits the log's collections by isolate), VOXCORD_BENCH_WAKEUPS=1 (messages per second each way
  across the media workers' boundary, on each run's per-thread line), VOXCORD_BENCH_WORKERS (the voxcord
  sides' media engine workers: 1, 2, auto), VOXCORD_BENCH_TRACE_LATE=1 (the voxcord sides' media workers
  trace their late deliveries, printed with the stall's timeline: media/late-tick-trace.ts),
  VOXCORD_BENCH_REALTIME=0 (the voxcord node's media workers at
  normal scheduling instead of the real-time scheduling \`voxcord node\` asks for), VOXCORD_BENCH_KEEP_GC=0
  (nor the V8 flags it sets with it: media/realtime.ts REALTIME_GC_FLAGS), VOXCORD_BENCH_RAISE_HELPERS=0
  (nor V8's and libuv's helper threads at real-time priority 1: media/realtime.ts raiseHelperThreads),
  VOXCORD_BENCH_WINDOW_PROFILE=dir, VOXCORD_BENCH_MEMORY=1 (per-thread heap census),
  VOXCORD_BENCH_MEMORY_SNAPSHOTS=dir, VOXCORD_BENCH_DEADLINE_SCALE=k (runs' deadlines times k),
  VOXCORD_BENCH_SERVER_RCVBUF=bytes (the server's SFU socket's receive buffer; default 4 MiB, 0 the OS's),
  VOXCORD_BENCH_SIDE_EXEC=path (the measured side under a wrapper, e.g. a script: exec heaptrack node "$@"),
  VOXCORD_BENCH_SERIES=1 (each run's RSS and CPU per player every second from the last join to the
  window's end: when they settle).`;

/** The config as the results' JSON keeps it: rounds per size instead of the function. */
function jsonConfig(config: Config): Omit<Config, 'rounds'> & { rounds: Record<number, number> } {
  return { ...config, rounds: Object.fromEntries(config.sizes.map((p) => [p, config.rounds(p)])) };
}

function roundsText(config: Config): string {
  return config.sizes.map((p) => `P = ${p}: ${config.rounds(p)} round(s)`).join(', ');
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const config = parseArgs(process.argv.slice(2));
  newEnvironment = config.newEnv;
  const launcher = await sideLauncher(root, here);
  launchers.set('new', launcher);
  process.stderr.write(`node bench: the nodes run ${launcher.describe}\n`);
  if (config.base !== undefined) {
    const base = await sideLauncher(root, here, config.base);
    launchers.set('base', base);
    process.stderr.write(`node bench: A/B against ${base.describe}, ${roundsText(config)}\n`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voxcord-node-bench-'));
  let tracks: Awaited<ReturnType<typeof serveFile>> | undefined;
  try {
    const file = path.join(dir, 'tone.ogg');
    // 4 min of a tone: longer than any run's play time (P = 1000 connects for a while), so no
    // track ends inside a window.
    const writer = createOggOpusWriter(file);
    for (const f of await encodeToneFrames(240)) writer.write(f);
    await writer.close();
    if (config.source === 'http') tracks = await serveFile(file);
    const track = tracks?.url ?? file;
    const started = performance.now();
    const results: RunResult[] = [];
    for (const [i, players] of config.sizes.entries()) {
      const order = i % 2 === 0 ? config.variants : [...config.variants].reverse();
      results.push(...(await runSize(config, players, order, track, dir)));
    }
    const seconds = (performance.now() - started) / 1000;
    const targets = checkNodeTargets(results);
    const note =
      (config.source === 'http' ? 'tracks over http, ' : '') +
      `${config.warmupMs / 1000} s warm-up, ${config.windowMs / 1000} s window, ` +
      (config.stall ? `${config.windowMs / 1000} s of stalls, ` : '') +
      (config.migrationAt === null ? 'no migration' : `migration at P = ${config.migrationAt}`) +
      `; nodes from ${launcher.describe}; ${roundsText(config)}; whole scenario ${seconds.toFixed(0)} s.` +
      schedulingNote(results);
    const out =
      config.base === undefined
        ? `${note}\n\n${nodeTable(results)}\n\nTargets:\n\n${nodeTargetsTable(targets)}`
        : `${note}\n\n${nodeTable(results)}\n\n${abSummary(results)}`;
    console.log(out);
    if (config.json !== undefined)
      writeFileSync(
        config.json,
        JSON.stringify({ config: jsonConfig(config), results, targets, seconds, markdown: out }, null, 2),
      );
    mkdirSync(path.join(here, 'results'), { recursive: true });
    const name = config.full ? 'node-latest' : 'partial.node'; // partial.* is git-ignored
    writeFileSync(
      path.join(here, 'results', `${name}.json`),
      JSON.stringify(
        {
          machine: { cpus: os.cpus().length, node: process.version },
          config: jsonConfig(config),
          results,
          targets,
        },
        null,
        2,
      ),
    );
    writeFileSync(path.join(here, 'results', `${name}.md`), `${out}\n`);
  } finally {
    await tracks?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
