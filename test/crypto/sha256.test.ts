import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256, sha256 } from '../../src/crypto/sha256.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('sha256 / hmacSha256 (TypeScript)', () => {
  it('matches FIPS 180-4 examples', () => {
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('matches node:crypto at every length around block boundaries and split into parts', () => {
    for (let n = 0; n < 300; n++) {
      const data = randomBytes(n);
      const expected = createHash('sha256').update(data).digest('hex');
      expect(hex(sha256(data))).toBe(expected);
      const cut = n >> 1;
      expect(hex(sha256(data.subarray(0, cut), new Uint8Array(0), data.subarray(cut)))).toBe(expected);
    }
  });

  it('HMAC matches node:crypto for short, block-sized and long keys', () => {
    for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 100, 200]) {
      for (const n of [0, 1, 31, 55, 56, 64, 65, 200]) {
        const key = randomBytes(keyLength);
        const data = randomBytes(n);
        const expected = createHmac('sha256', key).update(data).digest('hex');
        expect(hex(hmacSha256(key, data))).toBe(expected);
        expect(hex(hmacSha256(key, data.subarray(0, 7), data.subarray(7)))).toBe(expected);
      }
    }
  });

  it('returns a plain 32-byte Uint8Array of its own (no shared buffer)', () => {
    const a = sha256(Uint8Array.of(1));
    const b = hmacSha256(Uint8Array.of(1), Uint8Array.of(2));
    expect(Buffer.isBuffer(a)).toBe(false);
    expect(a.buffer.byteLength).toBe(32);
    expect(b.buffer.byteLength).toBe(32);
    expect(a.buffer).not.toBe(b.buffer);
  });
});
