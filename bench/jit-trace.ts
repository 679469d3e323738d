/**
 * When and on which thread V8 optimizes and deoptimizes: reads V8's per-isolate logs of a run made
 * with `--log-code --log-deopt` and prints, per isolate (the main thread, each media worker), its
 * TurboFan compiles per time bin, the functions TurboFan compiled more than once (a per-call
 * closure whose code a mark-compact dropped, a deopt loop) and the deopts with their reasons. A
 * tail of first compiles that thins out is warm-up; the same functions compiled again and again
 * is steady recompilation. Times are seconds from the isolate's start (its log's own clock).
 *
 * Run: VOXCORD_BENCH_NODE_FLAGS='--trace-opt --log-code --log-deopt --logfile=v8-%p.log' \
 *        npx tsx bench/node.ts --sizes=100 --variants=voxcord-node --no-migration --no-stall \
 *        --window-ms=60000 > opt.log
 *      npx tsx bench/jit-trace.ts isolate-*-v8-*.log [--trace-opt=opt.log] [--bin-s=10] [--from-s=4] [--to-s=64]
 * V8 names each file `isolate-<address>-<pid>-<logfile>` in the process's working directory (the
 * worktree's root for bench/node.ts; a --logfile with a directory in it fails): move them after.
 * `--trace-opt=file` adds each compile's execute phase (ms of wall time on a V8 helper thread,
 * from `--trace-opt`'s "took prepare, execute, finalize", which does not say which isolate asked):
 * the n-th "completed compiling" of a SharedFunctionInfo is matched with that SFI's n-th TurboFan
 * code in the isolates' logs (V8 prints the SFI's tagged address, the log the untagged one).
 */
import { readFileSync } from 'node:fs';

interface JitEvent {
  atS: number;
  name: string;
  /** The SharedFunctionInfo's address (compiles only). */
  sfi?: string;
  /** Execute phase of the compile, ms (with --trace-opt). */
  executeMs?: number;
}

interface IsolateLog {
  file: string;
  /** TurboFan code created (V8 marks optimized code `*` in code-creation events). */
  compiles: JitEvent[];
  /** code-deopt events, `name` being "kind <position> reason". */
  deopts: JitEvent[];
  worker: boolean;
}

/** One code-creation or code-deopt line; V8 escapes commas inside names, so a plain split holds. */
function parseLog(file: string): IsolateLog {
  const log: IsolateLog = { file, compiles: [], deopts: [], worker: false };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(',');
    if (f[0] === 'code-creation' && f[1] === 'JS') {
      const name = f[6] ?? '?';
      if (name.includes('engine-worker')) log.worker = true;
      if (f[f.length - 1] === '*') log.compiles.push({ atS: Number(f[3]) / 1e6, name, sfi: f[7] });
    } else if (f[0] === 'code-deopt') {
      log.deopts.push({ atS: Number(f[1]) / 1e6, name: `${f[6]} ${f[7]} ${f.slice(8).join(',')}` });
    }
  }
  return log;
}

const COMPLETED =
  /completed compiling .*\(sfi = (0x[0-9a-f]+)\)> \(target TURBOFAN\).* - took [\d.]+, ([\d.]+), [\d.]+ ms/;

/** Execute ms per untagged SFI address, in print order (`--trace-opt` output). */
function parseTraceOpt(file: string): Map<string, number[]> {
  const bySfi = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = COMPLETED.exec(line);
    if (m === null) continue;
    const sfi = `0x${(BigInt(m[1]!) - 1n).toString(16)}`;
    bySfi.set(sfi, [...(bySfi.get(sfi) ?? []), Number(m[2])]);
  }
  return bySfi;
}

function main(): void {
  const arg = (name: string, fallback: number): number => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a === undefined ? fallback : Number(a.slice(name.length + 3));
  };
  const binS = arg('bin-s', 10);
  const fromS = arg('from-s', 0);
  const toS = arg('to-s', Infinity);
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (files.length === 0 || !(binS > 0)) {
    console.error('usage: npx tsx bench/jit-trace.ts <isolate-*.log>... [--bin-s=10] [--from-s=0] [--to-s=]');
    process.exitCode = 1;
    return;
  }
  const traceOptFile = process.argv.find((a) => a.startsWith('--trace-opt='))?.slice('--trace-opt='.length);
  const times = traceOptFile === undefined ? undefined : parseTraceOpt(traceOptFile);
  for (const log of files.map(parseLog)) {
    if (times !== undefined)
      for (const c of log.compiles) if (c.sfi !== undefined) c.executeMs = times.get(c.sfi)?.shift();
    const inSpan = (e: JitEvent): boolean => e.atS >= fromS && e.atS <= toS;
    const compiles = log.compiles.filter(inSpan);
    const deopts = log.deopts.filter(inSpan);
    console.log(
      `${log.file} (${log.worker ? 'media worker' : 'main thread'}): ${compiles.length} TurboFan compiles, ${deopts.length} deopts`,
    );
    const bins = new Map<number, { n: number; ms: number; timed: number }>();
    for (const c of compiles) {
      const bin = Math.floor(c.atS / binS) * binS;
      const b = bins.get(bin) ?? { n: 0, ms: 0, timed: 0 };
      b.n++;
      if (c.executeMs !== undefined) {
        b.ms += c.executeMs;
        b.timed++;
      }
      bins.set(bin, b);
    }
    const cell = ([at, b]: [number, { n: number; ms: number; timed: number }]): string =>
      `${at}s ${b.n}` +
      (times === undefined
        ? ''
        : ` (${b.ms.toFixed(1)} ms${b.timed < b.n ? `, ${b.n - b.timed} untimed` : ''})`);
    console.log(
      `  compiles per ${binS} s${times === undefined ? '' : ' (execute ms)'}: ${[...bins].map(cell).join(', ')}`,
    );
    // Compiled more than once over the whole log, with the times in the span.
    const all = new Map<string, number>();
    for (const c of log.compiles) all.set(c.name, (all.get(c.name) ?? 0) + 1);
    const again = new Map<string, number[]>();
    for (const c of compiles)
      if (all.get(c.name)! > 1) again.set(c.name, [...(again.get(c.name) ?? []), c.atS]);
    for (const [name, at] of [...again].sort((a, b) => b[1].length - a[1].length))
      console.log(
        `  compiled ${all.get(name)}x: ${name || '(anonymous)'} at ${at.map((s) => s.toFixed(1)).join(' ')} s`,
      );
    for (const d of deopts) console.log(`  deopt ${d.atS.toFixed(2)} s: ${d.name}`);
  }
}

main();
