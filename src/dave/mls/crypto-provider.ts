/**
 * ts-mls crypto provider for MLS ciphersuite 2 (MLS_128_DHKEMP256_AES128GCM_SHA256_P256) on
 * node:crypto (OpenSSL). ts-mls's default provider runs P-256 ECDSA in pure JS through the optional
 * peer dependency @noble/curves (not installed with voxcord) and HPKE through WebCrypto; this one is
 * native and synchronous underneath (the async interface is kept because ts-mls awaits it).
 *
 * Key formats (what ts-mls stores and hands back to us):
 * - signature private key: the 32-byte P-256 scalar; public key: 65-byte uncompressed SEC1 point;
 *   signatures are DER (dave.md §5.1).
 * - HPKE private key: 32-byte scalar; public key: 65-byte uncompressed point (RFC 9180 §7.1.1).
 * HPKE is RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256) + HKDF-SHA256 + AES-128-GCM, single shot.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Ciphersuite, CiphersuiteImpl, CryptoProvider, Hash, Hpke, Kdf, Rng, Signature } from 'ts-mls';
// Deep imports only: ts-mls's index eagerly loads its noble provider, whose optional peer
// dependencies (@noble/hashes, @noble/curves) voxcord does not install.
import { defaultCryptoProvider } from 'ts-mls/crypto/implementation/default/provider.js';
import { hkdfExpand } from '../hash-ratchet.js';
import {
  isUncompressedP256Point,
  P256_SCALAR_BYTES,
  p256PrivateKeyFromScalar,
  p256PublicKeyFromPoint,
  p256Sign,
  p256Verify,
  padP256Scalar,
} from './mls-sign.js';

const CURVE = 'prime256v1';
const HASH_BYTES = 32;
const AEAD_KEY_BYTES = 16;
const AEAD_NONCE_BYTES = 12;
const AEAD_TAG_BYTES = 16;
/** P-256 group order n. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const enc = new TextEncoder();
const HPKE_V1 = enc.encode('HPKE-v1');
/** "KEM" ‖ kem_id 0x0010 */
const KEM_SUITE_ID = Uint8Array.of(0x4b, 0x45, 0x4d, 0x00, 0x10);
/** "HPKE" ‖ kem 0x0010 ‖ kdf 0x0001 ‖ aead 0x0001 */
const HPKE_SUITE_ID = Uint8Array.of(0x48, 0x50, 0x4b, 0x45, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01);

/** A Buffer seen as a plain Uint8Array (Buffer#slice aliases, which ts-mls does not expect). */
function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return u8(Buffer.concat(parts));
}

// ---- hash / HMAC / HKDF ----

function sha256(data: Uint8Array): Uint8Array {
  return u8(createHash('sha256').update(data).digest());
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return u8(createHmac('sha256', key).update(data).digest());
}

export { hkdfExpand };

/** RFC 5869 Extract; an empty salt is HashLen zero bytes, which HMAC's key padding makes equal. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmac(salt, ikm);
}

// ---- key object caches (parsing DER per signature would dominate small operations) ----

/**
 * Least recently used entries go first. The caches only need to span one MLS operation (a commit
 * signs and verifies with the same few keys); each KeyObject costs about 3.5 KB of native memory,
 * so a large cache would weigh on every connection once its group is established.
 */
const MAX_CACHED_KEYS = 64;
const signKeyCache = new Map<string, KeyObject>();
const verifyKeyCache = new Map<string, KeyObject>();

/** The cached import of `raw`; an import that fails (undefined) is not cached. */
function cached<K extends KeyObject | undefined>(
  cache: Map<string, KeyObject>,
  raw: Uint8Array,
  make: () => K,
): KeyObject | K {
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

/** Throws for an invalid scalar. */
function signingKey(scalar: Uint8Array): KeyObject {
  return cached(signKeyCache, scalar, () => p256PrivateKeyFromScalar(scalar));
}

/** Undefined for anything but a valid uncompressed point. */
function verifyingKey(point: Uint8Array): KeyObject | undefined {
  return cached(verifyKeyCache, point, () => p256PublicKeyFromPoint(point));
}

/** Fresh P-256 key pair: 32-byte scalar and 65-byte uncompressed public point. */
export function generateP256KeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const ecdh = createECDH(CURVE);
  ecdh.generateKeys();
  return {
    privateKey: padP256Scalar(u8(ecdh.getPrivateKey())),
    publicKey: u8(ecdh.getPublicKey()),
  };
}

