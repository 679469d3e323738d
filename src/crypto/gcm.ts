/**
 * AES-GCM (NIST SP 800-38D) in plain TypeScript: one core used by the transport cipher
 * (src/media/transport-cipher.ts) and the DAVE frame cipher (src/dave/aes128gcm.ts).
 *
 * Why not node:crypto: createCipheriv builds an object, a native context and several Buffers per
 * call, which costs more than a whole 120-byte Opus frame here. A key's AES schedule and GHASH
 * table are built once, then a message is sealed or opened with no allocation beyond the caller's
 * output buffer. Where the counter blocks come from (AES rounds in a loop, unrolled AES-128,
 * node's AES-ECB) and the GHASH table size are per-key strategies (./aes.ts, ./ghash.ts).
 *
 * The core has three passes over the payload, one per kind of counter-block source:
 * `gcmCryptBlocks` computes each counter block as it goes (AES in TypeScript), `gcmCryptBatch`
 * reads the message's keystream straight from the buffer of a native call that produced it (with
 * the next few messages' keystreams), and the 'wasm' strategy runs the whole pass (AES, CTR and a
 * table-free GHASH) in a WebAssembly core (./aes-wasm.ts): the fastest, used by the DAVE frame
 * cipher and the transport cipher, and no GHASH table per key. Each pass has its own call sites,
 * so each stays monomorphic.
 */
import { AesBlock, Aes128CtrUnrolled, NativeEcbCtr, expandKey } from './aes.js';
import type { BatchKeystream, CtrKeystream } from './aes.js';
import { WasmGcm } from './aes-wasm.js';
import { createGhash } from './ghash.js';
import type { Ghash, GhashTable } from './ghash.js';
import { readBe32, readBe32Head, writeBe32, writeBe32Head } from '../util/bytes.js';
import { inspectCustom, publicView } from '../util/redact.js';
import type { InspectStylized } from '../util/redact.js';
import type { inspect } from 'node:util';

export const AES_GCM_IV_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;

/** Word `w` (0..3) of a partial block of `rest` bytes keeps its first rest - 4w bytes. */
function headMask(rest: number, w: number): number {
  const n = rest - 4 * w;
  return n >= 4 ? -1 : n <= 0 ? 0 : -1 << (32 - 8 * n);
}

/**
 * The end of a message after its whole blocks: the last `length % 16` bytes XORed with the
 * keystream block k0..k3 and hashed zero-padded (word by word, no scratch block), then the length
 * block.
 */
function gcmFinish(
  g: Ghash,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
  aadLength: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  dst: Uint8Array,
  dstOffset: number,
  decrypt: boolean,
): void {
  const pos = length & ~15;
  const rest = length - pos;
  if (rest > 0) {
    const s = srcOffset + pos;
    const d = dstOffset + pos;
    const i0 = readBe32Head(src, s, rest);
    const i1 = readBe32Head(src, s + 4, rest - 4);
    const i2 = readBe32Head(src, s + 8, rest - 8);
    const i3 = readBe32Head(src, s + 12, rest - 12);
    const c0 = i0 ^ (k0 & headMask(rest, 0));
    const c1 = i1 ^ (k1 & headMask(rest, 1));
    const c2 = i2 ^ (k2 & headMask(rest, 2));
    const c3 = i3 ^ (k3 & headMask(rest, 3));
    writeBe32Head(dst, d, c0, rest);
    writeBe32Head(dst, d + 4, c1, rest - 4);
    writeBe32Head(dst, d + 8, c2, rest - 8);
    writeBe32Head(dst, d + 12, c3, rest - 12);
    if (decrypt) g.block(i0, i1, i2, i3);
    else g.block(c0, c1, c2, c3);
  }
  g.lengths(aadLength, length);
}

/**
 * CTR en/decryption of `length` bytes with IV = iv0 ‖ iv1 ‖ iv2 and GHASH over AAD and ciphertext
 * (the input when decrypting, the output when encrypting), counter blocks computed one by one;
 * leaves the full tag in g.g0..g3. `src` and `dst` may be the same buffer at the same offset.
 */
