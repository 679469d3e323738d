/**
 * The bench report (bench/report.ts): medians over rounds, one column per variant that ran, failed
 * runs shown as failures, and issue 7's target verdicts computed from the right cells.
 */
import { describe, expect, it } from 'vitest';
import { checkTargets, markdownTable, summarize, targetsTable } from '../../bench/report.js';
import type { RunRecord } from '../../bench/report.js';
import type { SendMeasurement } from '../../bench/ipc.js';

const MACHINE = { cpuModel: 'Test CPU', cores: 2, node: 'v20.0.0', os: 'Linux', totalMemoryBytes: 1 };

function send(cpuUsPerPacket: number, extra: Partial<SendMeasurement> = {}): SendMeasurement {
  return {
    type: 'send',
    connections: 1000,
    windowMs: 5000,
    packets: 250_000,
    packetsPerSecond: 50_000,
    targetPacketsPerSecond: 50_000,
    cpuUserUs: 0,
    cpuSystemUs: 0,
    cpuUsPerPacket,
    cpuCoreShare: 0.6,
    gridLateness: null,
    engineLateness: { count: 10, p50Ms: 1, p99Ms: 4, maxMs: 9 },
    latePackets: 0,
    lateOver20ms: 0,
    underruns: 0,
    stalls: 0,
    rssBaselineBytes: 0,
    rssLoadedBytes: 0,
    rssPerConnectionBytes: 100 * 1024,
    heapUsedPerConnectionBytes: 0,
    connectMs: 1000,
    ...extra,
  };
}

function run(
  variant: RunRecord['variant'],
  round: number,
  measurement: SendMeasurement | undefined,
): RunRecord {
  return {
    scenario: 'send-dave-n1000',
    kind: 'send',
    n: 1000,
    dave: true,
    variant,
    round,
    ok: measurement !== undefined,
    ...(measurement ? { measurement } : { error: 'client exited | code 1' }),
    wallMs: 1,
  };
}

describe('bench report', () => {
  it('takes the median over rounds and leaves out variants that did not run', () => {
    const [summary] = summarize([
      run('voxcord-worker', 0, send(10)),
      run('voxcord-worker', 1, send(14)),
      run('voxcord-worker', 2, send(11)),
      run('djs', 0, send(20)),
    ]);
    expect(summary?.variants['voxcord-worker']?.metrics.cpuUsPerPacket).toEqual({
      value: 11,
      rounds: [10, 14, 11],
    });
    expect(summary?.variants['voxcord-inline']).toBeUndefined();
    const table = markdownTable(summary ? [summary] : [], MACHINE, 'note');
    const row = table.split('\n').find((l) => l.includes('client CPU µs per packet'));
    // inline did not run: '–'; worker / djs = 11 / 20.
    expect(row).toBe(
      '| 1. send Opus, N = 1000, DAVE | client CPU µs per packet | – | 11.00 | 20.00 | – | 0.55x |',
    );
  });

  it('shows a variant whose every round failed as a failure, not as a number', () => {
    const summaries = summarize([run('voxcord-worker', 0, send(10)), run('djs', 0, undefined)]);
    const table = markdownTable(summaries, MACHINE, 'note');
    expect(table).toContain('| 10.00 | failed (client exited code 1) |');
    // No ratio against a failed column.
    expect(table).not.toContain('NaN');
  });

  it('judges the targets from the N = 1000 DAVE cells of the default engine', () => {
    const summaries = summarize([run('voxcord-worker', 0, send(10)), run('djs', 0, send(25))]);
    const checks = checkTargets(summaries);
    const byTarget = (prefix: string) => checks.find((c) => c.target.startsWith(prefix));
    expect(byTarget('CPU per packet')?.met).toBe(true);
    expect(byTarget('CPU per packet')?.measured).toContain('0.40x');
    expect(byTarget('p99 send lateness')).toMatchObject({ met: true });
    // Same RSS per connection for both: 1.00x, above 0.5x.
    expect(byTarget('memory per connection')).toMatchObject({ met: false });
    // Scenarios that did not run cannot be judged.
    expect(byTarget('main-thread stall')).toMatchObject({ met: null, measured: 'not measured' });
    expect(byTarget('time to first audio')).toMatchObject({ met: null });
    expect(targetsTable(checks)).toContain('| **missed** |');
  });

  it('misses the lateness target above 70% of one core even when p99 is low', () => {
    const summaries = summarize([
      run('voxcord-worker', 0, send(10, { cpuCoreShare: 0.9 })),
      run('djs', 0, send(25)),
    ]);
    expect(checkTargets(summaries).find((c) => c.target.startsWith('p99'))?.met).toBe(false);
  });
});
