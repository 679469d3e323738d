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
import { AesGcm } from '../crypto/gcm.js';
import type { GcmKeystream } from '../crypto/gcm.js';
import { STAGE_BYTES } from '../crypto/aes-wasm.js';
import { hchacha20Words, keyWords } from '../crypto/xchacha20.js';
import { bswap32, readBe32, readLe32, writeBe32 } from '../util/bytes.js';
import { loadSodium, sodiumHasAesGcm, sodiumMayHaveAesGcm } from './sodium.js';
import type { SodiumAead } from './sodium.js';

export interface TransportCipher {
  readonly mode: EncryptionMode;
  /** Which implementation does the work (informational). */
  readonly backend?: TransportBackend;
  /** Returns the full datagram: header ‖ ciphertext ‖ tag(16) ‖ BE32 counter. AAD = header. */
  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer;
  /**
   * seal() without an allocation: the header (AAD) is `datagram[0, headerLength)` and the payload
   * follows it; the ciphertext replaces the payload, then tag(16) ‖ BE32 counter. `datagram` must
   * have room for them. Returns the datagram's length.
   */
  sealInPlace(datagram: Uint8Array, headerLength: number, payloadLength: number, counter: number): number;
  /**
   * sealInPlace() of a payload that is not in `datagram` but in the WebAssembly core's stage, where
   * the DAVE pass left it (FrameEncryptor.encryptRangeToStage): one copy into the core and one out
   * for both passes. Only for payloads up to `stagedPayloadMax`.
   */
  sealStaged?(datagram: Uint8Array, headerLength: number, payloadLength: number, counter: number): number;
  /** The largest payload sealStaged takes; absent or 0 where the cipher has no stage. */
  readonly stagedPayloadMax?: number;
  /**
   * AAD = packet[0, headerLength); nonce = last 4 bytes; returns plaintext or null if
   * authentication fails or the packet is too short. Never throws on bad input.
   */
  open(packet: Uint8Array, headerLength: number): Buffer | null;
  /**
   * open() into `out` from `outOffset` (room for the plaintext, packet.length - headerLength - 20
   * bytes, is the caller's): returns the plaintext's length, or -1 where open() returns null.
   */
  openInto(packet: Uint8Array, headerLength: number, out: Uint8Array, outOffset: number): number;
}

/**
 * 'sodium': libsodium (sodium-native). 'node': node:crypto per packet. 'js': AES-256-GCM in plain
 * TypeScript for payloads up to JS_AES_GCM_MAX_PAYLOAD bytes, node:crypto above (AES mode only).
 */
export type TransportBackend = 'sodium' | 'node' | 'js';

/**
 * Largest payload the 'js' backend encrypts itself. The WebAssembly core's cost grows with the
 * payload (about 1 µs plus 0.13 µs per 16-byte block, AES-256 and GHASH, over 1000 keys) while
 * createCipheriv costs a nearly constant 4-7 µs per packet (object and context set-up; the block
 * work is AES-NI): `npx tsx bench/transport-crypto.ts --crossover` puts the crossover at 600-800
 * bytes (at 120 bytes 1.7 against 5.4-6.7 µs, at 512 4.8 against 5.3-6.9, at 1024 9.2-9.8 against
 * 6.9-7.4), so 512 stands. Opus frames up to 192 kbit/s (480 bytes, and a DAVE trailer) stay below.
 */
export const JS_AES_GCM_MAX_PAYLOAD = 512;

/** Bytes a sealed datagram adds after the header and payload: tag + counter. */
const OVERHEAD = TRANSPORT_TAG_BYTES + TRANSPORT_NONCE_SUFFIX_BYTES;
/** IETF ChaCha20-Poly1305 nonce after HChaCha20: 4 zero bytes ‖ xnonce[16..24), all zero here. */
const ZERO_IETF_NONCE = Buffer.alloc(12);

/** Valid framing for open(): header fits and leaves room for tag + counter. */
function framingOk(packet: Uint8Array, headerLength: number): boolean {
  return Number.isInteger(headerLength) && headerLength >= 0 && packet.length >= headerLength + OVERHEAD;
}

/** openInto() for the backends whose native call returns its own buffer: open(), then a copy. */
function openCopy(
  cipher: TransportCipher,
  packet: Uint8Array,
  headerLength: number,
  out: Uint8Array,
  outOffset: number,
): number {
  const plaintext = cipher.open(packet, headerLength);
  if (plaintext === null) return -1;
  out.set(plaintext, outOffset);
  return plaintext.length;
}

