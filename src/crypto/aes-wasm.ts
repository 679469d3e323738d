/**
 * AES-GCM messages in a small WebAssembly core (assembled by `npm run build:wasm` from the WAT that
 * scripts/build-aes-wasm.ts writes, committed as ./aes-ctr-wasm.generated.ts; nothing is loaded at
 * run time but that module): AES by vector permutes (./aes-vperm.ts: SIMD byte shuffles, two
 * counter blocks at a time) and a table-free GHASH (carry-less multiplies emulated with integer
 * multiplies, BearSSL's "ctmul64" method: see the WAT generator).
 *
 * Neither keeps a large table nor makes a secret-indexed load, so unlike ./aes.ts's T-tables and
 * ./ghash.ts's tables they are constant-time, and a packet's two passes touch 368 bytes of tables
 * (the T-tables' 8 KiB went cold between packets, behind the kernel's send path: the node's worker
 * spent twice a warm loop's time in them). A key is its round keys in the shuffles' form
 * (vpermRoundKeys) and H^1..H^4 with their bit reversals (four blocks share one reduction), written once
 * into a slot of its own in the core's memory (384 bytes), so a key switch (twice per packet with
 * DAVE) copies nothing. A slot is zeroed and reused once its key is released or collected.
 *
 * One core per thread, instantiated on first use. Its memory holds the AES tables, the GHASH
 * state, the stage, the key slots (a page's worth more whenever they are full) and, above them, the
 * current message (keystream, AAD, payload, length block), which grows the memory for a large
 * message. A pass is one call into the core (gcm128 / gcm256: keystream, XOR, padding, length
 * block and GHASH). The stage holds a message between two passes under two keys (a DAVE frame,
 * sealed there with its trailer, then sealed again by the transport): one copy into the core and
 * one out per packet instead of two each (WasmGcm.sealToStage, sealFromStage).
 */
import { AES_CTR_WASM_BASE64 } from './aes-ctr-wasm.generated.js';
import { vpermRoundKeys } from './aes-vperm.js';
import { bswap32, writeBe32 } from '../util/bytes.js';
import { inspectCustom, publicView } from '../util/redact.js';
import type { InspectStylized } from '../util/redact.js';
import type { inspect } from 'node:util';

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
}

/** (rk, iv0, iv1, iv2, counter, blocks, out): see scripts/build-aes-wasm.ts. */
type CtrFunction = (
  rk: number,
  iv0: number,
  iv1: number,
  iv2: number,
  counter: number,
  blocks: number,
  out: number,
) => void;
type GhashFunction = (hkey: number, state: number, p: number, blocks: number) => void;
type XorFunction = (dst: number, src: number, blocks: number) => void;
/** (rk, hkey, iv0, iv1, iv2, ks, aad, aadBlocks, aadLength, data, length, decrypt): a whole GCM pass, see scripts/build-aes-wasm.ts. */
type GcmFunction = (
  rk: number,
  hkey: number,
  iv0: number,
  iv1: number,
  iv2: number,
  ks: number,
  aad: number,
  aadBlocks: number,
  aadLength: number,
  data: number,
  length: number,
  decrypt: number,
) => void;

/** How many powers of H the core's GHASH takes (GHASH_POWERS in scripts/build-aes-wasm.ts). */
const H_POWERS = 4;
// Byte offsets in the core's memory: the module's shuffle tables from 0, then these.
/**
 * The GHASH value as two i64 halves (little-endian words: high half's low word first), where the
 * core's gcm128 / gcm256 keep it (scripts/build-aes-wasm.ts takes it from here).
 */
export const STATE_OFFSET = 512;
/**
 * Most payload bytes the stage holds (a DAVE frame and its transport seal, see WasmGcm.sealToStage):
 * the transport's WebAssembly path takes up to 512 (JS_AES_GCM_MAX_PAYLOAD).
 */
