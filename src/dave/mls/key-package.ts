/**
 * DAVE key packages (op 26): a bare KeyPackage exactly as libdave builds it (dave.md §5.4):
 * ciphersuite 2 only, basic credentials only, no extensions, maximal lifetime, uncompressed keys.
 */
import { createKeyPackage } from './rfc9420/group.js';
import type { KeyPackageBundle } from './rfc9420/group.js';
import { snowflakeToBE64 } from './mls-codec.js';

export { generateP256KeyPair } from './rfc9420/hpke.js';

export interface SignatureKeyPair {
  /** 32-byte P-256 scalar. */
  privateKey: Uint8Array;
  /** 65-byte uncompressed P-256 point. */
  publicKey: Uint8Array;
}

export interface DaveKeyPackage {
  /** The key package with its private keys. */
  bundle: KeyPackageBundle;
  /** Bare KeyPackage bytes: op 26's payload. */
  encoded: Uint8Array;
}

/** A fresh key package (new init key and new leaf HPKE key) for `userId`. */
export function createDaveKeyPackage(userId: string, signatureKeys: SignatureKeyPair): DaveKeyPackage {
  const bundle = createKeyPackage(snowflakeToBE64(userId), signatureKeys);
  return { bundle, encoded: bundle.encoded };
}
