/**
 * `npm run bench`: voxcord against @discordjs/voice on the same machine, against the same local
 * voice server, in alternating rounds (A B C, then C B A, ...) so machine drift cancels. Every run
 * gets a fresh server process and a fresh client process (CPU and RSS of one library only).
 * Writes bench/results/latest.{json,md} (full runs) or partial.{json,md}. See BENCHMARKS.md.
 *
 * Options (BENCHMARKS.md has the list): --quick --rounds --warmup-ms --window-ms --scenarios
 *          --n --encode-n --stall-n --joins --receive-n --receive-dave-n --node-sizes --variants
 *          --no-micro --no-docs
 *          --profile[=dir] --window-profile=dir
 * The `node` scenario (issue 15: voxcord node, library, djs-backed node) runs bench/node.ts in a
 * child process after the others; its table and target verdicts get their own section.
 * A full run (no option that narrows or shortens it) also pastes the tables into BENCHMARKS.md.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isRecord, request } from './ipc.js';
import type {
  Allocation,
  AllocateRequest,
  ClientMessage,
  ClientReply,
  ClientRunRequest,
  Measurement,
  ScenarioSpec,
  ServerMark,
  ServerMessage,
} from './ipc.js';
import { VARIANTS, checkTargets, markdownTable, scenarioTitle, summarize, targetsTable } from './report.js';
import type { FirstAudioTimes, Machine, RunRecord, ServerWindow, Variant } from './report.js';
import { runScaling, scalingTable } from './engine-scaling.js';
import { serverWindow } from './window-marks.js';
import type { ScalingResult } from './engine-scaling.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** Plan entries, in run order (see BENCHMARKS.md for each). */
const PLAN_IDS = [
  'send',
  'send-dave',
  'encode',
  'stall',
  'first-audio',
  'receive',
  'receive-dave',
  'node',
] as const;
type PlanId = (typeof PLAN_IDS)[number];

/**
 * Where the inline engine also runs (the in-thread option; elsewhere only the default engine runs,
 * to keep the whole bench under 10 minutes): transport-only send from N = 100, and the stall.
 */
function withInline(id: PlanId, n: number): boolean {
  return (id === 'send' && n >= 100) || id === 'stall';
}

interface Config {
  scenarios: PlanId[];
  stallN: number;
  encodeSizes: number[];
  joins: number;
  receiveN: number;
  /**
   * Streams of the DAVE receive scenario: one MLS group of N + 1 members on the local server, whose
   * TypeScript DAVE service and hosted members take minutes to settle at N = 100 (joins time out).
   */
  receiveDaveN: number;
  /** Player counts of the node scenario (bench/node.ts). */
  nodeSizes: string;
  rounds: number;
  warmupMs: number;
  windowMs: number;
  sizes: number[];
  variants: Variant[];
  micro: boolean;
  /** Every scenario, size and variant with the default timing: the results become `latest`. */
  full: boolean;
  /** Paste the tables into BENCHMARKS.md (full runs only). */
  docs: boolean;
  /** Directory for client CPU profiles (--cpu-prof), or undefined. */
  profileDir: string | undefined;
  /** Directory for main-thread profiles of the measured window only, or undefined. */
  windowProfileDir: string | undefined;
}

