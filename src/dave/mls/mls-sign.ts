/**
 * Synchronous MLS labelled signatures and reference hashes for ciphersuite 2 on node:crypto
 * (RFC 9420 §5.1.2, §5.2; dave.md Appendix A.3). Used by the gateway side, which is a synchronous
 * state machine and so cannot use ts-mls's async provider.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { concatBytes, encodeOpaque } from './mls-codec.js';

const enc = new TextEncoder();
const P256_POINT_BYTES = 65;
/** SPKI DER prefix for an uncompressed P-256 point (id-ecPublicKey, prime256v1). */
const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/** `SignContent = opaque label<V> ‖ opaque content<V>` with label "MLS 1.0 " + label. */
function signContent(label: string, content: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(enc.encode(`MLS 1.0 ${label}`)), encodeOpaque(content));
}

/** ECDSA P-256 / SHA-256, DER signature (dave.md §5.1). */
export function signWithLabel(privateKey: KeyObject, label: string, content: Uint8Array): Uint8Array {
  const sig = sign('sha256', signContent(label, content), { key: privateKey, dsaEncoding: 'der' });
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

/** False (never a throw) for a malformed key, a malformed signature or a wrong signature. */
export function verifyWithLabel(
  publicPoint: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = p256PublicKeyFromPoint(publicPoint);
  if (key === undefined) return false;
  try {
    return verify('sha256', signContent(label, content), { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** Imports a 65-byte uncompressed P-256 point; undefined when it is not a valid point. */
export function p256PublicKeyFromPoint(point: Uint8Array): KeyObject | undefined {
  if (point.length !== P256_POINT_BYTES || point[0] !== 0x04) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_P256_PREFIX, point]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** The 65-byte uncompressed point of a P-256 key (public, or the public half of a private key). */
export function p256PointOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const spki = pub.export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_P256_PREFIX.length + P256_POINT_BYTES) throw new RangeError('not a P-256 key');
  return new Uint8Array(spki.subarray(SPKI_P256_PREFIX.length));
}

export function generateP256SigningKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

/** `RefHash(label, value) = SHA-256(opaque label<V> ‖ opaque value<V>)`. */
export function refHash(label: string, value: Uint8Array): Uint8Array {
  const digest = createHash('sha256')
    .update(encodeOpaque(enc.encode(label)))
    .update(encodeOpaque(value))
    .digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

export function keyPackageRef(keyPackage: Uint8Array): Uint8Array {
  return refHash('MLS 1.0 KeyPackage Reference', keyPackage);
}

/** ProposalRef of a proposal carried in a PublicMessage: the hash covers the message without its version. */
export function proposalRefOfMessage(mlsMessage: Uint8Array): Uint8Array {
  return refHash('MLS 1.0 Proposal Reference', mlsMessage.subarray(2));
}
