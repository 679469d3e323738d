/**
 * Gateway-side key package validation (the Authentication Service role; dave.md §5.4, §5.5):
 * version 1, cipher suite 2, basic credential whose identity is BE64(authenticated user id),
 * leaf source key_package with the maximal lifetime 0..2^64-1, valid leaf node and key package
 * signatures. Takes a bare KeyPackage (unwrap an MLSMessage-wrapped one with
 * decodeKeyPackagePayload from ../opcodes.js first).
 * Never throws on bad input: returns a typed rejection.
 */
import {
  bytesEqual,
  CREDENTIAL_BASIC,
  LEAF_SOURCE_KEY_PACKAGE,
  MlsCodecError,
  MlsWrongMessageError,
  readKeyPackage,
  Reader,
  snowflakeToBE64,
} from './mls-codec.js';
import { isUncompressedP256Point, keyPackageRef, verifyWithLabel } from './mls-sign.js';
import { MLS_CIPHERSUITE, MLS_PROTOCOL_VERSION } from '../../protocol/constants.js';

const U64_MAX = (1n << 64n) - 1n;

export type KeyPackageRejectReason =
  | 'malformed'
  | 'wrong-version'
  | 'wrong-cipher-suite'
  | 'wrong-credential-type'
  | 'wrong-identity'
  | 'wrong-leaf-source'
  | 'wrong-lifetime'
  | 'bad-signature-key'
  | 'bad-leaf-signature'
  | 'bad-key-package-signature';

export interface ValidKeyPackage {
  ok: true;
  /** The bare KeyPackage bytes. */
  keyPackage: Uint8Array;
  /** KeyPackageRef (RFC 9420 §5.2), the `new_member` of its Welcome secrets entry. */
  ref: Uint8Array;
  /** Leaf signature key (65-byte point): the member's identity key for commit path checks. */
  signatureKey: Uint8Array;
}

export interface InvalidKeyPackage {
  ok: false;
  reason: KeyPackageRejectReason;
  detail: string;
}

export type KeyPackageCheck = ValidKeyPackage | InvalidKeyPackage;

function reject(reason: KeyPackageRejectReason, detail: string): InvalidKeyPackage {
  return { ok: false, reason, detail };
}

/** Validates a bare KeyPackage from op 26 for the user authenticated on that websocket. */
export function checkKeyPackage(bytes: Uint8Array, userId: string): KeyPackageCheck {
  let expectedIdentity: Uint8Array;
  try {
    expectedIdentity = snowflakeToBE64(userId);
  } catch {
    return reject('wrong-identity', 'authenticated user id is not a snowflake');
  }
  try {
    const kp = bytes;
    const r = new Reader(kp);
    const parsed = readKeyPackage(r, { version: MLS_PROTOCOL_VERSION, cipherSuite: MLS_CIPHERSUITE });
    r.expectEnd('key package');
    const leaf = parsed.leaf;

    if (leaf.credentialType !== CREDENTIAL_BASIC) {
      return reject('wrong-credential-type', `credential type ${leaf.credentialType}`);
    }
    if (!bytesEqual(leaf.identity, expectedIdentity)) {
      return reject('wrong-identity', 'credential identity is not BE64 of the authenticated user id');
    }
    if (leaf.source !== LEAF_SOURCE_KEY_PACKAGE || leaf.lifetime === undefined) {
      return reject('wrong-leaf-source', `leaf node source ${leaf.source}`);
    }
    if (leaf.lifetime.notBefore !== 0n || leaf.lifetime.notAfter !== U64_MAX) {
      return reject('wrong-lifetime', 'lifetime is not 0..2^64-1');
    }
    if (!isUncompressedP256Point(leaf.signatureKey)) {
      return reject('bad-signature-key', 'signature key is not an uncompressed P-256 point');
    }
    if (!verifyWithLabel(leaf.signatureKey, 'LeafNodeTBS', leaf.signedContent, leaf.signature)) {
      return reject('bad-leaf-signature', 'leaf node signature does not verify');
    }
    if (!verifyWithLabel(leaf.signatureKey, 'KeyPackageTBS', parsed.signedContent, parsed.signature)) {
      return reject('bad-key-package-signature', 'key package signature does not verify');
    }
    return { ok: true, keyPackage: kp, ref: keyPackageRef(kp), signatureKey: leaf.signatureKey };
  } catch (err) {
    if (err instanceof MlsWrongMessageError && err.field === 'version')
      return reject('wrong-version', err.message);
    if (err instanceof MlsWrongMessageError) return reject('wrong-cipher-suite', err.message);
    if (err instanceof MlsCodecError) return reject('malformed', err.message);
    throw err;
  }
}