function publicFromScalar(scalar: Uint8Array): Uint8Array {
  const ecdh = createECDH(CURVE);
  ecdh.setPrivateKey(scalar);
  return u8(ecdh.getPublicKey());
}

// ---- signature ----

export const p256Signature: Signature = {
  async sign(signKey, message) {
    return p256Sign(signingKey(signKey), message);
  },
  async verify(publicKey, message, signature) {
    // malformed key or DER: a failed verification, not an exception
    return p256Verify(verifyingKey(publicKey), message, signature);
  },
  async keygen() {
    const kp = generateP256KeyPair();
    return { signKey: kp.privateKey, publicKey: kp.publicKey };
  },
};

// ---- HPKE (RFC 9180) ----

/**
 * Our HPKE key handle. ts-mls types HPKE keys as WebCrypto CryptoKeys but only ever hands them back
 * to the provider that made them, so an opaque object of ours is enough.
 */
interface P256HpkeKey {
  readonly kind: 'voxcord-p256';
  readonly type: 'public' | 'private';
  /** 65-byte point (public) or 32-byte scalar (private). */
  readonly raw: Uint8Array;
  /** For private keys: the matching public point, kept to save a scalar multiplication. */
  readonly publicPoint?: Uint8Array;
}

function toHandle(type: 'public' | 'private', raw: Uint8Array, publicPoint?: Uint8Array): P256HpkeKey {
  return publicPoint === undefined
    ? { kind: 'voxcord-p256', type, raw }
    : { kind: 'voxcord-p256', type, raw, publicPoint };
}

function fromHandle(key: P256HpkeKey, type: 'public' | 'private'): Uint8Array {
  if (key.kind !== 'voxcord-p256' || key.type !== type || !(key.raw instanceof Uint8Array)) {
    throw new Error(`not a voxcord P-256 ${type} key`);
  }
  return key.raw;
}

function i2osp2(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return hkdfExtract(salt, concat(HPKE_V1, suiteId, enc.encode(label), ikm));
}

function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdfExpand(prk, concat(i2osp2(length), HPKE_V1, suiteId, enc.encode(label), info), length);
}

function dh(privateScalar: Uint8Array, publicPoint: Uint8Array): Uint8Array {
  const ecdh = createECDH(CURVE);
  ecdh.setPrivateKey(privateScalar);
  return u8(ecdh.computeSecret(publicPoint)); // x coordinate, 32 bytes; throws on an invalid point
}

function kemSharedSecret(
  dhValue: Uint8Array,
  encapsulated: Uint8Array,
  recipientPublic: Uint8Array,
): Uint8Array {
  const eaePrk = labeledExtract(KEM_SUITE_ID, new Uint8Array(0), 'eae_prk', dhValue);
  return labeledExpand(
    KEM_SUITE_ID,
    eaePrk,
    'shared_secret',
    concat(encapsulated, recipientPublic),
    HASH_BYTES,
  );
}

interface HpkeContext {
  key: Uint8Array;
  baseNonce: Uint8Array;
  exporterSecret: Uint8Array;
}

function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
  const empty = new Uint8Array(0);
  const pskIdHash = labeledExtract(HPKE_SUITE_ID, empty, 'psk_id_hash', empty);
  const infoHash = labeledExtract(HPKE_SUITE_ID, empty, 'info_hash', info);
  const context = concat(Uint8Array.of(0), pskIdHash, infoHash); // mode_base
  const secret = labeledExtract(HPKE_SUITE_ID, sharedSecret, 'secret', empty);
  return {
    key: labeledExpand(HPKE_SUITE_ID, secret, 'key', context, AEAD_KEY_BYTES),
    baseNonce: labeledExpand(HPKE_SUITE_ID, secret, 'base_nonce', context, AEAD_NONCE_BYTES),
    exporterSecret: labeledExpand(HPKE_SUITE_ID, secret, 'exp', context, HASH_BYTES),
  };
}