export const STAGE_BYTES = 1024;
const STAGE_BLOCKS = STAGE_BYTES >> 4;
/** The stage's keystream (tag mask first), its AAD block, then its payload and length block: one GHASH run. */
const STAGE_KS = STATE_OFFSET + 16;
const STAGE_AAD = STAGE_KS + 16 * (STAGE_BLOCKS + 1);
const STAGE_DATA = STAGE_AAD + 16;
/** Key slots from here, each the round keys (up to 15 blocks) then the GHASH key (see WasmGcm.create). */
const SLOTS_OFFSET = STAGE_DATA + 16 * (STAGE_BLOCKS + 1);
/** Where a slot's GHASH key starts: H^1..H^4, each its halves and their bit reversals, four i64. */
const SLOT_HKEY = 256;
const SLOT_BYTES = SLOT_HKEY + 32 * H_POWERS;
const PAGE_BYTES = 65536;
/** Slots in the first page; the region grows by a page's worth at a time (no overshoot: moving the message area copies nothing). */
const INITIAL_SLOTS = 16;
const GROWTH_SLOTS = Math.floor(PAGE_BYTES / SLOT_BYTES);

interface Core {
  readonly memory: WasmMemory;
  /** Views of memory.buffer, renewed when it grows. */
  u8: Uint8Array;
  i32: Int32Array;
  readonly ctr128: CtrFunction;
  readonly ctr256: CtrFunction;
  readonly ghash: GhashFunction;
  readonly xor: XorFunction;
  readonly gcm128: GcmFunction;
  readonly gcm256: GcmFunction;
  /** Slots in the slot region; the message area starts right above it. */
  slotCount: number;
  /** Slots never used yet start at this index; below it, the free ones are in `free`. */
  nextSlot: number;
  readonly free: number[];
  /** The message: keystream (tag mask first), AAD, payload, length block, each zero-padded to whole blocks. */
  message: number;
  /** Frees a slot when its key is garbage-collected without `release`. */
  readonly registry: FinalizationRegistry<number>;
}

/**
 * A word view of the last output buffer seen (the media worker's datagram buffer is one per
 * thread), so that copies to and from it at 4-byte-aligned positions go a word at a time without
 * a view object per message.
 */
let wordsOf: Uint8Array | null = null;
let words: Int32Array = new Int32Array(0);

/** Int32 view of `buf`'s ArrayBuffer, or null when `buf` does not start 4-byte aligned. */
function wordView(buf: Uint8Array): Int32Array | null {
  if (buf === wordsOf) return words;
  if ((buf.byteOffset & 3) !== 0) return null;
  wordsOf = buf;
  words = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
  return words;
}

/**
 * Copies `length` bytes at `at` (4-byte aligned) in the core's memory to `dst[dstOffset]`, a word
 * at a time into a word-viewable buffer.
 */
function copyOut(c: Core, at: number, length: number, dst: Uint8Array, dstOffset: number): void {
  const dstWords = (dstOffset & 3) === 0 ? wordView(dst) : null;
  if (dstWords === null) {
    dst.set(c.u8.subarray(at, at + length), dstOffset);
    return;
  }
  const i32 = c.i32;
  const u8 = c.u8;
  const n = length >> 2;
  const to = dstOffset >> 2;
  const from = at >> 2;
  let i = 0;
  for (; i < n; i++) dstWords[to + i] = i32[from + i]!;
  for (i = 4 * n; i < length; i++) dst[dstOffset + i] = u8[at + i]!;
}

/** undefined: not tried yet; null: this runtime has no WebAssembly (e.g. --jitless). */
let core: Core | null | undefined;

