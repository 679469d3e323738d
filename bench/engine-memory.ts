/**
 * The media workers' memory account, in alternating rounds: bench/engine-send.ts `--account` with
 * each `--workers` value (and each tree, for an A/B of two builds), one process per run, medians
 * per variant of every part (KiB per channel by kind of mapping, the main isolate's growth, and
 * the workers' heap spaces, external and ArrayBuffer MiB summed over the workers).
 *
 * Run: npx tsx bench/engine-memory.ts [N=1000] [rounds=4] [--workers=1,2] [--dist] [--plain]
 *        [--tree=name:path ...]   (default: this tree; another tree needs this engine-send.ts)
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import type { EngineSendResult } from './engine-send.js';
import { median } from './stats.js';

interface Variant {
  tree: string;
  dir: string;
  workers: string;
}

function runOnce(v: Variant, n: number, dave: boolean, dist: boolean): Promise<EngineSendResult> {
  const script = path.join(v.dir, 'bench/engine-send.ts');
  const args = [
    '--expose-gc',
    '--import',
    'tsx',
    script,
    'worker',
    String(n),
    'auto',
    dave ? 'dave' : 'plain',
  ];
  args.push('--workers', v.workers, '--json', '--account');
  if (dist) args.push('--dist');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: v.dir, maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err) return reject(err instanceof Error ? err : new Error('engine-send failed'));
      const line = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line) as EngineSendResult);
    });
  });
}

/** Every figure of a run, flat: `name → value`. */
function figures(r: EngineSendResult): Map<string, number> {
  const out = new Map<string, number>();
  out.set('RSS after warm-up KiB/ch', r.rssKiBPerChannel);
  out.set('p99 ms', r.p99Ms);
  out.set('µs/packet', r.usPerPacket);
  out.set('late > 20 ms', r.late);
  const a = r.account;
  if (a === undefined) return out;
  for (const [k, v] of Object.entries(a.rssKiBPerChannel)) out.set(`mapping ${k} KiB/ch`, v);
  out.set('arenas touched (added)', a.arenas - a.arenasBefore);
  if (a.liveHeapKiBPerChannel !== undefined)
    out.set('workers heap live (after gc) KiB/ch', a.liveHeapKiBPerChannel);
  for (const [k, v] of Object.entries(a.mainKiBPerChannel)) out.set(`main ${k} KiB/ch`, v);
  const sums = new Map<string, number>();
  for (const w of a.workers) for (const [k, v] of Object.entries(w)) sums.set(k, (sums.get(k) ?? 0) + v);
  for (const [k, v] of sums) out.set(`workers ${k} KiB/ch`, (v * 1024) / r.n);
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional = argv.filter((a) => !a.startsWith('--'));
  const n = Number(positional[0] ?? 1000);
  const rounds = Number(positional[1] ?? 4);
  const opt = (name: string): string[] =>
    argv.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  const workers = (opt('workers')[0] ?? '1,2').split(',');
  const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const trees = opt('tree').map((t) => {
    const at = t.indexOf(':');
    return { tree: t.slice(0, at), dir: t.slice(at + 1) };
  });
  if (trees.length === 0) trees.push({ tree: 'this', dir: here });
  const dist = argv.includes('--dist');
  const dave = !argv.includes('--plain');
  const variants: Variant[] = trees.flatMap((t) => workers.map((w) => ({ ...t, workers: w })));
  const name = (v: Variant): string => `${v.tree} w${v.workers}`;
  const results = new Map<string, Map<string, number>[]>();
  for (let round = 0; round < rounds; round++) {
    // Alternate the order too, so no variant always runs right after the same one.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const r = await runOnce(v, n, dave, dist);
      const f = figures(r);
      results.set(name(v), [...(results.get(name(v)) ?? []), f]);
      console.error(
        `round ${round + 1} ${name(v)}: RSS ${r.rssKiBPerChannel.toFixed(1)}, mapped total ` +
          `${(f.get('mapping total KiB/ch') ?? NaN).toFixed(1)} KiB/ch, p99 ${r.p99Ms.toFixed(2)} ms, ` +
          `${r.workersUsed} worker(s)`,
      );
    }
  }
  const names = variants.map(name);
  const keys = [...new Set([...results.values()].flatMap((runs) => runs.flatMap((f) => [...f.keys()])))];
  console.log(
    `N=${n}${dave ? ' +DAVE' : ''}${dist ? ' dist' : ' src'}, ${rounds} rounds, medians [min-max]; ` +
      `load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  console.log(['figure', ...names].join(' | '));
  for (const key of keys) {
    const cells = names.map((nm) => {
      const values = (results.get(nm) ?? []).map((f) => f.get(key) ?? NaN).filter((x) => !Number.isNaN(x));
      if (values.length === 0) return '-';
      return `${median(values).toFixed(1)} [${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)}]`;
    });
    console.log([key, ...cells].join(' | '));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
