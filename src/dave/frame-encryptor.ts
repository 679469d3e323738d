/**
 * Per-sender DAVE Opus frame encryptor (dave.md §9.2, §9.5, §9.6, §6.12): a 32-bit frame counter
 * (first frame after a new ratchet uses 1), the key generation from the counter's top byte
 * (continuing past 255 after the counter wraps), AES-128-GCM with an 8-byte tag, `FA FA` trailer.
 */
import { DAVE_SUPPLEMENTAL_FIXED_BYTES, DAVE_TAG_BYTES } from '../protocol/constants.js';
import { Aes128Gcm } from './aes128gcm.js';
import { isOpusSilenceAt, nonceGeneration, wrapGeneration, writeTrailer } from './frame-codec.js';
import { HashRatchet } from './hash-ratchet.js';
import { uleb128Size } from './uleb128.js';

/** encryptRangeInto(): the frame goes out unchanged (silence, passthrough); nothing was written. */
export const FRAME_UNCHANGED = 0;
/** encryptRangeInto(): no key and not in passthrough; the caller drops the frame. */
export const FRAME_DROPPED = -1;
/** Most bytes the DAVE trailer adds to an Opus frame: tag, ULEB128 of a u32 nonce (5), S, magic. */
export const DAVE_MAX_OPUS_SUPPLEMENTAL = DAVE_SUPPLEMENTAL_FIXED_BYTES + uleb128Size(0xffff_ffff);

/** The trailer of the frame being staged (encryptRangeToStage), on this thread only. */
const stagedTrailer = new Uint8Array(DAVE_MAX_OPUS_SUPPLEMENTAL);

export interface FrameEncryptorStats {
  /** Frames encrypted. */
  encrypted: number;
  /** Frames returned unchanged because passthrough is on. */
  passthrough: number;
  /** Silence frames returned unchanged. */
  silence: number;
  /** Frames dropped: no key and not in passthrough. */
  dropped: number;
}

export class FrameEncryptor {
  private ratchet: HashRatchet | null = null;
  private cipher: Aes128Gcm | null = null;
  private cipherGeneration = -1;
  private counter = 0;
  private generation = 0;
  private passthrough = false;
  readonly stats: FrameEncryptorStats = { encrypted: 0, passthrough: 0, silence: 0, dropped: 0 };

  /**
   * Installs the sender's base secret for the epoch being executed (null = no key, e.g. a
   * downgrade or a sole-member reset). Restarts the counter and generation.
   */
  setRatchet(baseSecret: Uint8Array | null): void {
    this.destroy();
    this.ratchet = baseSecret === null ? null : new HashRatchet(baseSecret);
    this.cipherGeneration = -1;
    this.counter = 0;
    this.generation = 0;
  }

  /**
   * Done with this key (a newer one replaced it): zeroes the ratchet and frees the cipher's slot in
   * the WebAssembly core now, not when the collector finds it. Frames after this have no key.
   */
  destroy(): void {
    this.cipher?.release();
    this.cipher = null;
    this.ratchet?.destroy();
    this.ratchet = null;
  }

  /** Passthrough (transport-only session): frames go out unchanged, with or without a key. */
  setPassthrough(on: boolean): void {
    this.passthrough = on;
  }

  get hasKey(): boolean {
    return this.ratchet !== null;
  }

  get passthroughMode(): boolean {
    return this.passthrough;
  }

  /**
   * Returns the protocol frame, the input itself (silence or passthrough), or null when there is
   * no key and passthrough is off (the caller drops the frame). A new frame is a Buffer that may
   * share Node's allocation pool: copy it before transferring its ArrayBuffer to a worker.
   * `stats`: where the outcome is counted (this encryptor's own stats by default).
   */
  encrypt(opus: Uint8Array, stats: FrameEncryptorStats = this.stats): Uint8Array | null {
    const n = opus.length;
    const cipher = this.next(opus, 0, n, stats);
    if (cipher === FRAME_UNCHANGED) return opus;
    if (cipher === null) return null;
    // allocUnsafe draws small frames from Node's pool: every byte is written.
    const out = Buffer.allocUnsafe(n + DAVE_SUPPLEMENTAL_FIXED_BYTES + uleb128Size(this.counter));
    this.seal(cipher, opus, 0, n, out, 0, stats);
    return out;
  }

