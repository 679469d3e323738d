/**
 * Transport encryption for the `*_rtpsize` AEAD modes (media.md §3, §4.2).
 * Datagram = header (AAD) ‖ ciphertext ‖ tag(16) ‖ counter (u32 BE). The expanded nonce is the
 * 4 counter bytes followed by zeros (12 bytes for AES-GCM, 24 for XChaCha).
 *
 * This runs per packet for every connection, so each cipher keeps its own scratch buffers and
 * the key in the form its backend wants; nothing here logs or formats the key.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { VoxcordError } from '../errors.js';
import {
  AES_GCM_NONCE_BYTES,
  EncryptionMode,
  SUPPORTED_MODES,
  TRANSPORT_KEY_BYTES,
  TRANSPORT_NONCE_SUFFIX_BYTES,
  TRANSPORT_TAG_BYTES,
  XCHACHA_NONCE_BYTES,
} from '../protocol/constants.js';
import { hchacha20Words, keyWords } from './xchacha20.js';
import { loadSodium, sodiumHasAesGcm } from './sodium.js';
import type { SodiumAead } from './sodium.js';

export interface TransportCipher {
  readonly mode: EncryptionMode;
  /** Which implementation does the work (informational). */
  readonly backend?: TransportBackend;
  /** Returns the full datagram: header ‖ ciphertext ‖ tag(16) ‖ BE32 counter. AAD = header. */
  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer;
  /**
   * AAD = packet[0, headerLength); nonce = last 4 bytes; returns plaintext or null if
   * authentication fails or the packet is too short. Never throws on bad input.
   */
  open(packet: Uint8Array, headerLength: number): Buffer | null;
}

export type TransportBackend = 'sodium' | 'node';

/** Bytes a sealed datagram adds after the header and payload: tag + counter. */
const OVERHEAD = TRANSPORT_TAG_BYTES + TRANSPORT_NONCE_SUFFIX_BYTES;
/** IETF ChaCha20-Poly1305 nonce after HChaCha20: 4 zero bytes ‖ xnonce[16..24), all zero here. */
const ZERO_IETF_NONCE = Buffer.alloc(12);

function writeBE32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Byte-swapped counter: the little-endian word HChaCha20 reads from the big-endian nonce bytes. */
function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** Valid framing for open(): header fits and leaves room for tag + counter. */
function framingOk(packet: Uint8Array, headerLength: number): boolean {
  return Number.isInteger(headerLength) && headerLength >= 0 && packet.length >= headerLength + OVERHEAD;
}

function allocDatagram(header: Uint8Array, payloadLength: number): Buffer {
  // allocUnsafe draws small buffers from node's pool; every byte is written below.
  const out = Buffer.allocUnsafe(header.length + payloadLength + OVERHEAD);
  out.set(header, 0);
  return out;
}

class NodeAesGcm implements TransportCipher {
  readonly mode = EncryptionMode.AesGcm;
  readonly backend = 'node';
  readonly #key: KeyObject;
  readonly #nonce = Buffer.alloc(AES_GCM_NONCE_BYTES);

  constructor(key: Uint8Array) {
    this.#key = createSecretKey(key);
  }

  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer {
    const c = counter >>> 0;
    const h = header.length;
    const p = payload.length;
    const out = allocDatagram(header, p);
    writeBE32(this.#nonce, 0, c);
    const cipher = createCipheriv('aes-256-gcm', this.#key, this.#nonce);
    cipher.setAAD(header);
    out.set(cipher.update(payload), h);
    cipher.final();
    out.set(cipher.getAuthTag(), h + p);
    writeBE32(out, h + p + TRANSPORT_TAG_BYTES, c);
    return out;
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const end = packet.length;
    this.#nonce.set(packet.subarray(end - 4, end), 0);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, this.#nonce, { authTagLength: 16 });
      decipher.setAAD(packet.subarray(0, headerLength));
      decipher.setAuthTag(packet.subarray(end - OVERHEAD, end - 4));
      const pt = decipher.update(packet.subarray(headerLength, end - OVERHEAD));
      decipher.final();
      return pt;
    } catch {
      return null;
    }
  }
}

class NodeXChaCha implements TransportCipher {
  readonly mode = EncryptionMode.XChaCha;
  readonly backend = 'node';
  readonly #keyWords: Uint32Array;
  readonly #subkey = Buffer.alloc(32);

  constructor(key: Uint8Array) {
    this.#keyWords = keyWords(key);
  }

