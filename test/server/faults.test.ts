import { describe, expect, it } from 'vitest';
import {
  UdpFaultInjector,
  WsFaultInjector,
  createRng,
  deriveSeed,
  takeCloseAt,
} from '../../src/server/faults.js';
import type { UdpFaultKind } from '../../src/server/faults.js';

const pkt = (n: number): Buffer => Buffer.from([0x80, 0x78, 0, n, ...new Array<number>(20).fill(n)]);
const ids = (packets: Buffer[]): number[] => packets.map((p) => p[3]!);

function pattern(seed: number, faults: Parameters<UdpFaultInjector['process']>[1], n = 12): number[] {
  const injector = new UdpFaultInjector(seed);
  const out: number[] = [];
  for (let i = 1; i <= n; i++) out.push(...ids(injector.process(pkt(i), faults).send));
  return out;
}

describe('fault injection', () => {
  it('the RNG is deterministic per seed and uniform-ish', () => {
    const a = createRng(1);
    const b = createRng(1);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(deriveSeed(1, 1000)).not.toBe(deriveSeed(1, 1001));
  });

  it('no faults: packets pass untouched', () => {
    expect(pattern(1, undefined)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(pattern(1, {})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('probability 1 patterns: drop all, duplicate all, reorder pairs', () => {
    expect(pattern(1, { drop: 1 })).toEqual([]);
    expect(pattern(1, { duplicate: 1 }, 3)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(pattern(1, { reorder: 1 }, 6)).toEqual([2, 1, 4, 3, 6, 5]);
  });

  it('a seeded drop pattern is reproducible and differs between seeds', () => {
    const p = pattern(42, { drop: 0.5 }, 40);
    expect(pattern(42, { drop: 0.5 }, 40)).toEqual(p);
    expect(pattern(43, { drop: 0.5 }, 40)).not.toEqual(p);
    expect(p.length).toBeGreaterThan(5);
    expect(p.length).toBeLessThan(35);
  });

  it('corrupt flips the last tag byte and leaves the original alone', () => {
    const injector = new UdpFaultInjector(1);
    const original = pkt(9);
    const decision = injector.process(original, { corrupt: 1 });
    expect(decision.applied).toEqual(['corrupt']);
    const out = decision.send[0]!;
    expect(out[out.length - 5]).toBe(original[original.length - 5]! ^ 0xff);
    expect(original.equals(pkt(9))).toBe(true);
  });

  it('a held packet can be taken (flush) and is not released twice', () => {
    const injector = new UdpFaultInjector(1);
    expect(injector.process(pkt(1), { reorder: 1 }).send).toEqual([]);
    expect(injector.holding).toBe(true);
    expect(ids([injector.takeHeld()!])).toEqual([1]);
    expect(ids(injector.process(pkt(2), {}).send)).toEqual([2]);
  });

  it('websocket duplicate decisions are seeded', () => {
    const a = new WsFaultInjector(5);
    const b = new WsFaultInjector(5);
    const xs = Array.from({ length: 20 }, () => a.copies({ duplicate: 0.5 }));
    expect(Array.from({ length: 20 }, () => b.copies({ duplicate: 0.5 }))).toEqual(xs);
    expect(new Set(xs)).toEqual(new Set([1, 2]));
    expect(a.copies(undefined)).toBe(1);
  });

  it('closeAt fires at its step only, `times` times per fault object', () => {
    const faults = { closeAt: { step: 'after-ready' as const, code: 4006, times: 2 } };
    expect(takeCloseAt(faults, 'after-hello')).toBeUndefined();
    expect(takeCloseAt(faults, 'after-ready')).toBe(4006);
    expect(takeCloseAt(faults, 'after-ready')).toBe(4006);
    expect(takeCloseAt(faults, 'after-ready')).toBeUndefined();
    // A new fault object (setFaults) starts again; the default is once.
    const again = { closeAt: { step: 'before-hello' as const, code: 4014 } };
    expect(takeCloseAt(again, 'before-hello')).toBe(4014);
    expect(takeCloseAt(again, 'before-hello')).toBeUndefined();
    expect(takeCloseAt(undefined, 'before-hello')).toBeUndefined();
  });

  it('observe sees every packet the faults apply to, with what was done to it', () => {
    const seen: [number, UdpFaultKind[]][] = [];
    const faults = {
      drop: 0.3,
      duplicate: 0.3,
      observe: (p: Uint8Array, applied: readonly UdpFaultKind[]) => seen.push([p[3]!, [...applied]]),
    };
    const injector = new UdpFaultInjector(9);
    let sent = 0;
    for (let i = 1; i <= 30; i++) sent += injector.process(pkt(i), faults).send.length;
    expect(seen.map(([n]) => n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const copies = seen.reduce(
      (n, [, a]) => n + (a.includes('drop') ? 0 : a.includes('duplicate') ? 2 : 1),
      0,
    );
    expect(copies).toBe(sent);
    expect(seen.some(([, a]) => a.includes('drop'))).toBe(true);
  });
});
