/**
 * The frame ring (media/frame-ring.ts) on its own, both ends on one thread: batches come out as
 * they went in and in order, across the wrap at the end of the memory; a full ring refuses a batch
 * (the main side then posts it) and takes it once the reader freed room; the polling flag crosses.
 */
import { describe, expect, it } from 'vitest';
import {
  FrameRingReader,
  FrameRingWriter,
  createFrameRingMemory,
  nextBatchSeq,
} from '../../src/media/frame-ring.js';
import { FrameBatchReader, FrameBatchWriter } from '../../src/media/send-batch.js';
import type { FrameBatchView } from '../../src/media/send-batch.js';

/** A batch of `count` frames of channel `id`, frame k being `bytes` bytes of (seed + k). */
function batch(id: number, count: number, bytes: number, seed: number): FrameBatchView {
  const w = new FrameBatchWriter(64 * 1024);
  for (let k = 0; k < count; k++) w.add(id, new Uint8Array(bytes).fill((seed + k) & 0xff));
  const v = w.view()!;
  return { index: v.index.slice(), data: v.data.slice() };
}

function frames(view: FrameBatchView): { id: number; bytes: number[] }[] {
  const out: { id: number; bytes: number[] }[] = [];
  const r = new FrameBatchReader(view);
  while (r.readRun((id, f) => out.push({ id, bytes: [...f] })));
  return out;
}

describe('the frame ring', () => {
  it('hands over batches in order, across the wrap, with their frames intact', () => {
    const memory = createFrameRingMemory(4096);
    const writer = new FrameRingWriter(memory);
    const reader = new FrameRingReader(memory);
    expect(reader.peek()).toBeUndefined();
    let written = 0;
    let read = 0;
    // Odd sizes so records end at every offset; the reader lags by up to 3 batches.
    for (let i = 0; i < 400; i++) {
      const b = batch(1 + (i % 3), 1 + (i % 4), 17 + ((i * 37) % 300), i);
      expect(writer.write(written, b)).toBe(true);
      written++;
      while (written - read > 3 || (i === 399 && read < written)) {
        const got = reader.peek()!;
        expect(got.seq).toBe(read);
        const want = batch(1 + (read % 3), 1 + (read % 4), 17 + ((read * 37) % 300), read);
        expect(frames(got.batch)).toEqual(frames(want));
        reader.consume();
        read++;
      }
    }
    expect(reader.empty).toBe(true);
    expect(reader.peek()).toBeUndefined();
  });

  it('refuses a batch that does not fit until the reader frees room, and one larger than the ring', () => {
    const memory = createFrameRingMemory(1024);
    const writer = new FrameRingWriter(memory);
    const reader = new FrameRingReader(memory);
    const b = batch(7, 2, 200, 1); // 12 + 16 + 400 bytes
    expect(writer.write(0, b)).toBe(true);
    expect(writer.write(1, b)).toBe(true);
    expect(writer.write(2, b)).toBe(false);
    expect(reader.peek()!.seq).toBe(0);
    reader.consume();
    expect(writer.write(2, b)).toBe(false); // the room before the reader is a word short
    expect(reader.peek()!.seq).toBe(1);
    reader.consume();
    expect(writer.write(2, b)).toBe(true); // wrapped to the start
    const got = reader.peek()!;
    expect(got.seq).toBe(2);
    expect(frames(got.batch)).toEqual(frames(b));
    reader.consume();
    expect(writer.write(3, batch(7, 1, 2000, 0))).toBe(false);
  });

  it('starts again at the beginning when it finds the ring empty far in: a light load keeps to its first pages', () => {
    const memory = createFrameRingMemory(); // 1 MiB
    const writeOffset = (): number => new Int32Array(memory, 0, 4)[0]!;
    const writer = new FrameRingWriter(memory);
    const reader = new FrameRingReader(memory);
    // One batch at a time, each taken before the next (as a worker keeping up does): 2 MiB in all.
    let furthest = 0;
    for (let i = 0; i < 1000; i++) {
      const b = batch(1 + (i % 5), 8, 250, i);
      expect(writer.write(i, b)).toBe(true);
      furthest = Math.max(furthest, writeOffset());
      const got = reader.peek()!;
      expect(got.seq).toBe(i);
      expect(frames(got.batch)).toEqual(frames(b));
      reader.consume();
    }
    expect(reader.empty).toBe(true);
    expect(furthest).toBeLessThan(128 * 1024);
    // A reader that lags keeps the writer going on past it: batches queue up to the ring's size.
    for (let i = 1000; i < 1400; i++) expect(writer.write(i, batch(1, 8, 250, i))).toBe(true);
    expect(writeOffset()).toBeGreaterThan(400 * 2000);
    for (let i = 1000; i < 1400; i++) {
      const got = reader.peek()!;
      expect(got.seq).toBe(i);
      expect(frames(got.batch)).toEqual(frames(batch(1, 8, 250, i)));
      reader.consume();
    }
  });

  it('says whether the worker polls, and never numbers a batch with the wrap mark', () => {
    const memory = createFrameRingMemory();
    const writer = new FrameRingWriter(memory);
    const reader = new FrameRingReader(memory);
    expect(writer.workerPolling).toBe(false);
    reader.setPolling(true);
    expect(writer.workerPolling).toBe(true);
    reader.setPolling(false);
    expect(writer.workerPolling).toBe(false);
    expect(nextBatchSeq(0)).toBe(1);
    expect(nextBatchSeq(0xffff_fffe)).toBe(0);
  });
});
