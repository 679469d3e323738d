import { describe, expect, it } from 'vitest';
import { LatenessHistogram, summarizeLateness } from '../../src/media/lateness-histogram.js';

describe('lateness histogram', () => {
  it('reads percentiles as upper bucket edges and keeps the exact max', () => {
    const h = new LatenessHistogram();
    for (let i = 0; i < 98; i++) h.record(0.1);
    h.record(3.1);
    h.record(250);
    const s = summarizeLateness([h.toJSON()]);
    expect(s).toEqual({ count: 100, p50Ms: 0.25, p99Ms: 3.25, maxMs: 250 });
  });

  it('merges channels exactly and treats early sends as on time', () => {
    const a = new LatenessHistogram();
    const b = new LatenessHistogram();
    a.record(-1);
    b.record(10);
    const s = summarizeLateness([a.toJSON(), b.toJSON()]);
    expect(s.count).toBe(2);
    expect(s.p50Ms).toBe(0.25);
    expect(s.p99Ms).toBe(10);
    expect(summarizeLateness([])).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('holds only the buckets reached, and counts every sample wherever it falls', () => {
    const h = new LatenessHistogram();
    for (let i = 0; i < 10; i++) h.record(1);
    expect(h.countBytes).toBe(64);
    h.record(5); // bucket 20: the counts double once
    expect(h.countBytes).toBe(128);
    h.record(99.9); // bucket 399
    h.record(1_000); // overflow bucket 400
    // 0.25 ms buckets up to 16 ms, 1 ms ones from there to 100, the overflow: 149 counts.
    expect(h.countBytes).toBe(149 * 4);
    const data = h.toJSON();
    expect(data.counts).toHaveLength(401);
    expect(data.counts[4]).toBe(10);
    expect(data.counts[20]).toBe(1);
    expect(data.counts[399]).toBe(1);
    expect(data.counts[400]).toBe(1);
    expect(data.counts.reduce((a, b) => a + b, 0)).toBe(13);
    expect(summarizeLateness([data])).toEqual({ count: 13, p50Ms: 1.25, p99Ms: 1_000, maxMs: 1_000 });
  });

  it('counts sends later than 16 ms per ms, read at the upper edge (never understated)', () => {
    const h = new LatenessHistogram();
    h.record(15.9); // the last 0.25 ms bucket
    h.record(16); // [16, 17) ms: read as 17
    h.record(27.01); // [27, 28) ms: read as 28
    h.record(27.99);
    const data = h.toJSON();
    expect(data.counts[63]).toBe(1);
    expect(data.counts[67]).toBe(1);
    expect(data.counts[111]).toBe(2);
    expect(data.counts.reduce((a, b) => a + b, 0)).toBe(4);
    const merged = summarizeLateness([data, data]);
    expect(merged.p50Ms).toBe(17);
    expect(merged.p99Ms).toBe(27.99); // the upper edge (28), capped at the exact max
  });
});