function instantiate(): Core | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const module = new wasm.Module(Buffer.from(AES_CTR_WASM_BASE64, 'base64'));
    const exports = new wasm.Instance(module).exports;
    const memory = exports.mem as WasmMemory;
    const c: Core = {
      memory,
      u8: new Uint8Array(memory.buffer),
      i32: new Int32Array(memory.buffer),
      ctr128: exports.ctr128 as CtrFunction,
      ctr256: exports.ctr256 as CtrFunction,
      ghash: exports.ghash as GhashFunction,
      xor: exports.xor as XorFunction,
      gcm128: exports.gcm128 as GcmFunction,
      gcm256: exports.gcm256 as GcmFunction,
      slotCount: INITIAL_SLOTS,
      nextSlot: 0,
      free: [],
      message: SLOTS_OFFSET + INITIAL_SLOTS * SLOT_BYTES,
      registry: new FinalizationRegistry<number>((slot) => freeSlot(c, slot)),
    };
    return c;
  } catch {
    return null;
  }
}

/** Makes the memory at least `bytes` long. */
function reserve(c: Core, bytes: number): void {
  c.memory.grow(Math.ceil((bytes - c.u8.length) / PAGE_BYTES));
  c.u8 = new Uint8Array(c.memory.buffer);
  c.i32 = new Int32Array(c.memory.buffer);
}

/** A zeroed slot's index: a freed one, else the next new one (growing the region when full). */
function allocateSlot(c: Core): number {
  const slot = c.free.pop();
  if (slot !== undefined) return slot;
  if (c.nextSlot === c.slotCount) {
    c.slotCount += GROWTH_SLOTS;
    c.message = SLOTS_OFFSET + c.slotCount * SLOT_BYTES;
    // The new slots and a small message fit; crypt reserves more for a larger one.
    if (c.message + 4096 > c.u8.length) reserve(c, c.message + 4096);
  }
  return c.nextSlot++;
}

/** Zeroes a slot (the key's round keys and H leave memory) and makes it reusable. */
function freeSlot(c: Core, slot: number): void {
  const at = (SLOTS_OFFSET + slot * SLOT_BYTES) >> 2;
  c.i32.fill(0, at, at + (SLOT_BYTES >> 2));
  c.free.push(slot);
}

/** The bit reversal of a 32-bit word. */
function reverseBits32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return bswap32(v);
}

/** Power k (0: H^1) of the GHASH key, from its big-endian words: an i64's low word first, a half's reversal swaps its words too. */
function setPower(
  i32: Int32Array,
  hkey: number,
  k: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
): void {
  i32.set(
    [w1, w0, w3, w2, reverseBits32(w0), reverseBits32(w1), reverseBits32(w2), reverseBits32(w3)],
    (hkey >> 2) + 8 * k,
  );
}

/**
 * One key's GCM pass in the core. `create` returns null where WebAssembly is unavailable. After
 * `crypt`, g0..g3 hold the message's full tag (big-endian words). The key lives in its slot of the
 * core's memory until `release` or until this object is garbage-collected.
 */
export class WasmGcm {
  g0 = 0;
  g1 = 0;
  g2 = 0;
  g3 = 0;
  private readonly gcm: GcmFunction;
  /** Byte offset of the slot's round keys (vpermRoundKeys); -1 once released. */
  private rkAt: number;
  /**
   * Byte offset of the slot's H^1..H^4 (H = AES_K(0^128)) for the core's GHASH, each as four
   * little-endian i64: its high and low 64 bits (big-endian halves), then each half bit-reversed.
   */
  private hkeyAt: number;

  private constructor(
    private readonly c: Core,
    private readonly slot: number,
    rounds: 44 | 60,
  ) {
    this.gcm = rounds === 44 ? c.gcm128 : c.gcm256;
    this.rkAt = SLOTS_OFFSET + slot * SLOT_BYTES;
    this.hkeyAt = this.rkAt + SLOT_HKEY;
  }

