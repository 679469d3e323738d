/**
 * Key schedule (RFC 9420 §8), transcript hashes (§8.2), the Welcome key (§12.4.3.1), PSK secret
 * (§8.4, for the vectors; DAVE uses no PSKs) and the secret tree (§9, for the vectors only: DAVE
 * sends no PrivateMessages, so a group never builds one).
 */
import { Writer } from '../mls-codec.js';
import {
  deriveSecret,
  deriveTreeSecret,
  expandWithLabel,
  extract,
  HASH_BYTES,
  hmacSha256,
  sha256,
} from './crypto.js';
import { hpkeDeriveKeyPair, AEAD_KEY_BYTES, AEAD_NONCE_BYTES } from './hpke.js';
import { left, right, root, leafToNode, level } from './tree-math.js';

const ZERO = new Uint8Array(HASH_BYTES);
const EMPTY = new Uint8Array(0);

export interface EpochSecrets {
  joinerSecret: Uint8Array;
  welcomeSecret: Uint8Array;
  epochSecret: Uint8Array;
  senderDataSecret: Uint8Array;
  encryptionSecret: Uint8Array;
  exporterSecret: Uint8Array;
  epochAuthenticator: Uint8Array;
  externalSecret: Uint8Array;
  confirmationKey: Uint8Array;
  membershipKey: Uint8Array;
  resumptionPsk: Uint8Array;
  initSecret: Uint8Array;
}

/** joiner_secret from the previous init_secret and this commit's commit_secret. */
export function joinerSecret(
  initSecret: Uint8Array,
  commitSecret: Uint8Array | undefined,
  groupContext: Uint8Array,
): Uint8Array {
  return expandWithLabel(extract(initSecret, commitSecret ?? ZERO), 'joiner', groupContext, HASH_BYTES);
}

/** Everything derived from the joiner secret for the epoch whose GroupContext is given. */
export function epochSecrets(
  joiner: Uint8Array,
  pskSecret: Uint8Array | undefined,
  groupContext: Uint8Array,
): EpochSecrets {
  const member = extract(joiner, pskSecret ?? ZERO);
  const epochSecret = expandWithLabel(member, 'epoch', groupContext, HASH_BYTES);
  return {
    joinerSecret: joiner,
    welcomeSecret: deriveSecret(member, 'welcome'),
    epochSecret,
    senderDataSecret: deriveSecret(epochSecret, 'sender data'),
    encryptionSecret: deriveSecret(epochSecret, 'encryption'),
    exporterSecret: deriveSecret(epochSecret, 'exporter'),
    epochAuthenticator: deriveSecret(epochSecret, 'authentication'),
    externalSecret: deriveSecret(epochSecret, 'external'),
    confirmationKey: deriveSecret(epochSecret, 'confirm'),
    membershipKey: deriveSecret(epochSecret, 'membership'),
    resumptionPsk: deriveSecret(epochSecret, 'resumption'),
    initSecret: deriveSecret(epochSecret, 'init'),
  };
}

/** The external HPKE public key of an epoch (§8.3). */
export function externalPub(externalSecret: Uint8Array): Uint8Array {
  return hpkeDeriveKeyPair(externalSecret).publicKey;
}

/** Welcome AEAD key and nonce from the welcome_secret (§12.4.3.1). */
export function welcomeKeyNonce(welcomeSecret: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  return {
    key: expandWithLabel(welcomeSecret, 'key', EMPTY, AEAD_KEY_BYTES),
    nonce: expandWithLabel(welcomeSecret, 'nonce', EMPTY, AEAD_NONCE_BYTES),
  };
}

/** psk_secret from the PSKs in order (§8.4): psk_id is the encoded PreSharedKeyID. */
export function pskSecret(psks: readonly { pskId: Uint8Array; psk: Uint8Array }[]): Uint8Array {
  let secret: Uint8Array = ZERO;
  psks.forEach(({ pskId, psk }, index) => {
    const extracted = extract(ZERO, psk);
    const label = new Writer().raw(pskId).u16(index).u16(psks.length).bytes();
    const input = expandWithLabel(extracted, 'derived psk', label, HASH_BYTES);
    secret = extract(input, secret);
  });
  return secret;
}

// ---- transcript hashes (§8.2) ----

/** confirmed_transcript_hash = Hash(interim_before ‖ wire_format ‖ FramedContent ‖ signature<V>). */
export function confirmedTranscriptHash(interimBefore: Uint8Array, confirmedInput: Uint8Array): Uint8Array {
  return sha256(new Writer().raw(interimBefore).raw(confirmedInput).bytes());
}

/** interim_transcript_hash = Hash(confirmed ‖ confirmation_tag<V>). */
export function interimTranscriptHash(confirmed: Uint8Array, confirmationTag: Uint8Array): Uint8Array {
  return sha256(new Writer().raw(confirmed).opaque(confirmationTag).bytes());
}

export function confirmationTag(confirmationKey: Uint8Array, confirmed: Uint8Array): Uint8Array {
  return hmacSha256(confirmationKey, confirmed);
}

// ---- secret tree (§9), vectors only ----

export interface RatchetSecret {
  key: Uint8Array;
  nonce: Uint8Array;
}

/** The handshake and application ratchet roots of one leaf. */
export function leafRatchetSecrets(
  encryptionSecret: Uint8Array,
  leafCount: number,
  leafIndex: number,
): { handshake: Uint8Array; application: Uint8Array } {
  let x = root(leafCount);
  let secret = encryptionSecret;
  const target = leafToNode(leafIndex);
  while (x !== target) {
    const goLeft = target < x;
    secret = expandWithLabel(secret, 'tree', new TextEncoder().encode(goLeft ? 'left' : 'right'), HASH_BYTES);
    x = goLeft ? left(x) : right(x);
    if (level(x) === 0 && x !== target) throw new RangeError('leaf outside the tree');
  }
  return {
    handshake: expandWithLabel(secret, 'handshake', EMPTY, HASH_BYTES),
    application: expandWithLabel(secret, 'application', EMPTY, HASH_BYTES),
  };
}

/** Key and nonce of `generation` of a ratchet started at `secret`. */
export function ratchetKeyNonce(secret: Uint8Array, generation: number): RatchetSecret {
  let s = secret;
  for (let g = 0; g < generation; g++) s = deriveTreeSecret(s, 'secret', g, HASH_BYTES);
  return {
    key: deriveTreeSecret(s, 'key', generation, AEAD_KEY_BYTES),
    nonce: deriveTreeSecret(s, 'nonce', generation, AEAD_NONCE_BYTES),
  };
}

/** Sender data key and nonce from the first Nh bytes of a PrivateMessage ciphertext (§6.3.2). */
export function senderDataKeyNonce(senderDataSecret: Uint8Array, ciphertext: Uint8Array): RatchetSecret {
  const sample = ciphertext.subarray(0, HASH_BYTES);
  return {
    key: expandWithLabel(senderDataSecret, 'key', sample, AEAD_KEY_BYTES),
    nonce: expandWithLabel(senderDataSecret, 'nonce', sample, AEAD_NONCE_BYTES),
  };
}
