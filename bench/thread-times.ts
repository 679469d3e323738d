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

interface Switches {
  name: string;
  /** Voluntary context switches: the thread waited (for a timer, a message, I/O) and was woken. */
  voluntary: number;
  involuntary: number;
  /** ns on a core (schedstat). */
  run: number;
  /** ns runnable but waiting for a core (schedstat). */
  wait: number;
  /** Clock ticks (USER_HZ, 100 per second on Linux) in user and in kernel mode (stat). */
  utime: number;
  stime: number;
}

/** User and kernel ticks from a /proc/<pid>/task/<tid>/stat line (fields 14 and 15 of proc(5)). */
export function userSystemTicks(stat: string): { utime: number; stime: number } {
  // "tid (name) state ...": the name may hold spaces, so split after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { utime: Number(fields[11]), stime: Number(fields[12]) };
}

/**
 * Context switches, time on a core, user and kernel time per thread, with the thread's name
 * (empty off Linux).
 */
export function threadSwitches(): Map<number, Switches> {
  const switches = new Map<number, Switches>();
  const times = threadTimes();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const field = (key: string): string => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
      switches.set(Number(tid), {
        name: field('Name'),
        voluntary: Number(field('voluntary_ctxt_switches')),
        involuntary: Number(field('nonvoluntary_ctxt_switches')),
        run: times.get(Number(tid))?.run ?? 0,
        wait: times.get(Number(tid))?.wait ?? 0,
        ...userSystemTicks(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')),
      });
    }
  } catch {
    // not Linux: no figures
  }
  return switches;
}

/** One line: wake-ups per second of the main thread and of every thread that woke at least 20 times per second. */
export function wakeupsLine(
  before: Map<number, Switches>,
  after: Map<number, Switches>,
  windowMs: number,
): string {
  const rows: { main: boolean; text: string; rate: number }[] = [];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { name: a.name, voluntary: 0, involuntary: 0, run: 0, wait: 0 };
    const rate = ((a.voluntary - b.voluntary) * 1000) / windowMs;
    const forced = ((a.involuntary - b.involuntary) * 1000) / windowMs;
    const cpu = (a.run - b.run) / 1e4 / windowMs;
    const main = tid === process.pid;
    if (rate < 20 && !main) continue;
    const name = main ? 'main' : `${a.name}#${tid}`;
    rows.push({
      main,
      rate,
      text: `${name} ${rate.toFixed(0)}/s (+${forced.toFixed(0)} preempted, ${cpu.toFixed(1)}% CPU)`,
    });
  }
  rows.sort((x, y) => Number(y.main) - Number(x.main) || y.rate - x.rate);
  return rows.map((r) => r.text).join(', ');
}

/**
 * VOXCORD_BENCH_THREADS=1: µs on a core per packet of the main thread, of the other threads that
 * ran at least 1% of the window, and in total (A/B of where a change moved the CPU).
 */
export function threadCpuLine(
  before: Map<number, { run: number; wait: number }>,
  after: Map<number, { run: number; wait: number }>,
  packets: number,
): string {
  const parts: string[] = [];
  let total = 0;
  let others = 0;
  for (const [tid, a] of after) {
    const us = (a.run - (before.get(tid)?.run ?? 0)) / 1000 / Math.max(1, packets);
    total += us;
    if (tid === process.pid) parts.unshift(`main ${us.toFixed(2)}`);
    else if (us >= 0.3) parts.push(`#${tid} ${us.toFixed(2)}`);
    else others += us;
  }
  return `µs/packet ${parts.join(', ')}, rest ${others.toFixed(2)}, total ${total.toFixed(2)} (${packets} packets)`;
}

/**
 * VOXCORD_BENCH_THREADS=1: µs of user and of kernel time per unit (decoded frame, sent packet) of each
 * thread that ran at least 0.3 µs per unit, and in total. /proc's ticks are 10 ms: over a 4 s
 * window a thread's figure is within about 10 ms / window of its true share.
 */
export function threadUserSystemLine(
  before: Map<number, Switches>,
  after: Map<number, Switches>,
  units: number,
): string {
  const tickUs = 10_000;
  const parts: string[] = [];
  const total = { user: 0, system: 0 };
  const rest = { user: 0, system: 0 };
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { utime: 0, stime: 0 };
    const user = ((a.utime - b.utime) * tickUs) / Math.max(1, units);
    const system = ((a.stime - b.stime) * tickUs) / Math.max(1, units);
    total.user += user;
    total.system += system;
    const text = `${tid === process.pid ? 'main' : `${a.name}#${tid}`} ${user.toFixed(2)}u+${system.toFixed(2)}s`;
    if (tid === process.pid) parts.unshift(text);
    else if (user + system >= 0.3) parts.push(text);
    else {
      rest.user += user;
      rest.system += system;
    }
  }
  return (
    `µs/unit ${parts.join(', ')}, rest ${rest.user.toFixed(2)}u+${rest.system.toFixed(2)}s, ` +
    `total ${total.user.toFixed(2)}u+${total.system.toFixed(2)}s (${units} units)`
  );
}
