import { describe, it, expect } from 'vitest';
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { Aes128Gcm } from '../../src/dave/aes128gcm.js';
import { hex, unhex as bytes } from '../support/bytes.js';

function nodeSeal(
  key: Uint8Array,
  iv: Uint8Array,
  pt: Uint8Array,
  aad: Uint8Array,
): { ct: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-128-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function daveIv(nonce: number): Uint8Array {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, nonce, true);
  return iv;
}

describe('Aes128Gcm', () => {
  it('matches the NIST GCM test case 3 (AES-128, 64-byte plaintext)', () => {
    const g = new Aes128Gcm(bytes('feffe9928665731c6d6a8f9467308308'));
    const pt = bytes(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255',
    );
    const out = g.seal(bytes('cafebabefacedbaddecaf888'), pt);
    expect(hex(out)).toBe(
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985' +
        '4d5c2af327cd64a62cf35abd2ba6fab4',
    );
  });

  it('matches the NIST GCM test case 4 (AAD, partial final block)', () => {
    const g = new Aes128Gcm(bytes('feffe9928665731c6d6a8f9467308308'));
    const pt = bytes(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    );
    const aad = bytes('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const out = g.seal(bytes('cafebabefacedbaddecaf888'), pt, aad);
    expect(hex(out.subarray(pt.length))).toBe('5bc94fbc3221a5db94fae95ae7121a47');
    expect(
      hex(
        g.open(bytes('cafebabefacedbaddecaf888'), out.subarray(0, pt.length), out.subarray(pt.length), aad)!,
      ),
    ).toBe(hex(pt));
  });

  it('matches node:crypto on random keys, IVs, AAD and lengths 0..2000', () => {
    for (let t = 0; t < 300; t++) {
      const key = randomBytes(16);
      const iv = randomBytes(12);
      const len = t < 40 ? t : randomInt(0, 2001);
      const pt = randomBytes(len);
      const aad = t % 4 === 0 ? randomBytes(randomInt(0, 50)) : new Uint8Array(0);
      const ref = nodeSeal(key, iv, pt, aad);
      const g = new Aes128Gcm(key);
      const out = g.seal(iv, pt, aad);
      expect(hex(out)).toBe(hex(Buffer.concat([ref.ct, ref.tag])));
      expect(hex(g.open(iv, ref.ct, ref.tag.subarray(0, 8), aad)!)).toBe(hex(pt));
    }
  });

  it('matches node:crypto when the block counter carries into its upper bytes (past 2^8 and 2^16 blocks)', () => {
    // Counter-mode caching treats the counter word separately from the IV: check carries past
    // 2^8 and 2^16 blocks, with one key reused across messages.
    const key = randomBytes(16);
    const g = new Aes128Gcm(key);
    for (const len of [4_081, 4_096 + 17, 65_536 * 16 + 5]) {
      const iv = randomBytes(12);
      const pt = randomBytes(len);
      const aad = randomBytes(20);
      const ref = nodeSeal(key, iv, pt, aad);
      expect(Buffer.from(g.seal(iv, pt, aad)).equals(Buffer.concat([ref.ct, ref.tag]))).toBe(true);
      expect(Buffer.from(g.open(iv, ref.ct, ref.tag, aad)!).equals(pt)).toBe(true);
    }
  });

  it('sealDave writes ciphertext and the first 8 tag bytes that node:crypto opens', () => {
    for (let t = 0; t < 200; t++) {
      const key = randomBytes(16);
      const nonce = randomInt(0, 2 ** 32);
      const len = randomInt(0, 2001);
      const pt = randomBytes(len);
      const g = new Aes128Gcm(key);
      const out = new Uint8Array(len + 8 + 3);
      g.sealDave(nonce, pt, 0, len, out, 3);
      const d = createDecipheriv('aes-128-gcm', key, daveIv(nonce), { authTagLength: 8 });
      d.setAuthTag(out.subarray(3 + len, 3 + len + 8));
      const back = Buffer.concat([d.update(out.subarray(3, 3 + len)), d.final()]);
      expect(hex(back)).toBe(hex(pt));
    }
  });

  it('openDave decrypts node:crypto output with and without AAD, and rejects any flipped bit', () => {
    for (let t = 0; t < 100; t++) {
      const key = randomBytes(16);
      const nonce = randomInt(0, 2 ** 32);
      const len = randomInt(1, 400);
      const pt = randomBytes(len);
      const aad = t % 2 === 0 ? randomBytes(randomInt(1, 40)) : new Uint8Array(0);
      const ref = nodeSeal(key, daveIv(nonce), pt, aad);
      const g = new Aes128Gcm(key);
      const out = new Uint8Array(len);
      expect(g.openDave(nonce, ref.ct, 0, len, ref.tag, 0, out, 0, aad.length > 0 ? aad : undefined)).toBe(
        true,
      );
      expect(hex(out)).toBe(hex(pt));

      const flipped = Buffer.from(ref.ct);
      flipped[randomInt(0, len)]! ^= 1 << randomInt(0, 8);
      expect(g.openDave(nonce, flipped, 0, len, ref.tag, 0, out, 0, aad.length > 0 ? aad : undefined)).toBe(
        false,
      );
      expect(out.every((b) => b === 0)).toBe(true);
      const badTag = Buffer.from(ref.tag);
      badTag[randomInt(0, 8)]! ^= 0x80;
      expect(g.openDave(nonce, ref.ct, 0, len, badTag, 0, out, 0, aad.length > 0 ? aad : undefined)).toBe(
        false,
      );
      expect(
        g.openDave((nonce + 1) >>> 0, ref.ct, 0, len, ref.tag, 0, out, 0, aad.length > 0 ? aad : undefined),
      ).toBe(false);
    }
  });

  it('works in place (src and dst the same buffer)', () => {
    const key = randomBytes(16);
    const pt = randomBytes(120);
    const buf = new Uint8Array(128);
    buf.set(pt);
    const g = new Aes128Gcm(key);
    g.sealDave(7, buf, 0, 120, buf, 0);
    const ref = nodeSeal(key, daveIv(7), pt, new Uint8Array(0));
    expect(hex(buf)).toBe(hex(Buffer.concat([ref.ct, ref.tag.subarray(0, 8)])));
    expect(g.openDave(7, buf, 0, 120, buf, 120, buf, 0)).toBe(true);
    expect(hex(buf.subarray(0, 120))).toBe(hex(pt));
  });

  it('reproduces the dave.md §9.7 vectors A and B', () => {
    const pt = bytes('0dc5aedd5bdc3f20be5697e54dd1f437');
    const a = new Aes128Gcm(bytes('6599db507039854e382e24de7184bfde')).seal(
      bytes('000000000000000001000000'),
      pt,
    );
    expect(hex(a)).toBe('4bfdd3128761287e4aa2f4d2a8a2624c' + '1a516f9ff265fcc5c6a7ae10118ffe13');
    const b = new Aes128Gcm(bytes('90ef26584887e3b63e0a2953bacf643e')).seal(
      bytes('000000000000000005000001'),
      pt,
    );
    expect(hex(b)).toBe('15ab9925513866da14993a4d570b79c8' + '88ab2b415e88554a33665863b9f28793');
  });

  it('rejects bad key, IV and tag sizes', () => {
    expect(() => new Aes128Gcm(new Uint8Array(32))).toThrow(RangeError);
    const g = new Aes128Gcm(new Uint8Array(16));
    expect(() => g.seal(new Uint8Array(16), new Uint8Array(1))).toThrow(RangeError);
    expect(() => g.open(new Uint8Array(12), new Uint8Array(1), new Uint8Array(4))).toThrow(RangeError);
  });
});
