/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in TypeScript, for the MLS/DAVE key schedule.
 * Why not node:crypto: every createHash/createHmac is a native object (OpenSSL contexts) and every
 * digest a malloc'd Buffer; V8 does not see their size, so a burst of DAVE handshakes (about 100
 * HMACs per two-member group) leaves megabytes of native garbage waiting for a GC. Here a digest is
 * a 32-byte Uint8Array on the V8 heap and nothing else is allocated. Not for bulk data: fine for
 * key derivation (a few blocks per call).
 */

const K = Int32Array.of(
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
);
const IV = Int32Array.of(
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
);
export const SHA256_BYTES = 32;
const BLOCK = 64;

// Scratch shared by every call (all synchronous): message schedule, state, pending block.
const W = new Int32Array(64);
const H = new Int32Array(8);
const pending = new Uint8Array(BLOCK);
let pendingLength = 0;
let totalLength = 0;

function compress(block: Uint8Array, offset: number): void {
  for (let t = 0; t < 16; t++) {
    const i = offset + 4 * t;
    W[t] =
      ((block[i] ?? 0) << 24) |
      ((block[i + 1] ?? 0) << 16) |
      ((block[i + 2] ?? 0) << 8) |
      (block[i + 3] ?? 0);
  }
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15] ?? 0;
    const w2 = W[t - 2] ?? 0;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = ((W[t - 16] ?? 0) + s0 + (W[t - 7] ?? 0) + s1) | 0;
  }
  let a = H[0] ?? 0;
  let b = H[1] ?? 0;
  let c = H[2] ?? 0;
  let d = H[3] ?? 0;
  let e = H[4] ?? 0;
  let f = H[5] ?? 0;
  let g = H[6] ?? 0;
  let h = H[7] ?? 0;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + (K[t] ?? 0) + (W[t] ?? 0)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = ((H[0] ?? 0) + a) | 0;
  H[1] = ((H[1] ?? 0) + b) | 0;
  H[2] = ((H[2] ?? 0) + c) | 0;
  H[3] = ((H[3] ?? 0) + d) | 0;
  H[4] = ((H[4] ?? 0) + e) | 0;
  H[5] = ((H[5] ?? 0) + f) | 0;
  H[6] = ((H[6] ?? 0) + g) | 0;
  H[7] = ((H[7] ?? 0) + h) | 0;
}

function begin(): void {
  H.set(IV);
  pendingLength = 0;
  totalLength = 0;
}

function update(data: Uint8Array): void {
  let offset = 0;
  totalLength += data.length;
  if (pendingLength > 0) {
    const take = Math.min(BLOCK - pendingLength, data.length);
    pending.set(data.subarray(0, take), pendingLength);
    pendingLength += take;
    offset = take;
    if (pendingLength < BLOCK) return;
    compress(pending, 0);
    pendingLength = 0;
  }
  for (; offset + BLOCK <= data.length; offset += BLOCK) compress(data, offset);
  if (offset < data.length) {
    pending.set(data.subarray(offset), 0);
    pendingLength = data.length - offset;
  }
}

function finish(out: Uint8Array): Uint8Array {
  const bits = totalLength * 8;
  pending[pendingLength++] = 0x80;
  if (pendingLength > BLOCK - 8) {
    pending.fill(0, pendingLength);
    compress(pending, 0);
    pendingLength = 0;
  }
  pending.fill(0, pendingLength, BLOCK - 8);
  const high = Math.floor(bits / 0x100000000);
  for (let i = 0; i < 4; i++) {
    pending[BLOCK - 8 + i] = (high >>> (24 - 8 * i)) & 0xff;
    pending[BLOCK - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff;
  }
  compress(pending, 0);
  for (let i = 0; i < 8; i++) {
    const v = H[i] ?? 0;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = (v >>> 16) & 0xff;
    out[4 * i + 2] = (v >>> 8) & 0xff;
    out[4 * i + 3] = v & 0xff;
  }
  // hashed data is often key material: none of it stays in module scratch between calls
  H.fill(0);
  W.fill(0);
  pending.fill(0);
  return out;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  begin();
  for (const p of parts) update(p);
  return finish(new Uint8Array(SHA256_BYTES));
}

const keyBlock = new Uint8Array(BLOCK);
const pad = new Uint8Array(BLOCK);
const inner = new Uint8Array(SHA256_BYTES);

/** HMAC-SHA256(key, concatenation of `parts`). */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  keyBlock.fill(0);
  if (key.length > BLOCK) {
    begin();
    update(key);
    finish(keyBlock);
  } else {
    keyBlock.set(key);
  }
  for (let i = 0; i < BLOCK; i++) pad[i] = (keyBlock[i] ?? 0) ^ 0x36;
  begin();
  update(pad);
  for (const p of parts) update(p);
  finish(inner);
  for (let i = 0; i < BLOCK; i++) pad[i] = (keyBlock[i] ?? 0) ^ 0x5c;
  begin();
  update(pad);
  update(inner);
  const out = finish(new Uint8Array(SHA256_BYTES));
  // the key's pads stay in module scratch otherwise
  keyBlock.fill(0);
  pad.fill(0);
  inner.fill(0);
  return out;
}
