import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/server/replay-buffer.js';

function filled(capacity: number, count: number): ReplayBuffer {
  const buffer = new ReplayBuffer(capacity);
  for (let i = 0; i < count; i++) {
    const seq = buffer.take();
    buffer.push(seq, `m${seq}`);
  }
  return buffer;
}

describe('ReplayBuffer', () => {
  it('numbers from 1 and replays strictly after seq_ack, in order', () => {
    const buffer = filled(10, 4);
    expect(buffer.lastSeq).toBe(4);
    expect(buffer.since(-1)?.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(buffer.since(0)?.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(buffer.since(2)?.map((e) => e.frame)).toEqual(['m3', 'm4']);
    expect(buffer.since(4)).toEqual([]);
  });

  it('fails for a seq never sent and for evicted messages', () => {
    const buffer = filled(3, 5); // holds 3, 4, 5
    expect(buffer.since(9)).toBeNull();
    expect(buffer.since(-1)).toBeNull();
    expect(buffer.since(1)).toBeNull();
    expect(buffer.since(2)?.map((e) => e.seq)).toEqual([3, 4, 5]); // exactly the last evicted
    expect(buffer.since(3)?.map((e) => e.seq)).toEqual([4, 5]);
  });

  it('wraps 65535 -> 0 and still finds seq_ack across the wrap', () => {
    const buffer = filled(4, 65_536);
    expect(buffer.lastSeq).toBe(0);
    expect(buffer.since(65_534)?.map((e) => e.seq)).toEqual([65_535, 0]);
    expect(buffer.since(0)).toEqual([]);
  });

  it('rejects capacities that could make a wrapped seq ambiguous', () => {
    expect(() => new ReplayBuffer(0)).toThrow(RangeError);
    expect(() => new ReplayBuffer(40_000)).toThrow(RangeError);
  });
});
