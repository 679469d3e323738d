/**
 * GHASH (NIST SP 800-38D §6.4) under one hash key H, by Shoup's table method: the block multiply
 * walks the 16 bytes of (g ⊕ x) last to first, z = z·x^8 ⊕ M(byte), where z·x^8 is a one-byte
 * right shift whose dropped byte is reduced through the shared GHASH_R table.
 *
 * The per-key table size is the parameter (`GhashTable`):
 * - 'byte': 256 multiples of H (4 KiB per key), one lookup per byte, unrolled. DAVE frames and
 *   the transport cipher where WebAssembly is unavailable (the WebAssembly core's GHASH has no
 *   table: ./aes-wasm.ts).
 * - 'nibble': two 16-entry tables (512 bytes per key, eight cache lines), two lookups per byte;
 *   the default for other uses of the GCM core, where memory counts more than speed.
 */
import { GHASH_R } from './aes-tables.js';
import { readBe32, readBe32Head } from '../util/bytes.js';

export type GhashTable = 'byte' | 'nibble';

/**
 * The running value is in g0..g3 (big-endian words); feed AAD with `bytes`, then ciphertext (with
 * `block` for whole blocks or `bytes`), then `lengths`.
 */
export abstract class Ghash {
  protected abstract readonly m: Int32Array;
  g0 = 0;
  g1 = 0;
  g2 = 0;
  g3 = 0;

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
    const rest = length - pos;
    if (rest > 0) {
      const o = offset + pos;
      this.block(
        readBe32Head(buf, o, rest),
        readBe32Head(buf, o + 4, rest - 4),
        readBe32Head(buf, o + 8, rest - 8),
        readBe32Head(buf, o + 12, rest - 12),
      );
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

  /** g = (g ⊕ x)·H. */
  abstract block(x0: number, x1: number, x2: number, x3: number): void;
}

/** GHASH with H = h0..h3 (big-endian words of AES_K(0^128)) and the given table size. */
export function createGhash(table: GhashTable, h0: number, h1: number, h2: number, h3: number): Ghash {
  return table === 'byte' ? new ByteGhash(h0, h1, h2, h3) : new NibbleGhash(h0, h1, h2, h3);
}

/** 'byte': entry b = (byte b at position 0, zeros elsewhere)·H, 4 words each. */
class ByteGhash extends Ghash {
  protected readonly m = new Int32Array(256 * 4);
  /** Sink for reset's table loads. */
  private touched = 0;

  /**
   * Also loads one word of each of the table's 64 cache lines up front: the loads are
   * independent, so after another key has evicted the table they miss in parallel instead of one
   * by one inside the block multiplies. The result is kept so the loads are not dead code.
   */
  override reset(): void {
    super.reset();
    const m = this.m;
    let x = 0;
    for (let i = 0; i < 1024; i += 16) x ^= m[i]!;
    this.touched = x;
  }

  /** T[b] = b·H for a byte b in position 0 (its top bit is the x^0 coefficient). */
  constructor(h0: number, h1: number, h2: number, h3: number) {
    super();
    const t = this.m;
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

  block(x0: number, x1: number, x2: number, x3: number): void {
    const t = this.m;
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
}

/**
 * 'nibble': m[4n..] = (high nibble n of byte 0)·H, m[64 + 4n..] = (low nibble n)·H; a byte b
 * multiplies as m[b >> 4] ⊕ m[16 + (b & 15)].
 */
class NibbleGhash extends Ghash {
  protected readonly m = new Int32Array(32 * 4);

  /** H as four big-endian words (H = AES_K(0^128)). */
  constructor(h0: number, h1: number, h2: number, h3: number) {
    // basis[k] = (bit 0x80 >> k of byte 0) · H = H · x^k
    super();
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
