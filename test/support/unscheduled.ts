/**
 * Time this process's main thread was ready to run but not running (Linux schedstat: the wait on
 * the CPU's run queue). A test that asserts a duration (a failover within 2 s) subtracts what a
 * loaded machine withheld from it; time spent waiting on timers, sockets or the code's own work is
 * not in it. Elsewhere (no /proc) it reads 0: the bound is then asserted on wall time alone.
 */
import { readFileSync } from 'node:fs';

/** Milliseconds spent on the run queue so far (0 where /proc/self/schedstat is missing). */
export function runQueueWaitMs(): number {
  try {
    const [, waitNs] = readFileSync('/proc/self/schedstat', 'utf8').trim().split(/\s+/);
    const ns = Number(waitNs);
    return Number.isFinite(ns) ? ns / 1e6 : 0;
  } catch {
    return 0;
  }
}

/** A stopwatch of run-queue wait: `elapsed()` is the wait since it was started. */
export function unscheduledSince(): { elapsed: () => number } {
  const start = runQueueWaitMs();
  return { elapsed: () => runQueueWaitMs() - start };
}