  /**
   * encrypt() of the frame `src[srcOffset, srcOffset + length)` into the caller's buffer (the media
   * engine reads the frame where it lies in its send queue and writes the protocol frame straight
   * into the datagram): returns the bytes written at `dst[dstOffset]`, FRAME_UNCHANGED (nothing
   * written: the frame goes out as it is) or FRAME_DROPPED. `dst` needs room for
   * length + DAVE_MAX_OPUS_SUPPLEMENTAL bytes.
   */
  encryptRangeInto(
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
    stats: FrameEncryptorStats = this.stats,
  ): number {
    const cipher = this.next(src, srcOffset, length, stats);
    if (cipher === FRAME_UNCHANGED) return FRAME_UNCHANGED;
    if (cipher === null) return FRAME_DROPPED;
    return this.seal(cipher, src, srcOffset, length, dst, dstOffset, stats);
  }

  /**
   * encryptRangeInto() into the WebAssembly core's stage (Aes128Gcm.sealDaveToStage) rather than
   * a buffer: the transport cipher's sealStaged then seals the frame where it lies. Returns the
   * frame's length, FRAME_UNCHANGED (nothing staged) or FRAME_DROPPED. Only where the core runs
   * (a stageable transport cipher on this thread) and for length + DAVE_MAX_OPUS_SUPPLEMENTAL <=
   * STAGE_BYTES.
   */
  encryptRangeToStage(
    src: Uint8Array,
    srcOffset: number,
    length: number,
    stats: FrameEncryptorStats = this.stats,
  ): number {
    const cipher = this.next(src, srcOffset, length, stats);
    if (cipher === FRAME_UNCHANGED) return FRAME_UNCHANGED;
    if (cipher === null) return FRAME_DROPPED;
    const nonce = this.counter;
    const trailerLength = writeTrailer(stagedTrailer, 0, nonce);
    const staged = cipher.sealDaveToStage(nonce, src, srcOffset, length, stagedTrailer, trailerLength);
    stats.encrypted++;
    return staged;
  }

  /** Counts silence / passthrough / no-key frames, or steps the counter and returns its cipher. */
  private next(
    src: Uint8Array,
    srcOffset: number,
    length: number,
    stats: FrameEncryptorStats,
  ): Aes128Gcm | null | typeof FRAME_UNCHANGED {
    if (isOpusSilenceAt(src, srcOffset, length)) {
      stats.silence++;
      return FRAME_UNCHANGED;
    }
    if (this.passthrough) {
      stats.passthrough++;
      return FRAME_UNCHANGED;
    }
    const ratchet = this.ratchet;
    if (ratchet === null) {
      stats.dropped++;
      return null;
    }
    this.counter = (this.counter + 1) >>> 0;
    this.generation = wrapGeneration(this.generation, nonceGeneration(this.counter));
    const cipher = this.cipherFor(ratchet);
    if (cipher === null) stats.dropped++;
    return cipher;
  }

  /** Ciphertext ‖ tag ‖ trailer of the current counter at `out[offset]`; returns its length. */
  private seal(
    cipher: Aes128Gcm,
    src: Uint8Array,
    srcOffset: number,
    n: number,
    out: Uint8Array,
    offset: number,
    stats: FrameEncryptorStats,
  ): number {
    const nonce = this.counter;
    cipher.sealDave(nonce, src, srcOffset, n, out, offset);
    const end = writeTrailer(out, offset + n + DAVE_TAG_BYTES, nonce);
    stats.encrypted++;
    return end - offset;
  }

  /**
   * Test hook (generation wrap takes 2^24 frames): makes the next frame use `counter + 1`, keeping
   * the generation history as if every frame in between had been sent.
   * @internal
   */
  seekCounter(counter: number): void {
    this.counter = counter >>> 0;
    this.generation = wrapGeneration(this.generation, nonceGeneration(this.counter));
  }

  private cipherFor(ratchet: HashRatchet): Aes128Gcm | null {
    if (this.cipher !== null && this.cipherGeneration === this.generation) return this.cipher;
    const key = ratchet.get(this.generation);
    if (key === null) return null;
    // The sender never goes back: forget this and any older key.
    this.cipher?.release();
    this.cipher = new Aes128Gcm(key);
    for (let g = Math.max(0, this.cipherGeneration); g <= this.generation; g++) ratchet.erase(g);
    this.cipherGeneration = this.generation;
    return this.cipher;
  }
}