function setupSender(recipientPublic: Uint8Array, info: Uint8Array): { enc: Uint8Array; ctx: HpkeContext } {
  const ephemeral = generateP256KeyPair();
  const shared = kemSharedSecret(
    dh(ephemeral.privateKey, recipientPublic),
    ephemeral.publicKey,
    recipientPublic,
  );
  return { enc: ephemeral.publicKey, ctx: keySchedule(shared, info) };
}

function setupRecipient(recipient: P256HpkeKey, encapsulated: Uint8Array, info: Uint8Array): HpkeContext {
  const recipientPrivate = fromHandle(recipient, 'private');
  const recipientPublic = recipient.publicPoint ?? publicFromScalar(recipientPrivate);
  const shared = kemSharedSecret(dh(recipientPrivate, encapsulated), encapsulated, recipientPublic);
  return keySchedule(shared, info);
}

function aesGcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv('aes-128-gcm', key, nonce);
  if (aad.length > 0) cipher.setAAD(aad);
  return concat(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
}

function aesGcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  if (ciphertext.length < AEAD_TAG_BYTES) throw new Error('AEAD ciphertext too short');
  const decipher = createDecipheriv('aes-128-gcm', key, nonce);
  if (aad.length > 0) decipher.setAAD(aad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - AEAD_TAG_BYTES));
  return concat(
    decipher.update(ciphertext.subarray(0, ciphertext.length - AEAD_TAG_BYTES)),
    decipher.final(),
  );
}

function deriveScalar(ikm: Uint8Array): Uint8Array {
  const dkpPrk = labeledExtract(KEM_SUITE_ID, new Uint8Array(0), 'dkp_prk', ikm);
  for (let counter = 0; counter < 256; counter++) {
    const bytes = labeledExpand(KEM_SUITE_ID, dkpPrk, 'candidate', Uint8Array.of(counter), P256_SCALAR_BYTES);
    // bitmask for P-256 is 0xff: nothing to clear
    const sk = BigInt('0x' + Buffer.from(bytes).toString('hex'));
    if (sk !== 0n && sk < P256_ORDER) return bytes;
  }
  throw new Error('DeriveKeyPair failed');
}

class P256Hpke {
  readonly keyLength = AEAD_KEY_BYTES;
  readonly nonceLength = AEAD_NONCE_BYTES;

  async seal(publicKey: P256HpkeKey, plaintext: Uint8Array, info: Uint8Array, aad?: Uint8Array) {
    const { enc: encapsulated, ctx } = setupSender(fromHandle(publicKey, 'public'), info);
    return {
      ct: aesGcmEncrypt(ctx.key, ctx.baseNonce, aad ?? new Uint8Array(0), plaintext),
      enc: encapsulated,
    };
  }

  async open(
    privateKey: P256HpkeKey,
    kemOutput: Uint8Array,
    ciphertext: Uint8Array,
    info: Uint8Array,
    aad?: Uint8Array,
  ) {
    const ctx = setupRecipient(privateKey, kemOutput, info);
    return aesGcmDecrypt(ctx.key, ctx.baseNonce, aad ?? new Uint8Array(0), ciphertext);
  }

  async exportSecret(publicKey: P256HpkeKey, exporterContext: Uint8Array, length: number, info: Uint8Array) {
    const { enc: encapsulated, ctx } = setupSender(fromHandle(publicKey, 'public'), info);
    return {
      enc: encapsulated,
      secret: labeledExpand(HPKE_SUITE_ID, ctx.exporterSecret, 'sec', exporterContext, length),
    };
  }

