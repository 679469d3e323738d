/**
 * AES-GCM (128- or 256-bit keys) in plain TypeScript, for the transport cipher's small packets.
 *
 * Why not node:crypto: createCipheriv builds an object, a native context and several Buffers per
 * call, which costs more than encrypting a whole 120-byte Opus packet here. This class expands the
 * key and builds the GHASH table once per key and then seals or opens a packet with no allocation
 * beyond the caller's output buffer.
 *
 * AES: 32-bit T-tables (FIPS-197), shared by every key. GHASH (NIST SP 800-38D): Shoup's 8-bit
 * method, one 256-entry table of byte multiples of H per key (4 KiB, so a thousand connections
 * cost 4 MiB, not the 64 MiB of per-position tables) and a shared reduction table; a block
 * multiply is 16 lookups and 15 byte shifts. Table lookups are not constant-time against a local
 * cache-timing observer; transport keys live for one voice session and the attacker model is a
 * remote network peer, as with the DAVE frame cipher (src/dave/aes128gcm.ts).
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

export const AES_GCM_IV_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;

/**
 * GHASH under one hash key H (NIST SP 800-38D §6.4), Shoup's 8-bit table: 4 KiB per key. The
 * running value is in g0..g3 (big-endian words); feed AAD with `bytes`, then ciphertext (with
 * `block` for whole blocks or `bytes`), then `lengths`.
 */
export class Ghash {
  /**
   * Two 16-entry tables (512 bytes per key, eight cache lines, so a thousand keys stay cache
   * friendly): m[4n..] = (high nibble n of byte 0) · H, m[64 + 4n..] = (low nibble n) · H. A byte
   * b multiplies as m[b >> 4] ⊕ m[16 + (b & 15)].
   */
  private readonly m = new Int32Array(32 * 4);
  private readonly pad = new Uint8Array(16);
  g0 = 0;
  g1 = 0;
  g2 = 0;
  g3 = 0;