  /** `rk`: the round keys of a 16- or 32-byte key (expandKey); h0..h3: H's big-endian words. */
  static create(rk: Int32Array, h0: number, h1: number, h2: number, h3: number): WasmGcm | null {
    if (core === undefined) core = instantiate();
    if (core === null) return null;
    if (rk.length !== 44 && rk.length !== 60) throw new RangeError('AES round keys must be 44 or 60 words');
    const c = core;
    const slot = allocateSlot(c);
    const key = new WasmGcm(c, slot, rk.length);
    const roundKeys = vpermRoundKeys(rk);
    c.u8.set(roundKeys, key.rkAt);
    roundKeys.fill(0);
    const hkey = key.hkeyAt;
    setPower(c.i32, hkey, 0, h0, h1, h2, h3);
    // H^k = GHASH of the one block H^(k-1) under H (from a zero state): the core multiplies, with
    // H^1 only, from the slot itself.
    const s = STATE_OFFSET >> 2;
    const m = c.message;
    for (let k = 1; k < H_POWERS; k++) {
      const at = (hkey >> 2) + 8 * (k - 1);
      c.i32[s] = c.i32[s + 1] = c.i32[s + 2] = c.i32[s + 3] = 0;
      writeBe32(c.u8, m, c.i32[at + 1]!);
      writeBe32(c.u8, m + 4, c.i32[at]!);
      writeBe32(c.u8, m + 8, c.i32[at + 3]!);
      writeBe32(c.u8, m + 12, c.i32[at + 2]!);
      c.ghash(hkey, STATE_OFFSET, m, 1);
      setPower(c.i32, hkey, k, c.i32[s + 1]!, c.i32[s], c.i32[s + 3]!, c.i32[s + 2]!);
    }
    c.i32.fill(0, s, s + 4);
    c.i32.fill(0, m >> 2, (m >> 2) + 4);
    c.registry.register(key, slot, key);
    return key;
  }

  /**
   * Zeroes this key's slot and frees it for another key (also done when this object is collected).
   * The key cannot be used after this.
   */
  release(): void {
    if (this.rkAt < 0) return;
    this.rkAt = this.hkeyAt = -1;
    this.c.registry.unregister(this);
    freeSlot(this.c, this.slot);
  }

  /** util.inspect: never the core (its memory holds every key). */
  [inspectCustom](depth: number, options: InspectStylized, inspectFn: typeof inspect): string {
    return publicView('WasmGcm', { released: this.rkAt < 0 }, depth, options, inspectFn);
  }

  /**
   * gcmCryptBlocks (src/crypto/gcm.ts) in the core: en/decrypts `length` bytes of `src` into `dst`
   * (the same buffer and offset allowed) and leaves the full tag in g0..g3.
   */
  crypt(
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
    const c = this.c;
    const aadBlocks = (aadLength + 15) >>> 4;
    const blocks = (length + 15) >>> 4;
    // Keystream, then what GHASH reads in one run: AAD, ciphertext, length block.
    const ks = c.message;
    const aadAt = ks + 16 * (blocks + 1);
    const data = aadAt + 16 * aadBlocks;
    const lengths = data + 16 * blocks;
    if (lengths + 16 > c.u8.length) reserve(c, lengths + 16);
    const u8 = c.u8;
    const i32 = c.i32;
    let i = 0;
    for (; i < aadLength; i++) u8[aadAt + i] = aad[aadOffset + i]!;
    for (; i < 16 * aadBlocks; i++) u8[aadAt + i] = 0;
    // Only an output buffer gets a word view (an input is often a new frame each time); the
    // transport encrypts in place, where they are the same.
    const srcWords = (srcOffset & 3) === 0 && src === wordsOf ? words : null;
    if (srcWords !== null) {
      // Whole words, then the last bytes; data is 16-byte aligned.
      const n = length >> 2;
      const from = srcOffset >> 2;
      for (i = 0; i < n; i++) i32[(data >> 2) + i] = srcWords[from + i]!;
      for (i = 4 * n; i < length; i++) u8[data + i] = src[srcOffset + i]!;
    } else u8.set(src.subarray(srcOffset, srcOffset + length), data);
    this.run(iv0, iv1, iv2, ks, aadAt, aadBlocks, aadLength, data, length, decrypt);
    copyOut(c, data, length, dst, dstOffset);
  }

