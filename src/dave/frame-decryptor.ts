/**
 * Per-remote-user DAVE frame decryptor (dave.md §9.3–§9.6, libdave Decryptor/CipherManager).
 *
 * One receive ratchet per epoch, tried newest first; previous epochs stay usable for
 * DAVE_KEY_RETENTION_MS after a transition. Within a ratchet: generation wrap, a bound of 250
 * generations ahead, the lifetime bound (170 frames/s since the ratchet was installed), old
 * generations kept 10 s after a newer one succeeds, and a replay window of the last 1000 missing
 * nonces. Every failure is a typed reason; nothing here throws on frame input.
 */
import {
  DAVE_GENERATION_SHIFT_BITS,
  DAVE_KEY_RETENTION_MS,
  DAVE_MAX_FRAMES_PER_SECOND,
  DAVE_MAX_GENERATION_GAP,
  DAVE_MAX_MISSING_NONCES,
} from '../protocol/constants.js';
import { Aes128Gcm } from './aes128gcm.js';
import {
  createParsedFrame,
  isOpusSilence,
  joinRanges,
  nonceGeneration,
  parseProtocolFrame,
  splitRanges,
  wrapGeneration,
  type ParsedFrame,
} from './frame-codec.js';
import { HashRatchet } from './hash-ratchet.js';

/**
 * Why a frame was not decrypted.
 * - `no-key`: no key held for this sender opens the frame: it was encrypted under a key this member
 *   does not have (an epoch it never had or no longer keeps, or no epoch at all yet). AES-GCM cannot
 *   tell that apart from a frame altered after encryption; the transport AEAD already rules out
 *   damage in transit.
 * - `replay`: the frame opens under a key held, but that key already decrypted its nonce (or the
 *   nonce slid out of the window): a duplicate, never a missing key.
 */
export type DecryptFailureReason =
  | 'not-protocol-frame'
  | 'no-key'
  | 'replay'
  | 'generation-gap'
  | 'generation-expired'
  | 'lifetime'
  | 'malformed';

export type DecryptResult =
  { ok: true; frame: Uint8Array; passthrough: boolean } | { ok: false; reason: DecryptFailureReason };

export interface FrameDecryptorStats {
  /** Frames decrypted. */
  decrypted: number;
  /** Non-protocol frames returned unchanged under passthrough. */
  passthrough: number;
  /** Silence frames returned unchanged. */
  silence: number;
  /** AES-GCM decryption attempts (a frame may be tried against several epochs). */
  attempts: number;
  /** Failed frames, by reason. */
  failures: Record<DecryptFailureReason, number>;
}

export type PassthroughMode = { enable: true } | { enable: false; expiryMs?: number };

const GENERATION_SPAN = 2 ** DAVE_GENERATION_SHIFT_BITS;
const LOW_NONCE_MASK = GENERATION_SPAN - 1;

/** Failure precedence across epochs: the most specific rejection wins over "wrong key". */
const REASON_RANK: Record<DecryptFailureReason, number> = {
  'not-protocol-frame': 0,
  malformed: 0,
  'no-key': 0,
  lifetime: 2,
  'generation-expired': 3,
  'generation-gap': 4,
  replay: 5,
};

/** Initial capacity of a missing-nonce list; it doubles up to DAVE_MAX_MISSING_NONCES. */
const MISSING_INITIAL_CAPACITY = 16;
const NO_VALUES = new Float64Array(0);
const NO_FLAGS = new Uint8Array(0);

/**
 * Missing (skipped) big nonces below the newest one, ascending, at most DAVE_MAX_MISSING_NONCES.
 * A ring buffer with tombstones: arrivals remove from the middle, the window slides from the front.
 * Storage grows on demand and is released when the list empties: a sender whose frames arrive in
 * order (or who sends nothing) costs no buffer at all, where a full window costs 9 KB per epoch.
 */
class MissingNonces {
  private values = NO_VALUES;
  private alive = NO_FLAGS;
  private head = 0;
  private size = 0;

  /** Entries there is storage for. */
  get capacity(): number {
    return this.values.length;
  }

  private at(i: number): number {
    return (this.head + i) % this.values.length;
  }

