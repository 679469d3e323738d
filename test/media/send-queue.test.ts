import { describe, it, expect } from 'vitest';
import { SendQueue } from '../../src/media/send-queue.js';

function make(options = {}): { q: SendQueue; drains: number[] } {
  const drains: number[] = [];
  const q: SendQueue = new SendQueue({ drain: () => drains.push(q.length) }, options);
  return { q, drains };
}

const frame = (n: number): Uint8Array => Uint8Array.of(n);

describe('SendQueue', () => {
  it('returns false at the high-water mark and drains at the low-water mark', () => {
    const { q, drains } = make({ highWaterMark: 4, lowWaterMark: 1 });
    expect([1, 2, 3, 4].map((n) => q.enqueue(frame(n)))).toEqual([true, true, true, false]);
    expect(q.length).toBe(4);
    expect(q.next()?.frame).toEqual(frame(1));
    expect(q.next()?.frame).toEqual(frame(2));
    expect(drains).toEqual([]);
    expect(q.next()?.frame).toEqual(frame(3));
    expect(drains).toEqual([1]);
    expect(q.next()?.frame).toEqual(frame(4));
    expect(q.next()).toBeUndefined();
    expect(drains).toEqual([1]);
  });

  it('sends five silence frames after the queue empties when a burst ends', () => {
    const { q } = make();
    q.enqueue(frame(9));
    q.endBurst();
    const items = Array.from({ length: 8 }, () => q.next());
    expect(items[0]).toEqual({ frame: frame(9), silence: false, endsBurst: false });
    for (let i = 1; i <= 5; i++) {
      expect(items[i]?.silence).toBe(true);
      expect(Array.from(items[i]!.frame)).toEqual([0xf8, 0xff, 0xfe]);
      expect(items[i]?.endsBurst).toBe(i === 5);
    }
    expect(items[6]).toBeUndefined();
    expect(q.busy).toBe(false);
  });

  it('finishes a silence tail before frames queued during it', () => {
    const { q } = make();
    q.endBurst();
    q.next();
    q.enqueue(frame(7));
    const rest = Array.from({ length: 5 }, () => q.next());
    expect(rest.slice(0, 4).every((i) => i?.silence)).toBe(true);
    expect(rest[3]?.endsBurst).toBe(true);
    expect(rest[4]?.frame).toEqual(frame(7));
  });

  it('clear drops frames and signals drain to a waiting producer', () => {
    const { q, drains } = make({ highWaterMark: 3, lowWaterMark: 1 });
    q.enqueue(frame(1));
    q.enqueue(frame(2));
    expect(q.enqueue(frame(3))).toBe(false);
    q.clear();
    expect(q.length).toBe(0);
    expect(drains).toEqual([0]);
    expect(q.next()).toBeUndefined();
  });

  it('keeps order over many frames (compaction)', () => {
    const { q } = make({ highWaterMark: 1000 });
    const out: number[] = [];
    for (let i = 0; i < 500; i++) {
      q.enqueue(frame(i & 0xff));
      if (i % 3 === 0) out.push(q.next()!.frame[0]!);
    }
    for (let item = q.next(); item; item = q.next()) out.push(item.frame[0]!);
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i & 0xff));
  });
});
