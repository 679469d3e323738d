/**
 * AES block encryption (FIPS-197), table-driven: 32-bit T-tables shared by every key
 * (./aes-tables.ts). One key schedule, and two ways to produce GCM's counter-mode blocks
 * (AES(IV ‖ counter)), both behind `CtrKeystream`:
 * - `AesBlock`: any 16- or 32-byte key, rounds in a loop;
 * - `Aes128CtrUnrolled`: the fast path for 16-byte keys (DAVE media frames), rounds unrolled and
 *   the counter-independent round-1/round-2 terms cached per message;
 * - `NativeEcbCtr`: node:crypto AES-ECB over a batch of counter blocks (the transport cipher),
 *   behind `BatchKeystream`: the whole keystream of a message (and of the next few, look-ahead)
 *   in one buffer, which GCM reads in the same pass as it hashes (src/crypto/gcm.ts).
 * Table lookups are not constant-time against a local cache-timing observer; voxcord's keys are
 * short-lived media keys and the attacker model is a remote network peer.
 */
import { S0, S1, S2, S3, SBOX, TE0, TE1, TE2, TE3, xtime } from './aes-tables.js';
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { readBe32 } from '../util/bytes.js';

/**
 * A source of AES counter blocks for one key, block by block: `start` fixes the IV's first three
 * words for a message, then `block(n)` puts AES(IV ‖ n) into o0..o3 (big-endian words).
 */
export interface CtrKeystream {
  o0: number;
  o1: number;
  o2: number;
  o3: number;
  start(iv0: number, iv1: number, iv2: number): void;
  block(counter: number): void;
}

/**
 * A source of a message's counter blocks all at once: `keystream` returns a buffer holding
 * AES(IV ‖ 1), AES(IV ‖ 2), ... AES(IV ‖ payloadBlocks + 1) as consecutive 16-byte blocks (the tag
 * mask, then the payload keystream) from byte `offset` on, valid until the next call. `lane`: 0
 * for encryption, 1 for decryption (each keeps its own look-ahead).
 */
export interface BatchKeystream {
  /** Where the last `keystream` call's blocks start in the buffer it returned. */
  readonly offset: number;
  keystream(iv0: number, iv1: number, iv2: number, payloadBlocks: number, lane: 0 | 1): Uint8Array;
}

/** The round keys of a 16- or 32-byte key: 44 or 60 words. */
export function expandKey(key: Uint8Array): Int32Array {
  if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) {
    throw new RangeError('AES key must be 16 or 32 bytes');
  }
  const rounds = key.length === 16 ? 10 : 14;
  const rk = new Int32Array(4 * (rounds + 1));
  const nk = key.length / 4;
  for (let i = 0; i < nk; i++) rk[i] = readBe32(key, 4 * i);
  let rcon = 1;
  for (let i = nk; i < rk.length; i++) {
    let t = rk[i - 1]!;
    if (i % nk === 0) {
      // SubWord(RotWord(t)) ⊕ Rcon
      t =
        ((SBOX[(t >>> 16) & 0xff]! << 24) |
          (SBOX[(t >>> 8) & 0xff]! << 16) |
          (SBOX[t & 0xff]! << 8) |
          SBOX[t >>> 24]!) ^
        (rcon << 24);
      rcon = xtime(rcon);
    } else if (nk === 8 && i % nk === 4) {
      t =
        (SBOX[t >>> 24]! << 24) |
        (SBOX[(t >>> 16) & 0xff]! << 16) |
        (SBOX[(t >>> 8) & 0xff]! << 8) |
        SBOX[t & 0xff]!;
    }
    rk[i] = rk[i - nk]! ^ t;
  }
  return rk;
}

/** AES block encryption for a 16- or 32-byte key, one block at a time into o0..o3. */
export class AesBlock implements CtrKeystream {
  readonly rounds: number;
  private readonly rk: Int32Array;
  o0 = 0;
  o1 = 0;
  o2 = 0;
  o3 = 0;
  private iv0 = 0;
  private iv1 = 0;
  private iv2 = 0;

  /** `key`: the key bytes, or round keys from expandKey. */
  constructor(key: Uint8Array | Int32Array) {
    this.rk = key instanceof Int32Array ? key : expandKey(key);
    this.rounds = this.rk.length / 4 - 1;
  }

