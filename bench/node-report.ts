/**
 * The node benchmark's results (bench/node.ts) as a table and as issue 15's target verdicts:
 * CPU and RSS per player of the voxcord node at most 0.5x the djs-backed node's (at every P both
 * ran; CPU per frame that reached the server where the djs node fell behind), 0 frames > 20 ms late in the stall scenario, frameStats deficit 0 at P = 500.
 * Kept apart from bench/report.ts (the library scenarios); bench/run.ts prints both.
 */
import type { NodeBenchVariant } from './node-process.js';
import { median } from './stats.js';

export interface NodeRunResult {
  variant: NodeBenchVariant;
  /** A/B runs (bench/node.ts --base): which build ran, 'new' (this tree) or 'base'. */
  build?: 'new' | 'base';
  /** % of a core per player of the node's main thread and of its other threads (Linux). */
  mainCpuPctPerPlayer?: number;
  otherCpuPctPerPlayer?: number;
  /** The main thread's wake-ups per second per player (voluntary context switches; Linux). */
  mainWakeupsPerPlayerS?: number;
  players: number;
  connectS: number;
  /** Players whose connect failed (left out of the per-player figures; over 10 % fails the run). */
  connectFailures: number;
  cpuCorePctPerPlayer: number;
  rssPerPlayerKiB: number;
  deliveredPct: number;
  /**
   * Packets the kernel dropped at the server's socket (its receive buffer full), % of the same 50
   * per player per second as deliveredPct: sent by the node, never read by the server (Linux).
   */
  serverDroppedPct?: number;
  latenessP99Ms: number | null;
  frameStats: { sent: number; nulled: number; deficit: number } | null;
  lateOver20msUnderStall: number | null;
  /** --stall-control: frames > 20 ms late in the same window without a stall. */
  lateOver20msControl?: number;
  stalls: number | null;
  patchPlayP99Ms: number | null;
  migrationS: number | null;
  /** The voxcord node's media workers' scheduling (`voxcord node` asks for real-time; realtime.ts). */
  mediaScheduling?: string[];
  errors: string[];
}

export interface NodeTargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Below this share of its frames delivered, the djs node's CPU per player is what it managed, not
 * what the work costs: CPU is then judged per delivered frame. */
export const DJS_KEEPS_UP_PCT = 95;

/**
 * The share of a node's frames that reached the server: read by it, or dropped by the kernel at its
 * socket (the server, not the node, fell behind: the local SFU shares the node's 2 cores, and at
 * P = 1000 it cannot read 50,000 datagrams a second). A node is judged on the frames it put on the
 * wire, not on what the measuring server managed to read.
 */
function reachedPct(r: NodeRunResult): number {
  return r.deliveredPct + (r.serverDroppedPct ?? 0);
}

const f = (v: number | null | undefined, d = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d);