function gcmCryptBlocks(
  aes: CtrKeystream,
  g: Ghash,
  iv0: number,
  iv1: number,
  iv2: number,
  aad: Uint8Array,
  aadOffset: number,
  aadLength: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  dst: Uint8Array,
  dstOffset: number,
  decrypt: boolean,
): void {
  g.reset();
  g.bytes(aad, aadOffset, aadLength);
  aes.start(iv0, iv1, iv2);
  let counter = 2;
  const fullEnd = length & ~15;
  for (let pos = 0; pos < fullEnd; pos += 16) {
    aes.block(counter);
    counter = (counter + 1) | 0;
    const s = srcOffset + pos;
    const d = dstOffset + pos;
    const i0 = readBe32(src, s);
    const i1 = readBe32(src, s + 4);
    const i2 = readBe32(src, s + 8);
    const i3 = readBe32(src, s + 12);
    const c0 = i0 ^ aes.o0;
    const c1 = i1 ^ aes.o1;
    const c2 = i2 ^ aes.o2;
    const c3 = i3 ^ aes.o3;
    writeBe32(dst, d, c0);
    writeBe32(dst, d + 4, c1);
    writeBe32(dst, d + 8, c2);
    writeBe32(dst, d + 12, c3);
    if (decrypt) g.block(i0, i1, i2, i3);
    else g.block(c0, c1, c2, c3);
  }
  if (length > fullEnd) aes.block(counter);
  gcmFinish(g, aes.o0, aes.o1, aes.o2, aes.o3, aadLength, src, srcOffset, length, dst, dstOffset, decrypt);
  // Tag = GHASH ⊕ AES(J0), J0 = IV ‖ 1.
  aes.block(1);
  g.g0 ^= aes.o0;
  g.g1 ^= aes.o1;
  g.g2 ^= aes.o2;
  g.g3 ^= aes.o3;
}

/**
 * gcmCryptBlocks with the message's keystream from a BatchKeystream: the payload loop XORs the
 * keystream words read from its buffer (block 0 is the tag mask AES(J0)).
 */
function gcmCryptBatch(
  source: BatchKeystream,
  g: Ghash,
  iv0: number,
  iv1: number,
  iv2: number,
  aad: Uint8Array,
  aadOffset: number,
  aadLength: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  dst: Uint8Array,
  dstOffset: number,
  decrypt: boolean,
): void {
  const ks = source.keystream(iv0, iv1, iv2, (length + 15) >>> 4, decrypt ? 1 : 0);
  const base = source.offset;
  g.reset();
  g.bytes(aad, aadOffset, aadLength);
  const fullEnd = length & ~15;
  for (let pos = 0; pos < fullEnd; pos += 16) {
    const s = srcOffset + pos;
    const d = dstOffset + pos;
    const k = base + 16 + pos;
    const i0 = readBe32(src, s);
    const i1 = readBe32(src, s + 4);
    const i2 = readBe32(src, s + 8);
    const i3 = readBe32(src, s + 12);
    const c0 = i0 ^ readBe32(ks, k);
    const c1 = i1 ^ readBe32(ks, k + 4);
    const c2 = i2 ^ readBe32(ks, k + 8);
    const c3 = i3 ^ readBe32(ks, k + 12);
    writeBe32(dst, d, c0);
    writeBe32(dst, d + 4, c1);
    writeBe32(dst, d + 8, c2);
    writeBe32(dst, d + 12, c3);
    if (decrypt) g.block(i0, i1, i2, i3);
    else g.block(c0, c1, c2, c3);
  }
  // The last keystream block is whole in ks even when the payload's last block is not.
  const k = base + 16 + fullEnd;
  const tail = length > fullEnd;
  gcmFinish(
    g,
    tail ? readBe32(ks, k) : 0,
    tail ? readBe32(ks, k + 4) : 0,
    tail ? readBe32(ks, k + 8) : 0,
    tail ? readBe32(ks, k + 12) : 0,
    aadLength,
    src,
    srcOffset,
    length,
    dst,
    dstOffset,
    decrypt,
  );
  g.g0 ^= readBe32(ks, base);
  g.g1 ^= readBe32(ks, base + 4);
  g.g2 ^= readBe32(ks, base + 8);
  g.g3 ^= readBe32(ks, base + 12);
}

/**
 * Where a key's counter blocks come from: 'rounds' (AesBlock, any key), 'unrolled' (16-byte keys
 * only), 'native' (node:crypto AES-ECB, falling back to 'rounds' on a build without ECB), 'wasm'
 * (the WebAssembly core of ./aes-wasm.ts, falling back to 'unrolled' for 16-byte keys and
 * 'rounds' for 32-byte ones where WebAssembly is unavailable).
 */
export type GcmKeystream = 'rounds' | 'unrolled' | 'native' | 'wasm';