  start(iv0: number, iv1: number, iv2: number): void {
    this.iv0 = iv0;
    this.iv1 = iv1;
    this.iv2 = iv2;
  }

  block(counter: number): void {
    this.encrypt(this.iv0, this.iv1, this.iv2, counter);
  }

  /** Encrypts one block (big-endian words) into o0..o3; two rounds per loop turn. */
  encrypt(i0: number, i1: number, i2: number, i3: number): void {
    const rk = this.rk;
    let s0 = i0 ^ rk[0]!;
    let s1 = i1 ^ rk[1]!;
    let s2 = i2 ^ rk[2]!;
    let s3 = i3 ^ rk[3]!;
    let u0 = 0;
    let u1 = 0;
    let u2 = 0;
    let u3 = 0;
    // rounds - 1 full rounds (9 or 13: an odd count), in pairs, then one more full round.
    const last = 4 * (this.rounds - 1);
    let k = 4;
    for (; k < last; k += 8) {
      u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[k]!;
      u1 =
        TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[k + 1]!;
      u2 =
        TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[k + 2]!;
      u3 =
        TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[k + 3]!;
      s0 =
        TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[k + 4]!;
      s1 =
        TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[k + 5]!;
      s2 =
        TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[k + 6]!;
      s3 =
        TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[k + 7]!;
    }
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[k]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[k + 1]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[k + 2]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[k + 3]!;
    k += 4;
    this.o0 = S0[u0 >>> 24]! ^ S1[(u1 >>> 16) & 0xff]! ^ S2[(u2 >>> 8) & 0xff]! ^ S3[u3 & 0xff]! ^ rk[k]!;
    this.o1 = S0[u1 >>> 24]! ^ S1[(u2 >>> 16) & 0xff]! ^ S2[(u3 >>> 8) & 0xff]! ^ S3[u0 & 0xff]! ^ rk[k + 1]!;
    this.o2 = S0[u2 >>> 24]! ^ S1[(u3 >>> 16) & 0xff]! ^ S2[(u0 >>> 8) & 0xff]! ^ S3[u1 & 0xff]! ^ rk[k + 2]!;
    this.o3 = S0[u3 >>> 24]! ^ S1[(u0 >>> 16) & 0xff]! ^ S2[(u1 >>> 8) & 0xff]! ^ S3[u2 & 0xff]! ^ rk[k + 3]!;
  }
}

/**
 * Counter blocks for a 16-byte key with the ten rounds unrolled: the hot path of DAVE frame
 * encryption, where a frame is a handful of blocks and the per-block cost is what counts.
 */
export class Aes128CtrUnrolled implements CtrKeystream {
  private readonly rk: Int32Array;
  o0 = 0;
  o1 = 0;
  o2 = 0;
  o3 = 0;
  // Counter-mode round-1 terms of the current message's IV (see start)
  private c0 = 0;
  private c1 = 0;
  private c2 = 0;
  private c3 = 0;
  // Round-2 terms for counters whose upper 24 bits are cachedHigh (-1: none yet)
  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private cachedHigh = -1;

  /** `rk`: the 44 round keys of a 16-byte key (expandKey). */
  constructor(rk: Int32Array) {
    if (rk.length !== 44) throw new RangeError('the unrolled AES path takes a 16-byte key');
    this.rk = rk;
  }

  /**
   * Counter-mode caching (Bernstein–Schwabe): the first three IV words are fixed for a message, so
   * round 1's twelve table terms that depend only on them are computed once per message (c0..c3,
   * with rk[4..7]). While the counter's upper 24 bits stay the same (256 blocks, so every Opus
   * frame), only round-1 word u0 changes between blocks, which leaves twelve of round 2's terms
   * constant too (d0..d3, with rk[8..11]); they are recomputed when the upper bits change.
   */
  start(iv0: number, iv1: number, iv2: number): void {
    const rk = this.rk;
    const s0 = iv0 ^ rk[0]!;
    const s1 = iv1 ^ rk[1]!;
    const s2 = iv2 ^ rk[2]!;
    this.c0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ rk[4]!;
    this.c1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[5]!;
    this.c2 = TE0[s2 >>> 24]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[6]!;
    this.c3 = TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[7]!;
    this.cachedHigh = -1;
  }

