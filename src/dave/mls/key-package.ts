/**
 * DAVE key packages (op 26): a bare KeyPackage exactly as libdave builds it (dave.md §5.4):
 * ciphersuite 2 only, basic credentials only, no extensions, maximal lifetime, uncompressed keys.
 */
import type { Capabilities, CiphersuiteImpl, KeyPackage, Lifetime, PrivateKeyPackage } from 'ts-mls';
import { encodeKeyPackage, generateKeyPackageWithKey } from 'ts-mls/keyPackage.js';
import { snowflakeToBE64 } from './mls-codec.js';

/** What libdave advertises (no GREASE, no ts-mls defaults). */
export const DAVE_CAPABILITIES: Capabilities = {
  versions: ['mls10'],
  ciphersuites: ['MLS_128_DHKEMP256_AES128GCM_SHA256_P256'],
  extensions: [],
  proposals: [],
  credentials: ['basic'],
};

/** not_before = 0, not_after = 2^64-1: the gateway rejects anything else (dave.md §5.4). */
export const DAVE_LIFETIME: Lifetime = { notBefore: 0n, notAfter: (1n << 64n) - 1n };

export interface SignatureKeyPair {
  /** 32-byte P-256 scalar. */
  privateKey: Uint8Array;
  /** 65-byte uncompressed P-256 point. */
  publicKey: Uint8Array;
}

export interface DaveKeyPackage {
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  /** Bare KeyPackage bytes: op 26's payload. */
  encoded: Uint8Array;
}

/** A fresh key package (new init key and new leaf HPKE key) for `userId`. */
export async function createDaveKeyPackage(
  userId: string,
  signatureKeys: SignatureKeyPair,
  cs: CiphersuiteImpl,
): Promise<DaveKeyPackage> {
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: snowflakeToBE64(userId) },
    DAVE_CAPABILITIES,
    DAVE_LIFETIME,
    [],
    { signKey: signatureKeys.privateKey, publicKey: signatureKeys.publicKey },
    cs,
    [],
  );
  return { publicPackage, privatePackage, encoded: encodeKeyPackage(publicPackage) };
}
