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
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
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

/** The scheduling policy of this process's thread `tid`; undefined once it has ended. */
function policyOf(tid: string): number | undefined {
  try {
    return schedulingPolicy(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The calling thread's kernel id (Linux: /proc/thread-self links to <pid>/task/<tid>). */
function threadId(): string {
  return readlinkSync('/proc/thread-self').split('/').pop() ?? '';
}

/** Puts thread `tid` of this process under SCHED_FIFO at `priority` with chrt; undefined when done. */
async function chrtFifo(
  tid: string,
  priority: number,
  run: CommandRunner,
): Promise<Extract<RealtimeOutcome, { active: false }> | undefined> {
  const { code, stderr } = await run('chrt', ['--fifo', '--pid', String(priority), tid]);
  if (code === 'ENOENT') return { active: false, reason: 'no-chrt' };
  if (code === 0) return undefined;
  // chrt: failed to set pid N's policy: Operation not permitted
  if (/not permitted/i.test(stderr)) return { active: false, reason: 'not-permitted' };
  return { active: false, reason: 'failed', detail: firstLine(stderr) || `chrt exited with ${code}` };
}

/** Puts the calling thread under SCHED_FIFO at `priority` (1-99); never throws. */
export async function enterRealtime(
  priority: number,
  run: CommandRunner = runCommand,
  platform: NodeJS.Platform = process.platform,
): Promise<RealtimeOutcome> {
  if (platform !== 'linux') return { active: false, reason: 'unsupported' };
  try {
    const failed = await chrtFifo(threadId(), priority, run);
    if (failed !== undefined) return failed;
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

/**
 * SCHED_FIFO priority of the helper threads (helperThreads): the lowest real-time one, so they run
 * before every normal thread and after the media workers.
 */
export const HELPER_REALTIME_PRIORITY = 1;

/**
 * The threads a real-time worker may wait for: V8's platform threads (the helpers of collections
 * and compilation, whose tasks a worker's collection waits for) and libuv's threadpool (its queue's
 * lock). Node 20 does not name its threads, so they are listed before any media worker starts:
 * every thread of this process but the calling one, once the threadpool has started (its first
 * task starts all its threads). Linux with /proc; elsewhere none. Never throws.
 */
export async function helperThreads(platform: NodeJS.Platform = process.platform): Promise<string[]> {
  if (platform !== 'linux') return [];
  try {
    await access('/');
    const self = threadId();
    return readdirSync('/proc/self/task').filter((tid) => tid !== self);
  } catch {
    return []; // no /proc (a sandbox): nothing to raise
  }
}

/**
 * Puts `tids` (helperThreads) under SCHED_FIFO at HELPER_REALTIME_PRIORITY. At normal priority a
 * helper that a real-time worker waits for waits for a core behind every normal thread (the main
 * thread's work, other processes): that held P = 1000 workers for up to 29 ms in the node bench
 * (docs/node-bench-history.md, sessions 22 and 23). Never throws: the first refusal is returned, as
 * for enterRealtime; threads that have ended are passed over.
 */
export async function raiseHelperThreads(
  tids: readonly string[],
  run: CommandRunner = runCommand,
): Promise<{ realtime: number; refused?: Extract<RealtimeOutcome, { active: false }> }> {
  let realtime = 0;
  for (const tid of tids) {
    try {
      if (policyOf(tid) === SCHED_FIFO) {
        realtime++; // raised before, or a real-time thread not to lower
        continue;
      }
      const failed = await chrtFifo(tid, HELPER_REALTIME_PRIORITY, run);
      if (failed === undefined) realtime++;
      else if (!/no such process/i.test(failed.detail ?? '')) return { realtime, refused: failed };
    } catch (err) {
      return { realtime, refused: { active: false, reason: 'failed', detail: firstLine(String(err)) } };
    }
  }
  return { realtime };
}

/**
 * What a process does for its real-time media workers, process-wide (`voxcord node`): call before
 * the engine starts its workers, and pass each worker's outcome to the function it returns. At the
 * first worker that runs real-time, it keeps collections on their own threads
 * (keepCollectionsOnOwnThread) and raises the helper threads (raiseHelperThreads), and says so in
 * `log`. An application using the engine's `realtime` option may do the same, before it starts
 * threads of its own (every thread but the calling one is taken for a helper).
 */
export async function supportRealtimeWorkers(
  log: (line: string) => void,
  { keepCollections = true, raiseHelpers = true } = {},
): Promise<(outcome: RealtimeOutcome | undefined) => void> {
  const helpers = raiseHelpers ? await helperThreads() : [];
  let done = false;
  return (outcome) => {
    if (outcome?.active !== true || done) return;
    done = true;
    if (keepCollections)
      log(`V8: each thread collects its own young generation (${keepCollectionsOnOwnThread().join(' ')})`);
    if (helpers.length === 0) return;
    void raiseHelperThreads(helpers)
      .then(({ realtime, refused }) =>
        log(
          `helper threads (V8's platform, libuv's threadpool): ${realtime} of ${helpers.length} real-time ` +
            `(SCHED_FIFO ${HELPER_REALTIME_PRIORITY})${refused === undefined ? '' : `, the rest normal: ${whyNotRealtime(refused)}`}`,
        ),
      )
      .catch(() => undefined); // a log that throws must not become an unhandled rejection
  };
}

/** How a worker's outcome reads in a log line. */
export function describeRealtime(outcome: RealtimeOutcome): string {
  if (outcome.active) return `real-time scheduling on (SCHED_FIFO ${outcome.priority})`;
  return `real-time scheduling off: ${whyNotRealtime(outcome)}`;
}

function whyNotRealtime(outcome: Extract<RealtimeOutcome, { active: false }>): string {
  const why: Record<typeof outcome.reason, string> = {
    unsupported: 'only on Linux',
    'no-chrt': "util-linux's chrt is not installed",
    'not-permitted': 'needs CAP_SYS_NICE or an RLIMIT_RTPRIO (ulimit -r)',
    failed: outcome.detail ?? 'chrt failed',
  };
  return why[outcome.reason];
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 200) ?? '';
}
