/**
 * Tables shared by every AES key and GHASH key (src/crypto/aes.ts, src/crypto/ghash.ts): the AES
 * S-box and T-tables (FIPS-197) and the GHASH reduction table (NIST SP 800-38D), built once at load.
 */
// ---- AES tables (computed once at load) ----

export const SBOX = new Uint8Array(256);
export const TE0 = new Int32Array(256);
export const TE1 = new Int32Array(256);
export const TE2 = new Int32Array(256);
export const TE3 = new Int32Array(256);
/** Final-round tables: the S-box byte placed in each lane. */
export const S0 = new Int32Array(256);
export const S1 = new Int32Array(256);
export const S2 = new Int32Array(256);
export const S3 = new Int32Array(256);

export function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
}

(function buildAesTables(): void {
  // Inverses in GF(2^8) from exp/log tables over the generator 3.
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= xtime(x);
  }
  for (let i = 0; i < 256; i++) {
    const inv = i === 0 ? 0 : exp[(255 - log[i]!) % 255]!;
    let s = inv;
    let r = inv;
    for (let k = 0; k < 4; k++) {
      r = ((r << 1) | (r >>> 7)) & 0xff;
      s ^= r;
    }
    SBOX[i] = s ^ 0x63;
  }
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = xtime(s);
    const t = (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s);
    TE0[i] = t;
    TE1[i] = (t >>> 8) | (t << 24);
    TE2[i] = (t >>> 16) | (t << 16);
    TE3[i] = (t >>> 24) | (t << 8);
    S0[i] = s << 24;
    S1[i] = s << 16;
    S2[i] = s << 8;
    S3[i] = s;
  }
})();

/** GHASH reduction: R[d] = top word of (byte d in the last position) · x^8, reduced. */
export const GHASH_R = new Int32Array(256);

(function buildReductionTable(): void {
  for (let d = 0; d < 256; d++) {
    let v0 = 0;
    let v3 = d;
    for (let k = 0; k < 8; k++) {
      const lsb = v3 & 1;
      v3 >>>= 1;
      v0 = (v0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
    }
    GHASH_R[d] = v0;
  }
})();
