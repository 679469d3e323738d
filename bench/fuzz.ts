/**
 * `npm run fuzz`: the long fuzz run. Every target runs in a worker thread watched by this thread:
 * an input that does not finish within the hang budget is a hang (the worker is terminated, the
 * input regenerated from its index and saved, and the run resumes after it). Failing inputs are
 * saved as regression fixtures under test/fuzz/fixtures/<target>/, which every run (and the quick
 * run in `npm test`, test/fuzz/fuzz.test.ts) replays first.
 *
 * Options: --inputs N (per target, default 100000)  --target a,b  --seed S (default 1)
 *          --hang-ms MS (default 5000)  --out PATH (default test/fuzz/results/latest; writes .json and .md)
 *          --no-save (do not write fixtures)
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  FUZZ_DIR,
  emptyCounts,
  generateInput,
  instantiate,
  runTarget,
  saveFixture,
} from '../test/fuzz/engine.js';
import type { Finding, TargetCounts } from '../test/fuzz/engine.js';
import { FUZZ_TARGETS, findTargets } from '../test/fuzz/targets/index.js';

interface Job {
  target: string;
  seed: number;
  from: number;
  inputs: number;
  hangMs: number;
  save: boolean;
  /** Shared Int32Array[1]: the index of the input being run (the watchdog's view). */
  current: SharedArrayBuffer;
}

type WorkerMessage =
  | { type: 'progress'; done: number; counts: TargetCounts }
  | { type: 'done'; counts: TargetCounts; findings: Finding[] }
  | { type: 'error'; message: string };

async function workerMain(job: Job): Promise<void> {
  const port = parentPort!;
  const target = findTargets([job.target])[0]!;
  const instance = await instantiate(target);
  const current = new Int32Array(job.current);
  const { counts, findings } = runTarget(job.target, instance, {
    seed: job.seed,
    inputs: job.inputs,
    from: job.from,
    hangMs: job.hangMs,
    save: job.save,
    progressEvery: 10_000,
    onInput: (i) => Atomics.store(current, 0, i),
    onProgress: (done, c) => port.postMessage({ type: 'progress', done, counts: c } satisfies WorkerMessage),
  });
  port.postMessage({ type: 'done', counts, findings } satisfies WorkerMessage);
}

// ---- main thread ----

interface TargetReport extends TargetCounts {
  target: string;
  modules: readonly string[];
  findings: Finding[];
}

function parseArgs(argv: string[]): {
  inputs: number;
  targets: string[] | undefined;
  seed: number;
  hangMs: number;
  out: string;
  save: boolean;
} {
  const value = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const a = argv[i]!;
    return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
  };
  const num = (name: string, fallback: number): number => {
    const v = value(name);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
    return n;
  };
  return {
    inputs: Math.floor(num('--inputs', 100_000)),
    targets: value('--target')
      ?.split(',')
      .filter((s) => s !== ''),
    seed: Math.floor(num('--seed', 1)),
    hangMs: num('--hang-ms', 5000),
    out: value('--out') ?? path.join(FUZZ_DIR, 'results', 'latest'),
    save: !argv.includes('--no-save'),
  };
}

function add(a: TargetCounts, b: TargetCounts): void {
  a.inputs += b.inputs;
  a.ok += b.ok;
  a.rejected += b.rejected;
  a.crashes += b.crashes;
  a.hangs += b.hangs;
  a.oracleViolations += b.oracleViolations;
  a.fixturesReplayed += b.fixturesReplayed;
  a.slowestMs = Math.max(a.slowestMs, b.slowestMs);
}

/**
 * Node 20 does not apply `--import tsx` to a worker's entry module: a bootstrap registers tsx's
 * ESM API, then imports this file (as src/media/worker-engine.ts does for its worker).
 */
