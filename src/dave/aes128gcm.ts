/**
 * AES-128-GCM in plain TypeScript, tuned for DAVE media frames (dave.md §9.2).
 *
 * Why not node:crypto: createCipheriv costs several microseconds per call (an object, a native
 * context and a handful of Buffers per frame), which is more than a whole 120-byte Opus frame
 * costs here. This implementation expands the key and builds the GHASH table once per key (the
 * encryptor and decryptor cache one instance per ratchet generation) and then encrypts or decrypts
 * a frame with no allocation beyond the caller's output buffer.
 *
 * AES: classic 32-bit T-table implementation (FIPS-197), rounds unrolled. GHASH: Shoup's 8-bit
 * table method (NIST SP 800-38D): 256 multiples of H per key (4 KiB), a block multiply is 16
 * lookups with a one-byte shift and a shared reduction table lookup between them.
 * Table lookups are not constant-time against a local cache-timing observer; the keys are
 * short-lived per-sender media keys and the attacker model for frames is a remote peer.
 */

import {
  GHASH_R,
  S0,
  S1,
  S2,
  S3,
  SBOX,
  TE0,
  TE1,
  TE2,
  TE3,
  readBe32,
  writeBe32,
  xtime,
} from '../util/aes-tables.js';
import { inspectCustom, publicView } from '../util/redact.js';
import type { InspectOptionsStylized, inspect } from 'node:util';

export const AES128_GCM_KEY_BYTES = 16;
export const AES128_GCM_IV_BYTES = 12;

/**
 * One AES-128-GCM key, with its schedule and GHASH table precomputed. Methods never allocate
 * except the convenience `seal` / `open`.
 */
export class Aes128Gcm {
  /** util.inspect: never the round keys (the first one is the key itself) or the GHASH table. */
  [inspectCustom](depth: number, options: InspectOptionsStylized, inspectFn: typeof inspect): string {
    return publicView('Aes128Gcm', {}, depth, options, inspectFn);
  }

  private readonly rk = new Int32Array(44);
  /**
   * GHASH table: entry b = (byte b at position 0, zeros elsewhere)·H, 4 words each: 4 KiB per key.
   * A 16-position table (64 KiB) saves the per-byte reduction but costs 16 times the memory for
   * every sender key a connection holds, and no longer fits in L1 cache next to other keys.
   */
  private readonly t = new Int32Array(256 * 4);
  /** Scratch block for partial blocks (keystream, then padded ciphertext). */
  private readonly pad = new Uint8Array(16);
  // AES block output
  private o0 = 0;
  private o1 = 0;
  private o2 = 0;
  private o3 = 0;
  // Counter-mode round-1 terms of the current message's IV (see ctrRound1)
  private c0 = 0;
  private c1 = 0;
  private c2 = 0;
  private c3 = 0;
  // Round-2 terms for counters whose upper 24 bits are cachedHigh (-1: none yet)
  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private cachedHigh = -1;
  // GHASH accumulator
  private g0 = 0;
  private g1 = 0;
  private g2 = 0;
  private g3 = 0;
  /** Sink for touchTable's loads. */
  private touched = 0;

  constructor(key: Uint8Array) {
    if (key.length !== AES128_GCM_KEY_BYTES) throw new RangeError('AES-128 key must be 16 bytes');
    this.expandKey(key);
    this.ctrRound1(0, 0, 0);
    this.ctrBlock(0); // H = AES_K(0^128)
    this.buildGhashTable(this.o0, this.o1, this.o2, this.o3);
    this.o0 = this.o1 = this.o2 = this.o3 = 0;
    this.c0 = this.c1 = this.c2 = this.c3 = 0;
    this.d0 = this.d1 = this.d2 = this.d3 = 0;
  }

  /**
   * DAVE encrypt: IV = 00×8 ‖ LE32(nonce), no AAD. Reads `length` bytes at `src[srcOffset]`,
   * writes the ciphertext at `dst[dstOffset]` followed by the first 8 bytes of the tag.
   * `src` and `dst` may be the same buffer at the same offset.
   */
  sealDave(
    nonce: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
  ): void {
    this.crypt(0, 0, bswap32(nonce), src, 0, 0, src, srcOffset, length, dst, dstOffset, false);
    writeBe32(dst, dstOffset + length, this.g0);
    writeBe32(dst, dstOffset + length + 4, this.g1);
  }