  /**
   * The DAVE pass into the stage: encrypts `length` bytes of `src` (no AAD) into the core's stage,
   * then writes the first `tagBytes` (4 or 8) bytes of the tag and `tail[0, tailLength)` after them.
   * The sealed frame stays there for sealFromStage (one copy in for both passes) until the next
   * sealToStage on this thread (crypt does not touch the stage); returns its length. Throws
   * RangeError past STAGE_BYTES.
   */
  sealToStage(
    iv0: number,
    iv1: number,
    iv2: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    tagBytes: 4 | 8,
    tail: Uint8Array,
    tailLength: number,
  ): number {
    const staged = length + tagBytes + tailLength;
    if (staged > STAGE_BYTES) throw new RangeError('the frame does not fit the stage');
    const c = this.c;
    const u8 = c.u8;
    // The frame is read where it lies (the send queue's store: one copy, no word view of it).
    u8.set(src.subarray(srcOffset, srcOffset + length), STAGE_DATA);
    this.run(iv0, iv1, iv2, STAGE_KS, STAGE_DATA, 0, 0, STAGE_DATA, length, false);
    const at = STAGE_DATA + length;
    writeBe32(u8, at, this.g0);
    if (tagBytes > 4) writeBe32(u8, at + 4, this.g1);
    for (let i = 0; i < tailLength; i++) u8[at + tagBytes + i] = tail[i]!;
    return staged;
  }

  /**
   * The transport pass from the stage: encrypts the `length` bytes that sealToStage left there, with
   * AAD = `aad[aadOffset, +aadLength)` (at most 16 bytes), and writes the ciphertext at
   * `dst[dstOffset]` (the one copy out); leaves the full tag in g0..g3.
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
  ): void {
    if (length > STAGE_BYTES || aadLength > 16) throw new RangeError('the message does not fit the stage');
    const c = this.c;
    const u8 = c.u8;
    let i = 0;
    for (; i < aadLength; i++) u8[STAGE_AAD + i] = aad[aadOffset + i]!;
    for (; i < 16; i++) u8[STAGE_AAD + i] = 0;
    const aadBlocks = aadLength === 0 ? 0 : 1;
    this.run(
      iv0,
      iv1,
      iv2,
      STAGE_KS,
      STAGE_DATA - 16 * aadBlocks,
      aadBlocks,
      aadLength,
      STAGE_DATA,
      length,
      false,
    );
    copyOut(c, STAGE_DATA, length, dst, dstOffset);
  }

  /**
   * The GCM pass over `length` bytes at `data` in the core (en/decrypted in place), keystream at
   * `ks`, GHASH from `aadAt` over the AAD's `aadBlocks` (zero-padded, right before `data`), the
   * ciphertext zero-padded and the length block (written here after it); the full tag to g0..g3.
   */
  private run(
    iv0: number,
    iv1: number,
    iv2: number,
    ks: number,
    aadAt: number,
    aadBlocks: number,
    aadLength: number,
    data: number,
    length: number,
    decrypt: boolean,
  ): void {
    const c = this.c;
    const rkAt = this.rkAt;
    if (rkAt < 0) throw new Error('WasmGcm: the key was released');
    this.gcm(
      rkAt,
      this.hkeyAt,
      bswap32(iv0),
      bswap32(iv1),
      bswap32(iv2),
      ks,
      aadAt,
      aadBlocks,
      aadLength,
      data,
      length,
      decrypt ? 1 : 0,
    );
    const i32 = c.i32;
    const s = STATE_OFFSET >> 2;
    const k = ks >> 2;
    this.g0 = i32[s + 1]! ^ bswap32(i32[k]!);
    this.g1 = i32[s]! ^ bswap32(i32[k + 1]!);
    this.g2 = i32[s + 3]! ^ bswap32(i32[k + 2]!);
    this.g3 = i32[s + 2]! ^ bswap32(i32[k + 3]!);
  }
}