export interface AesGcmOptions {
  /**
   * GHASH table per key: 'nibble' (512 bytes, the default) or 'byte' (4 KiB, faster); none with
   * keystream 'wasm' (the core's GHASH has no table; this one is for a runtime without WebAssembly).
   */
  ghash?: GhashTable;
  keystream?: GcmKeystream;
}

/** Where the last message's full tag is (big-endian words): the Ghash, or the WebAssembly core's key. */
interface TagWords {
  readonly g0: number;
  readonly g1: number;
  readonly g2: number;
  readonly g3: number;
}

/** One AES-GCM key (16 or 32 bytes): AES schedule and GHASH key (or table) precomputed. */
export class AesGcm {
  /** util.inspect: never the round keys (the first ones are the key itself) or the GHASH table. */
  [inspectCustom](depth: number, options: InspectStylized, inspectFn: typeof inspect): string {
    return publicView(this.constructor.name, {}, depth, options, inspectFn);
  }

  readonly keyBytes: 16 | 32;
  /** Counter blocks one by one ('rounds', 'unrolled'), or null with `batch` ('native', 'wasm'). */
  private readonly aes: CtrKeystream | null;
  private readonly batch: BatchKeystream | null;
  /** The whole pass in the WebAssembly core ('wasm'), or null. */
  protected readonly wasm: WasmGcm | null;
  /** The TypeScript GHASH, or null with `wasm`. */
  private readonly ghash: Ghash | null;
  private readonly tag: TagWords;

