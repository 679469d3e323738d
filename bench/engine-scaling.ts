/**
 * Scaling of the worker engine from 1 to 2 workers: bench/engine-send.ts with `--workers 1` and
 * `--workers 2` (and `auto`), in alternating rounds, medians per variant. Each run is its own
 * process (one engine, a UDP sink process), so the variants do not share a heap or a warm JIT.
 *
 * Run: npx tsx bench/engine-scaling.ts [N=1000] [rounds=2] [dave|plain] [variants=1,2]
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import type { EngineSendResult } from './engine-send.js';

const here = fileURLToPath(new URL('./engine-send.ts', import.meta.url));

function runOnce(n: number, dave: boolean, workers: string): Promise<EngineSendResult> {
  const args = ['--import', 'tsx', here, 'worker', String(n), 'auto', dave ? 'dave' : 'plain'];
  args.push('--workers', workers, '--json');
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 2);
  const dave = (process.argv[4] ?? 'dave') === 'dave';
  const variants = (process.argv[5] ?? '1,2').split(',');
  const results = new Map<string, EngineSendResult[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so drift in machine load does not favour one variant.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const r = await runOnce(n, dave, v);
      results.get(v)!.push(r);
      console.error(`round ${round + 1} workers=${v}: ${JSON.stringify(r)}`);
    }
  }
  const rows: [string, (r: EngineSendResult) => number, number][] = [
    ['client CPU µs per packet', (r) => r.usPerPacket, 2],
    ['client CPU, % of one core', (r) => r.corePercent, 1],
    ['packets/s achieved', (r) => r.packetsPerSecond, 0],
    ['send lateness p50, ms', (r) => r.p50Ms, 2],
    ['send lateness p99, ms', (r) => r.p99Ms, 2],
    ['packets sent > 20 ms late (window)', (r) => r.late, 0],
    ['RSS per channel, KiB', (r) => r.rssKiBPerChannel, 1],
    ['workers running', (r) => r.workersUsed, 0],
  ];
  const base = variants[0]!;
  console.log(
    `Engine-only send, N = ${n}${dave ? ', DAVE' : ''}, target ${50 * n} packets/s; ${rounds} alternating ` +
      `round(s), medians. ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, ` +
      `load ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}.\n`,
  );
  const header = variants.map((v) => `workers = ${v}`);
  const ratios = variants.slice(1).map((v) => `${v} / ${base}`);
  console.log(`| Metric | ${[...header, ...ratios].join(' | ')} |`);
  console.log(`| --- | ${[...header, ...ratios].map(() => '---:').join(' | ')} |`);
  for (const [name, pick, digits] of rows) {
    const medians = variants.map((v) => median(results.get(v)!.map(pick)));
    const ratio = medians.slice(1).map((m) => (medians[0]! > 0 ? `${(m / medians[0]!).toFixed(2)}x` : ''));
    console.log(`| ${name} | ${[...medians.map((m) => m.toFixed(digits)), ...ratio].join(' | ')} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
