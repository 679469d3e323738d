import { describe, it, expect } from 'vitest';
import {
  DequeueReportWriter,
  FrameBatchReader,
  FrameBatchWriter,
  readDequeueReports,
} from '../../src/media/send-batch.js';
import type { FrameBatch } from '../../src/media/engine-messages.js';
import { emptySendDrops } from '../../src/media/media-engine.js';
import type { SendCounts } from '../../src/media/media-engine.js';

function frame(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/** Every run of a batch as [channel, frames' first bytes and lengths]. */
function runsOf(batch: FrameBatch): [number, string[]][] {
  const reader = new FrameBatchReader(batch);
  const runs: [number, string[]][] = [];
  for (;;) {
    const run: string[] = [];
    let id = -1;
    const more = reader.readRun((channel, f) => {
      id = channel;
      run.push(`${f[0]}x${f.length}`);
    });
    if (!more) break;
    runs.push([id, run]);
  }
  return runs;
}

describe('send batch layouts', () => {
  it('packs consecutive frames of a channel into one run, and reads them back in order', () => {
    const w = new FrameBatchWriter(1024);
    expect(w.add(7, frame(3, 1))).toBe(true);
    expect(w.add(7, frame(5, 2))).toBe(false);
    expect(w.add(9, frame(4, 3))).toBe(true);
    expect(w.add(7, frame(2, 4))).toBe(true);
    const batch = w.take()!;
    expect(batch.data.byteLength).toBe(14);
    expect(runsOf(batch)).toEqual([
      [7, ['1x3', '2x5']],
      [9, ['3x4']],
      [7, ['4x2']],
    ]);
    expect(w.take()).toBeUndefined();
  });

  it('starts a new run after breakRun (a command between frames of one channel)', () => {
    const w = new FrameBatchWriter(1024);
    w.add(1, frame(2, 1));
    w.breakRun();
    expect(w.add(1, frame(2, 2))).toBe(true);
    expect(runsOf(w.take()!)).toEqual([
      [1, ['1x2']],
      [1, ['2x2']],
    ]);
  });

  it('grows for a frame larger than its capacity and many runs, then starts small again', () => {
    const w = new FrameBatchWriter(16);
    expect(w.fits(100)).toBe(true); // an empty batch takes any frame
    w.add(1, frame(100, 5));
    expect(w.fits(1)).toBe(false);
    expect(runsOf(w.take()!)).toEqual([[1, ['5x100']]]);
    for (let id = 0; id < 600; id++) w.add(id, frame(1, id & 0xff));
    const runs = runsOf(w.take()!);
    expect(runs.length).toBe(600);
    expect(runs[599]).toEqual([599, [`${599 & 0xff}x1`]]);
  });

  it('stops at a malformed index instead of reading outside the data', () => {
    const index = Uint32Array.from([1, 2, 4, 99]).buffer; // second end beyond the data
    const seen: number[] = [];
    const reader = new FrameBatchReader({ data: new ArrayBuffer(8), index });
    expect(reader.readRun((_, f) => seen.push(f.length))).toBe(false);
    expect(seen).toEqual([4]);
    const short = new FrameBatchReader({
      data: new ArrayBuffer(8),
      index: Uint32Array.from([1, 5, 2]).buffer,
    });
    expect(short.readRun(() => seen.push(-1))).toBe(false);
    expect(seen).toEqual([4]);
  });

  it('carries dequeue reports with every send count', () => {
    const w = new DequeueReportWriter();
    const sent = (n: number): SendCounts => ({
      encrypted: n,
      plain: n + 1,
      emptyTicks: n + 2,
      dropped: { ...emptySendDrops(), alone: n + 3, 'no-key': n + 4, 'session-ended': n + 5, stopped: n + 6 },
    });
    for (let id = 1; id <= 100; id++) w.add(id, 1000 + id, sent(id * 10));
    const got: [number, number, SendCounts][] = [];
    readDequeueReports(w.take()!, (id, count, counts) => got.push([id, count, counts]));
    expect(got.length).toBe(100);
    expect(got[0]).toEqual([1, 1001, sent(10)]);
    expect(got[99]).toEqual([100, 1100, sent(1000)]);
    expect(w.take()).toBeUndefined();
  });
});
