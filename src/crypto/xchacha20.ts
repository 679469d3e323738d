/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) on node:crypto. node has IETF
 * ChaCha20-Poly1305 (12-byte nonce) but not the extended 24-byte-nonce variant, so we derive a
 * subkey with HChaCha20 (implemented here; it is 20 ChaCha rounds without the final addition)
 * and use nonce `00 00 00 00 ‖ nonce[16..24)`.
 */
import { HCHACHA_NONCE_BYTES, TRANSPORT_KEY_BYTES, XCHACHA_NONCE_BYTES } from '../protocol/constants.js';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readLe32, writeLe32 } from '../util/bytes.js';

const SIGMA0 = 0x61707865; // "expa"
const SIGMA1 = 0x3320646e; // "nd 3"
const SIGMA2 = 0x79622d32; // "2-by"
const SIGMA3 = 0x6b206574; // "te k"

export const POLY1305_TAG_BYTES = 16;

/** The key as eight little-endian words, so a per-key cipher can convert it once. */
export function keyWords(key: Uint8Array): Uint32Array {
  const w = new Uint32Array(8);
  for (let i = 0; i < 8; i++) w[i] = readLe32(key, 4 * i);
  return w;
}

/**
 * HChaCha20 from pre-split words: key words k (8) and nonce words n0..n3 (little-endian reads of
 * the 16-byte nonce). Writes the 32-byte subkey to out[0..32).
 */
export function hchacha20Words(
  k: Uint32Array,
  n0: number,
  n1: number,
  n2: number,
  n3: number,
  out: Uint8Array,
): void {
  let x0 = SIGMA0,
    x1 = SIGMA1,
    x2 = SIGMA2,
    x3 = SIGMA3;
  let x4 = k[0]!,
    x5 = k[1]!,
    x6 = k[2]!,
    x7 = k[3]!,
    x8 = k[4]!,
    x9 = k[5]!,
    x10 = k[6]!,
    x11 = k[7]!;
  let x12 = n0 | 0,
    x13 = n1 | 0,
    x14 = n2 | 0,
    x15 = n3 | 0;
  // prettier-ignore
  for (let i = 0; i < 10; i++) {
    // Column round.
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);

    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);

    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);

    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);

    // Diagonal round.
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);

    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);

    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);

    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
  }
  // Subkey = words 0..3 and 12..15, little-endian, no feed-forward.
  writeLe32(out, 0, x0);
  writeLe32(out, 4, x1);
  writeLe32(out, 8, x2);
  writeLe32(out, 12, x3);
  writeLe32(out, 16, x12);
  writeLe32(out, 20, x13);
  writeLe32(out, 24, x14);
  writeLe32(out, 28, x15);
}

/** HChaCha20(key[32], nonce[16]) → 32-byte subkey. */
export function hchacha20(
  key: Uint8Array,
  nonce: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
): Uint8Array {
  if (key.length !== TRANSPORT_KEY_BYTES) throw new RangeError('HChaCha20 key must be 32 bytes');
  if (nonce.length !== HCHACHA_NONCE_BYTES) throw new RangeError('HChaCha20 nonce must be 16 bytes');
  hchacha20Words(
    keyWords(key),
    readLe32(nonce, 0),
    readLe32(nonce, 4),
    readLe32(nonce, 8),
    readLe32(nonce, 12),
    out,
  );
  return out;
}

function ietfNonce(nonce: Uint8Array): Buffer {
  const n = Buffer.alloc(12);
  n.set(nonce.subarray(16, 24), 4);
  return n;
}

function check(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== TRANSPORT_KEY_BYTES) throw new RangeError('XChaCha20-Poly1305 key must be 32 bytes');
  if (nonce.length !== XCHACHA_NONCE_BYTES) throw new RangeError('XChaCha20-Poly1305 nonce must be 24 bytes');
}

/** AEAD_XChaCha20_Poly1305 encrypt; returns ciphertext ‖ tag(16). */
export function xchacha20Poly1305Encrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  check(key, nonce);
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  const cipher = createCipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = cipher.update(plaintext);
  cipher.final();
  subkey.fill(0);
  return Buffer.concat([ct, cipher.getAuthTag()]);
}

/** AEAD_XChaCha20_Poly1305 decrypt of ciphertext ‖ tag; null when too short or not authentic. */
export function xchacha20Poly1305Decrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Buffer | null {
  check(key, nonce);
  if (sealed.length < POLY1305_TAG_BYTES) return null;
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  const ctLen = sealed.length - POLY1305_TAG_BYTES;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), { authTagLength: 16 });
    decipher.setAAD(aad, { plaintextLength: ctLen });
    decipher.setAuthTag(sealed.subarray(ctLen));
    const pt = decipher.update(sealed.subarray(0, ctLen));
    decipher.final();
    return pt;
  } catch {
    return null;
  } finally {
    subkey.fill(0);
  }
}