  async importSecret(
    privateKey: P256HpkeKey,
    exporterContext: Uint8Array,
    kemOutput: Uint8Array,
    length: number,
    info: Uint8Array,
  ) {
    const ctx = setupRecipient(privateKey, kemOutput, info);
    return labeledExpand(HPKE_SUITE_ID, ctx.exporterSecret, 'sec', exporterContext, length);
  }

  async importPrivateKey(k: Uint8Array) {
    const scalar = padP256Scalar(k);
    const point = publicFromScalar(scalar); // also validates the scalar (throws if 0 or >= n)
    return toHandle('private', scalar, point);
  }

  async importPublicKey(k: Uint8Array) {
    if (!isUncompressedP256Point(k)) throw new Error('HPKE public key must be an uncompressed P-256 point');
    return toHandle('public', k);
  }

  async exportPublicKey(k: P256HpkeKey) {
    return fromHandle(k, 'public');
  }

  async exportPrivateKey(k: P256HpkeKey) {
    return fromHandle(k, 'private');
  }

  async encryptAead(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array | undefined, plaintext: Uint8Array) {
    return aesGcmEncrypt(key, nonce, aad ?? new Uint8Array(0), plaintext);
  }

  async decryptAead(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array | undefined, ciphertext: Uint8Array) {
    return aesGcmDecrypt(key, nonce, aad ?? new Uint8Array(0), ciphertext);
  }

  async deriveKeyPair(ikm: Uint8Array) {
    const scalar = deriveScalar(ikm);
    const point = publicFromScalar(scalar);
    return { privateKey: toHandle('private', scalar, point), publicKey: toHandle('public', point) };
  }

  async generateKeyPair() {
    const kp = generateP256KeyPair();
    return {
      privateKey: toHandle('private', kp.privateKey, kp.publicKey),
      publicKey: toHandle('public', kp.publicKey),
    };
  }
}

/**
 * RFC 9180 HPKE for suite 2 as ts-mls's interface. ts-mls's PublicKey/PrivateKey name the DOM
 * CryptoKey, which this project's lib settings (no DOM) leave unresolved, so the handle type is
 * accepted as is; with DOM types this line would need `as unknown as Hpke`.
 */
export const p256Hpke: Hpke = new P256Hpke();

export const sha256Hash: Hash = {
  async digest(data) {
    return sha256(data);
  },
  async mac(key, data) {
    return hmac(key, data);
  },
  async verifyMac(key, mac, data) {
    const expected = hmac(key, data);
    return expected.length === mac.length && timingSafeEqual(expected, mac);
  },
};

export const hkdfSha256: Kdf = {
  async extract(salt, ikm) {
    return hkdfExtract(salt, ikm);
  },
  async expand(prk, info, len) {
    return hkdfExpand(prk, info, len);
  },
  size: HASH_BYTES,
};

export const nodeRng: Rng = {
  randomBytes(n) {
    return u8(randomBytes(n));
  },
};

const P256_SUITE_NAME = 'MLS_128_DHKEMP256_AES128GCM_SHA256_P256';

/**
 * Crypto provider: native for ciphersuite 2 (the only one DAVE uses); other suites fall back to
 * ts-mls's default provider.
 */
export const nodeCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs: Ciphersuite): Promise<CiphersuiteImpl> {
    if (cs.name !== P256_SUITE_NAME) return defaultCryptoProvider.getCiphersuiteImpl(cs);
    return {
      hash: sha256Hash,
      hpke: p256Hpke,
      signature: p256Signature,
      kdf: hkdfSha256,
      rng: nodeRng,
      name: P256_SUITE_NAME,
    };
  },
};

let daveSuite: Promise<CiphersuiteImpl> | undefined;

/** The ciphersuite-2 implementation DAVE uses (created once). */
export function getDaveCiphersuite(): Promise<CiphersuiteImpl> {
  daveSuite ??= nodeCryptoProvider.getCiphersuiteImpl({
    name: P256_SUITE_NAME,
    hash: 'SHA-256',
    signature: 'P256',
    hpke: { kem: 'DHKEM-P256-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES128GCM' },
  });
  return daveSuite;
}
