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
});