  /** Subkey for xnonce = counterBE ‖ 0×20: HChaCha20 over (counterBE ‖ 0×12). */
  #derive(counterLE: number): Buffer {
    hchacha20Words(this.#keyWords, counterLE, 0, 0, 0, this.#subkey);
    return this.#subkey;
  }

  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer {
    const c = counter >>> 0;
    const h = header.length;
    const p = payload.length;
    const out = allocDatagram(header, p);
    const cipher = createCipheriv('chacha20-poly1305', this.#derive(bswap32(c)), ZERO_IETF_NONCE, {
      authTagLength: 16,
    });
    cipher.setAAD(header, { plaintextLength: p });
    out.set(cipher.update(payload), h);
    cipher.final();
    out.set(cipher.getAuthTag(), h + p);
    writeBE32(out, h + p + TRANSPORT_TAG_BYTES, c);
    return out;
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const end = packet.length;
    const counterLE =
      packet[end - 4]! | (packet[end - 3]! << 8) | (packet[end - 2]! << 16) | (packet[end - 1]! << 24);
    try {
      const decipher = createDecipheriv('chacha20-poly1305', this.#derive(counterLE), ZERO_IETF_NONCE, {
        authTagLength: 16,
      });
      decipher.setAAD(packet.subarray(0, headerLength), { plaintextLength: end - headerLength - OVERHEAD });
      decipher.setAuthTag(packet.subarray(end - OVERHEAD, end - 4));
      const pt = decipher.update(packet.subarray(headerLength, end - OVERHEAD));
      decipher.final();
      return pt;
    } catch {
      return null;
    }
  }
}

type SodiumEncrypt = SodiumAead['crypto_aead_xchacha20poly1305_ietf_encrypt'];
type SodiumDecrypt = SodiumAead['crypto_aead_xchacha20poly1305_ietf_decrypt'];

/** libsodium combined-mode AEAD (output ct ‖ tag), for either mode. */
class SodiumCipher implements TransportCipher {
  readonly backend = 'sodium';
  readonly #key: Buffer;
  readonly #nonce: Buffer;

  constructor(
    readonly mode: EncryptionMode,
    key: Uint8Array,
    private readonly encrypt: SodiumEncrypt,
    private readonly decrypt: SodiumDecrypt,
  ) {
    this.#key = Buffer.from(key);
    this.#nonce = Buffer.alloc(mode === EncryptionMode.AesGcm ? AES_GCM_NONCE_BYTES : XCHACHA_NONCE_BYTES);
  }

  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer {
    const c = counter >>> 0;
    const h = header.length;
    const p = payload.length;
    const out = allocDatagram(header, p);
    writeBE32(this.#nonce, 0, c);
    this.encrypt(out.subarray(h, h + p + TRANSPORT_TAG_BYTES), payload, header, null, this.#nonce, this.#key);
    writeBE32(out, h + p + TRANSPORT_TAG_BYTES, c);
    return out;
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const end = packet.length;
    this.#nonce.set(packet.subarray(end - 4, end), 0);
    const pt = Buffer.allocUnsafe(end - headerLength - OVERHEAD);
    try {
      this.decrypt(
        pt,
        null,
        packet.subarray(headerLength, end - 4),
        packet.subarray(0, headerLength),
        this.#nonce,
        this.#key,
      );
      return pt;
    } catch {
      return null;
    }
  }
}

function sodiumFunctions(sodium: SodiumAead, mode: EncryptionMode): [SodiumEncrypt, SodiumDecrypt] | null {
  if (mode === EncryptionMode.XChaCha) {
    return [
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt.bind(sodium),
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt.bind(sodium),
    ];
  }
  if (
    sodiumHasAesGcm(sodium) &&
    sodium.crypto_aead_aes256gcm_encrypt &&
    sodium.crypto_aead_aes256gcm_decrypt
  ) {
    return [
      sodium.crypto_aead_aes256gcm_encrypt.bind(sodium),
      sodium.crypto_aead_aes256gcm_decrypt.bind(sodium),
    ];
  }
  return null;
}

/** Backends that can be used in this process, preferred first. */
export function availableTransportBackends(): TransportBackend[] {
  return loadSodium() ? ['sodium', 'node'] : ['node'];
}

/**
 * Creates the cipher for a session key. `backend`: 'auto' (default) uses sodium-native when it is
 * loaded and supports the mode, else node:crypto; 'sodium' throws INVALID_ARGUMENT if sodium-native
 * is missing or lacks the mode (sodium-native v5 has no AES-256-GCM).
 */
export function createTransportCipher(
  mode: EncryptionMode,
  key: Uint8Array,
  options?: { backend?: 'auto' | TransportBackend },
): TransportCipher {
  if (!SUPPORTED_MODES.includes(mode)) {
    throw new VoxcordError('INVALID_ARGUMENT', 'unsupported transport encryption mode', {
      details: { mode: String(mode) },
    });
  }
  if (!(key instanceof Uint8Array) || key.length !== TRANSPORT_KEY_BYTES) {
    throw new VoxcordError('INVALID_ARGUMENT', `transport key must be ${TRANSPORT_KEY_BYTES} bytes`);
  }
  const backend = options?.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'node' && backend !== 'sodium') {
    throw new VoxcordError('INVALID_ARGUMENT', 'unknown transport backend', {
      details: { backend: String(backend) },
    });
  }
  if (backend !== 'node') {
    const sodium = loadSodium();
    const fns = sodium ? sodiumFunctions(sodium, mode) : null;
    if (fns) return new SodiumCipher(mode, key, fns[0], fns[1]);
    if (backend === 'sodium') {
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        sodium ? `sodium-native does not support ${mode} here` : 'sodium-native is not available',
      );
    }
  }
  return mode === EncryptionMode.AesGcm ? new NodeAesGcm(key) : new NodeXChaCha(key);
}
