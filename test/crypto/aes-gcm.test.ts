import { describe, it, expect } from 'vitest';
import { createCipheriv, randomBytes } from 'node:crypto';
import { AesGcm } from '../../src/crypto/gcm.js';
import { hexBuffer as hex } from '../support/bytes.js';

// The GCM specification's test cases (McGrew & Viega, as used by NIST CAVP): 1, 2 and 4 for
// AES-128, 13 to 16 for AES-256.
const K_FEFF = 'feffe9928665731c6d6a8f9467308308';
const P_64 =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
  '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const A_20 = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
const IV_CAFE = 'cafebabefacedbaddecaf888';
const ZERO_IV = '000000000000000000000000';

const NIST: Array<{ name: string; k: string; p: string; a: string; iv: string; c: string; t: string }> = [
  {
    name: 'case 1',
    k: '00'.repeat(16),
    p: '',
    a: '',
    iv: ZERO_IV,
    c: '',
    t: '58e2fccefa7e3061367f1d57a4e7455a',
  },
  {
    name: 'case 2',
    k: '00'.repeat(16),
    p: '00'.repeat(16),
    a: '',
    iv: ZERO_IV,
    c: '0388dace60b6a392f328c2b971b2fe78',
    t: 'ab6e47d42cec13bdf53a67b21257bddf',
  },
  {
    name: 'case 4',
    k: K_FEFF,
    p: P_64.slice(0, 120),
    a: A_20,
    iv: IV_CAFE,
    c:
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e' +
      '21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091',
    t: '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    name: 'case 13',
    k: '00'.repeat(32),
    p: '',
    a: '',
    iv: ZERO_IV,
    c: '',
    t: '530f8afbc74536b9a963b4f1c4cb738b',
  },
  {
    name: 'case 14',
    k: '00'.repeat(32),
    p: '00'.repeat(16),
    a: '',
    iv: ZERO_IV,
    c: 'cea7403d4d606b6e074ec5d3baf39d18',
    t: 'd0d1c8a799996bf0265b98b5d48ab919',
  },
  {
    name: 'case 15',
    k: K_FEFF + K_FEFF,
    p: P_64,
    a: '',
    iv: IV_CAFE,
    c:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad',
    t: 'b094dac5d93471bdec1a502270e3cc6c',
  },
  {
    name: 'case 16',
    k: K_FEFF + K_FEFF,
    p: P_64.slice(0, 120),
    a: A_20,
    iv: IV_CAFE,
    c:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    t: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

function nodeSeal(key: Uint8Array, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array): Buffer {
  const c = createCipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

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
