/**
 * RFC 9180 HPKE for MLS ciphersuite 2, on node:crypto: base mode, DHKEM(P-256, HKDF-SHA256),
 * HKDF-SHA256, AES-128-GCM, single shot; plus the P-256 key pair helpers and AES-128-GCM itself
 * (the TypeScript GCM: each result is a buffer of its own, not a slice of Node's 8 KiB pool that
 * long-lived MLS state decoded from it would pin, and no native cipher object per call).
 * Keys are raw bytes: private = 32-byte scalar, public = 65-byte uncompressed point (§7.1.1).
 */
import { createECDH } from 'node:crypto';
import { AesGcm } from '../../../crypto/gcm.js';
import { hkdfExpand } from '../../hash-ratchet.js';
import { hmacSha256 } from '../../../crypto/sha256.js';
import { concatBytes } from '../mls-codec.js';
import { plainBytes } from '../../../util/bytes.js';
import { P256_CURVE, P256_SCALAR_BYTES, p256PublicFromScalar, padP256Scalar } from '../mls-sign.js';

const HASH_BYTES = 32;
export const AEAD_KEY_BYTES = 16;
export const AEAD_NONCE_BYTES = 12;
const AEAD_TAG_BYTES = 16;
/** P-256 group order n. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);
const HPKE_V1 = enc.encode('HPKE-v1');
/** "KEM" ‖ kem_id 0x0010 */
const KEM_SUITE_ID = Uint8Array.of(0x4b, 0x45, 0x4d, 0x00, 0x10);
/** "HPKE" ‖ kem 0x0010 ‖ kdf 0x0001 ‖ aead 0x0001 */
const HPKE_SUITE_ID = Uint8Array.of(0x48, 0x50, 0x4b, 0x45, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01);

export interface P256KeyPair {
  /** 32-byte scalar. */
  privateKey: Uint8Array;
  /** 65-byte uncompressed point. */
  publicKey: Uint8Array;
}

/** Fresh P-256 key pair. */
export function generateP256KeyPair(): P256KeyPair {
  const ecdh = createECDH(P256_CURVE);
  ecdh.generateKeys();
  return {
    privateKey: padP256Scalar(plainBytes(ecdh.getPrivateKey())),
    publicKey: plainBytes(ecdh.getPublicKey()),
  };
}

function i2osp2(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return hmacSha256(salt, concatBytes(HPKE_V1, suiteId, enc.encode(label), ikm));
}

function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdfExpand(prk, concatBytes(i2osp2(length), HPKE_V1, suiteId, enc.encode(label), info), length);
}

function dh(privateScalar: Uint8Array, publicPoint: Uint8Array): Uint8Array {
  const ecdh = createECDH(P256_CURVE);
  ecdh.setPrivateKey(privateScalar);
  return plainBytes(ecdh.computeSecret(publicPoint)); // throws on an invalid point
}

function kemSharedSecret(
  dhValue: Uint8Array,
  encapsulated: Uint8Array,
  recipientPublic: Uint8Array,
): Uint8Array {
  const eaePrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'eae_prk', dhValue);
  return labeledExpand(
    KEM_SUITE_ID,
    eaePrk,
    'shared_secret',
    concatBytes(encapsulated, recipientPublic),
    HASH_BYTES,
  );
}

export interface HpkeContext {
  key: Uint8Array;
  baseNonce: Uint8Array;
  exporterSecret: Uint8Array;
}

function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
  const pskIdHash = labeledExtract(HPKE_SUITE_ID, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(HPKE_SUITE_ID, EMPTY, 'info_hash', info);
  const context = concatBytes(Uint8Array.of(0), pskIdHash, infoHash); // mode_base
  const secret = labeledExtract(HPKE_SUITE_ID, sharedSecret, 'secret', EMPTY);
  return {
    key: labeledExpand(HPKE_SUITE_ID, secret, 'key', context, AEAD_KEY_BYTES),
    baseNonce: labeledExpand(HPKE_SUITE_ID, secret, 'base_nonce', context, AEAD_NONCE_BYTES),
    exporterSecret: labeledExpand(HPKE_SUITE_ID, secret, 'exp', context, HASH_BYTES),
  };
}

