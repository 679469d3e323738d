/**
 * AES-128-GCM for DAVE media frames (dave.md §9.2): the shared GCM core (src/crypto/gcm.ts) with
 * its fastest strategy (the whole pass in the WebAssembly core, no GHASH table; the unrolled
 * TypeScript AES-128 and a 4 KiB GHASH table per key where WebAssembly is unavailable) and DAVE's
 * nonce layout and 8-byte truncated tag. The encryptor and decryptor cache one instance per
 * ratchet generation, so the key schedule and GHASH key are built once per key. (Node's AES-ECB a few frames ahead measured
 * 0.5-0.6 µs less per frame than the unrolled TypeScript but 25-35 KiB more RSS per connection.)
 */
import { AesGcm, AES_GCM_IV_BYTES } from '../crypto/gcm.js';
import { bswap32, readBe32 } from '../util/bytes.js';

export const AES128_GCM_KEY_BYTES = 16;
export const AES128_GCM_IV_BYTES = AES_GCM_IV_BYTES;
/** DAVE's truncated tag (dave.md §9.2). */
const DAVE_TAG_BYTES = 8;

/**
 * One AES-128-GCM key. Methods never allocate except the convenience `seal` / `open`; util.inspect
 * shows no key material (AesGcm).
 */
export class Aes128Gcm extends AesGcm {
  constructor(key: Uint8Array) {
    if (key.length !== AES128_GCM_KEY_BYTES) throw new RangeError('AES-128 key must be 16 bytes');
    super(key, { keystream: 'wasm', ghash: 'byte' });
  }

  /**
   * DAVE encrypt: IV = 00×8 ‖ LE32(nonce), no AAD. Reads `length` bytes at `src[srcOffset]`,
   * writes the ciphertext at `dst[dstOffset]` followed by the first 8 bytes of the tag.
   * `src` and `dst` may be the same buffer at the same offset.
   */
  sealDave(
    nonce: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
  ): void {
    this.encrypt(
      0,
      0,
      bswap32(nonce),
      src,
      0,
      0,
      src,
      srcOffset,
      length,
      dst,
      dstOffset,
      dstOffset + length,
      DAVE_TAG_BYTES,
    );
  }

  /**
   * sealDave() into the WebAssembly core's stage (WasmGcm.sealToStage), with `tail` (the DAVE
   * trailer) after the tag, for the transport pass to seal where it lies; returns the frame's length.
   * Only where `stageable`.
   */
  sealDaveToStage(
    nonce: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tail: Uint8Array,
    tailLength: number,
  ): number {
    return this.wasm!.sealToStage(
      0,
      0,
      bswap32(nonce),
      src,
      srcOffset,
      length,
      DAVE_TAG_BYTES,
      tail,
      tailLength,
    );
  }

  /**
   * DAVE decrypt with an 8-byte tag at `tag[tagOffset]` and optional AAD. Writes the plaintext at
   * `dst[dstOffset]` even when authentication fails (then it is zeroed and false is returned).
   */
  openDave(
    nonce: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tag: Uint8Array,
    tagOffset: number,
    dst: Uint8Array,
    dstOffset: number,
    aad?: Uint8Array,
  ): boolean {
    const aadLength = aad === undefined ? 0 : aad.length;
    return this.decrypt(
      0,
      0,
      bswap32(nonce),
      aad ?? src,
      0,
      aadLength,
      src,
      srcOffset,
      length,
      tag,
      tagOffset,
      dst,
      dstOffset,
      DAVE_TAG_BYTES,
    );
  }

  /**
   * General GCM decryption; `tag` may be truncated (8 to 16 bytes, compared on its length).
   * Returns the plaintext, or null if authentication fails.
   */
  override open(
    iv: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Uint8Array | null {
    if (iv.length !== AES128_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    if (tag.length < 8 || tag.length > 16) throw new RangeError('GCM tag must be 8 to 16 bytes');
    const out = new Uint8Array(ciphertext.length);
    this.crypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      ciphertext,
      0,
      ciphertext.length,
      out,
      0,
      true,
    );
    const full = new Uint8Array(16);
    this.lastTag(full);
    let diff = 0;
    for (let i = 0; i < tag.length; i++) diff |= full[i]! ^ tag[i]!;
    return diff === 0 ? out : null;
  }
}
