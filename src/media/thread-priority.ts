/**
 * A thread's own scheduling priority (nice value). Linux schedules threads, not processes, and
 * setpriority(PRIO_PROCESS, tid) changes one thread, so a media worker can run before the main
 * thread when they compete for a core. Elsewhere a nice value belongs to the whole process:
 * nothing is changed there.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** The calling thread's kernel thread id (Linux), or undefined. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks for nice value `priority` for the calling thread (best effort: lowering it needs
 * CAP_SYS_NICE or RLIMIT_NICE, and a refusal leaves the thread as it was). Returns the thread's
 * nice value afterwards, or undefined where a thread has none of its own (not Linux).
 */
export function setThreadPriority(priority: number): number | undefined {
  const tid = currentThreadId();
  if (tid === undefined) return undefined;
  try {
    os.setPriority(tid, priority);
  } catch {
    // EACCES / EPERM: not allowed to go below the inherited value; keep it
  }
  try {
    return os.getPriority(tid);
  } catch {
    return undefined;
  }
}
