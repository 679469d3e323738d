/**
 * The quick fuzz run of `npm test`: every target replays its regression fixtures, then runs a few
 * thousand seeded inputs; any crash (foreign throw), hang or oracle violation fails. The long run is
 * `npm run fuzz` (bench/fuzz.ts). The engine's own classification is checked first, so a harness
 * that could not fail would be caught here.
 */
import { describe, expect, it } from 'vitest';
import { VoxcordError } from '../../src/errors.js';
import { classify, generateInput, instantiate, loadFixtures, oracle, runTarget } from './engine.js';
import type { FuzzInstance } from './engine.js';
import { FUZZ_TARGETS } from './targets/index.js';

// The delivery service verifies P-256 signatures (about 1 ms an input): fewer inputs, same seconds.
const QUICK_INPUTS: Readonly<Record<string, number>> = { 'dave-delivery-service': 1000 };
const DEFAULT_QUICK_INPUTS = 1500;
// Generous: a hang is an input that never ends; a busy shared machine can stall one for a second.
const HANG_MS = 5000;

describe('fuzz engine', () => {
  const instance = (run: (input: Uint8Array) => 'ok' | 'rejected'): FuzzInstance => ({
    seeds: [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)],
    isTypedRejection: (err) => err instanceof VoxcordError,
    run,
  });

  it('classifies ok, typed rejections, foreign throws, oracle violations and over-budget inputs', () => {
    const input = Uint8Array.of(1);
    expect(
      classify(
        instance(() => 'ok'),
        input,
        HANG_MS,
      ).outcome,
    ).toBe('ok');
    expect(
      classify(
        instance(() => 'rejected'),
        input,
        HANG_MS,
      ).outcome,
    ).toBe('rejected');
    const typed = instance(() => {
      throw new VoxcordError('PACKET_MALFORMED', 'bad');
    });
    expect(classify(typed, input, HANG_MS).outcome).toBe('rejected');
    const foreign = classify(
      instance((x) => {
        const view = new DataView(x.buffer, x.byteOffset, x.length);
        return view.getUint32(0) > 0 ? 'ok' : 'rejected'; // RangeError on a 1-byte input
      }),
      input,
      HANG_MS,
    );
    expect(foreign.outcome).toBe('crash');
    expect(foreign.message).toContain('RangeError');
    const broken = instance(() => {
      oracle(false, 'round trip lost a byte');
      return 'ok';
    });
    expect(classify(broken, input, HANG_MS)).toMatchObject({
      outcome: 'oracle',
      message: 'round trip lost a byte',
    });
    const slow = instance(() => {
      const until = performance.now() + 30;
      while (performance.now() < until);
      return 'ok';
    });
    expect(classify(slow, input, 10).outcome).toBe('hang');
  });

  it('is deterministic by seed and mutates (inputs differ from the seed and from each other)', () => {
    const target = instance(() => 'ok');
    const a = Array.from({ length: 200 }, (_, i) => Buffer.from(generateInput(target, 7, i)).toString('hex'));
    const b = Array.from({ length: 200 }, (_, i) => Buffer.from(generateInput(target, 7, i)).toString('hex'));
    const c = Array.from({ length: 200 }, (_, i) => Buffer.from(generateInput(target, 8, i)).toString('hex'));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBeGreaterThan(150);
    expect(target.seeds[0]).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)); // seeds are never mutated in place
  });

  it('counts every input and reports the findings of a crashing target', () => {
    const crashing = instance((x) => {
      if (x.length > 8) throw new TypeError('cannot read properties of undefined');
      return 'ok';
    });
    const { counts, findings } = runTarget('engine-self-test', crashing, {
      seed: 1,
      inputs: 300,
      hangMs: HANG_MS,
    });
    expect(counts.inputs).toBe(300);
    expect(counts.ok + counts.rejected + counts.crashes).toBe(300);
    expect(counts.crashes).toBeGreaterThan(0);
    expect(findings[0]?.outcome).toBe('crash');
    expect(findings[0]?.message).toContain('TypeError');
  });
});

describe('quick fuzz run (seeded; regression fixtures first)', () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: no crash, hang or oracle violation`, async () => {
      const instance = await instantiate(target);
      const inputs = QUICK_INPUTS[target.name] ?? DEFAULT_QUICK_INPUTS;
      const { counts, findings } = runTarget(target.name, instance, { seed: 1, inputs, hangMs: HANG_MS });
      expect(findings).toEqual([]);
      expect(counts.fixturesReplayed).toBe(loadFixtures(target.name).length);
      expect(counts.inputs).toBe(inputs);
      // A target whose every input is rejected tests nothing past its first check.
      expect(counts.ok).toBeGreaterThan(0);
    });
  }
});
