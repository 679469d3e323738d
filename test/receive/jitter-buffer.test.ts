import { describe, it, expect } from 'vitest';
import { JitterBuffer, type JitterOutput, type JitterPushResult } from '../../src/receive/jitter-buffer.js';
import { runClock, schedule, type Schedule } from './helpers.js';

interface Arrival extends Schedule {
  seq: number;
  ts: number;
}

function payload(i: number): Uint8Array {
  return Uint8Array.of(0xfc, i & 0xff, (i >> 8) & 0xff);
}

function arrivals(
  sched: Schedule[],
  seqBase = 0,
  tsOf: (i: number) => number = (i) => (i * 960) >>> 0,
): Arrival[] {
  return sched.map((s) => ({ ...s, seq: (seqBase + s.index) & 0xffff, ts: tsOf(s.index) }));
}

function run(
  jb: JitterBuffer,
  list: Arrival[],
  end?: number,
): { out: JitterOutput[]; results: Map<number, JitterPushResult[]> } {
  const out: JitterOutput[] = [];
  const results = new Map<number, JitterPushResult[]>();
  const last = Math.max(...list.map((a) => a.arrival));
  runClock(
    list,
    end ?? last + 500,
    (a) => {
      const r = jb.push({
        sequence: a.seq,
        timestamp: a.ts,
        payload: payload(a.index),
        receivedAt: a.arrival,
      });
      results.set(a.index, [...(results.get(a.index) ?? []), r]);
    },
    (now) => out.push(...jb.poll(now)),
  );
  return { out, results };
}

/** Sequence numbers the output covers, in output order. */
const seqs = (out: JitterOutput[]): number[] => out.map((o) => o.sequence);

function expectContiguous(out: JitterOutput[], first: number, count: number): void {
  expect(seqs(out)).toEqual(Array.from({ length: count }, (_, k) => (first + k) & 0xffff));
}

