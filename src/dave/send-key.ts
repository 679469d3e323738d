/**
 * Our DAVE send state as handed to the media engine, which encrypts each frame when its clock
 * takes it (so the key in force at send time is used, dave.md §6.8): a sender base secret, plain
 * frames (passthrough, protocol version 0), or no key at all. The secret sits in an ES private
 * field, so logging or inspecting the object (or anything holding it) never shows it.
 *
 * This is the one home of the send secret on the endpoint's side: a caller that encrypts before
 * queueing (DaveClient.encrypt) goes through encryptFrame, whose ratchet and frame counter live
 * here too, next to the secret, instead of in a second encryptor holding its own copy.
 */
import { DAVE_MEDIA_KEY_BYTES } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { FrameEncryptor } from './frame-encryptor.js';
import type { FrameEncryptorStats } from './frame-encryptor.js';

export type DaveSendMode = 'encrypt' | 'passthrough' | 'none';

export class DaveSendKey {
  #baseSecret: Uint8Array | undefined;
  /** Built on the first encryptFrame (most keys only ever go to the engine). */
  #encryptor: FrameEncryptor | undefined;

  private constructor(
    readonly mode: DaveSendMode,
    baseSecret?: Uint8Array,
  ) {
    this.#baseSecret = baseSecret;
  }

  /** Frames are encrypted with the hash ratchet of this sender base secret (a copy is kept). */
  static encrypt(baseSecret: Uint8Array): DaveSendKey {
    if (!(baseSecret instanceof Uint8Array) || baseSecret.length !== DAVE_MEDIA_KEY_BYTES)
      throw new VoxcordError('INVALID_ARGUMENT', `DAVE base secret must be ${DAVE_MEDIA_KEY_BYTES} bytes`);
    return new DaveSendKey('encrypt', Uint8Array.from(baseSecret));
  }

  /** Frames go out unchanged (protocol version 0). */
  static readonly passthrough = new DaveSendKey('passthrough');
  /** No key: audio frames cannot be sent (silence still can). */
  static readonly none = new DaveSendKey('none');

  /**
   * The base secret, for the frame encryptor only.
   * @internal
   */
  baseSecret(): Uint8Array | undefined {
    return this.#baseSecret;
  }

  /**
   * Encrypts one of our frames with this key on the calling thread (DaveClient.encrypt, the inline
   * engine), counting the outcome in `stats` (FrameEncryptor.encrypt): the protocol frame, the input itself (silence, or
   * passthrough), or null (no key). The first frame under a key uses counter 1.
   * @internal
   */
  encryptFrame(opus: Uint8Array, stats?: FrameEncryptorStats): Uint8Array | null {
    return this.encryptor().encrypt(opus, stats);
  }

  /**
   * encryptFrame() of the frame `src[srcOffset, srcOffset + length)` (the engine's send queue store,
   * read where it lies) into the caller's buffer (the media engine's datagram): the bytes written at
   * `dst[dstOffset]`, FRAME_UNCHANGED or FRAME_DROPPED (FrameEncryptor.encryptRangeInto).
   * @internal
   */
  encryptFrameInto(
    src: Uint8Array,
    srcOffset: number,
    length: number,
    dst: Uint8Array,
    dstOffset: number,
  ): number {
    return this.encryptor().encryptRangeInto(src, srcOffset, length, dst, dstOffset);
  }

  /**
   * encryptFrameInto() into the WebAssembly core's stage (FrameEncryptor.encryptRangeToStage), for
   * the transport pass to seal where it lies.
   * @internal
   */
  encryptFrameToStage(src: Uint8Array, srcOffset: number, length: number): number {
    return this.encryptor().encryptRangeToStage(src, srcOffset, length);
  }

  /**
   * For the key's owner (the DaveClient that made it, or the media worker that made its own copy
   * for a channel) once a newer key replaced it: its secret and cipher are zeroed now, not when the
   * collector finds them. Frames after this have no key. The shared keys (none, passthrough) are
   * never released.
   * @internal
   */
  release(): void {
    if (this.mode !== 'encrypt') return;
    this.#baseSecret?.fill(0);
    this.#baseSecret = undefined;
    this.#encryptor?.destroy();
  }

  private encryptor(): FrameEncryptor {
    let encryptor = this.#encryptor;
    if (encryptor === undefined) {
      encryptor = this.#encryptor = new FrameEncryptor();
      encryptor.setRatchet(this.#baseSecret ?? null);
      encryptor.setPassthrough(this.mode === 'passthrough');
    }
    return encryptor;
  }

  toJSON(): { mode: DaveSendMode } {
    return { mode: this.mode };
  }
}
