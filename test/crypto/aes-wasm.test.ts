import { describe, it, expect, vi, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AesGcm } from '../../src/crypto/gcm.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { NIST, nodeSeal } from './gcm-vectors.js';
import type { WasmGcm } from '../../src/crypto/aes-wasm.js';

/** The core pass of a 'wasm' AesGcm (a private field). */
function wasmOf(gcm: AesGcm): WasmGcm {
  return (gcm as unknown as { wasm: WasmGcm }).wasm;
}

/** A key's slot: the core's memory and where the slot starts (private fields). */
function slotOf(w: WasmGcm): { c: { u8: Uint8Array }; rkAt: number } {
  return w as unknown as { c: { u8: Uint8Array }; rkAt: number };
}

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

  // The memory win of resident keys and the table-free GHASH: a 'wasm' key keeps no typed array
  // on the JS heap at all (its round keys and H are in its slot of the core's memory), no 4 KiB
  // 'byte' GHASH table (nor a 512-byte 'nibble' one).
  it('keeps no round keys or GHASH table on the JS heap per key', () => {
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
      // The core (its memory, with every key's slot) is one per thread, not per key.
      if ('memory' in v) return;
      for (const k of Reflect.ownKeys(v)) walk((v as Record<PropertyKey, unknown>)[k]);
    };
    walk(gcm);
    expect(seen.size).toBeGreaterThan(1);
    expect(bytes).toBe(0);
    expect(gcm.seal(randomBytes(12), randomBytes(20)).length).toBe(36);
  });

  // Each key's slot holds its round keys and H until the key is released (or collected): many
  // keys created, used interleaved and dropped must each keep their own, and freed slots are
  // zeroed and handed to new keys.
  it('agrees with node:crypto across 3000 keys created, interleaved and released', () => {
    const live: { key: Buffer; gcm: AesGcm }[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = randomBytes(i % 3 === 0 ? 16 : 32);
      live.push({ key, gcm: new AesGcm(key, { keystream: 'wasm' }) });
      // Use a few live keys, old and new, in turn.
      for (const at of [live.length - 1, (i * 7919) % live.length, 0]) {
        const { key: k, gcm } = live[at]!;
        const iv = randomBytes(12);
        const pt = randomBytes((i * 13) % 200);
        const aad = randomBytes(i % 13);
        const sealed = gcm.seal(iv, pt, aad);
        expect(Buffer.from(sealed).equals(nodeSeal(k, iv, pt, aad)), `key ${i}`).toBe(true);
      }
      // Drop keys, explicitly or left to the garbage collector, keeping ~40 alive.
      if (live.length > 40) {
        const [dropped] = live.splice((i * 31) % live.length, 1);
        if (i % 2 === 0) wasmOf(dropped!.gcm).release();
      }
    }
    (globalThis as { gc?: () => void }).gc?.();
    for (const { key, gcm } of live) {
      const iv = randomBytes(12);
      const pt = randomBytes(50);
      expect(Buffer.from(gcm.seal(iv, pt)).equals(nodeSeal(key, iv, pt, Buffer.alloc(0)))).toBe(true);
    }
  });

  it('zeroes a released slot and reuses it for the next key, and refuses a released key', () => {
    const a = wasmOf(new AesGcm(randomBytes(32), { keystream: 'wasm' }));
    const { c, rkAt } = slotOf(a);
    const slot = (): Uint8Array => c.u8.slice(rkAt, rkAt + 384);
    expect(slot().some((b) => b !== 0)).toBe(true);
    a.release();
    expect(slot().every((b) => b === 0)).toBe(true);
    expect(() =>
      a.crypt(0, 0, 0, new Uint8Array(0), 0, 0, new Uint8Array(4), 0, 4, new Uint8Array(4), 0, false),
    ).toThrow(/released/);
    const key = randomBytes(16);
    const gcm = new AesGcm(key, { keystream: 'wasm' });
    expect(slotOf(wasmOf(gcm)).rkAt).toBe(rkAt);
    // A 16-byte key's 44 round keys leave the rest of the round-key area zero, then H follows.
    expect(slot().some((b) => b !== 0)).toBe(true);
    expect(
      slot()
        .subarray(176, 256)
        .every((b) => b === 0),
    ).toBe(true);
    const iv = randomBytes(12);
    const pt = randomBytes(33);
    expect(Buffer.from(gcm.seal(iv, pt)).equals(nodeSeal(key, iv, pt, Buffer.alloc(0)))).toBe(true);
  });

  // A key dropped without release: the FinalizationRegistry frees its slot (zeroed) once it is
  // collected. Run in a child with --expose-gc, where collection can be forced.
  it('frees and zeroes the slots of garbage-collected keys', () => {
    const script = `
      const { AesGcm } = await import('./src/crypto/gcm.ts');
      const keep = new AesGcm(new Uint8Array(32).fill(1), { keystream: 'wasm' });
      const { c } = keep.wasm;
      const slotsInUse = () => c.nextSlot - c.free.length;
      for (let i = 0; i < 500; i++) new AesGcm(new Uint8Array(16).fill(i & 0xff), { keystream: 'wasm' }).seal(new Uint8Array(12), new Uint8Array(20));
      const before = slotsInUse();
      for (let i = 0; i < 20 && slotsInUse() > 1; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      const tail = c.u8.subarray(keep.wasm.rkAt + 384, 8208 + 384 * c.nextSlot);
      console.log(JSON.stringify({ before, after: slotsInUse(), zero: tail.every((b) => b === 0) }));
    `;
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    const { before, after, zero } = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(before).toBeGreaterThan(100);
    expect(after).toBe(1);
    expect(zero).toBe(true);
  });

  // Growth moves the message area up above more slots and grows the memory: the live keys' slots
  // stay where they are and keep their contents.
  it('keeps live keys right while slots and messages grow the memory', () => {
    const keys = Array.from({ length: 200 }, (_, i) => randomBytes(i & 1 ? 32 : 16));
    const gcms: AesGcm[] = [];
    const check = (i: number, length: number): void => {
      const iv = randomBytes(12);
      const pt = randomBytes(length);
      const aad = randomBytes(5);
      const sealed = gcms[i]!.seal(iv, pt, aad);
      expect(Buffer.from(sealed).equals(nodeSeal(keys[i]!, iv, pt, aad)), `key ${i}, ${length} bytes`).toBe(
        true,
      );
      const opened = gcms[i]!.open(iv, sealed.subarray(0, length), sealed.subarray(length), aad);
      expect(opened && Buffer.from(opened).equals(pt)).toBe(true);
    };
    const pages = (): number => slotOf(wasmOf(gcms[0]!)).c.u8.length / 65536;
    for (let i = 0; i < keys.length; i++) {
      gcms.push(new AesGcm(keys[i]!, { keystream: 'wasm' }));
      check(i, 150);
      if (i === 100) check(0, 300_000);
    }
    expect(pages()).toBeGreaterThan(4);
    for (let i = 0; i < keys.length; i++) check(i, (i * 37) % 1500);
    check(199, 400_000);
    for (let i = 0; i < keys.length; i++) check(i, 64);
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

  /** Fresh modules (the core instantiated again, under the stubbed global) seal as node:crypto. */
  async function expectFreshModulesSeal(): Promise<void> {
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
  }

  it('falls back to the TypeScript rounds where WebAssembly is unavailable', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    await expectFreshModulesSeal();
  });

  // The core's AES needs WebAssembly's SIMD: a runtime without it refuses to compile the module.
  it('falls back to the TypeScript rounds where the module does not compile (no SIMD)', async () => {
    let compiles = 0;
    vi.stubGlobal('WebAssembly', {
      Module: function Module(): never {
        compiles++;
        throw new Error('WebAssembly.Module(): Compiling function failed: SIMD unsupported');
      },
    });
    await expectFreshModulesSeal();
    expect(compiles).toBe(1);
  });
});