describe('JitterBuffer', () => {
  it('plays in-order packets one per slot, targetDelay after the first arrival', () => {
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, arrivals(schedule(20)));
    expectContiguous(out, 0, 20);
    expect(out.every((o) => o.kind === 'frame')).toBe(true);
    expect(out[0]!.playoutAt).toBe(1000 + 60);
    expect(out[19]!.playoutAt).toBe(1000 + 60 + 19 * 20);
    expect(jb.stats()).toMatchObject({ received: 20, lost: 0, late: 0, duplicate: 0, buffered: 0 });
  });

  it('reorders packets that arrive out of order within the delay', () => {
    const list = arrivals(schedule(100, { jitterMs: 35, seed: 7 }));
    // The schedule really is reordered.
    expect(list.some((a, k) => k > 0 && a.index < list[k - 1]!.index)).toBe(true);
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, list);
    expectContiguous(out, 0, 100);
    expect(out.every((o) => o.kind === 'frame')).toBe(true);
    expect(jb.stats().late).toBe(0);
  });

  it('drops duplicates, buffered or already played', () => {
    const base = arrivals(schedule(30));
    const dupSoon = base.map((a) => ({ ...a, arrival: a.arrival + 5 }));
    const dupLate = base.slice(0, 10).map((a) => ({ ...a, arrival: a.arrival + 200 }));
    const list = [...base, ...dupSoon, ...dupLate].sort((a, b) => a.arrival - b.arrival);
    const jb = new JitterBuffer({ adaptive: false });
    const { out, results } = run(jb, list);
    expectContiguous(out, 0, 30);
    expect(jb.stats().duplicate).toBe(40);
    expect(jb.stats().late).toBe(0);
    expect(results.get(3)).toEqual(['buffered', 'duplicate', 'duplicate']);
  });

  it('with 10% loss and reordering, emits every slot once: frames or lost markers', () => {
    const sched = schedule(500, { loss: 0.1, jitterMs: 30, seed: 42 });
    const dropped = 500 - sched.length;
    expect(dropped).toBeGreaterThan(30);
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, arrivals(sched));
    expectContiguous(out, 0, 500);
    const received = new Set(sched.map((s) => s.index));
    for (const o of out) expect(o.kind).toBe(received.has(o.sequence) ? 'frame' : 'lost');
    expect(jb.stats()).toMatchObject({ lost: dropped, received: sched.length, late: 0 });
    // Lost markers carry interpolated timestamps on the 960 grid.
    for (const o of out) expect(o.timestamp).toBe(o.sequence * 960);
  });

  it('handles the sequence wrap at 65535 with reordering and loss', () => {
    const sched = schedule(200, { loss: 0.1, jitterMs: 30, seed: 3 });
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, arrivals(sched, 65_440));
    expectContiguous(out, 65_440, 200);
    expect(out.some((o) => o.sequence === 65535)).toBe(true);
    expect(out.some((o) => o.sequence === 0)).toBe(true);
    expect(jb.stats().restarts).toBe(0);
    expect(jb.stats().lost).toBe(200 - sched.length);
  });

  it('a timestamp jump neither reorders nor inflates the jitter estimate', () => {
    const tsOf = (i: number): number => (i < 10 ? i * 960 : i * 960 + 480_000) >>> 0;
    const jb = new JitterBuffer();
    const { out } = run(jb, arrivals(schedule(30), 0, tsOf));
    expectContiguous(out, 0, 30);
    expect(out.map((o) => o.timestamp)).toEqual(Array.from({ length: 30 }, (_, i) => tsOf(i)));
    expect(jb.stats().timestampJumps).toBe(1);
    expect(jb.stats().lost).toBe(0);
    expect(jb.stats().jitterMs).toBeLessThan(1);
  });

  it('a timestamp wrap at 2^32 is not a jump', () => {
    const tsOf = (i: number): number => (0xffff_ffff - 5 * 960 + i * 960) >>> 0;
    const jb = new JitterBuffer();
    const { out } = run(jb, arrivals(schedule(20), 0, tsOf));
    expectContiguous(out, 0, 20);
    expect(jb.stats().timestampJumps).toBe(0);
  });

  it('counts a packet that arrives after its slot as late and never inserts it out of order', () => {
    const list = arrivals(schedule(20));
    list[5]!.arrival += 150; // 150 ms late with a 60 ms target
    list.sort((a, b) => a.arrival - b.arrival);
    const jb = new JitterBuffer({ adaptive: false });
    const { out, results } = run(jb, list);
    expectContiguous(out, 0, 20);
    expect(out[5]!.kind).toBe('lost');
    expect(results.get(5)).toEqual(['late']);
    expect(jb.stats()).toMatchObject({ late: 1, lost: 1, received: 19 });
  });

  it('raises the delay after a late packet, within maxDelayMs', () => {
    const list = arrivals(schedule(40));
    list[5]!.arrival += 150;
    list.sort((a, b) => a.arrival - b.arrival);
    const jb = new JitterBuffer({ targetDelayMs: 60, maxDelayMs: 160 });
    const { out } = run(jb, list);
    expectContiguous(out, 0, 40);
    expect(jb.targetDelayMs).toBeGreaterThan(60);
    expect(jb.targetDelayMs).toBeLessThanOrEqual(160);
  });

  it('adapts the delay at talk-spurt starts from observed jitter, within bounds', () => {
    // Calm network: the second spurt starts at the minimum delay.
    const calm = new JitterBuffer({ targetDelayMs: 60, minDelayMs: 40, maxDelayMs: 200 });
    const spurts = (jitterMs: number): Arrival[] => [
      ...arrivals(schedule(50, { jitterMs, seed: 5 })),
      ...arrivals(schedule(50, { jitterMs, seed: 6, start: 3000 })).map((a) => ({
        ...a,
        index: a.index + 50,
        seq: a.seq + 50,
        ts: a.ts + 50 * 960,
      })),
    ];
    run(calm, spurts(0));
    expect(calm.targetDelayMs).toBe(40);
    // Jittery network: the delay grows but stays within the maximum.
    const rough = new JitterBuffer({ targetDelayMs: 60, minDelayMs: 40, maxDelayMs: 200 });
    run(rough, spurts(60));
    expect(rough.stats().jitterMs).toBeGreaterThan(10);
    expect(rough.targetDelayMs).toBeGreaterThan(60);
    expect(rough.targetDelayMs).toBeLessThanOrEqual(200);
  });

  it('after a stall, conceals a small sequence gap and restarts on a large one', () => {
    const jb = new JitterBuffer({ adaptive: false });
    const first = arrivals(schedule(10));
    // Packets 10..12 lost at the end of a burst; the next burst starts 1 s later at 13.
    const second = arrivals(schedule(10, { start: 2000 })).map((a) => ({
      ...a,
      index: a.index + 13,
      seq: a.seq + 13,
      ts: a.ts + 13 * 960,
    }));
    const { out } = run(jb, [...first, ...second]);
    expectContiguous(out, 0, 23);
    expect(out.filter((o) => o.kind === 'lost').map((o) => o.sequence)).toEqual([10, 11, 12]);
    // The new burst plays targetDelay after its first arrival, not on the old schedule.
    expect(out.find((o) => o.sequence === 13)!.playoutAt).toBe(2000 + 60);

    const jb2 = new JitterBuffer({ adaptive: false });
    const far = second.map((a) => ({ ...a, seq: a.seq + 1000 }));
    const r = run(jb2, [...first, ...far]);
    expect(seqs(r.out)).toEqual([...Array.from({ length: 10 }, (_, k) => k), ...far.map((a) => a.seq)]);
    expect(jb2.stats()).toMatchObject({ restarts: 1, lost: 0 });
  });

  it('confirms a sequence restart mid-stream with two consecutive packets; one stray is held', () => {
    const jb = new JitterBuffer({ adaptive: false });
    const list = arrivals(schedule(10));
    const stray: Arrival = { index: 99, arrival: 1095, seq: 30_000, ts: 5 };
    const restarted = arrivals(schedule(10, { start: 1200 }), 40_000).map((a) => ({
      ...a,
      index: a.index + 100,
    }));
    const { out, results } = run(
      jb,
      [...list, stray, ...restarted].sort((a, b) => a.arrival - b.arrival),
    );
    expect(results.get(99)).toEqual(['held']);
    expect(results.get(100)).toEqual(['held']);
    expect(results.get(101)).toEqual(['restart']);
    expect(seqs(out).slice(-10)).toEqual(Array.from({ length: 10 }, (_, k) => 40_000 + k));
    expect(seqs(out)).not.toContain(30_000);
    expect(jb.stats().restarts).toBe(1);
  });

  it('gives a lost marker the next payload when it is already buffered (for FEC)', () => {
    const list = arrivals(schedule(10)).filter((a) => a.index !== 4);
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, list);
    const lost = out[4]!;
    expect(lost.kind).toBe('lost');
    expect(lost.kind === 'lost' && lost.next).toEqual(payload(5));
  });

  it('catches up after a hiccup so latency stays bounded', () => {
    // 15 packets held by the network arrive together, then the flow continues.
    const list = arrivals(schedule(60));
    for (const a of list) if (a.index >= 10 && a.index < 25) a.arrival = 1000 + 25 * 20;
    list.sort((a, b) => a.arrival - b.arrival);
    const jb = new JitterBuffer({ adaptive: false });
    const { out } = run(jb, list);
    expectContiguous(out, 0, 60);
    const lastFrame = out[59]!;
    // Without catch-up the final frame would play about 300 ms after its arrival.
    expect(lastFrame.playoutAt - (1000 + 59 * 20)).toBeLessThanOrEqual(60 + 2 * 20 + 20);
  });

  it('rejects invalid packets without throwing', () => {
    const jb = new JitterBuffer();
    const bad = [
      { sequence: -1, timestamp: 0, payload: payload(0), receivedAt: 0 },
      { sequence: 65536, timestamp: 0, payload: payload(0), receivedAt: 0 },
      { sequence: 1.5, timestamp: 0, payload: payload(0), receivedAt: 0 },
      { sequence: 1, timestamp: 2 ** 32, payload: payload(0), receivedAt: 0 },
      { sequence: 1, timestamp: 0, payload: new Uint8Array(0), receivedAt: 0 },
      { sequence: 1, timestamp: 0, payload: payload(0), receivedAt: Number.NaN },
      { sequence: 1, timestamp: 0, payload: 'x' as unknown as Uint8Array, receivedAt: 0 },
    ];
    for (const p of bad) expect(jb.push(p)).toBe('invalid');
    expect(jb.stats().invalid).toBe(bad.length);
    expect(jb.poll(1e6)).toEqual([]);
    expect(() => new JitterBuffer({ minDelayMs: 100, maxDelayMs: 50 })).toThrow();
  });

  it('flush emits everything buffered at once, with gaps as lost markers', () => {
    const jb = new JitterBuffer({ adaptive: false });
    for (const i of [0, 1, 3])
      jb.push({ sequence: i, timestamp: i * 960, payload: payload(i), receivedAt: 0 });
    const out = jb.flush(5);
    expect(out.map((o) => `${o.kind}:${o.sequence}`)).toEqual(['frame:0', 'frame:1', 'lost:2', 'frame:3']);
    expect(jb.isPlaying).toBe(false);
    expect(jb.poll(1000)).toEqual([]);
  });
});
