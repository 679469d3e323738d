/**
 * P-256 ECDSA for MLS ciphersuite 2 on node:crypto, synchronous (dave.md §5.1): raw MLS key bytes
 * (32-byte scalar, 65-byte uncompressed point) to and from KeyObjects, DER signatures, labelled
 * signatures and reference hashes (RFC 9420 §5.1.2, §5.2; dave.md Appendix A.3). The gateway side
 * (a synchronous state machine) signs with a KeyObject it keeps; MLS members (rfc9420/crypto.ts)
 * sign and verify with raw key bytes and keep no key object.
 */
import {
  createECDH,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  sign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { concatBytes, encodeOpaque } from './mls-codec.js';
import { plainBytes } from '../../util/bytes.js';
import { sha256 } from '../../crypto/sha256.js';

const enc = new TextEncoder();
export const P256_SCALAR_BYTES = 32;
export const P256_POINT_BYTES = 65;
/** OpenSSL's name of the curve (dave.md §5.1: P-256). */
export const P256_CURVE = 'prime256v1';
// Fixed DER prefix for P-256: SPKI for an uncompressed point (id-ecPublicKey, prime256v1).
const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/** True when `bytes` has the shape of an uncompressed P-256 point (65 bytes, prefix 04). */
export function isUncompressedP256Point(bytes: Uint8Array): boolean {
  return bytes.length === P256_POINT_BYTES && bytes[0] === 0x04;
}

/** A P-256 scalar left-padded to 32 bytes (OpenSSL drops leading zero bytes). */
export function padP256Scalar(scalar: Uint8Array): Uint8Array {
  if (scalar.length === P256_SCALAR_BYTES) return scalar;
  if (scalar.length > P256_SCALAR_BYTES) throw new Error('key too long');
  const out = new Uint8Array(P256_SCALAR_BYTES);
  out.set(scalar, P256_SCALAR_BYTES - scalar.length);
  return out;
}

/** The 65-byte uncompressed point of a P-256 key (public, or the public half of a private key). */
export function p256PointOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const spki = pub.export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_P256_PREFIX.length + P256_POINT_BYTES) throw new RangeError('not a P-256 key');
  return new Uint8Array(spki.subarray(SPKI_P256_PREFIX.length));
}

export function generateP256SigningKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: P256_CURVE }).privateKey;
}

/** ECDSA P-256 / SHA-256 over `message`, DER signature (dave.md §5.1). */
export function p256Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return plainBytes(sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }));
}

/** The public point of a scalar; throws for an invalid scalar. */
export function p256PublicFromScalar(scalar: Uint8Array): Uint8Array {
  const ecdh = createECDH(P256_CURVE);
  ecdh.setPrivateKey(scalar);
  return plainBytes(ecdh.getPublicKey());
}

// Raw-key signing for MLS members. No KeyObject: the key is parsed inside the call and freed when
// it returns, and the Sign/Verify object keeps no OpenSSL context after sign()/verify(). A
// KeyObject (or crypto.sign's job object, or a JWK key, which becomes a key handle) holds its
// EVP_PKEY until a full GC, which V8 schedules without knowing that native size: a burst of
// handshakes left ~1-2 KiB per key in malloc. The key goes in as SEC1 DER with its public point:
// about 150 µs a signature here, against about 430 for PKCS#8 without the point (OpenSSL's
// decoder chain, ~15,000 mallocs, and a point multiplication to find the public key).

// SEC1 ECPrivateKey for P-256 (RFC 5915): version 1, the 32-byte scalar, the curve's OID, the
// uncompressed public point.
const SEC1_P256_PREFIX = Buffer.from('30770201010420', 'hex');
const SEC1_P256_MIDDLE = Buffer.from('a00a06082a8648ce3d030107a144034200', 'hex');

/** Public points of the scalars signed with (public data), keyed by the scalar's own array: found once per key. */
const signingPoints = new WeakMap<Uint8Array, Uint8Array>();

/** ECDSA P-256 / SHA-256 with a raw 32-byte scalar (generated or derived by us), DER signature. */
export function p256SignWithScalar(scalar: Uint8Array, message: Uint8Array): Uint8Array {
  let point = signingPoints.get(scalar);
  if (point === undefined) {
    point = p256PublicFromScalar(scalar);
    signingPoints.set(scalar, point);
  }
  const der = Buffer.concat([SEC1_P256_PREFIX, padP256Scalar(scalar), SEC1_P256_MIDDLE, point]);
  try {
    const signer = createSign('sha256').update(message);
    return plainBytes(signer.sign({ key: der, format: 'der', type: 'sec1', dsaEncoding: 'der' }));
  } finally {
    der.fill(0);
  }
}

/** Verifies with a raw 65-byte point; false (never a throw) for a malformed key or signature. */
export function p256VerifyWithPoint(point: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isUncompressedP256Point(point)) return false;
  try {
    return createVerify('sha256')
      .update(message)
      .verify(
        { key: Buffer.concat([SPKI_P256_PREFIX, point]), format: 'der', type: 'spki', dsaEncoding: 'der' },
        signature,
      );
  } catch {
    return false;
  }
}

/** `SignContent = opaque label<V> ‖ opaque content<V>` with label "MLS 1.0 " + label. */
function signContent(label: string, content: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(enc.encode(`MLS 1.0 ${label}`)), encodeOpaque(content));
}

export function signWithLabel(privateKey: KeyObject, label: string, content: Uint8Array): Uint8Array {
  return p256Sign(privateKey, signContent(label, content));
}

/** False (never a throw) for a malformed key, a malformed signature or a wrong signature. */
export function verifyWithLabel(
  publicPoint: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return p256VerifyWithPoint(publicPoint, signContent(label, content), signature);
}

/** `RefHash(label, value) = SHA-256(opaque label<V> ‖ opaque value<V>)`. */
export function refHash(label: string, value: Uint8Array): Uint8Array {
  return sha256(encodeOpaque(enc.encode(label)), encodeOpaque(value));
}

export function keyPackageRef(keyPackage: Uint8Array): Uint8Array {
  return refHash('MLS 1.0 KeyPackage Reference', keyPackage);
}

/** ProposalRef of a proposal carried in a PublicMessage: the hash covers the message without its version. */
export function proposalRefOfMessage(mlsMessage: Uint8Array): Uint8Array {
  return refHash('MLS 1.0 Proposal Reference', mlsMessage.subarray(2));
}