  /** Round-2 terms that do not depend on the counter's low byte, for counter >>> 8 = high. */
  private round2(x: number, high: number): void {
    const rk = this.rk;
    const u1 = this.c1 ^ TE2[(x >>> 8) & 0xff]!;
    const u2 = this.c2 ^ TE1[(x >>> 16) & 0xff]!;
    const u3 = this.c3 ^ TE0[x >>> 24]!;
    this.d0 = TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[8]!;
    this.d1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ rk[9]!;
    this.d2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[10]!;
    this.d3 = TE0[u3 >>> 24]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[11]!;
    this.cachedHigh = high;
  }

  /** Encrypts the block IV ‖ counter after start(IV) into o0..o3 (rounds inlined: hot path). */
  block(counter: number): void {
    const rk = this.rk;
    const x = counter ^ rk[3]!;
    const high = counter >>> 8;
    if (high !== this.cachedHigh) this.round2(x, high);
    const w = this.c0 ^ TE3[x & 0xff]!;
    let s0 = this.d0 ^ TE0[w >>> 24]!;
    let s1 = this.d1 ^ TE3[w & 0xff]!;
    let s2 = this.d2 ^ TE2[(w >>> 8) & 0xff]!;
    let s3 = this.d3 ^ TE1[(w >>> 16) & 0xff]!;
    let u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[12]!;
    let u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[13]!;
    let u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[14]!;
    let u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[15]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[16]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[17]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[18]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[19]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[20]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[21]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[22]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[23]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[24]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[25]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[26]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[27]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[28]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[29]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[30]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[31]!;
    s0 = TE0[u0 >>> 24]! ^ TE1[(u1 >>> 16) & 0xff]! ^ TE2[(u2 >>> 8) & 0xff]! ^ TE3[u3 & 0xff]! ^ rk[32]!;
    s1 = TE0[u1 >>> 24]! ^ TE1[(u2 >>> 16) & 0xff]! ^ TE2[(u3 >>> 8) & 0xff]! ^ TE3[u0 & 0xff]! ^ rk[33]!;
    s2 = TE0[u2 >>> 24]! ^ TE1[(u3 >>> 16) & 0xff]! ^ TE2[(u0 >>> 8) & 0xff]! ^ TE3[u1 & 0xff]! ^ rk[34]!;
    s3 = TE0[u3 >>> 24]! ^ TE1[(u0 >>> 16) & 0xff]! ^ TE2[(u1 >>> 8) & 0xff]! ^ TE3[u2 & 0xff]! ^ rk[35]!;
    u0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[36]!;
    u1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[37]!;
    u2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[38]!;
    u3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[39]!;
    // After 9 rounds (odd count) the state is in u0..u3.
    this.o0 = S0[u0 >>> 24]! ^ S1[(u1 >>> 16) & 0xff]! ^ S2[(u2 >>> 8) & 0xff]! ^ S3[u3 & 0xff]! ^ rk[40]!;
    this.o1 = S0[u1 >>> 24]! ^ S1[(u2 >>> 16) & 0xff]! ^ S2[(u3 >>> 8) & 0xff]! ^ S3[u0 & 0xff]! ^ rk[41]!;
    this.o2 = S0[u2 >>> 24]! ^ S1[(u3 >>> 16) & 0xff]! ^ S2[(u0 >>> 8) & 0xff]! ^ S3[u1 & 0xff]! ^ rk[42]!;
    this.o3 = S0[u3 >>> 24]! ^ S1[(u0 >>> 16) & 0xff]! ^ S2[(u1 >>> 8) & 0xff]! ^ S3[u2 & 0xff]! ^ rk[43]!;
  }
}

/** Messages whose keystream one native call produces (see NativeEcbCtr). */
export const ECB_LOOKAHEAD_MESSAGES = 4;
/** Blocks per message in a look-ahead batch, at least: the tag mask and 11 payload blocks (176 bytes). */
const ECB_LOOKAHEAD_BLOCKS = 12;