export function hpkeSetupSender(
  recipientPublic: Uint8Array,
  info: Uint8Array,
): { enc: Uint8Array; ctx: HpkeContext } {
  // one ECDH object for the ephemeral key and the DH: two scalar multiplications, not three
  const ephemeral = createECDH(P256_CURVE);
  const encapsulated = plainBytes(ephemeral.generateKeys());
  const dhValue = plainBytes(ephemeral.computeSecret(recipientPublic)); // throws on an invalid point
  const shared = kemSharedSecret(dhValue, encapsulated, recipientPublic);
  return { enc: encapsulated, ctx: keySchedule(shared, info) };
}

export function hpkeSetupRecipient(
  recipientPrivate: Uint8Array,
  encapsulated: Uint8Array,
  info: Uint8Array,
  recipientPublic: Uint8Array = p256PublicFromScalar(recipientPrivate),
): HpkeContext {
  const shared = kemSharedSecret(dh(recipientPrivate, encapsulated), encapsulated, recipientPublic);
  return keySchedule(shared, info);
}

/** The HPKE secret export of a context (RFC 9180 §5.3). */
export function hpkeExport(ctx: HpkeContext, exporterContext: Uint8Array, length: number): Uint8Array {
  return labeledExpand(HPKE_SUITE_ID, ctx.exporterSecret, 'sec', exporterContext, length);
}

export function aesGcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  return new AesGcm(key).seal(nonce, plaintext, aad);
}

/** Throws on a bad tag. */
export function aesGcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  if (ciphertext.length < AEAD_TAG_BYTES) throw new Error('AEAD ciphertext too short');
  const split = ciphertext.length - AEAD_TAG_BYTES;
  const plaintext = new AesGcm(key).open(
    nonce,
    ciphertext.subarray(0, split),
    ciphertext.subarray(split),
    aad,
  );
  if (plaintext === null) throw new Error('AEAD tag mismatch');
  return plaintext;
}

/** Single-shot SealBase. */
export function hpkeSeal(
  recipientPublic: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): { kemOutput: Uint8Array; ciphertext: Uint8Array } {
  const { enc: kemOutput, ctx } = hpkeSetupSender(recipientPublic, info);
  return { kemOutput, ciphertext: aesGcmEncrypt(ctx.key, ctx.baseNonce, aad, plaintext) };
}

/** Single-shot OpenBase; throws when it does not open. */
export function hpkeOpen(
  recipientPrivate: Uint8Array,
  kemOutput: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
  recipientPublic?: Uint8Array,
): Uint8Array {
  const ctx = hpkeSetupRecipient(recipientPrivate, kemOutput, info, recipientPublic);
  return aesGcmDecrypt(ctx.key, ctx.baseNonce, aad, ciphertext);
}

/** DHKEM DeriveKeyPair (RFC 9180 §7.1.3) for P-256. */
export function hpkeDeriveKeyPair(ikm: Uint8Array): P256KeyPair {
  const dkpPrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'dkp_prk', ikm);
  for (let counter = 0; counter < 256; counter++) {
    const bytes = labeledExpand(KEM_SUITE_ID, dkpPrk, 'candidate', Uint8Array.of(counter), P256_SCALAR_BYTES);
    // bitmask for P-256 is 0xff: nothing to clear
    const sk = BigInt('0x' + Buffer.from(bytes).toString('hex'));
    if (sk !== 0n && sk < P256_ORDER) return { privateKey: bytes, publicKey: p256PublicFromScalar(bytes) };
  }
  throw new Error('DeriveKeyPair failed');
}
