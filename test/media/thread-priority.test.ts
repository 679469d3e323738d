import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createMediaEngine } from '../../src/media/index.js';
import { WorkerMediaEngine } from '../../src/media/worker-engine.js';
import { Responder } from './udp-responder.js';

const linux = process.platform === 'linux';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Nice value of every thread of this process, from /proc (field 19 of stat, after the name). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[16]); // field 19 overall: 3 is state, the first after the name
  });
}

describe('media worker thread priority', () => {
  it('rejects a nice value out of range or not an integer', () => {
    for (const threadPriority of [-21, 20, 1.5, Number.NaN]) {
      expect(() => createMediaEngine({ threadPriority })).toThrowError(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
      );
    }
  });

  it.runIf(linux)(
    'each media worker thread runs at the nice value asked for; the main thread keeps its own',
    async () => {
      const mainBefore = os.getPriority();
      const before = threadNices().filter((n) => n === 7).length;
      const engine = createMediaEngine({ threadPriority: 7, workers: 2 });
      cleanups.push(() => engine.close());
      if (!(engine instanceof WorkerMediaEngine)) throw new Error('expected the worker engine');
      const r = await Responder.start();
      cleanups.push(() => r.close());
      // A fixed count of 2 starts the second worker with the second channel.
      for (let i = 0; i < 2; i++)
        await engine.openChannel({ ssrc: i + 1, serverHost: '127.0.0.1', serverPort: r.port });
      const stats = await engine.stats();
      expect(stats.perWorker.map((w) => w.priority)).toEqual([7, 7]);
      // What the kernel says, not only what the engine reports: two more threads at nice 7.
      expect(threadNices().filter((n) => n === 7).length - before).toBe(2);
      expect(os.getPriority()).toBe(mainBefore);
    },
  );

  it.runIf(linux)('without the option the workers keep the inherited value and report it', async () => {
    const engine = createMediaEngine({ workers: 1 });
    cleanups.push(() => engine.close());
    const r = await Responder.start();
    cleanups.push(() => r.close());
    await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: r.port });
    expect((await engine.stats()).perWorker[0]?.priority).toBeUndefined();
  });
});
