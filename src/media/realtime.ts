/**
 * Real-time scheduling for a media worker's thread (Linux, opt-in): SCHED_FIFO, so the clock's
 * 20 ms deliveries run as soon as they are due instead of waiting behind other runnable threads
 * and processes, as audio servers do (JACK, PipeWire). On a 2-core machine shared with a local
 * SFU, a voxcord node at P = 500 under a 100 ms main-thread stall every second had frames more
 * than 20 ms late in 16 of 28 windows of 4 s at normal priority (up to 1,238), and in 4 of 24 at
 * SCHED_FIFO 10 (up to 419); nice -15 did not do it (docs/node-bench-history.md, session 17).
 *
 * Node has no call for sched_setscheduler, so util-linux's `chrt` sets it on this thread's id. That
 * needs CAP_SYS_NICE (root, or Docker's --cap-add=SYS_NICE) or an RLIMIT_RTPRIO at least the
 * priority (`ulimit -r`, systemd LimitRTPRIO=); without them the thread stays at normal priority
 * and the outcome says why. The thread waits in epoll between ticks, so it takes the core only
 * for the work of its ticks; the kernel's RT throttling leaves other tasks 5 % in any case.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

/** SCHED_FIFO priority used when real-time scheduling is asked for without a number (1-99). */
export const DEFAULT_REALTIME_PRIORITY = 10;
/** Linux's SCHED_FIFO policy number (the policy field of /proc/<pid>/task/<tid>/stat). */
export const SCHED_FIFO = 1;

/** Whether a media worker's thread runs with real-time scheduling, and if not, why. */
export type RealtimeOutcome =
  | { active: true; priority: number }
  | {
      active: false;
      /**
       * `unsupported`: not Linux; `no-chrt`: util-linux's chrt is not installed; `not-permitted`:
       * neither CAP_SYS_NICE nor a large enough RLIMIT_RTPRIO; `failed`: anything else (`detail`).
       */
      reason: 'unsupported' | 'no-chrt' | 'not-permitted' | 'failed';
      detail?: string;
    };

/** Runs a command; resolves with its exit code and stderr (how enterRealtime runs chrt; tests inject one). */
export type CommandRunner = (
  file: string,
  args: string[],
) => Promise<{ code: number | string | null; stderr: string }>;

const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve) => {
    execFile(file, args, { timeout: 5000 }, (err, _stdout, stderr) => {
      const code = err === null ? 0 : ((err as NodeJS.ErrnoException).code ?? null);
      resolve({ code, stderr: String(stderr) });
    });
  });

/** The scheduling policy in a /proc/<pid>/task/<tid>/stat line (its 41st field), or undefined. */
export function schedulingPolicy(stat: string): number | undefined {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const policy = Number(fields[41 - 3]);
  return Number.isInteger(policy) ? policy : undefined;
}

/** The calling thread's kernel id (Linux: /proc/thread-self links to <pid>/task/<tid>). */
function threadId(): string {
  return readlinkSync('/proc/thread-self').split('/').pop() ?? '';
}

/** Puts the calling thread under SCHED_FIFO at `priority` (1-99); never throws. */
export async function enterRealtime(
  priority: number,
  run: CommandRunner = runCommand,
  platform: NodeJS.Platform = process.platform,
): Promise<RealtimeOutcome> {
  if (platform !== 'linux') return { active: false, reason: 'unsupported' };
  try {
    const tid = threadId();
    const { code, stderr } = await run('chrt', ['--fifo', '--pid', String(priority), tid]);
    if (code === 'ENOENT') return { active: false, reason: 'no-chrt' };
    if (code !== 0) {
      // chrt: failed to set pid N's policy: Operation not permitted
      if (/not permitted/i.test(stderr)) return { active: false, reason: 'not-permitted' };
      return { active: false, reason: 'failed', detail: firstLine(stderr) || `chrt exited with ${code}` };
    }
    const policy = schedulingPolicy(readFileSync('/proc/thread-self/stat', 'utf8'));
    if (policy !== SCHED_FIFO)
      return { active: false, reason: 'failed', detail: `the thread's policy is ${policy} after chrt` };
    return { active: true, priority };
  } catch (err) {
    return { active: false, reason: 'failed', detail: firstLine(String((err as Error).message)) };
  }
}

/** The priority a `realtime` engine option asks for (true: the default), or undefined for none. */
export function realtimePriority(option: boolean | number | undefined): number | undefined {
  if (option === undefined || option === false) return undefined;
  return option === true ? DEFAULT_REALTIME_PRIORITY : option;
}

/**
 * V8 flags that keep each thread's young-generation collection on that thread. By default a
 * scavenge hands part of its copying to V8's helper threads and waits for them
 * (`scavenge.parallel`), and first waits for a helper's sweep of the last cycle's ArrayBuffers
 * (`sweep_array_buffers`). The helpers run at normal priority: on busy cores a real-time worker
 * then waits behind every other runnable thread (pauses up to 26 ms at P = 1000 on 2 cores), and
 * without these flags every node bench round with frames more than 20 ms late had such a worker
 * pause over 20 ms (docs/node-bench-history.md, session 21; the waits left are in session 22). Process-wide, so only `voxcord node` sets them (once a
 * worker runs real-time); an application using `realtime` passes them to node itself.
 */
export const REALTIME_GC_FLAGS: readonly string[] = [
  '--no-parallel-scavenge',
  '--no-concurrent-array-buffer-sweeping',
];

/** Sets REALTIME_GC_FLAGS in this process; V8 reads them at each collection, workers' too. */
export function keepCollectionsOnOwnThread(
  set: (flag: string) => void = setFlagsFromString,
): readonly string[] {
  for (const flag of REALTIME_GC_FLAGS) set(flag);
  return REALTIME_GC_FLAGS;
}

/** How a worker's outcome reads in a log line. */
export function describeRealtime(outcome: RealtimeOutcome): string {
  if (outcome.active) return `real-time scheduling on (SCHED_FIFO ${outcome.priority})`;
  const why: Record<typeof outcome.reason, string> = {
    unsupported: 'only on Linux',
    'no-chrt': "util-linux's chrt is not installed",
    'not-permitted': 'needs CAP_SYS_NICE or an RLIMIT_RTPRIO (ulimit -r)',
    failed: outcome.detail ?? 'chrt failed',
  };
  return `real-time scheduling off: ${why[outcome.reason]}`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 200) ?? '';
}
