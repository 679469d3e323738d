/**
 * The send lateness that the worker's bucket geometry alone causes, on a simulated clock (no
 * threads, no sockets, no other process): N channels on one worker's PacingClock, each send costing
 * a fixed CPU time, each setTimeout firing 0-1 ms late (uniform, seeded). Lateness is what the
 * channel records (send time minus its tick's due time), so this is the floor of the engine-only
 * figures when the worker has a core whenever it wants one. Today's geometry (the worker's: 5
 * buckets filled first up to ENGINE_SLOTS_PER_BUCKET) against finer buckets with the same fill
 * (`buckets` phase buckets, 20 / buckets ms apart): at most ~50 channels per burst up to
 * 50 * buckets channels on a worker.
 *
 * Run: npx tsx bench/clock-bursts.ts [costUs=20] [N per worker, comma-separated=100,250,500,1000] [buckets=16]
 */
import { DEFAULT_PHASE_BUCKETS, ENGINE_SLOTS_PER_BUCKET, PacingClock } from '../src/media/clock.js';
import type { PacingClockOptions } from '../src/media/clock.js';
import { FakeTimers } from '../test/media/fake-timers.js';

/** A seeded uniform 0..1 generator (the runs are reproducible). */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

interface Figures {
  p50: number;
  p99: number;
  max: number;
  wakeupsPerSecond: number;
  largestBurst: number;
}

function simulate(n: number, costMs: number, options: PacingClockOptions): Figures {
  const timers = new FakeTimers(0);
  // setTimeout fires `ms` later plus 0-1 ms, as libuv's millisecond timers do.
  timers.timeoutLateness = seeded(12345);
  timers.immediateCost = 0;
  const clock = new PacingClock({ ...options, timers, epoch: 0 });
  const wakeups = (): number => clock.stats().timerWakeups + clock.stats().immediateWakeups;
  const late: number[] = [];
  const warmupMs = 1000;
  const perDue = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    clock.register((tick) => {
      timers.time += costMs;
      if (timers.time < warmupMs) return;
      late.push(Math.max(0, timers.time - tick.due));
      perDue.set(tick.due, (perDue.get(tick.due) ?? 0) + 1);
    });
  }
  timers.advance(warmupMs);
  const w0 = wakeups();
  timers.advance(2000);
  clock.close();
  late.sort((a, b) => a - b);
  const at = (p: number): number => late[Math.min(late.length - 1, Math.ceil(p * late.length) - 1)]!;
  return {
    p50: at(0.5),
    p99: at(0.99),
    max: late[late.length - 1]!,
    wakeupsPerSecond: (wakeups() - w0) / 2,
    largestBurst: Math.max(...perDue.values()),
  };
}

function main(): void {
  const costUs = Number(process.argv[2] ?? 20);
  const sizes = (process.argv[3] ?? '100,250,500,1000').split(',').map(Number);
  const finer = Number(process.argv[4] ?? 16);
  const variants: [string, PacingClockOptions][] = [
    [
      `${DEFAULT_PHASE_BUCKETS} buckets (today)`,
      { buckets: DEFAULT_PHASE_BUCKETS, slotsPerBucket: ENGINE_SLOTS_PER_BUCKET },
    ],
    [`${finer} buckets`, { buckets: finer, slotsPerBucket: ENGINE_SLOTS_PER_BUCKET }],
  ];
  console.log(`Simulated worker clock, ${costUs} µs per send, setTimeout 0-1 ms late; lateness in ms.`);
  console.log('');
  console.log(
    `| channels on the worker | buckets, filled first up to ${ENGINE_SLOTS_PER_BUCKET} | largest burst | p50 | p99 | max | wake-ups/s |`,
  );
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const n of sizes) {
    for (const [name, options] of variants) {
      const f = simulate(n, costUs / 1000, options);
      console.log(
        `| ${n} | ${name} | ${f.largestBurst} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.max.toFixed(2)} | ` +
          `${f.wakeupsPerSecond.toFixed(0)} |`,
      );
    }
  }
}

main();
