/**
 * AES-GCM messages in a small WebAssembly core (assembled by `npm run build:wasm` from the WAT that
 * scripts/build-aes-wasm.ts writes, committed as ./aes-ctr-wasm.generated.ts; nothing is loaded at
 * run time but that module): the same T-table AES rounds as ./aes.ts and the same 'byte' GHASH
 * method as ./ghash.ts, without typed-array bounds checks and with the state in locals.
 *
 * One core per thread, instantiated on first use. Its memory holds the shared tables (AES, GHASH
 * reduction), the round keys and GHASH table of the key in use (copied in, a sequential 4.2 KiB,
 * when another key's message comes), and the current message (AAD, payload, keystream). So a key
 * costs no WebAssembly memory of its own, nothing needs freeing, and the core's memory stays one
 * 64 KiB page unless a message is larger than about 25 KB.
 */
import { GHASH_R, S0, S1, S2, S3, TE0, TE1, TE2, TE3 } from './aes-tables.js';
import { AES_CTR_WASM_BASE64 } from './aes-ctr-wasm.generated.js';
import type { Ghash } from './ghash.js';
import { bswap32, writeBe32 } from '../util/bytes.js';

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
type GhashFunction = (table: number, state: number, p: number, blocks: number) => void;
type XorFunction = (dst: number, src: number, blocks: number) => void;

/** Byte offsets in the core's memory (the GHASH reduction table's is fixed in the WAT). */
const GHASH_R64_OFFSET = 8192;
const RK_OFFSET = GHASH_R64_OFFSET + 2048;
/** The GHASH value as two i64 halves (little-endian words: high half's low word first). */
const STATE_OFFSET = RK_OFFSET + 256;
const LENGTHS_OFFSET = STATE_OFFSET + 16;
const TABLE_OFFSET = LENGTHS_OFFSET + 240;
/** The message: AAD, payload, keystream (tag mask first), each zero-padded to whole blocks. */
const MESSAGE_OFFSET = TABLE_OFFSET + 4096;
const PAGE_BYTES = 65536;

interface Core {
  readonly memory: WasmMemory;
  /** Views of memory.buffer, renewed when it grows. */
  u8: Uint8Array;
  i32: Int32Array;
  readonly ctr128: CtrFunction;
  readonly ctr256: CtrFunction;
  readonly ghash: GhashFunction;
  readonly xor: XorFunction;
  /** The round keys and GHASH table now in memory (a key's own arrays, compared by identity). */
  rk: Int32Array | null;
  table: Int32Array | null;
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

/** undefined: not tried yet; null: this runtime has no WebAssembly (e.g. --jitless). */
let core: Core | null | undefined;

function instantiate(): Core | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const module = new wasm.Module(Buffer.from(AES_CTR_WASM_BASE64, 'base64'));
    const exports = new wasm.Instance(module).exports;
    const memory = exports.mem as WasmMemory;
    const i32 = new Int32Array(memory.buffer);
    // Byte-swapped: the core's AES state words are little-endian loads.
    [TE0, TE1, TE2, TE3, S0, S1, S2, S3].forEach((table, t) => {
      for (let x = 0; x < 256; x++) i32[256 * t + x] = bswap32(table[x]!);
    });
    // R[d] << 32 as i64: the low word 0, the high word R[d].
    for (let d = 0; d < 256; d++) i32[(GHASH_R64_OFFSET >> 2) + 2 * d + 1] = GHASH_R[d]!;
    return {
      memory,
      u8: new Uint8Array(memory.buffer),
      i32,
      ctr128: exports.ctr128 as CtrFunction,
      ctr256: exports.ctr256 as CtrFunction,
      ghash: exports.ghash as GhashFunction,
      xor: exports.xor as XorFunction,
      rk: null,
      table: null,
    };
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

/**
 * One key's GCM pass in the core. `create` returns null where WebAssembly is unavailable.
 */
export class WasmGcm {
  private readonly ctr: CtrFunction;

  private constructor(
    private readonly c: Core,
    /** The round keys byte-swapped for the core. */
    private readonly rk: Int32Array,
    /** The key's 'byte' GHASH table (ByteGhash's own words). */
    private readonly table: Int32Array,
  ) {
    this.ctr = rk.length === 44 ? c.ctr128 : c.ctr256;
  }

