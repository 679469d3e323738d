import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { AesGcm } from '../../src/crypto/gcm.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { NIST, nodeSeal } from './gcm-vectors.js';

describe('AesGcm', () => {
  it.each(NIST)('matches the GCM spec vector, $name', ({ k, p, a, iv, c, t }) => {
    const gcm = new AesGcm(hex(k));
    const sealed = gcm.seal(hex(iv), hex(p), hex(a));
    expect(Buffer.from(sealed).toString('hex')).toBe(c + t);
    const opened = gcm.open(hex(iv), hex(c), hex(t), hex(a));
    expect(opened && Buffer.from(opened).toString('hex')).toBe(p);
  });

  it('agrees with node:crypto on random keys, IVs, AAD and lengths (both key sizes)', () => {
    for (let i = 0; i < 400; i++) {
      const key = randomBytes(i % 2 === 0 ? 32 : 16);
      const iv = randomBytes(12);
      const pt = randomBytes((i * 7) % 300);
      const aad = randomBytes(i % 41);
      const gcm = new AesGcm(key);
      const expected = nodeSeal(key, iv, pt, aad);
      expect(Buffer.from(gcm.seal(iv, pt, aad)).equals(expected)).toBe(true);
      const opened = gcm.open(iv, expected.subarray(0, pt.length), expected.subarray(pt.length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  // Each counter-block strategy has its own pass through the core (per block, or one batch).
  it.each([
    { keystream: 'rounds', ghash: 'byte' },
    { keystream: 'native', ghash: 'nibble' },
    { keystream: 'native', ghash: 'byte' },
    { keystream: 'unrolled', ghash: 'nibble' },
    { keystream: 'unrolled', ghash: 'byte' },
    { keystream: 'wasm', ghash: 'byte' },
  ] as const)('agrees with node:crypto with keystream $keystream and a $ghash GHASH table', (options) => {
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(options.keystream === 'unrolled' || i % 2 === 1 ? 16 : 32);
      const iv = randomBytes(12);
      const pt = randomBytes((i * 7) % 300);
      const aad = randomBytes(i % 41);
      const gcm = new AesGcm(key, options);
      const expected = nodeSeal(key, iv, pt, aad);
      expect(Buffer.from(gcm.seal(iv, pt, aad)).equals(expected)).toBe(true);
      const opened = gcm.open(iv, expected.subarray(0, pt.length), expected.subarray(pt.length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  // The native keystream is produced a few messages ahead (consecutive IV word 0): every message
  // must still get exactly AES(IV ‖ n), whether its counter follows, jumps, wraps, grows past the
  // batch's block count, changes the other IV words, or alternates between sealing and opening.
  it('gives each message its own keystream with the native look-ahead, in any counter order', () => {
    const keys = [randomBytes(32), randomBytes(16)];
    const gcms = keys.map((key) => new AesGcm(key, { keystream: 'native', ghash: 'byte' }));
    const sealCounters = [1, 2, 3, 4, 5, 6, 9, 8, 7, 100, 101, 0xfffffffe, 0xffffffff, 0, 1, 2, 2, 50];
    const openCounters = [70_000, 70_001, 70_003, 70_002, 70_004, 5, 70_005];
    const lengths = [0, 1, 15, 16, 120, 176, 177, 300, 120, 60];
    for (let i = 0; i < sealCounters.length * 2; i++) {
      const which = i % 2;
      const key = keys[which]!;
      const gcm = gcms[which]!;
      const ivWords = [sealCounters[Math.floor(i / 2)]!, i === 20 ? 5 : 0, i === 21 ? 9 : 0];
      const iv = Buffer.alloc(12);
      ivWords.forEach((w, k) => iv.writeUInt32BE(w, 4 * k));
      const pt = randomBytes(lengths[i % lengths.length]!);
      const aad = randomBytes(i % 13);
      const expected = nodeSeal(key, iv, pt, aad);
      expect(Buffer.from(gcm.seal(iv, pt, aad)).equals(expected)).toBe(true);
      // Opening the peer's packets, with their own counters, in between.
      const peerIv = Buffer.alloc(12);
      peerIv.writeUInt32BE(openCounters[i % openCounters.length]!, 0);
      const peer = nodeSeal(key, peerIv, pt, aad);
      const opened = gcm.open(peerIv, peer.subarray(0, pt.length), peer.subarray(pt.length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  it('encrypts in place and at offsets, with the tag where asked', () => {
    const key = randomBytes(32);
    const gcm = new AesGcm(key);
    const header = randomBytes(12);
    const payload = randomBytes(100);
    const buf = Buffer.alloc(8 + 12 + 100 + 16);
    header.copy(buf, 8);
    payload.copy(buf, 20);
    // IV words: counter 7 ‖ 0 ‖ 0; AAD and plaintext both inside buf.
    gcm.encrypt(7, 0, 0, buf, 8, 12, buf, 20, 100, buf, 20, 120);
    const iv = hex('000000070000000000000000');
    expect(buf.subarray(20).equals(nodeSeal(key, iv, payload, header))).toBe(true);
    const out = Buffer.alloc(100);
    expect(gcm.decrypt(7, 0, 0, buf, 8, 12, buf, 20, 100, buf, 120, out, 0)).toBe(true);
    expect(out.equals(payload)).toBe(true);
  });

  it('rejects a flipped bit anywhere (AAD, ciphertext, tag) and zeroes the output', () => {
    const key = randomBytes(32);
    const gcm = new AesGcm(key);
    const iv = randomBytes(12);
    const aad = randomBytes(12);
    const pt = randomBytes(50);
    const sealed = Buffer.from(gcm.seal(iv, pt, aad));
    const parts = (): { aad: Buffer; ct: Buffer; tag: Buffer } => ({
      aad: Buffer.from(aad),
      ct: Buffer.from(sealed.subarray(0, 50)),
      tag: Buffer.from(sealed.subarray(50)),
    });
    for (const which of ['aad', 'ct', 'tag'] as const) {
      const p = parts();
      const target = p[which];
      target[3] = (target[3] ?? 0) ^ 0x10;
      expect(gcm.open(iv, p.ct, p.tag, p.aad)).toBeNull();
      const out = Buffer.alloc(50, 0xaa);
      const ok = gcm.decrypt(
        iv.readUInt32BE(0),
        iv.readUInt32BE(4),
        iv.readUInt32BE(8),
        p.aad,
        0,
        12,
        p.ct,
        0,
        50,
        p.tag,
        0,
        out,
        0,
      );
      expect(ok).toBe(false);
      expect(out.every((b) => b === 0)).toBe(true);
    }
  });

  it('refuses keys that are not 16 or 32 bytes and IVs that are not 12', () => {
    expect(() => new AesGcm(new Uint8Array(24))).toThrow(RangeError);
    expect(() => new AesGcm(new Uint8Array(0))).toThrow(RangeError);
    expect(() => new AesGcm(new Uint8Array(32)).seal(new Uint8Array(16), new Uint8Array(1))).toThrow(
      RangeError,
    );
  });
});