function startWorker(job: Job): Worker {
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const esm = cjs.replace(/\.cjs$/, '.mjs');
  const tsxApi = pathToFileURL(existsSync(esm) ? esm : cjs).href;
  const bootstrap =
    `import(${JSON.stringify(tsxApi)}).then((m) => { (m.register ?? m.default.register)(); ` +
    `return import(${JSON.stringify(import.meta.url)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: job });
}

/** One worker pass from `from`; resolves with its counts, or with the index it hung on. */
function pass(
  job: Omit<Job, 'current'>,
  onProgress: (done: number, counts: TargetCounts) => void,
): Promise<{ counts: TargetCounts; findings: Finding[]; hungAt?: number; error?: string }> {
  const current = new SharedArrayBuffer(4);
  const view = new Int32Array(current);
  Atomics.store(view, 0, -1); // the worker stores each input's index once it runs inputs
  const worker = startWorker({ ...job, current });
  return new Promise((resolve) => {
    let last = -1;
    let lastChange = performance.now();
    let partial = emptyCounts();
    let settled = false;
    const finish = (r: {
      counts: TargetCounts;
      findings: Finding[];
      hungAt?: number;
      error?: string;
    }): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(r);
    };
    const watchdog = setInterval(
      () => {
        const now = Atomics.load(view, 0);
        if (now !== last) {
          last = now;
          lastChange = performance.now();
        } else if (now >= 0 && performance.now() - lastChange > job.hangMs) {
          // Only once inputs run (target creation, e.g. MLS signing keys, is not an input).
          finish({ counts: partial, findings: [], hungAt: now });
        }
      },
      Math.max(50, Math.min(500, job.hangMs / 4)),
    );
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        partial = m.counts;
        onProgress(m.done, m.counts);
      } else if (m.type === 'done') finish({ counts: m.counts, findings: m.findings });
      else finish({ counts: partial, findings: [], error: m.message });
    });
    worker.on('error', (err) => finish({ counts: partial, findings: [], error: err.message }));
    worker.on('exit', (code) => {
      if (code !== 0) finish({ counts: partial, findings: [], error: `worker exited with code ${code}` });
    });
  });
}

const MAX_HANGS_PER_TARGET = 10;

async function runOne(name: string, opts: ReturnType<typeof parseArgs>): Promise<TargetReport> {
  const target = findTargets([name])[0]!;
  const total = emptyCounts();
  const findings: Finding[] = [];
  const started = performance.now();
  let from = 0;
  const log = (done: number, c: TargetCounts): void => {
    const rate = done / ((performance.now() - started) / 1000);
    process.stdout.write(
      `  ${name.padEnd(28)} ${String(done).padStart(9)}/${opts.inputs}  crashes ${total.crashes + c.crashes}` +
        `  hangs ${total.hangs + c.hangs}  oracle ${total.oracleViolations + c.oracleViolations}  ${rate.toFixed(0)}/s\n`,
    );
  };
  while (from < opts.inputs) {
    if (total.hangs >= MAX_HANGS_PER_TARGET) {
      // Each hang costs a worker restart: report the first ones and move on.
      findings.push({ outcome: 'hang', index: from, message: `stopped after ${MAX_HANGS_PER_TARGET} hangs` });
      break;
    }
    const r = await pass(
      {
        target: name,
        seed: opts.seed,
        from,
        inputs: opts.inputs - from,
        hangMs: opts.hangMs,
        save: opts.save,
      },
      (done, c) => log(done, c),
    );
    if (r.error !== undefined) throw new Error(`${name}: ${r.error}`);
    if (r.hungAt === undefined) {
      add(total, r.counts);
      findings.push(...r.findings);
      break;
    }
    // The worker is stuck in one input: count the inputs it finished (from its last progress
    // report), the hang itself, and resume after it.
    const doneBefore = r.counts.inputs;
    add(total, r.counts);
    const skipped = r.hungAt - from - doneBefore; // inputs finished since the last progress report
    total.inputs += skipped + 1;
    total.ok += skipped; // not classified individually: counted as run
    total.hangs++;
    const instance = await instantiate(target);
    const input = generateInput(instance, opts.seed, r.hungAt);
    const finding: Finding = {
      outcome: 'hang',
      index: r.hungAt,
      message: `no result within ${opts.hangMs} ms`,
    };
    if (opts.save) finding.fixture = saveFixture(name, input);
    findings.push(finding);
    process.stdout.write(`  ${name}: HANG at input ${r.hungAt}\n`);
    from = r.hungAt + 1;
  }
  total.durationMs = performance.now() - started;
  return { target: name, modules: target.modules, ...total, findings };
}

function markdown(report: {
  date: string;
  seed: number;
  inputsPerTarget: number;
  durationMs: number;
  targets: TargetReport[];
}): string {
  const lines = [
    `# Fuzz results`,
    '',
    `${report.date}, seed ${report.seed}, ${report.inputsPerTarget} inputs per target, ` +
      `${(report.durationMs / 1000).toFixed(0)} s (\`npm run fuzz\`, test/fuzz/).`,
    '',
    '| target | inputs | ok | typed rejections | crashes | hangs | oracle violations | slowest input ms | duration s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const t of report.targets) {
    lines.push(
      `| ${t.target} | ${t.inputs} | ${t.ok} | ${t.rejected} | ${t.crashes} | ${t.hangs} | ${t.oracleViolations} | ` +
        `${t.slowestMs.toFixed(1)} | ${(t.durationMs / 1000).toFixed(1)} |`,
    );
  }
  const sum = (k: keyof TargetCounts): number => report.targets.reduce((n, t) => n + t[k], 0);
  lines.push(
    `| **total** | ${sum('inputs')} | ${sum('ok')} | ${sum('rejected')} | ${sum('crashes')} | ${sum('hangs')} | ` +
      `${sum('oracleViolations')} | | ${(report.durationMs / 1000).toFixed(0)} |`,
  );
  const findings = report.targets.flatMap((t) =>
    t.findings.map(
      (f) =>
        `- ${t.target}: ${f.outcome} at input ${f.index}: ${f.message}${f.fixture ? ` (${f.fixture})` : ''}`,
    ),
  );
  lines.push('', '## Findings', '', ...(findings.length === 0 ? ['None.'] : findings), '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const names = opts.targets ?? FUZZ_TARGETS.map((t) => t.name);
  findTargets(names);
  console.log(
    `fuzz: ${names.length} targets, ${opts.inputs} inputs each, seed ${opts.seed}, hang budget ${opts.hangMs} ms`,
  );
  const started = performance.now();
  const targets: TargetReport[] = [];
  for (const name of names) {
    const r = await runOne(name, opts);
    targets.push(r);
    console.log(
      `${name.padEnd(28)} ${r.inputs} inputs  ok ${r.ok}  rejected ${r.rejected}  crashes ${r.crashes}  hangs ${r.hangs}` +
        `  oracle ${r.oracleViolations}  ${(r.durationMs / 1000).toFixed(1)} s`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    seed: opts.seed,
    inputsPerTarget: opts.inputs,
    hangMs: opts.hangMs,
    node: process.version,
    cpus: os.cpus().length,
    durationMs: performance.now() - started,
    targets,
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(`${opts.out}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${opts.out}.md`, markdown(report));
  const bad = targets.reduce((n, t) => n + t.crashes + t.hangs + t.oracleViolations + t.findings.length, 0);
  console.log(`wrote ${opts.out}.json and .md; ${bad === 0 ? 'no findings' : 'FINDINGS (see the .md)'}`);
  process.exitCode = bad === 0 ? 0 : 1;
}

if (isMainThread) {
  await main();
} else {
  try {
    await workerMain(workerData as Job);
  } catch (err) {
    parentPort!.postMessage({
      type: 'error',
      message: err instanceof Error ? (err.stack ?? err.message) : String(err),
    } satisfies WorkerMessage);
  }
}
