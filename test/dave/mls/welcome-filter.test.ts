import { describe, it, expect } from 'vitest';
import { filterWelcome, parseWelcome } from '../../../src/dave/mls/welcome-filter.js';

const ref1 = Buffer.alloc(32, 1);
const ref2 = Buffer.alloc(32, 2);
function entry(ref: Buffer, fill: number): Buffer {
  return Buffer.concat([
    Buffer.of(32),
    ref,
    Buffer.of(3),
    Buffer.alloc(3, fill),
    Buffer.of(2),
    Buffer.alloc(2, fill),
  ]);
}
/** MLS varint length prefix, written out independently (< 16384). */
function len(n: number): Buffer {
  return n < 64 ? Buffer.of(n) : Buffer.of(0x40 | (n >> 8), n & 0xff);
}
const e1 = entry(ref1, 0xaa);
const e2 = entry(ref2, 0xbb);
const info = Buffer.concat([Buffer.of(4), Buffer.from('info')]);
const welcome = Buffer.concat([Buffer.from('0002', 'hex'), len(e1.length + e2.length), e1, e2, info]);

describe('welcome filtering (dave.md §7.10)', () => {
  it('keeps only the target entry and the group info unchanged', () => {
    const parsed = parseWelcome(welcome)!;
    expect(parsed.cipherSuite).toBe(2);
    expect(parsed.secrets.map((s) => Buffer.from(s.newMember))).toEqual([ref1, ref2]);
    const only2 = Buffer.from(filterWelcome(parsed, ref2)!);
    expect(only2.equals(Buffer.concat([Buffer.from('0002', 'hex'), len(e2.length), e2, info]))).toBe(true);
    expect(filterWelcome(parsed, Buffer.alloc(32, 3))).toBeUndefined();
  });

  it('rejects malformed welcomes without throwing', () => {
    expect(parseWelcome(welcome.subarray(0, welcome.length - 1))).toBeUndefined();
    expect(parseWelcome(Buffer.concat([welcome, Buffer.of(0)]))).toBeUndefined();
    expect(parseWelcome(new Uint8Array(0))).toBeUndefined();
  });
});