  /**
   * DAVE decrypt with an 8-byte tag at `tag[tagOffset]` and optional AAD. Writes the plaintext at
   * `dst[dstOffset]` even when authentication fails (then it is zeroed and false is returned).
   */
  openDave(
    nonce: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tag: Uint8Array,
    tagOffset: number,
    dst: Uint8Array,
    dstOffset: number,
    aad?: Uint8Array,
  ): boolean {
    const aadLength = aad === undefined ? 0 : aad.length;
    this.crypt(0, 0, bswap32(nonce), aad ?? src, 0, aadLength, src, srcOffset, length, dst, dstOffset, true);
    const diff = (this.g0 ^ readBe32(tag, tagOffset)) | (this.g1 ^ readBe32(tag, tagOffset + 4));
    if (diff !== 0) {
      dst.fill(0, dstOffset, dstOffset + length);
      return false;
    }
    return true;
  }

  /** General GCM encryption with a 12-byte IV: returns ciphertext ‖ 16-byte tag. */
  seal(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (iv.length !== AES128_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    const out = new Uint8Array(plaintext.length + 16);
    this.crypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      plaintext,
      0,
      plaintext.length,
      out,
      0,
      false,
    );
    const n = plaintext.length;
    writeBe32(out, n, this.g0);
    writeBe32(out, n + 4, this.g1);
    writeBe32(out, n + 8, this.g2);
    writeBe32(out, n + 12, this.g3);
    return out;
  }