  /** Drops entries below `floor` (they slid out of the window). */
  dropBelow(floor: number): void {
    while (this.size > 0 && this.values[this.head]! < floor) {
      this.head = (this.head + 1) % this.values.length;
      this.size--;
    }
    if (this.size === 0 && this.values !== NO_VALUES) this.release();
  }

  /** Appends a value larger than every stored one. Callers keep the count within capacity. */
  push(value: number): void {
    if (this.size === DAVE_MAX_MISSING_NONCES) {
      // Cannot happen when the window rule holds; keep the newest rather than overflow.
      this.head = (this.head + 1) % this.values.length;
      this.size--;
    } else if (this.size === this.values.length) {
      this.grow();
    }
    const i = this.at(this.size);
    this.values[i] = value;
    this.alive[i] = 1;
    this.size++;
  }

  private find(value: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.values[this.at(mid)]!;
      if (v === value) return this.alive[this.at(mid)] === 1 ? this.at(mid) : -1;
      if (v < value) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  has(value: number): boolean {
    return this.find(value) >= 0;
  }

  remove(value: number): void {
    const i = this.find(value);
    if (i >= 0) this.alive[i] = 0;
  }

  /** Doubles the storage (bounded by the window), unrolling the ring to start at 0. */
  private grow(): void {
    const capacity = Math.min(
      DAVE_MAX_MISSING_NONCES,
      Math.max(MISSING_INITIAL_CAPACITY, this.values.length * 2),
    );
    const values = new Float64Array(capacity);
    const alive = new Uint8Array(capacity);
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k);
      values[k] = this.values[i]!;
      alive[k] = this.alive[i]!;
    }
    this.values = values;
    this.alive = alive;
    this.head = 0;
  }

  private release(): void {
    this.values = NO_VALUES;
    this.alive = NO_FLAGS;
    this.head = 0;
  }
}

interface ExpiringCipher {
  cipher: Aes128Gcm;
  expiry: number;
}

/** One epoch's receive ratchet for this sender (libdave AeadCipherManager). */
class ReceiveRatchet {
  expiry = Infinity;
  private oldestGeneration = 0;
  private newestGeneration = 0;
  private newestNonce = -1;
  private readonly missing = new MissingNonces();
  private readonly ciphers = new Map<number, ExpiringCipher>();
  private nextCipherExpiry = Infinity;

  constructor(
    private readonly ratchet: HashRatchet,
    private readonly created: number,
  ) {}

  get missingNonceCapacity(): number {
    return this.missing.capacity;
  }

  /** Generations with a cipher (a key resident in the WebAssembly core) right now. */
  get cipherCount(): number {
    return this.ciphers.size;
  }

  /** The epoch is over: its keys leave the core and the ratchet's secrets are zeroed. */
  release(): void {
    for (const entry of this.ciphers.values()) entry.cipher.release();
    this.ciphers.clear();
    this.ratchet.destroy();
  }

  generationOf(nonce: number): number {
    return wrapGeneration(this.oldestGeneration, nonceGeneration(nonce));
  }

  /** Replay / too-old check (libdave CanProcessNonce). */
  canProcess(bigNonce: number): boolean {
    return this.newestNonce < 0 || bigNonce > this.newestNonce || this.missing.has(bigNonce);
  }

  /** The cipher for `generation`, or why there is none (libdave GetCipher). */
  cipherFor(generation: number, now: number): Aes128Gcm | DecryptFailureReason {
    if (now > this.nextCipherExpiry) this.dropExpiredCiphers(now);
    if (generation < this.oldestGeneration) return 'generation-expired';
    if (generation > this.newestGeneration + DAVE_MAX_GENERATION_GAP) return 'generation-gap';
    const ageSeconds = Math.floor(Math.max(0, now - this.created) / 1000);
    if (generation > Math.floor((DAVE_MAX_FRAMES_PER_SECOND * ageSeconds) / GENERATION_SPAN))
      return 'lifetime';
    const existing = this.ciphers.get(generation);
    if (existing !== undefined) return existing.cipher;
    const key = this.ratchet.get(generation);
    if (key === null) return 'generation-expired';
    // A cipher for a generation older than the newest one only lives for the retention time.
    const expiry = generation < this.newestGeneration ? now + DAVE_KEY_RETENTION_MS : Infinity;
    const entry = { cipher: new Aes128Gcm(key), expiry };
    this.ciphers.set(generation, entry);
    this.nextCipherExpiry = Math.min(this.nextCipherExpiry, expiry);
    return entry.cipher;
  }

