/**
 * The node benchmark's verdicts (bench/node-report.ts): CPU and RSS against the djs node, and CPU
 * judged per delivered frame only where the djs node could not deliver its frames.
 */
import { describe, expect, it } from 'vitest';
import { checkNodeTargets } from '../../bench/node-report.js';
import type { NodeRunResult } from '../../bench/node-report.js';

function node(variant: NodeRunResult['variant'], extra: Partial<NodeRunResult>): NodeRunResult {
  return {
    variant,
    players: 500,
    connectS: 1,
    connectFailures: 0,
    cpuCorePctPerPlayer: 0.1,
    rssPerPlayerKiB: 300,
    deliveredPct: 100,
    latenessP99Ms: 2,
    frameStats: { sent: 1, nulled: 0, deficit: 0 },
    lateOver20msUnderStall: 0,
    stalls: 3,
    patchPlayP99Ms: 10,
    migrationS: null,
    errors: [],
    ...extra,
  };
}

const cpu = (results: NodeRunResult[]) => checkNodeTargets(results).find((c) => c.target.startsWith('CPU'))!;
const rss = (results: NodeRunResult[]) => checkNodeTargets(results).find((c) => c.target.startsWith('RSS'))!;

describe('node bench verdicts', () => {
  it('judges CPU per player when both nodes deliver their frames', () => {
    const check = cpu([
      node('voxcord-node', { cpuCorePctPerPlayer: 0.06, deliveredPct: 99.8 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.1, deliveredPct: 99.5 }),
    ]);
    expect(check.met).toBe(false);
    expect(check.measured).toBe('0.60x (0.060 vs 0.100)');
  });

  it('judges CPU per delivered frame when the djs node falls behind, and says so', () => {
    const results = [
      node('voxcord-node', { cpuCorePctPerPlayer: 0.093, deliveredPct: 99.5 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.164, deliveredPct: 77.6 }),
    ];
    const check = cpu(results);
    expect(check.met).toBe(true);
    expect(check.measured).toContain('0.57x (0.093 vs 0.164); per delivered frame 0.44x');
    expect(check.measured).toContain('judged per delivered frame');
    // RSS is never rescaled by delivery.
    expect(rss(results).met).toBe(false);
  });

  it("counts the frames the server's own socket dropped as reached, and says so", () => {
    // P = 1000 on 2 cores: the server cannot read all the voxcord node sent; the djs node sends less.
    const results = [
      node('voxcord-node', { cpuCorePctPerPlayer: 0.087, deliveredPct: 57.6, serverDroppedPct: 42.3 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.1, deliveredPct: 44.4, serverDroppedPct: 0 }),
    ];
    const check = cpu(results);
    expect(check.met).toBe(true);
    expect(check.measured).toBe(
      "0.87x (0.087 vs 0.100); per frame that reached the server's socket 0.39x (delivered + dropped by " +
        "the server's socket 99.9 vs 44.4 %); judged per frame that reached the server's socket: the djs " +
        'node got under 95 % there',
    );
    // Delivered alone would have judged it 0.67x.
    const delivered = cpu(results.map((r) => ({ ...r, serverDroppedPct: 0 })));
    expect(delivered.met).toBe(false);
    expect(delivered.measured).toContain('per delivered frame 0.67x');
  });

  it('still misses when the per-frame ratio is over 0.5x', () => {
    const check = cpu([
      node('voxcord-node', { cpuCorePctPerPlayer: 0.09, deliveredPct: 99 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.12, deliveredPct: 90 }),
    ]);
    expect(check.met).toBe(false);
    expect(check.measured).toContain('per delivered frame 0.68x');
  });

  it('shows but does not judge per frame when the voxcord node is the one behind', () => {
    const check = cpu([
      node('voxcord-node', { cpuCorePctPerPlayer: 0.06, deliveredPct: 80 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.1, deliveredPct: 99 }),
    ]);
    expect(check.met).toBe(false);
    expect(check.measured).toContain('per delivered frame 0.74x');
    expect(check.measured).not.toContain('judged');
  });

  it('takes the median over rounds, the worst round for late frames, and leaves out an A/B base', () => {
    const checks = checkNodeTargets([
      node('voxcord-node', { cpuCorePctPerPlayer: 0.125, rssPerPlayerKiB: 714 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.145, rssPerPlayerKiB: 784 }),
      node('voxcord-node', { cpuCorePctPerPlayer: 0.07, rssPerPlayerKiB: 300, lateOver20msUnderStall: 3 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.181, rssPerPlayerKiB: 809 }),
      node('voxcord-node', { cpuCorePctPerPlayer: 0.115, rssPerPlayerKiB: 675 }),
      node('djs-node', { cpuCorePctPerPlayer: 0.163, rssPerPlayerKiB: 796 }),
      node('voxcord-node', { build: 'base', cpuCorePctPerPlayer: 0.01, rssPerPlayerKiB: 10 }),
    ]);
    const byTarget = (prefix: string) => checks.find((c) => c.target.startsWith(prefix))!;
    expect(byTarget('CPU').measured).toBe('0.71x (0.115 vs 0.163)');
    expect(byTarget('RSS').measured).toBe('0.85x (675 vs 796)');
    expect(byTarget('0 frames').measured).toBe('3 (3 stalls)');
    expect(byTarget('0 frames').met).toBe(false);
  });
});
