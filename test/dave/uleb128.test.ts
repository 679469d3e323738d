import { describe, it, expect } from 'vitest';
import {
  encodeUleb128,
  readUleb128,
  uleb128Size,
  writeUleb128,
  type Uleb128Read,
} from '../../src/dave/uleb128.js';
import { hex, unhex as bytes } from '../support/bytes.js';

const slot = (): Uleb128Read => ({ value: -1, low32: -1, next: -1 });

// dave.md §3.2
const TABLE: [number, string][] = [
  [0, '00'],
  [1, '01'],
  [127, '7f'],
  [128, '8001'],
  [300, 'ac02'],
  [16383, 'ff7f'],
  [16384, '808001'],
  [0x00ffffff, 'ffffff07'],
  [0x01000000, '80808008'],
  [0x01000001, '81808008'],
  [0xffffffff, 'ffffffff0f'],
];

describe('ULEB128', () => {
  it.each(TABLE)('encodes %i as %s', (value, expected) => {
    expect(hex(encodeUleb128(value))).toBe(expected);
    expect(uleb128Size(value)).toBe(expected.length / 2);
  });

  it.each(TABLE)('decodes %i from %s', (value, encoded) => {
    const buf = bytes(`aa${encoded}bb`);
    const out = slot();
    expect(readUleb128(buf, 1, buf.length, out)).toBe(true);
    expect(out.value).toBe(value);
    expect(out.low32).toBe(value >>> 0);
    expect(out.next).toBe(1 + encoded.length / 2);
  });

  it('writes at an offset and returns the end', () => {
    const out = new Uint8Array(6);
    expect(writeUleb128(300, out, 2)).toBe(4);
    expect(hex(out)).toBe('0000ac020000');
  });

  it('truncates values above 32 bits to the low 32 bits', () => {
    const out = slot();
    // 2^32 + 5
    expect(readUleb128(encodeUleb128(2 ** 32 + 5), 0, 6, out)).toBe(true);
    expect(out.low32).toBe(5);
    expect(out.value).toBe(2 ** 32 + 5);
  });

  it('accepts the 10-byte maximum with a final byte of 0 or 1', () => {
    const out = slot();
    const max = bytes('ffffffffffffffffff01');
    expect(readUleb128(max, 0, max.length, out)).toBe(true);
    expect(out.low32).toBe(0xffffffff);
    expect(out.next).toBe(10);
    const zero = bytes('80808080808080808000');
    expect(readUleb128(zero, 0, zero.length, out)).toBe(true);
    expect(out.value).toBe(0);
  });

  it('rejects a 10th byte above 1, an 11-byte encoding and running off the end', () => {
    const out = slot();
    const tooBig = bytes('ffffffffffffffffff02');
    expect(readUleb128(tooBig, 0, tooBig.length, out)).toBe(false);
    const tooLong = bytes('ffffffffffffffffff8100');
    expect(readUleb128(tooLong, 0, tooLong.length, out)).toBe(false);
    const unterminated = bytes('8080');
    expect(readUleb128(unterminated, 0, unterminated.length, out)).toBe(false);
    // The end bound is respected even if the buffer continues.
    const bounded = bytes('808001');
    expect(readUleb128(bounded, 0, 2, out)).toBe(false);
    expect(readUleb128(bounded, 3, 3, out)).toBe(false);
  });

  it('accepts non-minimal encodings as libdave does', () => {
    const out = slot();
    const padded = bytes('8100');
    expect(readUleb128(padded, 0, 2, out)).toBe(true);
    expect(out.value).toBe(1);
  });

  it('round-trips random 32-bit values', () => {
    const out = slot();
    for (let i = 0; i < 1000; i++) {
      const v = Math.floor(Math.random() * 2 ** 32);
      const enc = encodeUleb128(v);
      expect(readUleb128(enc, 0, enc.length, out)).toBe(true);
      expect(out.low32).toBe(v);
      expect(out.next).toBe(enc.length);
    }
  });

  it('refuses to encode negative or unsafe values', () => {
    expect(() => encodeUleb128(-1)).toThrow(RangeError);
    expect(() => encodeUleb128(1.5)).toThrow(RangeError);
  });
});
