/**
 * RFC 9420 §5 cryptographic helpers for ciphersuite 2 (MLS_128_DHKEMP256_AES128GCM_SHA256_P256)
 * on node:crypto, synchronous: hash, MAC, KDF with labels, labelled signatures (ECDSA P-256, DER)
 * with cached key objects, EncryptWithLabel (HPKE) and reference hashes.
 */
import { timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { deriveSecret, expandWithLabel, hmacSha256 } from '../../hash-ratchet.js';
import { sha256 } from '../../../crypto/sha256.js';
import { concatBytes, encodeOpaque } from '../mls-codec.js';
import {
  p256PrivateKeyFromScalar,
  p256PublicKeyFromPoint,
  p256Sign,
  p256Verify,
  refHash,
} from '../mls-sign.js';
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

// ---- key object caches: parsing DER per signature would dominate small operations ----

/** Least recently used go first; a cache only needs to span one MLS operation (~3.5 KB each). */
const MAX_CACHED_KEYS = 64;
const signKeyCache = new Map<string, KeyObject>();
const verifyKeyCache = new Map<string, KeyObject>();

function cached(
  cache: Map<string, KeyObject>,
  raw: Uint8Array,
  make: () => KeyObject | undefined,
): KeyObject | undefined {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  const hit = cache.get(id);
  if (hit !== undefined) {
    cache.delete(id);
    cache.set(id, hit);
    return hit;
  }
  const key = make();
  if (key !== undefined) {
    if (cache.size >= MAX_CACHED_KEYS) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(id, key);
  }
  return key;
}

/** Number of cached key objects (tests). */
export function cachedKeyCount(): number {
  return signKeyCache.size + verifyKeyCache.size;
}

function signContent(label: string, content: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(enc.encode(`MLS 1.0 ${label}`)), encodeOpaque(content));
}

/** SignWithLabel with a raw 32-byte scalar; throws for an invalid scalar. */
export function signWithLabel(scalar: Uint8Array, label: string, content: Uint8Array): Uint8Array {
  const key = cached(signKeyCache, scalar, () => p256PrivateKeyFromScalar(scalar));
  if (key === undefined) throw new Error('invalid signature key');
  return p256Sign(key, signContent(label, content));
}

/** VerifyWithLabel; false (never a throw) for a malformed key or signature. */
export function verifyWithLabel(
  point: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return p256Verify(
    cached(verifyKeyCache, point, () => p256PublicKeyFromPoint(point)),
    signContent(label, content),
    signature,
  );
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
