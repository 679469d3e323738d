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
 *      npx tsx bench/gc-trace.ts gc.log [--last-ms=5000] [--list]
 * An isolate's timestamps count from its own start, so each isolate's span ends at its own last line:
 * an isolate that collects rarely (the node's main thread at P = 100 may go 10 s without one) has
 * its span end long before the run does, maybe in the connect phase. `--list` prints every
 * collection in the span (time, kind, pause, helper ms), to see where they fall. With
 * `--trace-incremental-marking` in the flags too, each mark-compact shows what started its marking
 * (`task`: V8's old-generation soft limit, which counts ArrayBuffer memory allocated since the last
 * mark-compact; `external memory pressure`, `idle task`...).
 */
import { readFileSync } from 'node:fs';

interface Collection {
  at: number;
  kind: string;
  pauseMs: number;
  backgroundMs: number;
  allocatedBytes: number;
  /** A mark-compact's incremental marking start reason (with --trace-incremental-marking). */
  startedBy?: string;
}

const LINE = /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+) ms: (pause=.*)$/;
const MARKING_START = /^\[(\d+):(0x[0-9a-f]+)\]\s+\d+ ms: \[IncrementalMarking\] Start \(([^)]*)\)/;

/** Collections per isolate, in trace order. */
function parseGcTrace(text: string): Map<string, Collection[]> {
  const byIsolate = new Map<string, Collection[]>();
  const markingStartedBy = new Map<string, string>();
  for (const line of text.split('\n')) {
    const start = MARKING_START.exec(line.trim());
    if (start !== null) markingStartedBy.set(start[2]!, start[3]!);
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
      startedBy: kind === 'mc' ? markingStartedBy.get(m[2]!) : undefined,
    });
    if (kind === 'mc') markingStartedBy.delete(m[2]!);
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
  const list = process.argv.includes('--list');
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
    if (!list) continue;
    for (const c of recent)
      console.log(
        `  ${c.at} ms ${c.kind}: pause ${c.pauseMs.toFixed(2)} ms, helpers ${c.backgroundMs.toFixed(1)} ms` +
          (c.startedBy === undefined ? '' : `, marking started by: ${c.startedBy}`),
      );
  }
}

main();
