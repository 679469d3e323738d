import { describe, it, expect, vi, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AesGcm } from '../../src/crypto/gcm.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { NIST, nodeSeal } from './gcm-vectors.js';

describe("AesGcm with keystream 'wasm' (src/crypto/aes-wasm.ts)", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('has the module that scripts/build-aes-wasm.ts assembles committed', () => {
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-aes-wasm.ts', '--check'], {
      stdio: 'pipe',
    });
  });

  it.each(NIST)('matches the GCM spec vector, $name', ({ k, p, a, iv, c, t }) => {
    const gcm = new AesGcm(hex(k), { keystream: 'wasm' });
    expect(Buffer.from(gcm.seal(hex(iv), hex(p), hex(a))).toString('hex')).toBe(c + t);
    const opened = gcm.open(hex(iv), hex(c), hex(t), hex(a));
    expect(opened && Buffer.from(opened).toString('hex')).toBe(p);
  });

  // The core holds one key's round keys and GHASH table at a time: messages of many keys,
  // interleaved, must each use their own (both key sizes, every tail length, with and without AAD).
  it('agrees with node:crypto when messages of several keys alternate', () => {
    const keys = [randomBytes(16), randomBytes(32), randomBytes(16), randomBytes(32)];
    const gcms = keys.map((key) => new AesGcm(key, { keystream: 'wasm' }));
    for (let i = 0; i < 300; i++) {
      const k = (i * 7) % keys.length;
      const iv = randomBytes(12);
      const pt = randomBytes((i * 13) % 330);
      const aad = randomBytes(i % 3 === 0 ? 0 : (i * 5) % 45);
      const expected = nodeSeal(keys[k]!, iv, pt, aad);
      expect(Buffer.from(gcms[k]!.seal(iv, pt, aad)).equals(expected)).toBe(true);
      const j = (k + 1) % keys.length;
      const other = nodeSeal(keys[j]!, iv, pt, aad);
      const opened = gcms[j]!.open(iv, other.subarray(0, pt.length), other.subarray(pt.length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  // The core's GHASH (table-free, integer multiplies) against node:crypto at every payload length
  // up to a datagram's, with AAD of 0 to 64 bytes (whole blocks and tails), both key sizes.
  it('agrees with node:crypto at every length 0..1500 with varied AAD lengths', () => {
    const keys = [randomBytes(16), randomBytes(32)];
    const gcms = keys.map((key) => new AesGcm(key, { keystream: 'wasm' }));
    const data = randomBytes(1500);
    const aadBytes = randomBytes(64);
    for (let length = 0; length <= 1500; length++) {
      const k = length & 1;
      const iv = randomBytes(12);
      const pt = data.subarray(0, length);
      const aad = aadBytes.subarray(0, (length * 7) % 65);
      const expected = nodeSeal(keys[k]!, iv, pt, aad);
      const sealed = gcms[k]!.seal(iv, pt, aad);
      expect(Buffer.from(sealed).equals(expected), `length ${length}, aad ${aad.length}`).toBe(true);
      const opened = gcms[k]!.open(iv, expected.subarray(0, length), expected.subarray(length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  // All-ones and all-zero blocks: the operands whose multiplies carry the most (and the least).
  it('agrees with node:crypto on all-ones and all-zero data', () => {
    for (let i = 0; i < 20; i++) {
      const key = randomBytes(i & 1 ? 32 : 16);
      const gcm = new AesGcm(key, { keystream: 'wasm' });
      const iv = randomBytes(12);
      for (const fill of [0xff, 0x00]) {
        const pt = Buffer.alloc(16 * (1 + (i % 5)) + (i % 16), fill);
        const aad = Buffer.alloc(i % 33, fill ^ 0xff);
        expect(Buffer.from(gcm.seal(iv, pt, aad)).equals(nodeSeal(key, iv, pt, aad))).toBe(true);
      }
    }
  });

  // The memory win of the table-free GHASH: a 'wasm' key keeps its round keys and H (a few
  // hundred bytes), no 4 KiB 'byte' table (nor a 512-byte 'nibble' one).
  it('keeps no GHASH table per key', () => {
    const gcm = new AesGcm(randomBytes(32), { keystream: 'wasm' });
    let bytes = 0;
    const seen = new Set<object>();
    const walk = (v: unknown): void => {
      if (v === null || typeof v !== 'object' || seen.has(v)) return;
      seen.add(v);
      if (ArrayBuffer.isView(v)) {
        bytes += v.byteLength;
        return;
      }
      // The core (its memory, and the key last copied in) is one per thread, not per key.
      if ('memory' in v) return;
      for (const k of Reflect.ownKeys(v)) walk((v as Record<PropertyKey, unknown>)[k]);
    };
    walk(gcm);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(60 * 4 + 128);
  });

  it('encrypts in place at an offset, and rejects a tampered tag with zeroed output', () => {
    const key = randomBytes(32);
    const gcm = new AesGcm(key, { keystream: 'wasm' });
    const iv = randomBytes(12);
    const [iv0, iv1, iv2] = [iv.readInt32BE(0), iv.readInt32BE(4), iv.readInt32BE(8)];
    const aad = randomBytes(12);
    const pt = randomBytes(172);
    const buf = Buffer.alloc(5 + 172 + 16);
    pt.copy(buf, 5);
    gcm.encrypt(iv0, iv1, iv2, aad, 0, 12, buf, 5, 172, buf, 5, 177);
    expect(buf.subarray(5).equals(nodeSeal(key, iv, pt, aad))).toBe(true);
    buf[180]! ^= 1;
    const out = Buffer.alloc(172, 0xaa);
    expect(gcm.decrypt(iv0, iv1, iv2, aad, 0, 12, buf, 5, 172, buf, 177, out, 0)).toBe(false);
    expect(out.equals(Buffer.alloc(172))).toBe(true);
  });

  it('grows its memory for a message larger than its page, then still serves small ones', () => {
    const key = randomBytes(16);
    const gcm = new AesGcm(key, { keystream: 'wasm' });
    for (const length of [100_000, 120, 200_001, 15]) {
      const iv = randomBytes(12);
      const pt = randomBytes(length);
      const aad = randomBytes(7);
      const sealed = gcm.seal(iv, pt, aad);
      expect(Buffer.from(sealed).equals(nodeSeal(key, iv, pt, aad))).toBe(true);
      const opened = gcm.open(iv, sealed.subarray(0, length), sealed.subarray(length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    }
  });

  it('falls back to the TypeScript rounds where WebAssembly is unavailable', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    vi.resetModules();
    const { AesGcm: FreshAesGcm } = await import('../../src/crypto/gcm.js');
    for (const bytes of [16, 32]) {
      const key = randomBytes(bytes);
      const iv = randomBytes(12);
      const pt = randomBytes(77);
      const aad = randomBytes(3);
      const gcm = new FreshAesGcm(key, { keystream: 'wasm' });
      expect(Buffer.from(gcm.seal(iv, pt, aad)).equals(nodeSeal(key, iv, pt, aad))).toBe(true);
    }
  });
});
