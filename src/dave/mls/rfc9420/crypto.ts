/**
 * RFC 9420 §5 cryptographic helpers for ciphersuite 2 (MLS_128_DHKEMP256_AES128GCM_SHA256_P256)
 * on node:crypto, synchronous: hash, MAC, KDF with labels, labelled signatures (ECDSA P-256, DER)
 * from raw key bytes (no key object kept), EncryptWithLabel (HPKE) and reference hashes.
 */
import { timingSafeEqual } from 'node:crypto';
import { deriveSecret, expandWithLabel } from '../../hash-ratchet.js';
import { hmacSha256, sha256 } from '../../../crypto/sha256.js';
import { concatBytes, encodeOpaque } from '../mls-codec.js';
import { p256SignWithScalar, p256VerifyWithPoint, refHash } from '../mls-sign.js';
import { hpkeOpen, hpkeSeal } from './hpke.js';

export { deriveSecret, expandWithLabel, hmacSha256, refHash, sha256 };

export const HASH_BYTES = 32;
const enc = new TextEncoder();

/** RFC 5869 Extract; an empty salt equals HashLen zero bytes through HMAC's key padding. */
export function extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmacSha256(salt, ikm);
}

/** Constant-time equality of two MACs / hashes. */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** DeriveTreeSecret(secret, label, generation, length) (RFC 9420 §9). */
export function deriveTreeSecret(
  secret: Uint8Array,
  label: string,
  generation: number,
  length: number,
): Uint8Array {
  const g = Uint8Array.of(
    (generation >>> 24) & 0xff,
    (generation >>> 16) & 0xff,
    (generation >>> 8) & 0xff,
    generation & 0xff,
  );
  return expandWithLabel(secret, label, g, length);
}

function signContent(label: string, content: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(enc.encode(`MLS 1.0 ${label}`)), encodeOpaque(content));
}

/** SignWithLabel with a raw 32-byte scalar. */
export function signWithLabel(scalar: Uint8Array, label: string, content: Uint8Array): Uint8Array {
  return p256SignWithScalar(scalar, signContent(label, content));
}

/** VerifyWithLabel; false (never a throw) for a malformed key or signature. */
export function verifyWithLabel(
  point: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return p256VerifyWithPoint(point, signContent(label, content), signature);
}

function encryptContext(label: string, context: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(enc.encode(`MLS 1.0 ${label}`)), encodeOpaque(context));
}

export interface HpkeCiphertext {
  kemOutput: Uint8Array;
  ciphertext: Uint8Array;
}

/** EncryptWithLabel (RFC 9420 §5.1.3). */
export function encryptWithLabel(
  publicKey: Uint8Array,
  label: string,
  context: Uint8Array,
  plaintext: Uint8Array,
): HpkeCiphertext {
  return hpkeSeal(publicKey, encryptContext(label, context), new Uint8Array(0), plaintext);
}

/** DecryptWithLabel; throws when it does not open. */
export function decryptWithLabel(
  privateKey: Uint8Array,
  label: string,
  context: Uint8Array,
  ct: HpkeCiphertext,
  publicKey?: Uint8Array,
): Uint8Array {
  return hpkeOpen(
    privateKey,
    ct.kemOutput,
    encryptContext(label, context),
    new Uint8Array(0),
    ct.ciphertext,
    publicKey,
  );
}
