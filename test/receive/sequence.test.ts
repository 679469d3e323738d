import { describe, it, expect } from 'vitest';
import {
  addTimestamp,
  extendSequence,
  isTimestampJump,
  seqDiff,
  seqNewer,
  tsDiff,
  wrapSequence,
} from '../../src/receive/sequence.js';

describe('sequence arithmetic', () => {
  it('measures u16 distances across the wrap', () => {
    expect(seqDiff(2, 65534)).toBe(4);
    expect(seqDiff(65534, 2)).toBe(-4);
    expect(seqDiff(100, 100)).toBe(0);
    expect(seqDiff(32767, 0)).toBe(32767);
    expect(seqDiff(32768, 0)).toBe(-32768);
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
  });

  it('measures u32 timestamp distances across the wrap', () => {
    expect(tsDiff(960, 0xffff_ffff - 959)).toBe(1920);
    expect(tsDiff(0xffff_ffff - 959, 960)).toBe(-1920);
    expect(addTimestamp(0xffff_ffff, 960)).toBe(959);
    expect(addTimestamp(100, -960)).toBe(0x1_0000_0000 - 860);
  });

  it('extends sequence numbers monotonically through 65535 -> 0', () => {
    let ref = 65530;
    const out: number[] = [];
    for (const s of [65531, 65533, 65532, 65535, 0, 1, 65534, 3, 2]) {
      const ext = extendSequence(s, ref);
      out.push(ext);
      ref = Math.max(ref, ext);
    }
    expect(out).toEqual([65531, 65533, 65532, 65535, 65536, 65537, 65534, 65539, 65538]);
    expect(out.map(wrapSequence)).toEqual([65531, 65533, 65532, 65535, 0, 1, 65534, 3, 2]);
    expect(extendSequence(65535, 1)).toBe(-1);
    expect(wrapSequence(-1)).toBe(65535);
  });

  it('detects timestamp jumps relative to the sequence distance', () => {
    expect(isTimestampJump(1, 960)).toBe(false);
    expect(isTimestampJump(3, 2880)).toBe(false);
    expect(isTimestampJump(1, 960 + 480_000)).toBe(true);
    expect(isTimestampJump(1, -960)).toBe(true);
    expect(isTimestampJump(2, 1920 + 900)).toBe(false);
  });
});
