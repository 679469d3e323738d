/**
 * Per-joiner Welcome filtering (dave.md §7.10): keep only the EncryptedGroupSecrets entry whose
 * `new_member` equals the joiner's KeyPackageRef, re-encode the secrets vector, keep the
 * encrypted GroupInfo unchanged. Never throws on bad input.
 */
import { bytesEqual, concatBytes, encodeOpaque, MlsCodecError, Reader } from './mls-codec.js';

export interface WelcomeSecretEntry {
  newMember: Uint8Array;
  /** The whole encoded EncryptedGroupSecrets entry. */
  encoded: Uint8Array;
}

export interface ParsedWelcome {
  cipherSuite: number;
  /** The `u16 cipher_suite` bytes. */
  header: Uint8Array;
  secrets: WelcomeSecretEntry[];
  /** `opaque encrypted_group_info<V>` including its length prefix. */
  encodedGroupInfo: Uint8Array;
}

/** Parses a bare Welcome; undefined when malformed. */
export function parseWelcome(welcome: Uint8Array): ParsedWelcome | undefined {
  try {
    const r = new Reader(welcome);
    const cipherSuite = r.u16('welcome cipher suite');
    const list = r.vector('welcome secrets');
    const secrets: WelcomeSecretEntry[] = [];
    while (list.remaining > 0) {
      const start = list.offset;
      const newMember = list.opaque('new_member');
      list.opaque('kem output');
      list.opaque('encrypted group secrets');
      secrets.push({ newMember, encoded: list.bytes.subarray(start, list.offset) });
    }
    const groupInfoStart = r.offset;
    r.opaque('encrypted group info');
    r.expectEnd('welcome');
    return {
      cipherSuite,
      header: welcome.subarray(0, 2),
      secrets,
      encodedGroupInfo: welcome.subarray(groupInfoStart),
    };
  } catch (err) {
    if (err instanceof MlsCodecError) return undefined;
    throw err;
  }
}

/** The Welcome reduced to one joiner's entry; undefined when that joiner has no entry. */
export function filterWelcome(welcome: ParsedWelcome, keyPackageRef: Uint8Array): Uint8Array | undefined {
  const entry = welcome.secrets.find((s) => bytesEqual(s.newMember, keyPackageRef));
  if (entry === undefined) return undefined;
  return concatBytes(welcome.header, encodeOpaque(entry.encoded), welcome.encodedGroupInfo);
}