function parseArgs(argv: readonly string[]): Config {
  const get = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  const num = (name: string, fallback: number): number => {
    const raw = get(name);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const variantIds = get('variants')?.split(',');
  const scenarioIds = get('scenarios')?.split(',');
  const subset = [
    'n',
    'encode-n',
    'stall-n',
    'joins',
    'receive-n',
    'receive-dave-n',
    'node-sizes',
    'rounds',
    'warmup-ms',
    'window-ms',
  ];
  const full =
    !quick &&
    variantIds === undefined &&
    scenarioIds === undefined &&
    subset.every((o) => get(o) === undefined);
  return {
    scenarios: PLAN_IDS.filter((k) => !scenarioIds || scenarioIds.includes(k)),
    stallN: num('stall-n', 100),
    encodeSizes: (get('encode-n') ?? '50,150').split(',').map(Number),
    joins: num('joins', quick ? 3 : 5),
    receiveN: num('receive-n', 100),
    receiveDaveN: num('receive-dave-n', 20),
    nodeSizes: get('node-sizes') ?? (quick ? '20' : '100,500,1000'),
    rounds: num('rounds', quick ? 1 : 2),
    warmupMs: num('warmup-ms', quick ? 1_000 : 2_000),
    windowMs: num('window-ms', quick ? 2_000 : 4_000),
    sizes: (get('n') ?? '1,100,1000').split(',').map(Number),
    variants: variantIds ? VARIANTS.filter((v) => variantIds.includes(v.id)) : [...VARIANTS],
    micro: !argv.includes('--no-micro'),
    full,
    docs: full && !argv.includes('--no-docs'),
    profileDir: argv.includes('--profile') ? path.join(here, 'results', 'profiles') : get('profile'),
    windowProfileDir: get('window-profile'),
  };
}

function forkTs(
  file: string,
  env: NodeJS.ProcessEnv,
  extraArgs: string[] = [],
  args: string[] = [],
): ChildProcess {
  return fork(path.join(here, file), args, {
    cwd: root,
    execArgv: ['--import', 'tsx', ...extraArgs],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

let nextId = 1;
function serverCall<T>(
  server: ChildProcess,
  message: { type: string } & Record<string, unknown>,
  pick: (m: ServerMessage) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const id = nextId++;
  return request(
    server,
    { ...message, id },
    (reply) => {
      if (!isRecord(reply)) return undefined;
      const m = reply as unknown as ServerMessage;
      if (m.type === 'error' && (m.id === id || m.id === undefined)) throw new Error(`server: ${m.message}`);
      return 'id' in m && m.id === id ? pick(m) : undefined;
    },
    timeoutMs,
    `server ${message.type}`,
  );
}

async function startServer(
  dave: boolean,
): Promise<{ child: ChildProcess; ready: Extract<ServerMessage, { type: 'ready' }> }> {
  const child = forkTs('server-process.ts', process.env, [], [JSON.stringify({ dave })]);
  const ready = await new Promise<Extract<ServerMessage, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`server exited with code ${String(code)}`)));
    child.on('message', (m: unknown) => {
      if (!isRecord(m)) return;
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m as unknown as Extract<ServerMessage, { type: 'ready' }>);
      } else if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`server: ${String(m.message)}`));
      }
    });
  });
  return { child, ready };
}

function allocationRequests(n: number): Array<{ guildId: string; channelId: string; userId: string }> {
  // Distinct guilds: every connection is alone in its call, so the SFU decrypts and forwards nothing.
  return Array.from({ length: n }, (_, i) => ({
    guildId: String(100_000_000_000_000_000n + BigInt(i)),
    channelId: String(200_000_000_000_000_000n + BigInt(i)),
    userId: String(300_000_000_000_000_000n + BigInt(i)),
  }));
}

/** After the last sender of a DAVE receive call is ready, before the listener joins. */
const DAVE_SETTLE_MS = 3_000;

/**
 * What a client run gets to connect before its window, on top of warm-up and window:
 * VOXCORD_BENCH_CONNECT_BUDGET_MS (default 90 s; A/B runs on a machine shared with other
 * benchmarks connect 1000 sessions more slowly).
 */