  /** Records a successful decryption (libdave ReportCipherSuccess). */
  reportSuccess(generation: number, bigNonce: number, now: number): void {
    if (this.newestNonce < 0) {
      this.newestNonce = bigNonce;
    } else if (bigNonce > this.newestNonce) {
      const floor = Math.max(0, bigNonce - DAVE_MAX_MISSING_NONCES);
      this.missing.dropBelow(floor);
      for (let n = Math.max(floor, this.newestNonce + 1); n < bigNonce; n++) this.missing.push(n);
      this.newestNonce = bigNonce;
    } else {
      this.missing.remove(bigNonce);
    }
    if (generation <= this.newestGeneration || !this.ciphers.has(generation)) return;
    this.newestGeneration = generation;
    const expiry = now + DAVE_KEY_RETENTION_MS;
    for (const [g, entry] of this.ciphers) {
      if (g < generation && entry.expiry > expiry) {
        entry.expiry = expiry;
        this.nextCipherExpiry = Math.min(this.nextCipherExpiry, expiry);
      }
    }
  }

  private dropExpiredCiphers(now: number): void {
    let next = Infinity;
    for (const [g, entry] of this.ciphers) {
      if (entry.expiry < now) {
        entry.cipher.release();
        this.ciphers.delete(g);
      } else next = Math.min(next, entry.expiry);
    }
    this.nextCipherExpiry = next;
    while (this.oldestGeneration < this.newestGeneration && !this.ciphers.has(this.oldestGeneration)) {
      this.ratchet.erase(this.oldestGeneration);
      this.oldestGeneration++;
    }
  }
}

export interface FrameDecryptorOptions {
  /** Monotonic clock in milliseconds (tests inject one). Default: performance.now(). */
  now?: () => number;
}

export class FrameDecryptor {
  /** Oldest first; decryption tries them newest first. */
  private readonly ratchets: ReceiveRatchet[] = [];
  private passthroughUntil = -Infinity;
  private readonly now: () => number;
  private readonly parsed: ParsedFrame = createParsedFrame();
  readonly stats: FrameDecryptorStats = {
    decrypted: 0,
    passthrough: 0,
    silence: 0,
    attempts: 0,
    failures: {
      'not-protocol-frame': 0,
      'no-key': 0,
      replay: 0,
      'generation-gap': 0,
      'generation-expired': 0,
      lifetime: 0,
      malformed: 0,
    },
  };