  /**
   * General GCM decryption; `tag` may be truncated (8 to 16 bytes, compared on its length).
   * Returns the plaintext, or null if authentication fails.
   */
  open(
    iv: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Uint8Array | null {
    if (iv.length !== AES128_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    if (tag.length < 8 || tag.length > 16) throw new RangeError('GCM tag must be 8 to 16 bytes');
    const out = new Uint8Array(ciphertext.length);
    this.crypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      ciphertext,
      0,
      ciphertext.length,
      out,
      0,
      true,
    );
    const full = new Uint8Array(16);
    writeBe32(full, 0, this.g0);
    writeBe32(full, 4, this.g1);
    writeBe32(full, 8, this.g2);
    writeBe32(full, 12, this.g3);
    let diff = 0;
    for (let i = 0; i < tag.length; i++) diff |= full[i]! ^ tag[i]!;
    return diff === 0 ? out : null;
  }

  /**
   * CTR-encrypts/decrypts and computes the full tag into g0..g3. GHASH runs over the ciphertext:
   * the input when decrypting, the output when encrypting.
   */
  private crypt(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
    decrypt: boolean,
  ): void {
    this.g0 = this.g1 = this.g2 = this.g3 = 0;
    this.touchTable();
    this.ghashBytes(aad, aadOffset, aadLength);

    this.ctrRound1(iv0, iv1, iv2);
    let counter = 2;
    let pos = 0;
    const fullEnd = length & ~15;
    for (; pos < fullEnd; pos += 16) {
      this.ctrBlock(counter);
      counter = (counter + 1) | 0;
      const s = srcOffset + pos;
      const d = dstOffset + pos;
      const i0 = readBe32(src, s);
      const i1 = readBe32(src, s + 4);
      const i2 = readBe32(src, s + 8);
      const i3 = readBe32(src, s + 12);
      const c0 = i0 ^ this.o0;
      const c1 = i1 ^ this.o1;
      const c2 = i2 ^ this.o2;
      const c3 = i3 ^ this.o3;
      writeBe32(dst, d, c0);
      writeBe32(dst, d + 4, c1);
      writeBe32(dst, d + 8, c2);
      writeBe32(dst, d + 12, c3);
      if (decrypt) this.ghashBlock(i0, i1, i2, i3);
      else this.ghashBlock(c0, c1, c2, c3);
    }
    const rest = length - fullEnd;
    if (rest > 0) {
      this.ctrBlock(counter);
      const pad = this.pad;
      writeBe32(pad, 0, this.o0);
      writeBe32(pad, 4, this.o1);
      writeBe32(pad, 8, this.o2);
      writeBe32(pad, 12, this.o3);
      // pad turns from keystream into the zero-padded ciphertext block GHASH needs.
      for (let k = 0; k < rest; k++) {
        const inByte = src[srcOffset + pos + k]!;
        const outByte = inByte ^ pad[k]!;
        dst[dstOffset + pos + k] = outByte;
        pad[k] = decrypt ? inByte : outByte;
      }
      pad.fill(0, rest);
      this.ghashBlock(readBe32(pad, 0), readBe32(pad, 4), readBe32(pad, 8), readBe32(pad, 12));
      pad.fill(0);
    }

    // Length block: 64-bit bit counts of AAD and ciphertext (frames are far below 2^29 bytes).
    this.ghashBlock(
      Math.floor(aadLength / 0x20000000),
      (aadLength * 8) | 0,
      Math.floor(length / 0x20000000),
      (length * 8) | 0,
    );

    this.ctrBlock(1);
    this.g0 ^= this.o0;
    this.g1 ^= this.o1;
    this.g2 ^= this.o2;
    this.g3 ^= this.o3;
  }

  /**
   * Loads one word of each of the GHASH table's 64 cache lines up front: the loads are independent,
   * so after another key has evicted the table they miss in parallel instead of one by one inside
   * the block multiplies. The result is kept so the loads are not dead code.
   */
  private touchTable(): void {
    const t = this.t;
    let x = 0;
    for (let i = 0; i < 1024; i += 16) x ^= t[i]!;
    this.touched = x;
  }

  private ghashBytes(buf: Uint8Array, offset: number, length: number): void {
    let pos = 0;
    for (; pos + 16 <= length; pos += 16) {
      const o = offset + pos;
      this.ghashBlock(readBe32(buf, o), readBe32(buf, o + 4), readBe32(buf, o + 8), readBe32(buf, o + 12));
    }
    if (pos < length) {
      const pad = this.pad;
      pad.fill(0);
      for (let k = 0; pos + k < length; k++) pad[k] = buf[offset + pos + k]!;
      this.ghashBlock(readBe32(pad, 0), readBe32(pad, 4), readBe32(pad, 8), readBe32(pad, 12));
      pad.fill(0);
    }
  }

  /**
   * g = (g ⊕ x)·H by Horner over the bytes, last to first: z = z·x^8 ⊕ T[byte], where z·x^8 is a
   * one-byte right shift whose dropped byte is reduced through the shared GHASH_R table (unrolled).
   */
  private ghashBlock(x0: number, x1: number, x2: number, x3: number): void {
    const t = this.t;
    const R = GHASH_R;
    x0 ^= this.g0;
    x1 ^= this.g1;
    x2 ^= this.g2;
    x3 ^= this.g3;
    let i = (x3 & 0xff) << 2;
    let z0 = t[i]!;
    let z1 = t[i + 1]!;
    let z2 = t[i + 2]!;
    let z3 = t[i + 3]!;
    let r = 0;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x3 >>> 8) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x3 >>> 16) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x3 >>> 24) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x2 & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x2 >>> 8) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x2 >>> 16) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x2 >>> 24) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x1 & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x1 >>> 8) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x1 >>> 16) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x1 >>> 24) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x0 & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x0 >>> 8) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = ((x0 >>> 16) & 0xff) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    r = R[z3 & 0xff]!;
    z3 = (z3 >>> 8) | (z2 << 24);
    z2 = (z2 >>> 8) | (z1 << 24);
    z1 = (z1 >>> 8) | (z0 << 24);
    i = (x0 >>> 24) << 2;
    z0 = (z0 >>> 8) ^ r ^ t[i]!;
    z1 ^= t[i + 1]!;
    z2 ^= t[i + 2]!;
    z3 ^= t[i + 3]!;
    this.g0 = z0;
    this.g1 = z1;
    this.g2 = z2;
    this.g3 = z3;
  }

  /** T[b] = b·H for a byte b in position 0 (its top bit is the x^0 coefficient). */
  private buildGhashTable(h0: number, h1: number, h2: number, h3: number): void {
    const t = this.t;
    // Entry 0x80 = H; each lower bit is one more ·x; other bytes by linearity.
    let v0 = h0;
    let v1 = h1;
    let v2 = h2;
    let v3 = h3;
    for (let bit = 0x80; bit >= 1; bit >>= 1) {
      const i = bit << 2;
      t[i] = v0;
      t[i + 1] = v1;
      t[i + 2] = v2;
      t[i + 3] = v3;
      const lsb = v3 & 1;
      v3 = (v3 >>> 1) | (v2 << 31);
      v2 = (v2 >>> 1) | (v1 << 31);
      v1 = (v1 >>> 1) | (v0 << 31);
      v0 = (v0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
    }
    for (let high = 2; high < 256; high <<= 1) {
      for (let low = 1; low < high; low++) {
        const a = high << 2;
        const b = low << 2;
        const c = (high | low) << 2;
        t[c] = t[a]! ^ t[b]!;
        t[c + 1] = t[a + 1]! ^ t[b + 1]!;
        t[c + 2] = t[a + 2]! ^ t[b + 2]!;
        t[c + 3] = t[a + 3]! ^ t[b + 3]!;
      }
    }
  }

  private expandKey(key: Uint8Array): void {
    const rk = this.rk;
    for (let i = 0; i < 4; i++) rk[i] = readBe32(key, 4 * i);
    let rcon = 1;
    for (let i = 4; i < 44; i++) {
      let t = rk[i - 1]!;
      if ((i & 3) === 0) {
        t =
          ((SBOX[(t >>> 16) & 0xff]! << 24) |
            (SBOX[(t >>> 8) & 0xff]! << 16) |
            (SBOX[t & 0xff]! << 8) |
            SBOX[t >>> 24]!) ^
          (rcon << 24);
        rcon = xtime(rcon);
      }
      rk[i] = rk[i - 4]! ^ t;
    }
  }

  /**
   * Counter-mode caching (Bernstein–Schwabe): the first three IV words are fixed for a message, so
   * round 1's twelve table terms that depend only on them are computed once per message (c0..c3,
   * with rk[4..7]). While the counter's upper 24 bits stay the same (256 blocks, so every Opus
   * frame), only round-1 word u0 changes between blocks, which leaves twelve of round 2's terms
   * constant too (d0..d3, with rk[8..11]); they are recomputed when the upper bits change.
   */
  private ctrRound1(iv0: number, iv1: number, iv2: number): void {
    const rk = this.rk;
    const s0 = iv0 ^ rk[0]!;
    const s1 = iv1 ^ rk[1]!;
    const s2 = iv2 ^ rk[2]!;
    this.c0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ rk[4]!;
    this.c1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[5]!;
    this.c2 = TE0[s2 >>> 24]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[6]!;
    this.c3 = TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[7]!;
    this.cachedHigh = -1;
  }

  /** Round-2 terms that do not depend on the counter's low byte, for counter >>> 8 = high. */
  private ctrRound2(x: number, high: number): void {
    const rk = this.rk;
    const u1 = this.c1 ^ TE2[(x >>> 8) & 0xff]!;
    const u2 = this.c2 ^ TE1[(x >>> 16) & 0xff]!;
    const u3 = this.c3 ^ TE0[x >>> 24]!;
    this.d0 = TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[8]!;
    this.d1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ rk[9]!;
    this.d2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[10]!;
    this.d3 = TE0[u3 >>> 24]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[11]!;
    this.cachedHigh = high;
  }

  /** Encrypts the block IV ‖ counter after ctrRound1(IV) into o0..o3 (rounds inlined: hot path). */
  private ctrBlock(counter: number): void {
    const rk = this.rk;
    const x = counter ^ rk[3]!;
    const high = counter >>> 8;
    if (high !== this.cachedHigh) this.ctrRound2(x, high);
    const w = this.c0 ^ TE3[x & 0xff]!;
    let s0 = this.d0 ^ TE0[w >>> 24]!;
    let s1 = this.d1 ^ TE3[w & 0xff]!;
    let s2 = this.d2 ^ TE2[(w >>> 8) & 0xff]!;
    let s3 = this.d3 ^ TE1[(w >>> 16) & 0xff]!;
    let u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[12]!;
    let u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[13]!;
    let u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[14]!;
    let u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[15]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[16]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[17]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[18]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[19]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[20]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[21]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[22]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[23]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[24]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[25]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[26]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[27]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[28]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[29]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[30]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[31]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[32]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[33]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[34]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[35]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[36]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[37]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[38]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[39]!;
    // After 9 rounds (odd count) the state is in u0..u3.
    this.o0 = S0[u0 >>> 24]! ^ S1[(u1 >>> 16) & 0xff]! ^ S2[(u2 >>> 8) & 0xff]! ^ S3[u3 & 0xff]! ^ rk[40]!;
    this.o1 = S0[u1 >>> 24]! ^ S1[(u2 >>> 16) & 0xff]! ^ S2[(u3 >>> 8) & 0xff]! ^ S3[u0 & 0xff]! ^ rk[41]!;
    this.o2 = S0[u2 >>> 24]! ^ S1[(u3 >>> 16) & 0xff]! ^ S2[(u0 >>> 8) & 0xff]! ^ S3[u1 & 0xff]! ^ rk[42]!;
    this.o3 = S0[u3 >>> 24]! ^ S1[(u0 >>> 16) & 0xff]! ^ S2[(u1 >>> 8) & 0xff]! ^ S3[u2 & 0xff]! ^ rk[43]!;
  }
}

/** LE32(nonce) placed in IV bytes 8..11, read back as a big-endian word. */
function bswap32(n: number): number {
  return ((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | ((n >>> 24) & 0xff);
}