function connectBudgetMs(): number {
  const ms = Number(process.env.VOXCORD_BENCH_CONNECT_BUDGET_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : 90_000;
}

/** Starts a scenario's hosted members in the server process and returns what the client gets. */
async function prepareCall(
  server: ChildProcess,
  scenario: ScenarioSpec,
): Promise<{ allocations: Allocation[]; receiveFrom?: string[]; botUserIds?: string[] }> {
  const allocate = (requests: AllocateRequest[]): Promise<Allocation[]> =>
    serverCall<Allocation[]>(
      server,
      { type: 'allocate', requests },
      (m) => (m.type === 'allocated' ? m.allocations : undefined),
      30_000,
    );
  const startMembers = (
    allocations: Allocation[],
    options: { play: boolean; dave: boolean },
  ): Promise<boolean> =>
    serverCall(
      server,
      { type: 'members', allocations, ...options },
      (m) => (m.type === 'members-ready' ? true : undefined),
      300_000,
    );
  if (scenario.kind === 'receive') {
    // N deaf senders and one listener in one call: the SFU forwards N streams to the listener only.
    const call = { guildId: '110000000000000000', channelId: '210000000000000000' };
    const senders = await allocate(
      Array.from({ length: scenario.n }, (_, i) => ({
        ...call,
        userId: String(310_000_000_000_000_000n + BigInt(i)),
        deaf: true,
      })),
    );
    const listener = await allocate([{ ...call, userId: '320000000000000000' }]);
    // With DAVE the senders and the listener are one MLS group: each frame is end-to-end encrypted.
    await startMembers(senders, { play: true, dave: scenario.dave });
    // DAVE: the group's commits for the joins settle before the listener joins (one more commit).
    if (scenario.dave) await new Promise((resolve) => setTimeout(resolve, DAVE_SETTLE_MS));
    return { allocations: listener, receiveFrom: senders.map((a) => a.userId) };
  }
  if (scenario.kind === 'first-audio') {
    // One call per join, with one member (DAVE on) already in it.
    const requests = allocationRequests(scenario.n);
    const peers = await allocate(
      requests.map((r, i) => ({ ...r, userId: String(400_000_000_000_000_000n + BigInt(i)) })),
    );
    const bots = await allocate(requests);
    await serverCall(
      server,
      { type: 'peers', pairs: peers.map((peer, i) => ({ peer, watchUserId: bots[i]!.userId })) },
      (m) => (m.type === 'peers-ready' ? true : undefined),
      120_000,
    );
    return { allocations: bots, botUserIds: bots.map((b) => b.userId) };
  }
  const requests = allocationRequests(scenario.n);
  if (scenario.dave) {
    // A member alone has no DAVE group: each bot gets an idle, deaf DAVE member in its call.
    const partners = await allocate(
      requests.map((r, i) => ({ ...r, userId: String(400_000_000_000_000_000n + BigInt(i)), deaf: true })),
    );
    await startMembers(partners, { play: false, dave: true });
  }
  return { allocations: await allocate(requests) };
}

/**
 * Scenario 4's pacing: each 'joining' from the client starts a clock; the server's 'first-audio'
 * for that bot (or 15 s without one) records the times and tells the client to go on.
 */
function watchFirstAudio(
  server: ChildProcess,
  client: ChildProcess,
  botUserIds: readonly string[],
): FirstAudioTimes {
  const times: FirstAudioTimes = { toServerMs: [], toPeerMs: [] };
  const joinedAt = new Map<number, number>();
  const timers = new Map<number, NodeJS.Timeout>();
  const settle = (index: number, atServer: number | null, atPeer: number | null): void => {
    const at = joinedAt.get(index);
    if (at === undefined || times.toServerMs[index] !== undefined) return;
    clearTimeout(timers.get(index));
    times.toServerMs[index] = atServer === null ? null : atServer - at;
    times.toPeerMs[index] = atPeer === null ? null : atPeer - at;
    client.send({ type: 'next' });
  };
  client.on('message', (m: unknown) => {
    if (!isRecord(m) || m.type !== 'joining' || typeof m.index !== 'number' || typeof m.at !== 'number')
      return;
    const index = m.index;
    joinedAt.set(index, m.at);
    timers.set(
      index,
      setTimeout(() => settle(index, null, null), 15_000),
    );
  });
  server.on('message', (m: unknown) => {
    if (!isRecord(m) || m.type !== 'first-audio') return;
    const report = m as unknown as Extract<ServerMessage, { type: 'first-audio' }>;
    const index = botUserIds.indexOf(report.userId);
    if (index >= 0) settle(index, report.atServer, report.atPeer);
  });
  return times;
}

async function runOne(
  scenario: ScenarioSpec,
  variant: Variant,
  tmp: string,
  profileDir?: string,
  windowProfileDir?: string,
): Promise<{ measurement: Measurement; server?: ServerWindow; firstAudio?: FirstAudioTimes }> {
  const { child: server, ready } = await startServer(scenario.dave);
  let client: ChildProcess | undefined;
  try {
    if (!ready.tlsCa) throw new Error('server has no TLS CA');
    const caFile = path.join(tmp, `ca-${process.pid}-${nextId}.pem`);
    writeFileSync(caFile, ready.tlsCa);
    const call = await prepareCall(server, scenario);
    // @discordjs/voice takes no TLS options: the process must trust the CA from the start.
    // One directory per run: every thread (main, media worker, loader) writes its own profile there.
    const profile = profileDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${path.join(profileDir, `${variant.id}-n${scenario.n}-${Date.now()}`)}`,
        ]
      : [];
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: caFile };
    if (windowProfileDir) {
      mkdirSync(windowProfileDir, { recursive: true });
      env.VOXCORD_BENCH_WINDOW_PROFILE = windowProfileDir;
    }
    client = forkTs('client-process.ts', env, ['--expose-gc', ...profile]);
    const marks: Array<Promise<ServerMark>> = [];
    const onWindow = (m: unknown): void => {
      if (isRecord(m) && m.type === 'window') {
        const marked = serverCall(
          server,
          { type: 'mark' },
          (r) => (r.type === 'marked' ? r.mark : undefined),
          10_000,
        );
        marks.push(marked);
        // The client waits for this (window-marks.ts): its teardown must not overtake the end mark.
        const ack = (): void => {
          if (client?.connected) client.send({ type: 'window-ack' } satisfies ClientReply);
        };
        void marked.then(ack, ack);
      }
    };
    client.on('message', onWindow);
    const firstAudio = call.botUserIds ? watchFirstAudio(server, client, call.botUserIds) : undefined;
    const run: ClientRunRequest = {
      type: 'run',
      implementation: variant.implementation,
      scenario: { ...scenario, ...(variant.engine ? { engine: variant.engine } : {}) },
      allocations: call.allocations,
      ...(call.receiveFrom ? { receiveFrom: call.receiveFrom } : {}),
      tlsCa: ready.tlsCa,
    };
    const budgetMs =
      connectBudgetMs() + scenario.warmupMs + scenario.windowMs + (firstAudio ? scenario.n * 20_000 : 0);
    const reply = await request<Extract<ClientMessage, { type: 'result' | 'error' }>>(
      client,
      run,
      (m) =>
        isRecord(m) && (m.type === 'result' || m.type === 'error')
          ? (m as unknown as Extract<ClientMessage, { type: 'result' | 'error' }>)
          : undefined,
      budgetMs,
      `${variant.id} N=${scenario.n}`,
    );
    if (reply.type === 'error') throw new Error(reply.message);
    if (firstAudio) return { measurement: reply.measurement, firstAudio };
    const [start, end] = await Promise.all(marks);
    if (!start || !end) throw new Error('server marks missing');
    if (process.env.VOXCORD_BENCH_DEBUG === '1')
      process.stderr.write(`[bench] server marks ${JSON.stringify({ start, end })}\n`);
    return { measurement: reply.measurement, server: serverWindow(start, end) };
  } finally {
    if (client) await waitExit(client, 10_000);
    await serverCall(
      server,
      { type: 'stop' },
      (m) => (m.type === 'stopped' ? true : undefined),
      10_000,
    ).catch(() => undefined);
    await waitExit(server, 5_000);
  }
}

function machine(): Machine {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemoryBytes: os.totalmem(),
  };
}

/** The existing micro-benchmarks, output captured as text. */
async function runMicro(file: string, timeoutMs = 120_000): Promise<string> {
  const child = fork(path.join(here, file), [], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitExit(child, timeoutMs);
  return out.trim();
}

const DOCS_START = '<!-- bench:latest:start -->';
const DOCS_END = '<!-- bench:latest:end -->';

/** Replaces the text between the markers in BENCHMARKS.md with the latest results. */
function pasteIntoDocs(md: string): void {
  const file = path.join(root, 'BENCHMARKS.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(DOCS_START);
  const end = text.indexOf(DOCS_END);
  if (start < 0 || end < start) return;
  // The document has its own headings: the title becomes a line, sections go one level down.
  const body = md.replace(/^# Latest bench results \((.*)\)\n/, 'Run on $1.\n').replace(/^## /gm, '### ');
  writeFileSync(file, `${text.slice(0, start + DOCS_START.length)}\n${body.trim()}\n${text.slice(end)}`);
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** One plan entry: a scenario and the variants that run it. */
interface PlanEntry {
  scenario: ScenarioSpec;
  name: string;
  variants: Variant[];
}

function buildPlan(config: Config): PlanEntry[] {
  const timing = { warmupMs: config.warmupMs, windowMs: config.windowMs };
  const plan: PlanEntry[] = [];
  const add = (id: PlanId, scenario: ScenarioSpec): void => {
    const variants = config.variants.filter((v) => v.engine !== 'inline' || withInline(id, scenario.n));
    if (variants.length > 0) plan.push({ scenario, name: `${id}-n${scenario.n}`, variants });
  };
  for (const id of config.scenarios) {
    switch (id) {
      case 'send':
      case 'send-dave':
        for (const n of config.sizes) add(id, { kind: 'send', n, dave: id === 'send-dave', ...timing });
        break;
      case 'encode':
        for (const n of config.encodeSizes) add(id, { kind: 'encode', n, dave: false, ...timing });
        break;
      case 'stall':
        add(id, {
          kind: 'stall',
          n: config.stallN,
          dave: false,
          ...timing,
          stall: { everyMs: 1_000, blockMs: 100 },
        });
        break;
      case 'first-audio':
        add(id, { kind: 'first-audio', n: config.joins, dave: true, ...timing });
        break;
      case 'receive':
      case 'receive-dave':
        add(id, {
          kind: 'receive',
          n: id === 'receive-dave' ? config.receiveDaveN : config.receiveN,
          dave: id === 'receive-dave',
          ...timing,
        });
        break;
      case 'node':
        break; // its own processes: runNodeScenario()
    }
  }
  return plan;
}

function describe(record: RunRecord): string {
  const m = record.measurement;
  if (record.firstAudio) {
    const ms = (v: number | null): string => (v === null ? 'none' : v.toFixed(0));
    return `join → server ${record.firstAudio.toServerMs.map(ms).join('/')} ms, → member ${record.firstAudio.toPeerMs.map(ms).join('/')} ms`;
  }
  if (m?.type === 'receive') {
    return `${m.cpuUsPerFrame.toFixed(2)} µs/frame, ${((m.pcmFrames * 1000) / m.windowMs).toFixed(0)}/${((m.expectedFrames * 1000) / m.windowMs).toFixed(0)} frames/s`;
  }
  if (m?.type === 'send') {
    return (
      `${m.cpuUsPerPacket.toFixed(2)} µs/packet, ${m.packetsPerSecond.toFixed(0)}/${m.targetPacketsPerSecond} pps, ` +
      `RSS ${(m.rssPerConnectionBytes / 1024).toFixed(1)} KiB/conn, ${String(m.lateOver20ms)} late > 20 ms` +
      (record.kind === 'stall' ? ` (${m.stalls} stalls)` : '') +
      (record.server && record.dave ? `, ${(record.server.daveShare * 100).toFixed(0)}% DAVE frames` : '')
    );
  }
  return '';
}

/** Its results as bench/node.ts writes them with --json. */
interface NodeScenarioOutput {
  markdown: string;
  results: unknown[];
  targets: unknown[];
  seconds: number;
}

/**
 * The node scenario (issue 15): bench/node.ts in a child, its three variants side by side at
 * each size. Its own deadlines end a stuck run; this one (30 min) ends a stuck scenario.
 */
async function runNodeScenario(config: Config, tmp: string): Promise<NodeScenarioOutput | { error: string }> {
  const out = path.join(tmp, 'node.json');
  const args = [
    `--sizes=${config.nodeSizes}`,
    `--json=${out}`,
    ...(config.windowMs === 4_000 ? [] : [`--window-ms=${config.windowMs}`]),
  ];
  if (config.warmupMs !== 2_000) args.push(`--warmup-ms=${config.warmupMs}`);
  const child = forkTs('node.ts', process.env, [], args);
  await waitExit(child, 30 * 60_000);
  if (!existsSync(out))
    return {
      error: `bench/node.ts ended without results (exit ${String(child.exitCode ?? child.signalCode)})`,
    };
  return JSON.parse(readFileSync(out, 'utf8')) as NodeScenarioOutput;
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'voxcord-bench-'));
  const runs: RunRecord[] = [];
  try {
    const plan = buildPlan(config);
    for (const [index, { scenario, name, variants }] of plan.entries()) {
      log(`[${index + 1}/${plan.length}] ${scenarioTitle(scenario)}`);
      for (let round = 0; round < config.rounds; round++) {
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          const t = performance.now();
          const base = {
            scenario: name,
            kind: scenario.kind,
            n: scenario.n,
            dave: scenario.dave,
            variant: variant.id,
            round,
          };
          try {
            const result = await runOne(scenario, variant, tmp, config.profileDir, config.windowProfileDir);
            const record: RunRecord = { ...base, ok: true, ...result, wallMs: performance.now() - t };
            runs.push(record);
            log(
              `  ${variant.id} round ${round + 1}: ${describe(record)} (${((performance.now() - t) / 1000).toFixed(1)} s)`,
            );
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            runs.push({ ...base, ok: false, error, wallMs: performance.now() - t });
            log(`  ${variant.id} round ${round + 1}: FAILED: ${error}`);
          }
        }
      }
    }
    let node: NodeScenarioOutput | { error: string } | undefined;
    if (config.scenarios.includes('node')) {
      log(`node scenario (bench/node.ts, P = ${config.nodeSizes})`);
      node = await runNodeScenario(config, tmp);
      log('error' in node ? `  node: FAILED: ${node.error}` : `  node: done in ${node.seconds.toFixed(0)} s`);
    }
    const micro: Record<string, string> = {};
    let scaling: ScalingResult | undefined;
    if (config.micro) {
      for (const file of ['transport-crypto.ts', 'dave-frame.ts']) {
        log(`micro-benchmark ${file}`);
        micro[file] = await runMicro(file);
      }
      // 1 vs 2 workers (and what 'auto' picks) at N = 1000 with DAVE, engine only, alternating
      // rounds: kept as data (latest.json "scaling"), shown as its own table, judged in the targets.
      log('engine scaling: bench/engine-scaling.ts');
      try {
        scaling = await runScaling({
          n: 1000,
          rounds: config.rounds,
          dave: true,
          variants: ['1', '2', 'auto'],
          dist: true,
          log: (line) => log(`  ${line}`),
        });
      } catch (err) {
        log(`  engine scaling FAILED: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

    const m = machine();
    const summaries = summarize(runs);
    const targets = checkTargets(summaries, scaling);
    const totalS = (performance.now() - started) / 1000;
    const note =
      `${config.rounds} round(s) per variant, alternating order; ${config.warmupMs / 1000} s warm-up, ` +
      `${config.windowMs / 1000} s window; medians over rounds; whole bench ${totalS.toFixed(0)} s.`;
    const table = markdownTable(summaries, m, note);
    const microText = Object.entries(micro)
      .map(([file, text]) => `\`bench/${file}\`:\n\n\`\`\`\n${text}\n\`\`\``)
      .join('\n\n');
    const nodeText =
      node === undefined
        ? ''
        : `\n## voxcord node (issue 15): P players, passthrough Ogg/Opus, DAVE on\n\n` +
          ('error' in node ? `Not measured: ${node.error}\n` : `${node.markdown}\n`);
    const md =
      `# Latest bench results (${new Date().toISOString()})\n\n${table}\n\n## Targets\n\n${targetsTable(targets)}\n` +
      (scaling
        ? `\n## Engine scaling, 1 vs 2 workers (\`bench/engine-scaling.ts\`)\n\n${scalingTable(scaling)}\n`
        : '') +
      nodeText +
      (microText ? `\n## Micro-benchmarks\n\n${microText}\n` : '');
    const outDir = path.join(here, 'results');
    mkdirSync(outDir, { recursive: true });
    // Quick and partial runs never replace the full run's results.
    const name = config.full ? 'latest' : 'partial';
    writeFileSync(
      path.join(outDir, `${name}.json`),
      `${JSON.stringify({ date: new Date().toISOString(), machine: m, config, targets, summaries, runs, scaling, node, micro, totalSeconds: totalS }, null, 2)}\n`,
    );
    writeFileSync(path.join(outDir, `${name}.md`), md);
    if (config.docs) pasteIntoDocs(md);
    process.stdout.write(`${md}\n`);
    log(`done in ${totalS.toFixed(0)} s: bench/results/${name}.json, bench/results/${name}.md`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