  /** `rk`: the round keys of a 16- or 32-byte key (expandKey); `table`: its 1024-word byte GHASH table. */
  static create(rk: Int32Array, table: Int32Array): WasmGcm | null {
    if (core === undefined) core = instantiate();
    if (core === null) return null;
    if (rk.length !== 44 && rk.length !== 60) throw new RangeError('AES round keys must be 44 or 60 words');
    if (table.length !== 1024) throw new RangeError('the WebAssembly GHASH takes a byte table');
    return new WasmGcm(core, Int32Array.from(rk, bswap32), table);
  }

  /**
   * gcmCryptBlocks (src/crypto/gcm.ts) in the core: en/decrypts `length` bytes of `src` into `dst`
   * (the same buffer and offset allowed) and leaves the full tag in g.g0..g3.
   */
  crypt(
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
    const c = this.c;
    const aadBlocks = (aadLength + 15) >>> 4;
    const blocks = (length + 15) >>> 4;
    const data = MESSAGE_OFFSET + 16 * aadBlocks;
    const ks = data + 16 * blocks;
    if (ks + 16 * (blocks + 1) > c.u8.length) reserve(c, ks + 16 * (blocks + 1));
    const u8 = c.u8;
    const i32 = c.i32;
    if (c.rk !== this.rk) {
      i32.set(this.rk, RK_OFFSET >> 2);
      c.rk = this.rk;
    }
    if (c.table !== this.table) {
      i32.set(this.table, TABLE_OFFSET >> 2);
      c.table = this.table;
    }
    let i = 0;
    for (; i < aadLength; i++) u8[MESSAGE_OFFSET + i] = aad[aadOffset + i]!;
    for (; i < 16 * aadBlocks; i++) u8[MESSAGE_OFFSET + i] = 0;
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
    // AES(IV ‖ 1) (the tag mask), then the payload's counter blocks from 2.
    this.ctr(RK_OFFSET, bswap32(iv0), bswap32(iv1), bswap32(iv2), 1, blocks + 1, ks);
    const s = STATE_OFFSET >> 2;
    i32[s] = i32[s + 1] = i32[s + 2] = i32[s + 3] = 0;
    c.ghash(TABLE_OFFSET, STATE_OFFSET, MESSAGE_OFFSET, aadBlocks);
    // GHASH runs over the ciphertext zero-padded to whole blocks (input when decrypting, output when encrypting).
    if (decrypt) {
      for (i = length; i < 16 * blocks; i++) u8[data + i] = 0;
      c.ghash(TABLE_OFFSET, STATE_OFFSET, data, blocks);
      c.xor(data, ks + 16, blocks);
    } else {
      c.xor(data, ks + 16, blocks);
      for (i = length; i < 16 * blocks; i++) u8[data + i] = 0;
      c.ghash(TABLE_OFFSET, STATE_OFFSET, data, blocks);
    }
    writeBe32(u8, LENGTHS_OFFSET, Math.floor(aadLength / 0x20000000));
    writeBe32(u8, LENGTHS_OFFSET + 4, aadLength * 8);
    writeBe32(u8, LENGTHS_OFFSET + 8, Math.floor(length / 0x20000000));
    writeBe32(u8, LENGTHS_OFFSET + 12, length * 8);
    c.ghash(TABLE_OFFSET, STATE_OFFSET, LENGTHS_OFFSET, 1);
    const dstWords = (dstOffset & 3) === 0 ? wordView(dst) : null;
    if (dstWords !== null) {
      const n = length >> 2;
      const to = dstOffset >> 2;
      for (i = 0; i < n; i++) dstWords[to + i] = i32[(data >> 2) + i]!;
      for (i = 4 * n; i < length; i++) dst[dstOffset + i] = u8[data + i]!;
    } else dst.set(u8.subarray(data, data + length), dstOffset);
    const k = ks >> 2;
    g.g0 = i32[s + 1]! ^ bswap32(i32[k]!);
    g.g1 = i32[s] ^ bswap32(i32[k + 1]!);
    g.g2 = i32[s + 3]! ^ bswap32(i32[k + 2]!);
    g.g3 = i32[s + 2]! ^ bswap32(i32[k + 3]!);
  }
}
