/**
 * Gateway-side key package validation (the Authentication Service role; dave.md §5.4, §5.5):
 * version 1, cipher suite 2, basic credential whose identity is BE64(authenticated user id),
 * leaf source key_package with the maximal lifetime 0..2^64-1, valid leaf node and key package
 * signatures. Takes a bare KeyPackage (unwrap an MLSMessage-wrapped one with
 * decodeKeyPackagePayload from ../opcodes.js first).
 * Never throws on bad input: returns a typed rejection.
 */
import { bytesEqual, CREDENTIAL_BASIC, MlsCodecError, Reader, snowflakeToBE64 } from './mls-codec.js';
import { keyPackageRef, verifyWithLabel } from './mls-sign.js';
import { MLS_CIPHERSUITE, MLS_PROTOCOL_VERSION } from '../../protocol/constants.js';

const LEAF_SOURCE_KEY_PACKAGE = 1;
const LEAF_SOURCE_UPDATE = 2;
const LEAF_SOURCE_COMMIT = 3;
const U64_MAX = (1n << 64n) - 1n;

export interface ParsedLeafNode {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credentialType: number;
  /** Identity of a basic credential; empty for other credential types. */
  identity: Uint8Array;
  source: number;
  /** Present when source is key_package. */
  lifetime: { notBefore: bigint; notAfter: bigint } | undefined;
  /** The LeafNode fields covered by its signature (LeafNodeTBS without group context). */
  signedContent: Uint8Array;
  signature: Uint8Array;
}

/** Reads a LeafNode (RFC 9420 §7.2); throws MlsCodecError on malformed input. */
export function readLeafNode(r: Reader): ParsedLeafNode {
  const start = r.offset;
  const encryptionKey = r.opaque('leaf encryption key');
  const signatureKey = r.opaque('leaf signature key');
  const credentialType = r.u16('credential type');
  let identity: Uint8Array = new Uint8Array(0);
  if (credentialType === CREDENTIAL_BASIC) identity = r.opaque('credential identity');
  else r.opaque('credential body'); // x509: certificates<V>; other types are not DAVE's concern
  for (let i = 0; i < 5; i++) r.opaque('capabilities');
  const source = r.u8('leaf node source');
  let lifetime: ParsedLeafNode['lifetime'];
  if (source === LEAF_SOURCE_KEY_PACKAGE)
    lifetime = { notBefore: r.u64('not_before'), notAfter: r.u64('not_after') };
  else if (source === LEAF_SOURCE_COMMIT) r.opaque('parent hash');
  else if (source !== LEAF_SOURCE_UPDATE) throw new MlsCodecError(`invalid leaf node source ${source}`);
  r.opaque('leaf extensions');
  const signedContent = r.bytes.subarray(start, r.offset);
  const signature = r.opaque('leaf signature');
  return {
    encryptionKey,
    signatureKey,
    credentialType,
    identity,
    source,
    lifetime,
    signedContent,
    signature,
  };
}

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
    const version = r.u16('version');
    if (version !== MLS_PROTOCOL_VERSION) return reject('wrong-version', `MLS version ${version}`);
    const suite = r.u16('cipher suite');
    if (suite !== MLS_CIPHERSUITE) return reject('wrong-cipher-suite', `cipher suite ${suite}`);
    r.opaque('init key');
    const leaf = readLeafNode(r);
    r.opaque('key package extensions');
    const tbs = kp.subarray(0, r.offset);
    const signature = r.opaque('key package signature');
    r.expectEnd('key package');

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
    if (leaf.signatureKey.length !== 65 || leaf.signatureKey[0] !== 0x04) {
      return reject('bad-signature-key', 'signature key is not an uncompressed P-256 point');
    }
    if (!verifyWithLabel(leaf.signatureKey, 'LeafNodeTBS', leaf.signedContent, leaf.signature)) {
      return reject('bad-leaf-signature', 'leaf node signature does not verify');
    }
    if (!verifyWithLabel(leaf.signatureKey, 'KeyPackageTBS', tbs, signature)) {
      return reject('bad-key-package-signature', 'key package signature does not verify');
    }
    return { ok: true, keyPackage: kp, ref: keyPackageRef(kp), signatureKey: leaf.signatureKey };
  } catch (err) {
    if (err instanceof MlsCodecError) return reject('malformed', err.message);
    throw err;
  }
}
