/**
 * Which isolate's garbage collection the V8 helper threads work for: reads the output of a process
 * run with `--trace-gc-nvp` (every collection of every isolate, one line each, prefixed
 * `[pid:isolate]`) and prints, per isolate (the main thread, each media worker), its collections
 * by kind, their pauses on the isolate's own thread, and the `background.*` phases (what ran on
 * V8's helper threads for it: parallel scavenging, concurrent marking and sweeping), in ms per
 * second over the last `--last-ms` of that isolate's trace (the measured window's end), and its
 * young-generation allocation rate.
 *
 * Run: VOXCORD_BENCH_NODE_FLAGS=--trace-gc-nvp npx tsx bench/node.ts --sizes=100 \
 *        --variants=voxcord-node --no-migration --no-stall > gc.log 2>&1
 *      npx tsx bench/gc-trace.ts gc.log [--last-ms=5000]
 * An isolate's timestamps count from its own start, so each isolate's span ends at its own last line.
 */
import { readFileSync } from 'node:fs';

interface Collection {
  at: number;
  kind: string;
  pauseMs: number;
  backgroundMs: number;
  allocatedBytes: number;
}

const LINE = /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+) ms: (pause=.*)$/;

/** Collections per isolate, in trace order. */
function parseGcTrace(text: string): Map<string, Collection[]> {
  const byIsolate = new Map<string, Collection[]>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (m === null) continue;
    const fields = new Map<string, string>();
    for (const pair of m[4]!.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    let backgroundMs = 0;
    for (const [key, value] of fields) if (key.startsWith('background.')) backgroundMs += Number(value) || 0;
    const kind = fields.get('gc') ?? '?';
    const list = byIsolate.get(m[2]!) ?? [];
    list.push({
      at: Number(m[3]),
      kind,
      pauseMs: Number(fields.get('pause')) || 0,
      backgroundMs,
      // Only a scavenge's `allocated` is the young generation's allocation since the last one.
      allocatedBytes: kind === 's' ? Number(fields.get('allocated')) || 0 : 0,
    });
    byIsolate.set(m[2]!, list);
  }
  return byIsolate;
}

/** Wall time on a busy machine: one preempted pause is tens of ms, the median is the typical one. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function main(): void {
  const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
  const lastArg = process.argv.find((a) => a.startsWith('--last-ms='));
  const lastMs = lastArg === undefined ? 5000 : Number(lastArg.slice('--last-ms='.length));
  const text = readFileSync(file ?? 0, 'utf8');
  const byIsolate = parseGcTrace(text);
  if (byIsolate.size === 0) {
    console.error('no --trace-gc-nvp lines found');
    process.exitCode = 1;
    return;
  }
  for (const [isolate, all] of byIsolate) {
    const end = all[all.length - 1]!.at;
    const span = Math.min(lastMs, end);
    const recent = all.filter((c) => c.at >= end - span);
    const kinds = new Map<string, number>();
    for (const c of recent) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
    const sum = (get: (c: Collection) => number): number => recent.reduce((n, c) => n + get(c), 0);
    const perS = (ms: number): string => ((ms * 1000) / span).toFixed(2);
    console.log(
      `${isolate}: last ${(span / 1000).toFixed(1)} s of its trace (to ${end} ms): ` +
        `${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}; ` +
        `pauses ${perS(sum((c) => c.pauseMs))} ms/s on its thread (median ${median(recent.map((c) => c.pauseMs)).toFixed(2)} ms), ` +
        `helper threads (background.*) ${perS(sum((c) => c.backgroundMs))} ms/s, ` +
        `young allocation ${((sum((c) => c.allocatedBytes) * 1000) / span / 1e6).toFixed(2)} MB/s`,
    );
  }
}

main();