  /** H as four big-endian words (H = AES_K(0^128)). */
  constructor(h0: number, h1: number, h2: number, h3: number) {
    // basis[k] = (bit 0x80 >> k of byte 0) · H = H · x^k
    const basis = new Int32Array(8 * 4);
    let v0 = h0;
    let v1 = h1;
    let v2 = h2;
    let v3 = h3;
    for (let k = 0; k < 8; k++) {
      basis[4 * k] = v0;
      basis[4 * k + 1] = v1;
      basis[4 * k + 2] = v2;
      basis[4 * k + 3] = v3;
      const lsb = v3 & 1;
      v3 = (v3 >>> 1) | (v2 << 31);
      v2 = (v2 >>> 1) | (v1 << 31);
      v1 = (v1 >>> 1) | (v0 << 31);
      v0 = (v0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
    }
    const m = this.m;
    for (let n = 0; n < 16; n++) {
      for (let b = 0; b < 4; b++) {
        if ((n & (8 >> b)) === 0) continue;
        // Bit (8 >> b) of a nibble: bit (0x80 >> b) of the high nibble, (0x08 >> b) of the low one.
        for (let w = 0; w < 4; w++) {
          m[4 * n + w]! ^= basis[4 * b + w]!;
          m[64 + 4 * n + w]! ^= basis[4 * (b + 4) + w]!;
        }
      }
    }
  }

  reset(): void {
    this.g0 = this.g1 = this.g2 = this.g3 = 0;
  }

  /** Absorbs `length` bytes, the last partial block zero-padded (AAD, or a whole ciphertext). */
  bytes(buf: Uint8Array, offset: number, length: number): void {
    let pos = 0;
    for (; pos + 16 <= length; pos += 16) {
      const o = offset + pos;
      this.block(readBe32(buf, o), readBe32(buf, o + 4), readBe32(buf, o + 8), readBe32(buf, o + 12));
    }
    if (pos < length) {
      const pad = this.pad;
      pad.fill(0);
      for (let k = 0; pos + k < length; k++) pad[k] = buf[offset + pos + k]!;
      this.block(readBe32(pad, 0), readBe32(pad, 4), readBe32(pad, 8), readBe32(pad, 12));
      pad.fill(0);
    }
  }

  /** The final length block: 64-bit bit counts of AAD and ciphertext. */
  lengths(aadLength: number, length: number): void {
    this.block(
      Math.floor(aadLength / 0x20000000),
      (aadLength * 8) | 0,
      Math.floor(length / 0x20000000),
      (length * 8) | 0,
    );
  }

  /**
   * g = (g ⊕ x)·H by Horner's rule over the 16 bytes, last byte first: z = z·x^8 ⊕ M(byte).
   * z·x^8 shifts the 128-bit value right by one byte and folds the dropped byte back in via R.
   */
  block(x0: number, x1: number, x2: number, x3: number): void {
    const m = this.m;
    const r = GHASH_R;
    x0 ^= this.g0;
    x1 ^= this.g1;
    x2 ^= this.g2;
    x3 ^= this.g3;
    let i = ((x3 >>> 4) & 0xf) << 2;
    let j = 64 | ((x3 & 0xf) << 2);
    let z0 = m[i]! ^ m[j]!;
    let z1 = m[i + 1]! ^ m[j + 1]!;
    let z2 = m[i + 2]! ^ m[j + 2]!;
    let z3 = m[i + 3]! ^ m[j + 3]!;
    let d = 0;
    let x = x3;
    // Bytes 14..0: three more of word 3, then words 2, 1, 0 from their low byte up.
    for (let k = 1; k < 16; k++) {
      if ((k & 3) === 0) x = k === 4 ? x2 : k === 8 ? x1 : x0;
      else x >>>= 8;
      d = z3 & 0xff;
      z3 = (z3 >>> 8) | (z2 << 24);
      z2 = (z2 >>> 8) | (z1 << 24);
      z1 = (z1 >>> 8) | (z0 << 24);
      i = ((x >>> 4) & 0xf) << 2;
      j = 64 | ((x & 0xf) << 2);
      z0 = (z0 >>> 8) ^ r[d]! ^ m[i]! ^ m[j]!;
      z1 ^= m[i + 1]! ^ m[j + 1]!;
      z2 ^= m[i + 2]! ^ m[j + 2]!;
      z3 ^= m[i + 3]! ^ m[j + 3]!;
    }
    this.g0 = z0;
    this.g1 = z1;
    this.g2 = z2;
    this.g3 = z3;
  }
}

/** AES block encryption (FIPS-197) for a 16- or 32-byte key, one block at a time into o0..o3. */
export class AesBlock {
  readonly rounds: number;
  private readonly rk: Int32Array;
  o0 = 0;
  o1 = 0;
  o2 = 0;
  o3 = 0;

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) {
      throw new RangeError('AES key must be 16 or 32 bytes');
    }
    this.rounds = key.length === 16 ? 10 : 14;
    this.rk = new Int32Array(4 * (this.rounds + 1));
    const rk = this.rk;
    const nk = key.length / 4;
    for (let i = 0; i < nk; i++) rk[i] = readBe32(key, 4 * i);
    let rcon = 1;
    for (let i = nk; i < rk.length; i++) {
      let t = rk[i - 1]!;
      if (i % nk === 0) {
        // SubWord(RotWord(t)) ⊕ Rcon
        t =
          ((SBOX[(t >>> 16) & 0xff]! << 24) |
            (SBOX[(t >>> 8) & 0xff]! << 16) |
            (SBOX[t & 0xff]! << 8) |
            SBOX[t >>> 24]!) ^
          (rcon << 24);
        rcon = xtime(rcon);
      } else if (nk === 8 && i % nk === 4) {
        t =
          (SBOX[t >>> 24]! << 24) |
          (SBOX[(t >>> 16) & 0xff]! << 16) |
          (SBOX[(t >>> 8) & 0xff]! << 8) |
          SBOX[t & 0xff]!;
      }
      rk[i] = rk[i - nk]! ^ t;
    }
  }

  /** Encrypts one block (big-endian words) into o0..o3; two rounds per loop turn. */
  encrypt(i0: number, i1: number, i2: number, i3: number): void {
    const rk = this.rk;
    let s0 = i0 ^ rk[0]!;
    let s1 = i1 ^ rk[1]!;
    let s2 = i2 ^ rk[2]!;
    let s3 = i3 ^ rk[3]!;
    let u0 = 0;
    let u1 = 0;
    let u2 = 0;
    let u3 = 0;
    // rounds - 1 full rounds (9 or 13: an odd count), in pairs, then one more full round.
    const last = 4 * (this.rounds - 1);
    let k = 4;
    for (; k < last; k += 8) {
      u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[k]!;
      u1 =
        TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[k + 1]!;
      u2 =
        TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[k + 2]!;
      u3 =
        TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[k + 3]!;
      s0 =
        TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[k + 4]!;
      s1 =
        TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[k + 5]!;
      s2 =
        TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[k + 6]!;
      s3 =
        TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[k + 7]!;
    }
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[k]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[k + 1]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[k + 2]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[k + 3]!;
    k += 4;
    this.o0 = S0[u0 >>> 24]! ^ S1[(u1 >>> 16) & 0xff]! ^ S2[(u2 >>> 8) & 0xff]! ^ S3[u3 & 0xff]! ^ rk[k]!;
    this.o1 = S0[u1 >>> 24]! ^ S1[(u2 >>> 16) & 0xff]! ^ S2[(u3 >>> 8) & 0xff]! ^ S3[u0 & 0xff]! ^ rk[k + 1]!;
    this.o2 = S0[u2 >>> 24]! ^ S1[(u3 >>> 16) & 0xff]! ^ S2[(u0 >>> 8) & 0xff]! ^ S3[u1 & 0xff]! ^ rk[k + 2]!;
    this.o3 = S0[u3 >>> 24]! ^ S1[(u0 >>> 16) & 0xff]! ^ S2[(u1 >>> 8) & 0xff]! ^ S3[u2 & 0xff]! ^ rk[k + 3]!;
  }
}

