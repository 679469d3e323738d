import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine, RealtimeOutcome } from '../../src/media/index.js';
import {
  describeRealtime,
  enterRealtime,
  HELPER_REALTIME_PRIORITY,
  helperThreads,
  keepCollectionsOnOwnThread,
  raiseHelperThreads,
  REALTIME_GC_FLAGS,
  SCHED_FIFO,
  schedulingPolicy,
} from '../../src/media/realtime.js';
import type { CommandRunner } from '../../src/media/realtime.js';
import { isVoxcordError } from '../../src/errors.js';

/** Threads of this process under SCHED_FIFO (Linux). */
function fifoThreads(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (schedulingPolicy(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')) === SCHED_FIFO) n++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

const linux = process.platform === 'linux';

/**
 * The ms V8's helper threads spent in each young-generation collection of a child process that
 * keeps 200 000 objects alive across its collections (so a scavenge has enough to share), after
 * calling keepCollectionsOnOwnThread() or not. Only the collections after that point are traced
 * (`--trace-gc-nvp`, set there: one line per collection), not those of loading the module.
 */
function helperMsPerScavenge(keep: boolean): number[] {
  const realtime = new URL('../../src/media/realtime.ts', import.meta.url).href;
  const script = `
    import { setFlagsFromString } from 'node:v8';
    import { keepCollectionsOnOwnThread } from ${JSON.stringify(realtime)};
    if (${keep}) keepCollectionsOnOwnThread();
    setFlagsFromString('--trace-gc-nvp');
    let live = [];
    for (let i = 0; i < 2e6; i++) { live.push({ i, a: [i] }); if (live.length > 200000) live = []; }`;
  // A 1 MiB semi-space: dozens of scavenges whatever young generation this Node sizes by default
  // (Node 24's grew to a few in this loop).
  const args = ['--max-semi-space-size=1', '--import', 'tsx', '--input-type=module', '-e', script];
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status).toBe(0);
  return [...run.stdout.matchAll(/ gc=s .*? background\.scavenge\.parallel=([\d.]+)/g)].map((m) =>
    Number(m[1]),
  );
}

describe('real-time scheduling of media workers', () => {
  it('reads the policy from a stat line whose command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[41 - 3] = '1';
    expect(schedulingPolicy(`4242 (media (worker) 1) ${fields.join(' ')}`)).toBe(1);
    expect(schedulingPolicy('4242 (short) R 1 2')).toBeUndefined();
  });

  it('says why it could not, from what chrt answered', async () => {
    const answering =
      (code: number | string | null, stderr = ''): CommandRunner =>
      async () => ({ code, stderr });
    expect(await enterRealtime(10, answering(0), 'darwin')).toEqual({ active: false, reason: 'unsupported' });
    if (!linux) return;
    expect(await enterRealtime(10, answering('ENOENT'))).toEqual({ active: false, reason: 'no-chrt' });
    expect(
      await enterRealtime(10, answering(1, "chrt: failed to set pid 7's policy: Operation not permitted\n")),
    ).toEqual({ active: false, reason: 'not-permitted' });
    expect(await enterRealtime(10, answering(1, 'chrt: unsupported priority value\nmore'))).toEqual({
      active: false,
      reason: 'failed',
      detail: 'chrt: unsupported priority value',
    });
    // chrt "succeeded" but this thread is not SCHED_FIFO: not taken for done.
    const lied = await enterRealtime(10, answering(0));
    expect(lied).toMatchObject({ active: false, reason: 'failed' });
    expect(describeRealtime({ active: false, reason: 'not-permitted' })).toContain('CAP_SYS_NICE');
    expect(describeRealtime({ active: true, priority: 10 })).toBe('real-time scheduling on (SCHED_FIFO 10)');
  });

  it.runIf(linux)(
    "puts the engine's worker threads under SCHED_FIFO when asked, and reports it",
    async () => {
      const before = fifoThreads();
      const ready: RealtimeOutcome[] = [];
      const engine: MediaEngine = createMediaEngine({
        workers: 2,
        realtime: 12,
        onWorkerReady: ({ realtime }) => {
          if (realtime !== undefined) ready.push(realtime);
        },
      });
      try {
        // The first worker starts with the engine; a channel on each brings up the second.
        const channels = await Promise.all(
          [0, 1].map(() => engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: 9 })),
        );
        await expect.poll(() => ready.length, { timeout: 10_000 }).toBe(2);
        const stats = await engine.stats!();
        expect(stats.perWorker.map((w) => w.realtime)).toEqual(ready);
        const active = ready.filter((r) => r.active).length;
        // As root or with CAP_SYS_NICE (CI): both threads; otherwise neither, each with a reason.
        expect(fifoThreads() - before).toBe(active);
        for (const r of ready) {
          if (r.active) expect(r.priority).toBe(12);
          else expect(['no-chrt', 'not-permitted', 'failed']).toContain(r.reason);
        }
        for (const c of channels) c.close();
      } finally {
        await engine.close();
      }
      const plain = createMediaEngine({ workers: 1 });
      try {
        await plain.openChannel({ ssrc: 2, serverHost: '127.0.0.1', serverPort: 9 });
        expect((await plain.stats()).perWorker[0]?.realtime).toBeUndefined();
      } finally {
        await plain.close();
      }
      expect(fifoThreads()).toBe(before);
    },
  );

  it("keeps each thread's young-generation collection off V8's helper threads when asked", () => {
    const set: string[] = [];
    expect(keepCollectionsOnOwnThread((flag) => set.push(flag))).toEqual(REALTIME_GC_FLAGS);
    expect(set).toEqual(['--no-parallel-scavenge', '--no-concurrent-array-buffer-sweeping']);
    // By default the helpers take part in this child's scavenges; once asked, in none of them.
    expect(helperMsPerScavenge(false).some((ms) => ms > 0)).toBe(true);
    const kept = helperMsPerScavenge(true);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.filter((ms) => ms > 0)).toEqual([]);
  });

  it('lists the helper threads, and raises them with chrt, passing over ended ones and saying why not', async () => {
    expect(await helperThreads('darwin')).toEqual([]);
    if (linux) {
      const tids = await helperThreads();
      // V8's platform threads and libuv's threadpool (4 threads, started by the listing): at least 5.
      expect(tids.length).toBeGreaterThanOrEqual(5);
      expect(tids).not.toContain(String(process.pid)); // vitest runs the file on its main thread
    }
    const calls: string[][] = [];
    const answers: Record<string, { code: number | string | null; stderr: string }> = {
      '11': { code: 0, stderr: '' },
      '12': { code: 1, stderr: "chrt: failed to set pid 12's policy: No such process\n" },
      '13': { code: 0, stderr: '' },
      '14': { code: 1, stderr: "chrt: failed to set pid 14's policy: Operation not permitted\n" },
      '15': { code: 0, stderr: '' },
    };
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      return answers[args[3] ?? ''] ?? { code: 1, stderr: 'unexpected' };
    };
    expect(await raiseHelperThreads(['11', '12', '13'], run)).toEqual({ realtime: 2 });
    expect(calls).toEqual(
      ['11', '12', '13'].map((tid) => ['chrt', '--fifo', '--pid', String(HELPER_REALTIME_PRIORITY), tid]),
    );
    expect(await raiseHelperThreads(['11', '14', '15'], run)).toEqual({
      realtime: 1,
      refused: { active: false, reason: 'not-permitted' },
    });
    expect(calls.map((c) => c[4])).not.toContain('15'); // stops at the first refusal
  });

  it.runIf(linux)(
    "puts a process's helper threads at real-time priority 1 once its first worker runs real-time, never its main thread",
    () => {
      const realtime = new URL('../../src/media/realtime.ts', import.meta.url).href;
      const script = `
        import { readdirSync, readFileSync } from 'node:fs';
        import { schedulingPolicy, supportRealtimeWorkers } from ${JSON.stringify(realtime)};
        const lines = [];
        const policies = () => readdirSync('/proc/self/task').map((t) => [t, schedulingPolicy(readFileSync('/proc/self/task/' + t + '/stat', 'utf8'))]);
        const support = await supportRealtimeWorkers((l) => lines.push(l), { keepCollections: false });
        support({ active: false, reason: 'not-permitted' });
        await new Promise((r) => setTimeout(r, 300));
        const before = policies();
        support({ active: true, priority: 10 });
        support({ active: true, priority: 10 });
        for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        console.log(JSON.stringify({ lines, before, after: policies(), pid: process.pid }));`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(0);
      const out = JSON.parse(run.stdout) as {
        lines: string[];
        before: [string, number][];
        after: [string, number][];
        pid: number;
      };
      // Nothing before a worker runs real-time; then one line, once.
      expect(out.before.filter(([, p]) => p === SCHED_FIFO)).toEqual([]);
      expect(out.lines).toHaveLength(1);
      const m =
        /^helper threads \(V8's platform, libuv's threadpool\): (\d+) of (\d+) real-time \(SCHED_FIFO 1\)(, the rest normal: .+)?$/.exec(
          out.lines[0] ?? '',
        );
      expect(m).not.toBeNull();
      const raised = Number(m?.[1]);
      // As root or with CAP_SYS_NICE (CI): all of them; otherwise none, with the reason.
      expect(raised === Number(m?.[2]) || (raised === 0 && m?.[3] !== undefined)).toBe(true);
      expect(Number(m?.[2])).toBeGreaterThanOrEqual(5);
      const fifo = out.after.filter(([, p]) => p === SCHED_FIFO).map(([t]) => t);
      expect(fifo).toHaveLength(raised);
      expect(fifo).not.toContain(String(out.pid));
    },
  );

  it('refuses a priority outside 1-99', () => {
    for (const realtime of [0, 100, 2.5]) {
      let error: unknown;
      try {
        createMediaEngine({ realtime });
      } catch (err) {
        error = err;
      }
      expect(isVoxcordError(error) && error.code === 'INVALID_ARGUMENT').toBe(true);
    }
  });
});
