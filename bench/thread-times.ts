/**
 * Where a process's threads spent a window, from Linux's /proc/self/task/<tid>/schedstat: time on a
 * core and time runnable but waiting for one. A clock thread that waits for a core as long as it
 * runs is late because the machine is short of CPU, not because the engine is short of threads.
 * Empty on systems without schedstat.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadShare {
  main: boolean;
  /** Share of the window on a core, %. */
  runPercent: number;
  /** Share of the window runnable but waiting for a core, %. */
  waitPercent: number;
}

/** Nanoseconds on a core and waiting on a run queue, per thread (empty where /proc has no schedstat). */
export function threadTimes(): Map<number, { run: number; wait: number }> {
  const times = new Map<number, { run: number; wait: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      if (run !== undefined && wait !== undefined) times.set(Number(tid), { run, wait });
    }
  } catch {
    // not Linux, or no schedstat: no thread figures
  }
  return times;
}

/** The threads that ran at least 5% of the window, main first, then by time on a core. */
export function busiestThreads(
  before: Map<number, { run: number; wait: number }>,
  after: Map<number, { run: number; wait: number }>,
  windowMs: number,
): ThreadShare[] {
  const shares: ThreadShare[] = [];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { run: 0, wait: 0 };
    const runPercent = (a.run - b.run) / 1e4 / windowMs;
    if (runPercent < 5 && tid !== process.pid) continue;
    shares.push({ main: tid === process.pid, runPercent, waitPercent: (a.wait - b.wait) / 1e4 / windowMs });
  }
  return shares.sort((x, y) => Number(y.main) - Number(x.main) || y.runPercent - x.runPercent);
}