  constructor(key: Uint8Array, options: AesGcmOptions = {}) {
    if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) {
      throw new RangeError('AES-GCM key must be 16 or 32 bytes');
    }
    this.keyBytes = key.length;
    // Not kept as a field: the keystream (or the WebAssembly core's byte-swapped copy) holds what
    // it needs, so a 'wasm' key does not keep a second schedule per key.
    const rk = expandKey(key);
    const keystream = options.keystream ?? 'rounds';
    // H = AES_K(0^128)
    const h = new AesBlock(rk);
    h.encrypt(0, 0, 0, 0);
    this.wasm = keystream === 'wasm' ? WasmGcm.create(rk, h.o0, h.o1, h.o2, h.o3) : null;
    this.ghash =
      this.wasm !== null
        ? null
        : createGhash(keystream === 'wasm' ? 'byte' : (options.ghash ?? 'nibble'), h.o0, h.o1, h.o2, h.o3);
    this.tag = this.wasm ?? this.ghash!;
    this.batch = keystream === 'native' ? NativeEcbCtr.create(key) : null;
    this.aes =
      this.batch !== null || this.wasm !== null
        ? null
        : keystream === 'unrolled' || (keystream === 'wasm' && key.length === 16)
          ? new Aes128CtrUnrolled(rk)
          : new AesBlock(rk);
  }

  /**
   * A 'wasm' key: zeroes its slot in the WebAssembly core and frees it for the next key now,
   * instead of when this object is collected (the other strategies hold nothing outside the heap).
   * The key cannot be used after this.
   */
  release(): void {
    this.wasm?.release();
  }

  /**
   * Encrypts `length` bytes at `src[srcOffset]` into `dst[dstOffset]` (same buffer and offset
   * allowed) with IV = iv0 ‖ iv1 ‖ iv2 (big-endian words) and AAD = `aad[aadOffset, +aadLength)`;
   * writes the first `tagBytes` (4, 8, 12 or 16) bytes of the tag at `dst[tagOffset]`.
   */
  encrypt(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
    tagOffset: number,
    tagBytes = AES_GCM_TAG_BYTES,
  ): void {
    this.crypt(iv0, iv1, iv2, aad, aadOffset, aadLength, src, srcOffset, length, dst, dstOffset, false);
    this.writeTag(dst, tagOffset, tagBytes);
  }

  /** The first `tagBytes` (4, 8, 12 or 16) bytes of the last pass's tag at `dst[tagOffset]`. */
  private writeTag(dst: Uint8Array, tagOffset: number, tagBytes: number): void {
    const g = this.tag;
    writeBe32(dst, tagOffset, g.g0);
    if (tagBytes > 4) writeBe32(dst, tagOffset + 4, g.g1);
    if (tagBytes > 8) writeBe32(dst, tagOffset + 8, g.g2);
    if (tagBytes > 12) writeBe32(dst, tagOffset + 12, g.g3);
  }

  /**
   * Whether this key's passes run in the WebAssembly core, whose stage holds a message between two
   * passes (WasmGcm.sealToStage, then another key's sealFromStage: one copy in and one out for both).
   */
  get stageable(): boolean {
    return this.wasm !== null;
  }

  /**
   * encrypt() of the `length` staged bytes (WasmGcm.sealToStage, with any stageable key) into
   * `dst[dstOffset]`, AAD at most 16 bytes, the full 16-byte tag at `dst[tagOffset]`.
   */
  sealFromStage(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
    tagOffset: number,
  ): void {
    this.wasm!.sealFromStage(iv0, iv1, iv2, aad, aadOffset, aadLength, length, dst, dstOffset);
    this.writeTag(dst, tagOffset, AES_GCM_TAG_BYTES);
  }

  /**
   * Decrypts like encrypt() and checks the `tagBytes`-byte (4, 8, 12 or 16) tag at
   * `tag[tagOffset]`. On failure the output range is zeroed and false is returned.
   */
  decrypt(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tag: Uint8Array,
    tagOffset: number,
    dst: Uint8Array,
    dstOffset: number,
    tagBytes = AES_GCM_TAG_BYTES,
  ): boolean {
    // The expected tag is read before decrypting, in case dst overlaps it.
    const t0 = readBe32(tag, tagOffset);
    const t1 = tagBytes > 4 ? readBe32(tag, tagOffset + 4) : 0;
    const t2 = tagBytes > 8 ? readBe32(tag, tagOffset + 8) : 0;
    const t3 = tagBytes > 12 ? readBe32(tag, tagOffset + 12) : 0;
    const g = this.tag;
    this.crypt(iv0, iv1, iv2, aad, aadOffset, aadLength, src, srcOffset, length, dst, dstOffset, true);
    const diff =
      (g.g0 ^ t0) |
      (tagBytes > 4 ? g.g1 ^ t1 : 0) |
      (tagBytes > 8 ? g.g2 ^ t2 : 0) |
      (tagBytes > 12 ? g.g3 ^ t3 : 0);
    if (diff !== 0) {
      dst.fill(0, dstOffset, dstOffset + length);
      return false;
    }
    return true;
  }

  /** Convenience: returns ciphertext ‖ tag for a 12-byte IV. */
  seal(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (iv.length !== AES_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    const n = plaintext.length;
    const out = new Uint8Array(n + AES_GCM_TAG_BYTES);
    this.encrypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      plaintext,
      0,
      n,
      out,
      0,
      n,
    );
    return out;
  }

  /** Convenience: plaintext, or null when the 16-byte tag does not authenticate. */
  open(
    iv: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Uint8Array | null {
    if (iv.length !== AES_GCM_IV_BYTES) throw new RangeError('GCM IV must be 12 bytes');
    if (tag.length !== AES_GCM_TAG_BYTES) throw new RangeError('GCM tag must be 16 bytes');
    const n = ciphertext.length;
    const out = new Uint8Array(n);
    const ok = this.decrypt(
      readBe32(iv, 0),
      readBe32(iv, 4),
      readBe32(iv, 8),
      aad,
      0,
      aad.length,
      ciphertext,
      0,
      n,
      tag,
      0,
      out,
      0,
    );
    return ok ? out : null;
  }

  /** en/decrypts without checking a tag; lastTag() then gives the full tag. */
  protected crypt(
    iv0: number,
    iv1: number,
    iv2: number,
    aad: Uint8Array,
    aadOffset: number,
    aadLength: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
    decrypt: boolean,
  ): void {
    const { aes, wasm } = this;
    if (wasm !== null) {
      wasm.crypt(iv0, iv1, iv2, aad, aadOffset, aadLength, src, srcOffset, length, dst, dstOffset, decrypt);
      return;
    }
    const g = this.ghash!;
    if (aes === null) {
      const b = this.batch!;
      gcmCryptBatch(
        b,
        g,
        iv0,
        iv1,
        iv2,
        aad,
        aadOffset,
        aadLength,
        src,
        srcOffset,
        length,
        dst,
        dstOffset,
        decrypt,
      );
    } else {
      gcmCryptBlocks(
        aes,
        g,
        iv0,
        iv1,
        iv2,
        aad,
        aadOffset,
        aadLength,
        src,
        srcOffset,
        length,
        dst,
        dstOffset,
        decrypt,
      );
    }
  }

  /** The full 16-byte tag of the last message, for callers that compare truncated tags. */
  protected lastTag(out: Uint8Array): void {
    const g = this.tag;
    writeBe32(out, 0, g.g0);
    writeBe32(out, 4, g.g1);
    writeBe32(out, 8, g.g2);
    writeBe32(out, 12, g.g3);
  }
}