  constructor(options: FrameDecryptorOptions = {}) {
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Installs the sender's base secret for a newly processed epoch (commit or welcome). Existing
   * epochs expire DAVE_KEY_RETENTION_MS from now. null only expires the existing ones (downgrade).
   */
  transitionToRatchet(baseSecret: Uint8Array | null): void {
    const now = this.now();
    // A silent sender's expired epochs are otherwise only dropped by its next frame.
    this.dropExpiredRatchets(now);
    const expiry = now + DAVE_KEY_RETENTION_MS;
    for (const r of this.ratchets) r.expiry = Math.min(r.expiry, expiry);
    if (baseSecret !== null) this.ratchets.push(new ReceiveRatchet(new HashRatchet(baseSecret), now));
  }

  /**
   * enable: non-protocol frames pass unchanged from now on. disable: they may still pass until
   * min(current deadline, now + expiryMs) (default DAVE_KEY_RETENTION_MS), to cover the upgrade.
   */
  setPassthrough(mode: PassthroughMode): void {
    if (mode.enable) {
      this.passthroughUntil = Infinity;
    } else {
      const expiryMs = mode.expiryMs ?? DAVE_KEY_RETENTION_MS;
      this.passthroughUntil = Math.min(this.passthroughUntil, this.now() + expiryMs);
    }
  }

  /** Whether a non-protocol frame would pass through right now. */
  get canPassthrough(): boolean {
    return this.now() < this.passthroughUntil;
  }

  /**
   * Epoch ratchets held right now, expired or not, and the missing-nonce entries they have storage
   * for (diagnostics and tests: what this decryptor keeps in memory).
   * @internal
   */
  get retained(): { ratchets: number; missingNonceCapacity: number; ciphers: number } {
    let missingNonceCapacity = 0;
    let ciphers = 0;
    for (const r of this.ratchets) {
      missingNonceCapacity += r.missingNonceCapacity;
      ciphers += r.cipherCount;
    }
    return { ratchets: this.ratchets.length, missingNonceCapacity, ciphers };
  }

  /**
   * Releases every epoch now (the sender left, or the session ended): their keys leave the
   * WebAssembly core at once rather than when the garbage collector finds them. Decrypting after
   * this fails with 'no-key' until a new ratchet is installed.
   */
  destroy(): void {
    for (const r of this.ratchets) r.release();
    this.ratchets.length = 0;
  }

  /** Number of epochs (current and retained) that can still decrypt. */
  get ratchetCount(): number {
    this.dropExpiredRatchets(this.now());
    return this.ratchets.length;
  }

  /**
   * Silence and (under passthrough) non-protocol frames come back as the input itself; decrypted
   * frames are new Buffers that may share Node's allocation pool (copy before transferring).
   */
  decrypt(frame: Uint8Array): DecryptResult {
    if (isOpusSilence(frame)) {
      this.stats.silence++;
      return { ok: true, frame, passthrough: true };
    }
    const now = this.now();
    const parsed = this.parsed;
    const parse = parseProtocolFrame(frame, parsed);
    if (parse !== 'ok') {
      if (now < this.passthroughUntil) {
        this.stats.passthrough++;
        return { ok: true, frame, passthrough: true };
      }
      return this.fail(parse);
    }
    this.dropExpiredRatchets(now);
    if (this.ratchets.length === 0) return this.fail('no-key');

    const nonce = parsed.nonce;
    const ranges = parsed.ranges;
    let aad: Uint8Array | undefined;
    let src = frame;
    let srcLength = parsed.mediaLength;
    if (ranges.length > 0) {
      const split = splitRanges(frame, parsed.mediaLength, ranges);
      aad = split.aad;
      src = split.encrypted;
      srcLength = src.length;
    }
    // allocUnsafe draws small frames from Node's pool; openDave writes (or zeroes) every byte.
    const out = Buffer.allocUnsafe(srcLength);
    let reason: DecryptFailureReason = 'no-key';
    let rank = -1;
    for (let i = this.ratchets.length - 1; i >= 0; i--) {
      const r = this.ratchets[i]!;
      const attempt = this.tryRatchet(r, frame, parsed.tagOffset, nonce, src, srcLength, out, aad, now);
      if (attempt === 'ok') {
        this.stats.decrypted++;
        const plain = aad === undefined ? out : joinRanges(aad, out, ranges);
        return { ok: true, frame: plain, passthrough: false };
      }
      if (REASON_RANK[attempt] > rank) {
        rank = REASON_RANK[attempt];
        reason = attempt;
      }
    }
    return this.fail(reason);
  }

  private tryRatchet(
    r: ReceiveRatchet,
    frame: Uint8Array,
    tagOffset: number,
    nonce: number,
    src: Uint8Array,
    srcLength: number,
    out: Uint8Array,
    aad: Uint8Array | undefined,
    now: number,
  ): 'ok' | DecryptFailureReason {
    const generation = r.generationOf(nonce);
    const bigNonce = generation * GENERATION_SPAN + (nonce & LOW_NONCE_MASK);
    const seen = !r.canProcess(bigNonce);
    const cipher = r.cipherFor(generation, now);
    if (typeof cipher === 'string') return cipher;
    this.stats.attempts++;
    const opened = cipher.openDave(nonce, src, 0, srcLength, frame, tagOffset, out, 0, aad);
    // A nonce this ratchet already saw is a replay only if its key opens the frame: a sender whose
    // new epoch restarts the counter reuses nonces under a key this member may not have.
    if (seen) return opened ? 'replay' : 'no-key';
    if (!opened) return 'no-key';
    r.reportSuccess(generation, bigNonce, now);
    return 'ok';
  }

  private dropExpiredRatchets(now: number): void {
    let expired = 0;
    while (expired < this.ratchets.length && now > this.ratchets[expired]!.expiry) expired++;
    if (expired === 0) return;
    for (let i = 0; i < expired; i++) this.ratchets[i]!.release();
    this.ratchets.splice(0, expired);
  }

  private fail(reason: DecryptFailureReason): DecryptResult {
    this.stats.failures[reason]++;
    return { ok: false, reason };
  }
}
