/**
 * AES by vector permutes (M. Hamburg, "Accelerating AES with Vector Permute Instructions", CHES
 * 2009): the S-box as inversions in GF(2^4)^2 looked up 16 entries at a time by byte shuffles, so
 * no secret-indexed memory load (constant time) and 368 bytes of tables instead of the T-tables'
 * 8 KiB. The WebAssembly core (./aes-wasm.ts, scripts/build-aes-wasm.ts) runs the rounds with
 * `i8x16.swizzle`; this module holds the tables, once, and turns standard round keys (expandKey)
 * into the rounds' form.
 *
 * A shuffle here is `out[i] = table[index[i]]`, 0 for an index of 16 and up (WebAssembly's
 * swizzle; the tables only ever index with 0-15 or 0x80-0x8F, where x86's pshufb agrees).
 */
import { writeLe32 } from '../util/bytes.js';

/** A 16-byte table from four little-endian words (how the paper and its ports write them). */
function words(...w: [number, number, number, number]): Uint8Array {
  const out = new Uint8Array(16);
  w.forEach((word, i) => writeLe32(out, 4 * i, word));
  return out;
}

/** Standard basis to the rounds' basis, by low nibble and by high nibble. */
export const VPERM_IPT = [
  words(0x5a2a7000, 0xc2b2e898, 0x52227808, 0xcabae090),
  words(0x317c4d00, 0x4c01307d, 0xb0fdcc81, 0xcd80b1fc),
] as const;
/** The rounds' basis back to the standard one (the last round key's form). */
const VPERM_OPT = [
  words(0xd6b66000, 0xff9f4929, 0xdebe6808, 0xf7974121),
  words(0x50bcec00, 0x01edbd51, 0xb05c0ce0, 0xe10d5db1),
] as const;
/** Inversion in GF(2^4) (0x80 for 0: a zero after the next shuffle), and the "a/k" table. */
export const VPERM_INV = [
  words(0x0d080180, 0x0e05060f, 0x0a0b0c02, 0x04070309),
  words(0x0f0b0780, 0x01040a06, 0x02050809, 0x030d0e0c),
] as const;
/** S-box outputs of a middle round (u, t halves): the byte, and the byte times 2 for MixColumns. */
export const VPERM_SB1 = [
  words(0xcb503e00, 0xb19be18f, 0x142af544, 0xa5df7a6e),
  words(0xfae22300, 0x3618d415, 0x0d2ed9ef, 0x3bf7ccc1),
] as const;
export const VPERM_SB2 = [
  words(0x0b712400, 0xe27a93c6, 0xbc982fcd, 0x5eb7e955),
  words(0x0ae12900, 0x69eb8840, 0xab82234a, 0xc2a163c8),
] as const;
/** S-box output of the last round (u, t), in the standard basis. */
export const VPERM_SBO = [
  words(0x6fbdc700, 0xd0d26d17, 0xc502a878, 0x15aabf7a),
  words(0x5fbb6a00, 0xcfe474a5, 0x412b35fa, 0x8e1e90d1),
] as const;
/**
 * A byte permutation for each k in 0..3: byte `4c + r` (column c, row r) of the result comes from
 * byte `4 * (column(c, r, k) mod 4) + row(r)`.
 */
function permutations(
  column: (c: number, r: number, k: number) => number,
  row: (r: number) => number,
): Uint8Array[] {
  return [0, 1, 2, 3].map((k) =>
    Uint8Array.from({ length: 16 }, (_, i) => 4 * (column(i >> 2, i & 3, k) % 4) + row(i & 3)),
  );
}
/**
 * Each column's bytes rotated by one, forward and backward, for round r at [r % 4]: the rounds
 * skip ShiftRows, so these rotate columns that have drifted by r rows.
 */
export const VPERM_MC_FORWARD = permutations(
  (c, _r, k) => c + k,
  (r) => (r + 1) % 4,
);
export const VPERM_MC_BACKWARD = permutations(
  (c, _r, k) => c + 3 * k,
  (r) => (r + 3) % 4,
);
/** ShiftRows applied r times, at [r % 4]: the last round puts the bytes back in place. */
export const VPERM_SR = permutations(
  (c, r, k) => c + k * r,
  (r) => r,
);

/** The S-box's constant 0x63 in the rounds' basis (the round outputs leave it to the keys). */
const S63 = 0x5b;

/** `to[i] = table[index[i]]` (the tables here only index with 0-15). */
function shuffle(to: Uint8Array, table: Uint8Array, index: Uint8Array): void {
  for (let i = 0; i < 16; i++) to[i] = table[index[i]!]!;
}

/** A byte-wise linear map given by its images of the low and the high nibbles. */
function transform(to: Uint8Array, x: Uint8Array, [lo, hi]: readonly [Uint8Array, Uint8Array]): void {
  for (let i = 0; i < 16; i++) to[i] = lo[x[i]! & 15]! ^ hi[x[i]! >> 4]!;
}

/**
 * The round keys in the rounds' form, 16 bytes per round: round 0 in the rounds' basis; a middle
 * round's with the S-box constant, through MixColumns' column sums and rotated as its round's
 * state; the last back in the standard basis, rotated as the last round's. `rk`: expandKey's
 * big-endian words (44 or 60). Its scratch is zeroed before it returns (key material).
 */
export function vpermRoundKeys(rk: Int32Array): Uint8Array {
  const rounds = rk.length / 4 - 1;
  const out = new Uint8Array(16 * (rounds + 1));
  const a = new Uint8Array(16);
  const b = new Uint8Array(16);
  const sum = new Uint8Array(16);
  const mc = VPERM_MC_FORWARD[0]!;
  for (let r = 0; r <= rounds; r++) {
    for (let i = 0; i < 16; i++) a[i] = rk[4 * r + (i >> 2)]! >>> (24 - 8 * (i & 3));
    transform(b, a, VPERM_IPT);
    const key = out.subarray(16 * r, 16 * r + 16);
    if (r === 0) key.set(b);
    else if (r === rounds) {
      for (let i = 0; i < 16; i++) b[i]! ^= S63;
      shuffle(a, b, VPERM_SR[r % 4]!);
      transform(key, a, VPERM_OPT);
    } else {
      for (let i = 0; i < 16; i++) b[i]! ^= S63;
      // sum = rot(k) ^ rot²(k) ^ rot³(k), rot turning each column by one byte
      sum.fill(0);
      for (let n = 0; n < 3; n++) {
        shuffle(a, b, mc);
        for (let i = 0; i < 16; i++) sum[i]! ^= a[i]!;
        b.set(a);
      }
      shuffle(key, sum, VPERM_SR[(4 - (r % 4)) % 4]!);
    }
  }
  a.fill(0);
  b.fill(0);
  sum.fill(0);
  return out;
}
