/**
 * Scaling of the worker engine from 1 to 2 workers: bench/engine-send.ts with `--workers 1`,
 * `--workers 2` and `--workers auto` (what the default picks), in alternating rounds, medians per
 * variant. Each run is its own process (one engine, a UDP sink process), so the variants do not
 * share a heap or a warm JIT. `npm run bench` runs it too and keeps the result in latest.json.
 *
 * Run: npx tsx bench/engine-scaling.ts [N=1000] [rounds=2] [dave|plain] [variants=1,2,auto] [--dist]
 * `--dist` (what `npm run bench` does, after its build): the engine from dist, its workers running
 * the bundle as a user's do. From source each worker loads tsx, whose esbuild service is one more
 * thread and isolate per worker: the second worker read 25-30 KiB per channel more than from dist.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import type { EngineSendResult } from './engine-send.js';
import { median } from './stats.js';

const here = fileURLToPath(new URL('./engine-send.ts', import.meta.url));

export interface ScalingOptions {
  n: number;
  rounds: number;
  dave: boolean;
  /** Values of `--workers`, the first one is the base of the ratios. */
  variants: string[];
  /** Progress lines (one per run). */
  log?: (line: string) => void;
  /** The engine from dist (engine-send.ts --dist; build first). */
  dist?: boolean;
}

export interface ScalingResult {
  n: number;
  dave: boolean;
  targetPacketsPerSecond: number;
  variants: string[];
  rounds: Record<string, EngineSendResult[]>;
  medians: Record<string, ScalingMedians>;
  /** The machine while it ran (cores, load average at the end). */
  machine: string;
}

function runOnce(n: number, dave: boolean, workers: string, dist: boolean): Promise<EngineSendResult> {
  const args = ['--import', 'tsx', here, 'worker', String(n), 'auto', dave ? 'dave' : 'plain'];
  args.push('--workers', workers, '--json');
  if (dist) args.push('--dist');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(new Error(`engine-send failed: ${err.message}`));
      const line = stdout
        .trim()
        .split('\n')
        .find((l) => l.startsWith('{'));
      if (line === undefined) return reject(new Error(`no result from workers=${workers}: ${stdout}`));
      resolve(JSON.parse(line) as EngineSendResult);
    });
  });
}

const KEYS = [
  'workersUsed',
  'usPerPacket',
  'corePercent',
  'packetsPerSecond',
  'late',
  'p50Ms',
  'p99Ms',
  'rssKiBPerChannel',
  'lateSendShare',
  'lateStartShare',
] as const satisfies readonly (keyof EngineSendResult)[];

/** Medians of one variant's rounds; `waitMsPerSecond` where the OS reports it (Linux). */
export type ScalingMedians = Record<(typeof KEYS)[number], number> & { waitMsPerSecond?: number };

export async function runScaling(options: ScalingOptions): Promise<ScalingResult> {
  const { n, rounds, dave, variants } = options;
  const results: Record<string, EngineSendResult[]> = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so drift in machine load does not favour one variant.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const r = await runOnce(n, dave, v, options.dist === true);
      results[v]!.push(r);
      options.log?.(`round ${round + 1} workers=${v}: ${JSON.stringify(r)}`);
    }
  }
  const medians: Record<string, ScalingMedians> = {};
  for (const v of variants) {
    const m = {} as ScalingMedians;
    for (const key of KEYS) m[key] = median(results[v]!.map((r) => r[key]));
    const waits = results[v]!.flatMap((r) => (r.waitMsPerSecond === undefined ? [] : [r.waitMsPerSecond]));
    if (waits.length > 0) m.waitMsPerSecond = median(waits);
    medians[v] = m;
  }
  const machine =
    `${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, ` +
    `load ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}`;
  return { n, dave, targetPacketsPerSecond: 50 * n, variants, rounds: results, medians, machine };
}

/** The result as a Markdown table, one column per variant and the ratios against the first. */
export function scalingTable(result: ScalingResult): string {
  const { variants, medians } = result;
  const rows: [string, keyof ScalingMedians, number][] = [
    ['client CPU µs per packet', 'usPerPacket', 2],
    ['client CPU, % of one core', 'corePercent', 1],
    ['packets/s achieved', 'packetsPerSecond', 0],
    ['send lateness p50, ms', 'p50Ms', 2],
    ['send lateness p99, ms', 'p99Ms', 2],
    ['packets sent > 20 ms late (window)', 'late', 0],
    ['share of packets sent > 5 ms late', 'lateSendShare', 4],
    ['share of bucket deliveries started > 5 ms late', 'lateStartShare', 4],
    ['RSS per channel, KiB', 'rssKiBPerChannel', 1],
    ['workers running', 'workersUsed', 0],
    ['engine threads waiting for a core, ms per s', 'waitMsPerSecond', 0],
  ];
  const base = variants[0]!;
  const rounds = result.rounds[base]?.length ?? 0;
  const lines = [
    `Engine-only send, N = ${result.n}${result.dave ? ', DAVE' : ''}, target ${result.targetPacketsPerSecond} ` +
      `packets/s; ${rounds} alternating round(s), medians. ${result.machine}.`,
    '',
  ];
  const header = variants.map((v) => `workers = ${v}`);
  const ratios = variants.slice(1).map((v) => `${v} / ${base}`);
  lines.push(`| Metric | ${[...header, ...ratios].join(' | ')} |`);
  lines.push(`| --- | ${[...header, ...ratios].map(() => '---:').join(' | ')} |`);
  for (const [name, key, digits] of rows) {
    const values = variants.map((v) => medians[v]![key]);
    if (values.some((m) => m === undefined)) continue;
    const ratio = values.slice(1).map((m) => (values[0]! > 0 ? `${(m! / values[0]!).toFixed(2)}x` : ''));
    lines.push(`| ${name} | ${[...values.map((m) => m!.toFixed(digits)), ...ratio].join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const result = await runScaling({
    n: Number(positional[0] ?? 1000),
    rounds: Number(positional[1] ?? 2),
    dave: (positional[2] ?? 'dave') === 'dave',
    variants: (positional[3] ?? '1,2,auto').split(','),
    dist: process.argv.includes('--dist'),
    log: (line) => console.error(line),
  });
  console.log(scalingTable(result));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