/** One AES-GCM key (16 or 32 bytes), all in TypeScript: AES schedule and GHASH table precomputed. */
export class AesGcm {
  readonly keyBytes: 16 | 32;
  private readonly aes: AesBlock;
  private readonly ghash: Ghash;
  private readonly pad = new Uint8Array(16);

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) {
      throw new RangeError('AES-GCM key must be 16 or 32 bytes');
    }
    this.keyBytes = key.length;
    this.aes = new AesBlock(key);
    this.aes.encrypt(0, 0, 0, 0);
    this.ghash = new Ghash(this.aes.o0, this.aes.o1, this.aes.o2, this.aes.o3);
  }

  /**
   * Encrypts `length` bytes at `src[srcOffset]` into `dst[dstOffset]` (same buffer and offset
   * allowed) with IV = iv0 ‖ iv1 ‖ iv2 (big-endian words) and AAD = `aad[aadOffset, +aadLength)`;
   * writes the 16-byte tag at `dst[tagOffset]`.
   */
  encrypt(
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
    tagOffset: number,
  ): void {
    this.crypt(iv0, iv1, iv2, aad, aadOffset, aadLength, src, srcOffset, length, dst, dstOffset, false);
    const g = this.ghash;
    writeBe32(dst, tagOffset, g.g0);
    writeBe32(dst, tagOffset + 4, g.g1);
    writeBe32(dst, tagOffset + 8, g.g2);
    writeBe32(dst, tagOffset + 12, g.g3);
  }

  /**
   * Decrypts like encrypt() and checks the 16-byte tag at `tag[tagOffset]`. On failure the output
   * range is zeroed and false is returned.
   */
  decrypt(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tag: Uint8Array,
    tagOffset: number,
    dst: Uint8Array,
    dstOffset: number,
  ): boolean {
    // The expected tag is read before decrypting, in case dst overlaps it.
    const t0 = readBe32(tag, tagOffset);
    const t1 = readBe32(tag, tagOffset + 4);
    const t2 = readBe32(tag, tagOffset + 8);
    const t3 = readBe32(tag, tagOffset + 12);
    this.crypt(iv0, iv1, iv2, aad, aadOffset, aadLength, src, srcOffset, length, dst, dstOffset, true);
    const g = this.ghash;
    const diff = (g.g0 ^ t0) | (g.g1 ^ t1) | (g.g2 ^ t2) | (g.g3 ^ t3);
    if (diff !== 0) {
      dst.fill(0, dstOffset, dstOffset + length);
      return false;
    }
    return true;
  }

  /** Convenience: returns ciphertext ‖ tag for a 12-byte IV. */
  seal(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (iv.length !== AES_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    const n = plaintext.length;
    const out = new Uint8Array(n + AES_GCM_TAG_BYTES);
    this.encrypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      plaintext,
      0,
      n,
      out,
      0,
      n,
    );
    return out;
  }

  /** Convenience: plaintext, or null when the 16-byte tag does not authenticate. */
  open(
    iv: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Uint8Array | null {
    if (iv.length !== AES_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    if (tag.length !== AES_GCM_TAG_BYTES) throw new RangeError('GCM tag must be 16 bytes');
    const n = ciphertext.length;
    const out = new Uint8Array(n);
    const ok = this.decrypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      ciphertext,
      0,
      n,
      tag,
      0,
      out,
      0,
    );
    return ok ? out : null;
  }

  /** CTR en/decryption with the tag left in the GHASH state; GHASH runs over the ciphertext. */
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
    const aes = this.aes;
    const g = this.ghash;
    g.reset();
    g.bytes(aad, aadOffset, aadLength);
    let counter = 2;
    let pos = 0;
    const fullEnd = length & ~15;
    for (; pos < fullEnd; pos += 16) {
      aes.encrypt(iv0, iv1, iv2, counter);
      counter = (counter + 1) | 0;
      const s = srcOffset + pos;
      const d = dstOffset + pos;
      const i0 = readBe32(src, s);
      const i1 = readBe32(src, s + 4);
      const i2 = readBe32(src, s + 8);
      const i3 = readBe32(src, s + 12);
      const c0 = i0 ^ aes.o0;
      const c1 = i1 ^ aes.o1;
      const c2 = i2 ^ aes.o2;
      const c3 = i3 ^ aes.o3;
      writeBe32(dst, d, c0);
      writeBe32(dst, d + 4, c1);
      writeBe32(dst, d + 8, c2);
      writeBe32(dst, d + 12, c3);
      if (decrypt) g.block(i0, i1, i2, i3);
      else g.block(c0, c1, c2, c3);
    }
    const rest = length - fullEnd;
    if (rest > 0) {
      aes.encrypt(iv0, iv1, iv2, counter);
      const pad = this.pad;
      writeBe32(pad, 0, aes.o0);
      writeBe32(pad, 4, aes.o1);
      writeBe32(pad, 8, aes.o2);
      writeBe32(pad, 12, aes.o3);
      // pad turns from keystream into the zero-padded ciphertext block GHASH needs.
      for (let k = 0; k < rest; k++) {
        const inByte = src[srcOffset + pos + k]!;
        const outByte = inByte ^ pad[k]!;
        dst[dstOffset + pos + k] = outByte;
        pad[k] = decrypt ? inByte : outByte;
      }
      pad.fill(0, rest);
      g.block(readBe32(pad, 0), readBe32(pad, 4), readBe32(pad, 8), readBe32(pad, 12));
      pad.fill(0);
    }
    g.lengths(aadLength, length);
    aes.encrypt(iv0, iv1, iv2, 1);
    g.g0 ^= aes.o0;
    g.g1 ^= aes.o1;
    g.g2 ^= aes.o2;
    g.g3 ^= aes.o3;
  }
}
