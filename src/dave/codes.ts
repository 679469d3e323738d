/**
 * DAVE privacy and verification codes (dave.md §10): displayable codes, the call-level privacy
 * code from the MLS epoch authenticator, key fingerprints and the scrypt pairwise fingerprint.
 */
import { scrypt } from 'node:crypto';
import {
  DAVE_CODE_GROUP_SIZE,
  DAVE_FINGERPRINT_VERSION,
  DAVE_PRIVACY_CODE_DIGITS,
  DAVE_SCRYPT,
  DAVE_VERIFICATION_CODE_DIGITS,
} from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { parseUserId } from './hash-ratchet.js';

const MAX_GROUP_SIZE = 8;

/**
 * Displayable code: the first `length` bytes of `data` in groups of `groupSize` bytes, each read
 * as a big-endian integer and printed as `groupSize` decimal digits (value mod 10^groupSize).
 */
export function displayableCode(data: Uint8Array, length: number, groupSize: number): string {
  if (!Number.isInteger(length) || !Number.isInteger(groupSize) || length < 0 || groupSize < 1) {
    throw new VoxcordError('INVALID_ARGUMENT', 'invalid displayable code length or group size');
  }
  if (data.length < length)
    throw new VoxcordError('INVALID_ARGUMENT', 'data too short for the displayable code');
  if (length % groupSize !== 0) {
    throw new VoxcordError(
      'INVALID_ARGUMENT',
      'displayable code length must be a multiple of the group size',
    );
  }
  if (groupSize > MAX_GROUP_SIZE)
    throw new VoxcordError('INVALID_ARGUMENT', 'displayable code group size above 8');
  const modulus = 10n ** BigInt(groupSize);
  let out = '';
  for (let i = 0; i < length; i += groupSize) {
    let value = 0n;
    for (let j = 0; j < groupSize; j++) value = (value << 8n) | BigInt(data[i + j]!);
    out += (value % modulus).toString().padStart(groupSize, '0');
  }
  return out;
}

/** Call-level privacy code: 30 digits from the MLS epoch authenticator. */
export function privacyCode(epochAuthenticator: Uint8Array): string {
  return displayableCode(epochAuthenticator, DAVE_PRIVACY_CODE_DIGITS, DAVE_CODE_GROUP_SIZE);
}

/** fp(u, K) = BE16(version) ‖ K ‖ BE64(u), K = the member's signature public key (dave.md §10.3). */
export function keyFingerprint(version: number, key: Uint8Array, userId: string | bigint): Uint8Array {
  if (version !== DAVE_FINGERPRINT_VERSION) {
    throw new VoxcordError('INVALID_ARGUMENT', 'unsupported DAVE fingerprint version');
  }
  if (key.length === 0) throw new VoxcordError('INVALID_ARGUMENT', 'empty signature key');
  const id = parseUserId(userId);
  const out = new Uint8Array(2 + key.length + 8);
  const view = new DataView(out.buffer);
  view.setUint16(0, version);
  out.set(key, 2);
  view.setBigUint64(2 + key.length, id);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Pairwise fingerprint: scrypt over both key fingerprints sorted bytewise (so both members get the
 * same bytes). 64 bytes.
 */
export async function pairwiseFingerprint(
  version: number,
  localKey: Uint8Array,
  localUserId: string | bigint,
  remoteKey: Uint8Array,
  remoteUserId: string | bigint,
): Promise<Uint8Array> {
  const fingerprints = [
    keyFingerprint(version, localKey, localUserId),
    keyFingerprint(version, remoteKey, remoteUserId),
  ];
  fingerprints.sort(compareBytes);
  const input = new Uint8Array(fingerprints[0]!.length + fingerprints[1]!.length);
  input.set(fingerprints[0]!, 0);
  input.set(fingerprints[1]!, fingerprints[0]!.length);
  const { N, r, p, keyLength, salt } = DAVE_SCRYPT;
  return new Promise<Uint8Array>((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes (16 MiB here), above Node's default margin on some builds.
    scrypt(input, hexToBytes(salt), keyLength, { N, r, p, maxmem: 256 * N * r }, (err, derived) => {
      if (err !== null) reject(new VoxcordError('DAVE_PROTOCOL_ERROR', 'scrypt failed', { cause: err }));
      else resolve(Uint8Array.from(derived));
    });
  });
}

/** Pairwise verification code: 45 digits from the pairwise fingerprint (version 0). */
export async function verificationCode(
  localKey: Uint8Array,
  localUserId: string | bigint,
  remoteKey: Uint8Array,
  remoteUserId: string | bigint,
): Promise<string> {
  const fingerprint = await pairwiseFingerprint(
    DAVE_FINGERPRINT_VERSION,
    localKey,
    localUserId,
    remoteKey,
    remoteUserId,
  );
  return displayableCode(fingerprint, DAVE_VERIFICATION_CODE_DIGITS, DAVE_CODE_GROUP_SIZE);
}