/** seal() for every backend: header and payload copied into a new datagram, sealed there. */
function sealCopy(cipher: TransportCipher, header: Uint8Array, payload: Uint8Array, counter: number): Buffer {
  const h = header.length;
  // allocUnsafe draws small buffers from node's pool; every byte is written.
  const out = Buffer.allocUnsafe(h + payload.length + OVERHEAD);
  out.set(header, 0);
  out.set(payload, h);
  cipher.sealInPlace(out, h, payload.length, counter);
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
    return sealCopy(this, header, payload, counter);
  }

  sealInPlace(datagram: Uint8Array, h: number, p: number, counter: number): number {
    const c = counter >>> 0;
    writeBe32(this.#nonce, 0, c);
    const cipher = createCipheriv('aes-256-gcm', this.#key, this.#nonce);
    cipher.setAAD(datagram.subarray(0, h));
    datagram.set(cipher.update(datagram.subarray(h, h + p)), h);
    cipher.final();
    datagram.set(cipher.getAuthTag(), h + p);
    writeBe32(datagram, h + p + TRANSPORT_TAG_BYTES, c);
    return h + p + OVERHEAD;
  }

  openInto(packet: Uint8Array, headerLength: number, out: Uint8Array, outOffset: number): number {
    return openCopy(this, packet, headerLength, out, outOffset);
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

/**
 * AES-256-GCM without a native object per packet: the GCM core (src/crypto/gcm.ts), the whole pass
 * in its WebAssembly core by default ('wasm': a table-free GHASH, a 384-byte slot per key; 'rounds' in
 * TypeScript where WebAssembly is unavailable, with the 4 KiB GHASH table per key: against the
 * 512-byte one seal 2.1 -> 1.3 µs at 100 keys, 2.5 -> 2.2 at 1000). The WebAssembly core replaced
 * a long-lived node:crypto AES-ECB context per key ('native', still selectable): the same CPU per
 * packet within the noise of alternated runs, about 20 KiB less RSS per connection (an OpenSSL
 * context and its batch buffers). Payloads above JS_AES_GCM_MAX_PAYLOAD go to node:crypto GCM,
 * cheaper per byte.
 */
class JsAesGcm implements TransportCipher {
  readonly mode = EncryptionMode.AesGcm;
  readonly backend = 'js';
  readonly #gcm: AesGcm;
  /**
   * node:crypto for payloads above JS_AES_GCM_MAX_PAYLOAD, made on the first one (voice frames never
   * are: no KeyObject and its native key copy per connection for a path that is not taken).
   */
  #large: NodeAesGcm | undefined;
  /** A copy of the key until #large is made (the GCM core keeps only its schedule). */
  #key: Uint8Array | undefined;
  readonly stagedPayloadMax: number;

  constructor(key: Uint8Array, keystream: GcmKeystream = 'wasm') {
    this.#gcm = new AesGcm(key, { ghash: 'byte', keystream });
    this.#key = Uint8Array.from(key);
    this.stagedPayloadMax = this.#gcm.stageable ? Math.min(JS_AES_GCM_MAX_PAYLOAD, STAGE_BYTES) : 0;
  }

  #largeCipher(): NodeAesGcm {
    if (this.#large === undefined) {
      this.#large = new NodeAesGcm(this.#key!);
      this.#key!.fill(0);
      this.#key = undefined;
    }
    return this.#large;
  }

  seal(header: Uint8Array, payload: Uint8Array, counter: number): Buffer {
    return sealCopy(this, header, payload, counter);
  }

  sealInPlace(datagram: Uint8Array, h: number, p: number, counter: number): number {
    if (p > JS_AES_GCM_MAX_PAYLOAD) return this.#largeCipher().sealInPlace(datagram, h, p, counter);
    const c = counter >>> 0;
    // IV = counter ‖ 0×8; AAD = the header; the payload is encrypted where it lies.
    this.#gcm.encrypt(c, 0, 0, datagram, 0, h, datagram, h, p, datagram, h, h + p);
    writeBe32(datagram, h + p + TRANSPORT_TAG_BYTES, c);
    return h + p + OVERHEAD;
  }

  sealStaged(datagram: Uint8Array, h: number, p: number, counter: number): number {
    const c = counter >>> 0;
    this.#gcm.sealFromStage(c, 0, 0, datagram, 0, h, p, datagram, h, h + p);
    writeBe32(datagram, h + p + TRANSPORT_TAG_BYTES, c);
    return h + p + OVERHEAD;
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const length = packet.length - headerLength - OVERHEAD;
    if (length > JS_AES_GCM_MAX_PAYLOAD) return this.#largeCipher().open(packet, headerLength);
    const pt = Buffer.allocUnsafe(length);
    return this.openInto(packet, headerLength, pt, 0) < 0 ? null : pt;
  }

  /** Decrypts straight into `out` (the receive batch): no plaintext buffer per packet. */
  openInto(packet: Uint8Array, headerLength: number, out: Uint8Array, outOffset: number): number {
    if (!framingOk(packet, headerLength)) return -1;
    const end = packet.length;
    const length = end - headerLength - OVERHEAD;
    if (length > JS_AES_GCM_MAX_PAYLOAD)
      return openCopy(this.#largeCipher(), packet, headerLength, out, outOffset);
    const ok = this.#gcm.decrypt(
      readBe32(packet, end - 4),
      0,
      0,
      packet,
      0,
      headerLength,
      packet,
      headerLength,
      length,
      packet,
      end - OVERHEAD,
      out,
      outOffset,
    );
    return ok ? length : -1;
  }
}

/**
 * The 'js' AES-256-GCM cipher; `keystream` picks the GCM core's strategy (default 'wasm'; 'rounds':
 * all TypeScript, 'native': node:crypto AES-ECB counter blocks), for tests and micro-benchmarks.
 */
export function createJsAesGcmCipher(
  key: Uint8Array,
  options?: { keystream?: GcmKeystream },
): TransportCipher {
  if (!(key instanceof Uint8Array) || key.length !== TRANSPORT_KEY_BYTES) {
    throw new VoxcordError('INVALID_ARGUMENT', `transport key must be ${TRANSPORT_KEY_BYTES} bytes`);
  }
  return new JsAesGcm(key, options?.keystream);
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
    return sealCopy(this, header, payload, counter);
  }

  sealInPlace(datagram: Uint8Array, h: number, p: number, counter: number): number {
    const c = counter >>> 0;
    const cipher = createCipheriv('chacha20-poly1305', this.#derive(bswap32(c)), ZERO_IETF_NONCE, {
      authTagLength: 16,
    });
    cipher.setAAD(datagram.subarray(0, h), { plaintextLength: p });
    datagram.set(cipher.update(datagram.subarray(h, h + p)), h);
    cipher.final();
    datagram.set(cipher.getAuthTag(), h + p);
    writeBe32(datagram, h + p + TRANSPORT_TAG_BYTES, c);
    return h + p + OVERHEAD;
  }

  openInto(packet: Uint8Array, headerLength: number, out: Uint8Array, outOffset: number): number {
    return openCopy(this, packet, headerLength, out, outOffset);
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const end = packet.length;
    const counterLE = readLe32(packet, end - 4);
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
    return sealCopy(this, header, payload, counter);
  }

  sealInPlace(datagram: Uint8Array, h: number, p: number, counter: number): number {
    const c = counter >>> 0;
    writeBe32(this.#nonce, 0, c);
    // libsodium's combined AEAD encrypts in place (ciphertext over the message, tag after it).
    this.encrypt(
      datagram.subarray(h, h + p + TRANSPORT_TAG_BYTES),
      datagram.subarray(h, h + p),
      datagram.subarray(0, h),
      null,
      this.#nonce,
      this.#key,
    );
    writeBe32(datagram, h + p + TRANSPORT_TAG_BYTES, c);
    return h + p + OVERHEAD;
  }

  /** Decrypts straight into `out` (the receive batch): no plaintext buffer per packet. */
  openInto(packet: Uint8Array, headerLength: number, out: Uint8Array, outOffset: number): number {
    if (!framingOk(packet, headerLength)) return -1;
    const end = packet.length;
    const length = end - headerLength - OVERHEAD;
    this.#nonce.set(packet.subarray(end - 4, end), 0);
    try {
      this.decrypt(
        out.subarray(outOffset, outOffset + length),
        null,
        packet.subarray(headerLength, end - 4),
        packet.subarray(0, headerLength),
        this.#nonce,
        this.#key,
      );
      return length;
    } catch {
      return -1;
    }
  }

  open(packet: Uint8Array, headerLength: number): Buffer | null {
    if (!framingOk(packet, headerLength)) return null;
    const pt = Buffer.allocUnsafe(packet.length - headerLength - OVERHEAD);
    return this.openInto(packet, headerLength, pt, 0) < 0 ? null : pt;
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

/** Backends that can be used in this process, preferred first ('js' serves the AES mode only). */
export function availableTransportBackends(): TransportBackend[] {
  return loadSodium() ? ['sodium', 'js', 'node'] : ['js', 'node'];
}

/**
 * Creates the cipher for a session key. `backend`: 'auto' (default) uses sodium-native when it is
 * loaded and supports the mode, else 'js' for AES-256-GCM and node:crypto for XChaCha; 'sodium'
 * throws INVALID_ARGUMENT if sodium-native is missing or lacks the mode (sodium-native v5 has no
 * AES-256-GCM); 'js' throws INVALID_ARGUMENT for XChaCha.
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
  if (backend !== 'auto' && backend !== 'node' && backend !== 'sodium' && backend !== 'js') {
    throw new VoxcordError('INVALID_ARGUMENT', 'unknown transport backend', {
      details: { backend: String(backend) },
    });
  }
  if (backend === 'js') {
    if (mode !== EncryptionMode.AesGcm) {
      throw new VoxcordError('INVALID_ARGUMENT', `the js transport backend does not support ${mode}`);
    }
    return new JsAesGcm(key);
  }
  // 'auto' in AES mode loads sodium-native only if it may offer AES-256-GCM (not v5).
  const skipSodium = backend === 'auto' && mode === EncryptionMode.AesGcm && !sodiumMayHaveAesGcm();
  if (backend !== 'node' && !skipSodium) {
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
  if (mode === EncryptionMode.AesGcm) return backend === 'auto' ? new JsAesGcm(key) : new NodeAesGcm(key);
  return new NodeXChaCha(key);
}