/** One lane's batch: the keystream of `count` messages IV = base + k ‖ iv1 ‖ iv2, `blocks` blocks each. */
interface EcbBatch {
  buf: Uint8Array | null;
  base: number;
  iv1: number;
  iv2: number;
  count: number;
  blocks: number;
}

/**
 * Counter blocks of every NativeEcbCtr: rewritten per batch (word 0 always, the other words when
 * the layout changes), shared because only the ECB output is kept.
 */
let scratch = new DataView(new ArrayBuffer(0));
/** The first bytes of `scratch` that the last batch used, as the native call takes them (kept: no view per call). */
let scratchInput = new Uint8Array(0);
let scratchIv1 = 0;
let scratchIv2 = 0;
/** Blocks per message of the layout in `scratch` (0: none yet). */
let scratchBlocks = 0;

function emptyBatch(): EcbBatch {
  return { buf: null, base: 0, iv1: 0, iv2: 0, count: 0, blocks: 0 };
}

/**
 * Counter blocks from one long-lived node:crypto AES-ECB context per key (AES-NI where the CPU has
 * it; ECB here only encrypts the counter blocks, which is how CTR is defined). A native call and
 * the buffer it returns cost more than the AES work of a few packets, so one call produces the
 * keystream of the next ECB_LOOKAHEAD_MESSAGES messages (IV word 0 = iv0, iv0 + 1, ...: the
 * transport nonce is a counter that goes up by one per packet), and the following messages read
 * theirs from that batch. Two lanes (sealing ours, opening the peer's: two unrelated counters
 * under one key) keep their batches apart. A message never gets other blocks than AES(IV ‖ n):
 * the batch only computes them earlier. `create` returns null on a crypto build without ECB.
 */
export class NativeEcbCtr implements BatchKeystream {
  offset = 0;
  private readonly lanes: [EcbBatch, EcbBatch] = [emptyBatch(), emptyBatch()];

  private constructor(private readonly ecb: Cipher) {}

  static create(key: Uint8Array): NativeEcbCtr | null {
    try {
      const ecb = createCipheriv(key.length === 16 ? 'aes-128-ecb' : 'aes-256-ecb', key, null);
      ecb.setAutoPadding(false);
      return new NativeEcbCtr(ecb);
    } catch {
      return null;
    }
  }

  keystream(iv0: number, iv1: number, iv2: number, payloadBlocks: number, lane: 0 | 1): Uint8Array {
    const need = payloadBlocks + 1;
    const batch = this.lanes[lane];
    const k = (iv0 - batch.base) >>> 0;
    if (
      batch.buf !== null &&
      k < batch.count &&
      need <= batch.blocks &&
      iv1 === batch.iv1 &&
      iv2 === batch.iv2
    ) {
      this.offset = 16 * k * batch.blocks;
      return batch.buf;
    }
    const blocks = Math.max(need, ECB_LOOKAHEAD_BLOCKS);
    const count = ECB_LOOKAHEAD_MESSAGES;
    const total = count * blocks;
    if (scratch.byteLength < 16 * total) {
      scratch = new DataView(new ArrayBuffer(16 * total));
      scratchBlocks = 0;
    }
    if (scratchInput.buffer !== scratch.buffer || scratchInput.length !== 16 * total)
      scratchInput = new Uint8Array(scratch.buffer, 0, 16 * total);
    const ctr = scratch;
    if (blocks !== scratchBlocks || iv1 !== scratchIv1 || iv2 !== scratchIv2) {
      for (let b = 0; b < total; b++) {
        ctr.setInt32(16 * b + 4, iv1);
        ctr.setInt32(16 * b + 8, iv2);
        ctr.setInt32(16 * b + 12, (b % blocks) + 1);
      }
      scratchBlocks = blocks;
      scratchIv1 = iv1;
      scratchIv2 = iv2;
    }
    for (let m = 0; m < count; m++) {
      const word = (iv0 + m) | 0;
      for (let b = m * blocks; b < (m + 1) * blocks; b++) ctr.setInt32(16 * b, word);
    }
    batch.buf = this.ecb.update(scratchInput);
    batch.base = iv0 >>> 0;
    batch.iv1 = iv1;
    batch.iv2 = iv2;
    batch.count = count;
    batch.blocks = blocks;
    this.offset = 0;
    return batch.buf;
  }
}