export function nodeTable(results: readonly NodeRunResult[]): string {
  const rows = results.map((r) =>
    [
      r.build === undefined ? r.variant : `${r.variant} (${r.build})`,
      r.players,
      f(r.cpuCorePctPerPlayer, 3),
      f(r.rssPerPlayerKiB, 0),
      f(r.deliveredPct, 1) +
        (r.serverDroppedPct !== undefined && r.serverDroppedPct >= 0.05
          ? ` (+${f(r.serverDroppedPct, 1)} dropped by the server's socket)`
          : ''),
      f(r.latenessP99Ms),
      r.frameStats === null ? 'n/a' : `${r.frameStats.deficit} / ${r.frameStats.nulled}`,
      (r.lateOver20msUnderStall === null ? 'n/a' : `${r.lateOver20msUnderStall} (${r.stalls ?? 0} stalls)`) +
        (r.lateOver20msControl === undefined ? '' : `; ${r.lateOver20msControl} without`),
      f(r.patchPlayP99Ms, 1),
      f(r.migrationS, 2),
      f(r.connectS, 1) + (r.connectFailures > 0 ? ` (${r.connectFailures} failed)` : ''),
      r.errors.length === 0 ? '' : r.errors.join('; ').slice(0, 160),
    ].join(' | '),
  );
  return [
    '| variant | P | CPU %core/player | RSS KiB/player | delivered % | p99 lateness ms | frameStats deficit / nulled | late > 20 ms under stall | PATCH play p99 ms | migration s | connect s | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** Issue 15's targets, each at every P where the run needed for it completed. */
export function checkNodeTargets(results: readonly NodeRunResult[]): NodeTargetCheck[] {
  // A run measured its window when it has figures (a later step, e.g. migration, may have errors).
  const ok = (r: NodeRunResult | undefined): r is NodeRunResult =>
    r !== undefined && Number.isFinite(r.cpuCorePctPerPlayer);
  // Over rounds: the median of each figure, the worst of the late frames and the deficit. An A/B
  // run's base build is left out: the verdicts are this tree's.
  const find = (variant: NodeBenchVariant, p: number): NodeRunResult | undefined => {
    const runs = results.filter(
      (r) => r.variant === variant && r.players === p && r.build !== 'base' && ok(r),
    );
    const first = runs[0];
    if (first === undefined || runs.length === 1) return first;
    const of = (pick: (r: NodeRunResult) => number): number => median(runs.map(pick));
    const worst = (pick: (r: NodeRunResult) => number | null): number | null =>
      runs.some((r) => pick(r) === null) ? null : Math.max(...runs.map((r) => pick(r) ?? 0));
    return {
      ...first,
      cpuCorePctPerPlayer: of((r) => r.cpuCorePctPerPlayer),
      rssPerPlayerKiB: of((r) => r.rssPerPlayerKiB),
      deliveredPct: of((r) => r.deliveredPct),
      ...(runs.every((r) => r.serverDroppedPct !== undefined)
        ? { serverDroppedPct: of((r) => r.serverDroppedPct ?? 0) }
        : {}),
      lateOver20msUnderStall: worst((r) => r.lateOver20msUnderStall),
      frameStats:
        first.frameStats === null
          ? null
          : { ...first.frameStats, deficit: worst((r) => r.frameStats?.deficit ?? null) ?? 0 },
    };
  };
  const sizes = [...new Set(results.map((r) => r.players))].sort((a, b) => a - b);
  const checks: NodeTargetCheck[] = [];
  for (const p of sizes) {
    const vox = find('voxcord-node', p);
    const djs = find('djs-node', p);
    for (const [what, key] of [
      ['CPU', 'cpuCorePctPerPlayer'],
      ['RSS', 'rssPerPlayerKiB'],
    ] as const) {
      const target = `${what} per player <= 0.5x djs node, P = ${p}`;
      if (!ok(vox) || !ok(djs) || !(djs[key] > 0)) {
        checks.push({ target, measured: 'not measured (a run failed or was not made)', met: null });
        continue;
      }
      const ratio = vox[key] / djs[key];
      // A node that falls behind sends fewer frames and so costs less per player: show the CPU per
      // delivered frame too whenever the two did not deliver the same share, and judge by it when
      // the djs node could not do the work (its per-player figure is then only what it managed).
      // Frames count where they reached the server, the server's own socket drops included.
      const [voxPct, djsPct] = [reachedPct(vox), reachedPct(djs)];
      const dropped = voxPct !== vox.deliveredPct || djsPct !== djs.deliveredPct;
      const unit = dropped ? "frame that reached the server's socket" : 'delivered frame';
      const perFrameRatio =
        what === 'CPU' && Math.abs(voxPct - djsPct) > 5 && voxPct > 0 && djsPct > 0
          ? ratio * (djsPct / voxPct)
          : null;
      const byFrame = perFrameRatio !== null && djsPct < DJS_KEEPS_UP_PCT;
      const shares = dropped
        ? `delivered + dropped by the server's socket ${f(voxPct, 1)} vs ${f(djsPct, 1)} %`
        : `delivered ${f(vox.deliveredPct, 1)} vs ${f(djs.deliveredPct, 1)} %`;
      const perFrame =
        perFrameRatio === null
          ? ''
          : `; per ${unit} ${perFrameRatio.toFixed(2)}x (${shares})` +
            (byFrame ? `; judged per ${unit}: the djs node got under ${DJS_KEEPS_UP_PCT} % there` : '');
      checks.push({
        target,
        measured: `${ratio.toFixed(2)}x (${f(vox[key], what === 'CPU' ? 3 : 0)} vs ${f(djs[key], what === 'CPU' ? 3 : 0)})${perFrame}`,
        met: (byFrame ? perFrameRatio : ratio) <= 0.5,
      });
    }
    if (ok(vox) && vox.lateOver20msUnderStall !== null)
      checks.push({
        target: `0 frames > 20 ms late under a 100 ms stall every second, P = ${p}`,
        measured: `${vox.lateOver20msUnderStall} (${vox.stalls ?? 0} stalls)`,
        met: vox.lateOver20msUnderStall === 0,
      });
    if (p === 500)
      checks.push({
        target: 'frameStats deficit 0 at P = 500',
        measured: ok(vox) && vox.frameStats !== null ? String(vox.frameStats.deficit) : 'not measured',
        met: ok(vox) && vox.frameStats !== null ? vox.frameStats.deficit <= 0 : null,
      });
  }
  return checks;
}

export function nodeTargetsTable(checks: readonly NodeTargetCheck[]): string {
  return [
    '| target (voxcord node) | measured | verdict |',
    '| --- | --- | --- |',
    ...checks.map(
      (c) =>
        `| ${c.target} | ${c.measured} | ${c.met === null ? 'not measured' : c.met ? 'met' : 'MISSED'} |`,
    ),
  ].join('\n');
}
