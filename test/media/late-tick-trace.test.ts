import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  LATE_TRACE_RECORDS,
  LateTickWriter,
  lateTraceMemory,
  readLateTrace,
} from '../../src/media/late-tick-trace.js';
import type { LateTickRecord } from '../../src/media/late-tick-trace.js';

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('late-tick trace', () => {
  it("records when, how late, where the wake-up's time went, and the thread's schedstat since the previous wake-up", () => {
    const memory = lateTraceMemory();
    const writer = new LateTickWriter(memory);
    const t0 = performance.now();
    writer.runEnded(t0 + 2); // the next wake-up is armed for t0 + 2
    writer.read(2); // a feed's file read of 2 ms, an event flush of 0.5 ms, between the runs
    writer.flushed(0.5);
    busy(15); // this thread on a core for 15 ms: what schedstat will show
    const start = performance.now();
    writer.handled(start - 5, start - 2, 7); // a message from the main side, 3 ms of work
    writer.runStarted(start);
    writer.late(start + 1, 7.5);
    const [r, ...rest] = readLateTrace(memory) as LateTickRecord[];
    expect(rest).toEqual([]);
    expect(r!.at).toBeCloseTo(performance.timeOrigin + start + 1, 6);
    expect(r!.lateMs).toBe(7.5);
    expect(r!.wokeLateMs).toBeCloseTo(start - (t0 + 2), 6);
    expect(r!.inRunMs).toBeCloseTo(1, 6);
    expect(r).toMatchObject({ messageMs: 3, messageAgoMs: 3, messageCommands: 7 });
    expect(r).toMatchObject({ reads: 1, readMs: 2, flushes: 1, flushMs: 0.5 });
    if (existsSync('/proc/thread-self/schedstat')) {
      // Busy for 15 ms: on a core, or runnable and waiting for one on a loaded machine; never asleep.
      // Not all of it: time the hypervisor took the VM's CPU away (steal) can be in neither field,
      // and a loaded CI VM showed 12 of 15. In ms, and no more than the wall time that passed.
      const elapsed = performance.now() - t0;
      expect(r!.onCoreMs).toBeGreaterThan(0);
      expect(r!.waitingMs).toBeGreaterThanOrEqual(0);
      expect(r!.onCoreMs + r!.waitingMs).toBeGreaterThan(7.5);
      expect(r!.onCoreMs + r!.waitingMs).toBeLessThan(elapsed + 1);
      expect(r!.slices).toBeGreaterThanOrEqual(0);
    } else expect(r!.onCoreMs).toBeNaN();
    writer.close();
  });

  it("records the thread's collections of 1 ms or more, between its late deliveries", async () => {
    const memory = lateTraceMemory();
    const writer = new LateTickWriter(memory);
    writer.observeCollections();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const t = performance.timeOrigin + performance.now();
    const heap = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `x${i}` }));
    gc(); // a full collection of a heap with 300,000 live objects: well over 1 ms
    await new Promise((r) => setTimeout(r, 50)); // the entries come after the fact
    writer.late(performance.now(), 6);
    const records = readLateTrace(memory);
    // Copying 300,000 live objects out of the nursery, and the full collection, take milliseconds.
    const collections = records.filter((r) => r.kind === 'gc');
    expect(collections.length, JSON.stringify(records)).toBeGreaterThan(0);
    for (const c of collections) {
      expect(c.durationMs).toBeGreaterThanOrEqual(1);
      expect(['minor', 'major', 'incremental', 'weakcb']).toContain(c.gc);
      expect(c.at).toBeGreaterThan(t - 10_000);
    }
    // gc() is a full collection: node reports it as a major one.
    expect(collections.some((c) => c.gc === 'major')).toBe(true);
    expect(records.at(-1)).toMatchObject({ kind: 'late', lateMs: 6 });
    expect(heap.length).toBe(300_000);
    writer.close();
  });

  it('keeps the latest records, oldest first, once the ring is full', () => {
    const memory = lateTraceMemory();
    const writer = new LateTickWriter(memory);
    for (let i = 0; i < LATE_TRACE_RECORDS + 10; i++) writer.late(i, i);
    const records = readLateTrace(memory) as LateTickRecord[];
    expect(records).toHaveLength(LATE_TRACE_RECORDS);
    expect(records[0]!.lateMs).toBe(10);
    expect(records.at(-1)!.lateMs).toBe(LATE_TRACE_RECORDS + 9);
    writer.close();
  });
});
