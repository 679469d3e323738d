import { afterEach, describe, it, expect, vi } from 'vitest';
import { createDecipheriv, randomBytes } from 'node:crypto';
import {
  DAVE_MAX_OPUS_SUPPLEMENTAL,
  FRAME_DROPPED,
  FRAME_UNCHANGED,
  FrameEncryptor,
} from '../../src/dave/frame-encryptor.js';
import { createParsedFrame, parseProtocolFrame } from '../../src/dave/frame-codec.js';
import { HashRatchet } from '../../src/dave/hash-ratchet.js';
import { EncryptionMode, OPUS_SILENCE_FRAME } from '../../src/protocol/constants.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { WasmGcm } from '../../src/crypto/aes-wasm.js';
import { hex, unhex as bytes } from '../support/bytes.js';

const BASE_SECRET = bytes('26b5f027e5e5667b121e26734c6ad323');
const PLAINTEXT = bytes('0dc5aedd5bdc3f20be5697e54dd1f437');
const FRAME_A = '4bfdd3128761287e4aa2f4d2a8a2624c1a516f9ff265fcc5010cfafa';
const FRAME_B = '15ab9925513866da14993a4d570b79c888ab2b415e88554a858080080ffafa';

/** Decrypts an Opus protocol frame with node:crypto and the given generation key. */
function nodeOpen(frame: Uint8Array, key: Uint8Array): { nonce: number; plain: string } {
  const p = createParsedFrame();
  expect(parseProtocolFrame(frame, p)).toBe('ok');
  expect(p.ranges).toEqual([]);
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, p.nonce, true);
  const d = createDecipheriv('aes-128-gcm', key, iv, { authTagLength: 8 });
  d.setAuthTag(frame.subarray(p.tagOffset, p.tagOffset + 8));
  const plain = Buffer.concat([d.update(frame.subarray(0, p.mediaLength)), d.final()]);
  return { nonce: p.nonce, plain: hex(plain) };
}

describe('FrameEncryptor', () => {
  it('produces §9.7 frame A as the first frame of a ratchet', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    expect(hex(e.encrypt(PLAINTEXT)!)).toBe(FRAME_A);
    expect(e.stats.encrypted).toBe(1);
  });

  it('produces §9.7 frame B at counter 0x01000005 (generation 1)', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    e.encrypt(PLAINTEXT);
    e.seekCounter(0x01000004);
    expect(hex(e.encrypt(PLAINTEXT)!)).toBe(FRAME_B);
  });

  it('counts frames from 1 and every frame opens with node:crypto', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    const key0 = new HashRatchet(BASE_SECRET).get(0)!;
    for (let i = 1; i <= 300; i++) {
      const opus = randomBytes(i % 7 === 0 ? 0 : (i * 13) % 1276);
      const frame = e.encrypt(opus)!;
      expect(frame.length).toBe(opus.length + 8 + (i < 128 ? 1 : 2) + 3);
      expect(nodeOpen(frame, key0)).toEqual({ nonce: i, plain: hex(opus) });
    }
  });

  it('moves to the next generation key when the counter crosses 2^24', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    const keys = new HashRatchet(BASE_SECRET);
    e.seekCounter(0x00fffffe);
    expect(nodeOpen(e.encrypt(PLAINTEXT)!, keys.get(0)!).nonce).toBe(0x00ffffff);
    expect(nodeOpen(e.encrypt(PLAINTEXT)!, keys.get(1)!).nonce).toBe(0x01000000);
  });

  it('continues past generation 255 when the 32-bit counter wraps', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    const keys = new HashRatchet(BASE_SECRET);
    e.seekCounter(0xfffffffe);
    expect(nodeOpen(e.encrypt(PLAINTEXT)!, keys.get(255)!).nonce).toBe(0xffffffff);
    expect(nodeOpen(e.encrypt(PLAINTEXT)!, keys.get(256)!)).toEqual({ nonce: 0, plain: hex(PLAINTEXT) });
    expect(nodeOpen(e.encrypt(PLAINTEXT)!, keys.get(256)!).nonce).toBe(1);
  });

  it('restarts the counter on a new ratchet', () => {
    const e = new FrameEncryptor();
    e.setRatchet(randomBytes(16));
    for (let i = 0; i < 5; i++) e.encrypt(PLAINTEXT);
    e.setRatchet(BASE_SECRET);
    expect(hex(e.encrypt(PLAINTEXT)!)).toBe(FRAME_A);
  });

  it('drops frames without a key unless passthrough, and passes silence unencrypted', () => {
    const e = new FrameEncryptor();
    expect(e.hasKey).toBe(false);
    expect(e.encrypt(PLAINTEXT)).toBeNull();
    expect(e.encrypt(OPUS_SILENCE_FRAME)).toBe(OPUS_SILENCE_FRAME);
    e.setPassthrough(true);
    expect(e.encrypt(PLAINTEXT)).toBe(PLAINTEXT);
    e.setRatchet(BASE_SECRET);
    // Passthrough wins over a key (transport-only session after a downgrade).
    expect(e.encrypt(PLAINTEXT)).toBe(PLAINTEXT);
    e.setPassthrough(false);
    expect(hex(e.encrypt(PLAINTEXT)!)).toBe(FRAME_A);
    expect(hex(e.encrypt(OPUS_SILENCE_FRAME)!)).toBe('f8fffe');
    e.setRatchet(null);
    expect(e.encrypt(PLAINTEXT)).toBeNull();
    expect(e.stats).toEqual({ encrypted: 1, passthrough: 2, silence: 2, dropped: 2 });
  });

  it('encryptRangeInto writes the frame encrypt() returns at the offset, and nothing else', () => {
    const a = new FrameEncryptor();
    const b = new FrameEncryptor();
    a.setRatchet(BASE_SECRET);
    b.setRatchet(BASE_SECRET);
    // Counters 1..3, then past 2^21 and 2^28 (3- and 5-byte ULEB128 nonces), and a 1275-byte frame.
    for (const [counter, frame] of [
      [0, PLAINTEXT],
      [1, randomBytes(120)],
      [2, randomBytes(1)],
      [0x1f_ffff, randomBytes(60)],
      [0xfff_ffff, randomBytes(1275)],
    ] as const) {
      a.seekCounter(counter);
      b.seekCounter(counter);
      const expected = a.encrypt(frame)!;
      const dst = new Uint8Array(12 + frame.length + DAVE_MAX_OPUS_SUPPLEMENTAL + 4).fill(0x5a);
      const written = b.encryptRangeInto(frame, 0, frame.length, dst, 12);
      expect(written).toBe(expected.length);
      expect(hex(dst.subarray(12, 12 + written))).toBe(hex(expected));
      expect(dst.subarray(0, 12).every((x) => x === 0x5a)).toBe(true);
      expect(dst.subarray(12 + written).every((x) => x === 0x5a)).toBe(true);
    }
    expect(b.stats).toEqual(a.stats);
  });

  it('encryptRangeInto reads the frame where it lies in a larger buffer, as encrypt() of a copy', () => {
    const a = new FrameEncryptor();
    const b = new FrameEncryptor();
    a.setRatchet(BASE_SECRET);
    b.setRatchet(BASE_SECRET);
    const store = randomBytes(400);
    // Silence inside the store is still recognised (and left unchanged).
    store.set(OPUS_SILENCE_FRAME, 300);
    for (const [offset, length] of [
      [0, 120],
      [7, 1],
      [131, 160],
      [300, 3],
    ] as const) {
      const frame = store.slice(offset, offset + length);
      const expected = a.encrypt(frame)!;
      const dst = new Uint8Array(12 + length + DAVE_MAX_OPUS_SUPPLEMENTAL).fill(0x5a);
      const written = b.encryptRangeInto(store, offset, length, dst, 12);
      if (expected === frame) {
        expect(written).toBe(FRAME_UNCHANGED);
        continue;
      }
      expect(written).toBe(expected.length);
      expect(hex(dst.subarray(12, 12 + written))).toBe(hex(expected));
      expect(dst.subarray(0, 12).every((x) => x === 0x5a)).toBe(true);
    }
    expect(b.stats).toEqual(a.stats);
    expect(b.stats.silence).toBe(1);
  });

  it('encryptRangeToStage then the transport sealStaged give the datagram of the two passes through a buffer', () => {
    const transportKey = randomBytes(32);
    const t1 = createTransportCipher(EncryptionMode.AesGcm, transportKey, { backend: 'js' });
    const t2 = createTransportCipher(EncryptionMode.AesGcm, transportKey, { backend: 'js' });
    expect(t2.stagedPayloadMax).toBe(512);
    const a = new FrameEncryptor();
    const b = new FrameEncryptor();
    a.setRatchet(BASE_SECRET);
    b.setRatchet(BASE_SECRET);
    // Another sender's key on the same core between packets, as with many channels on one thread.
    const other = new FrameEncryptor();
    other.setRatchet(randomBytes(16));
    const store = randomBytes(600);
    const header = randomBytes(12);
    // Every length from 1 to 496 (the largest the engine stages: 512 - DAVE_MAX_OPUS_SUPPLEMENTAL),
    // read at odd and even offsets, under 1-, 3- and 5-byte ULEB128 nonces.
    for (const start of [0, 0x1f_ffff, 0xfff_fff0]) {
      a.seekCounter(start);
      b.seekCounter(start);
      for (let length = 1; length <= 512 - DAVE_MAX_OPUS_SUPPLEMENTAL; length += start === 0 ? 1 : 37) {
        const offset = length % 89;
        const expected = new Uint8Array(2048).fill(0x5a);
        expected.set(header, 0);
        const p = a.encryptRangeInto(store, offset, length, expected, 12);
        expect(p).toBeGreaterThan(0);
        const size = t1.sealInPlace(expected, 12, p, length);
        const dst = new Uint8Array(2048).fill(0x5a);
        dst.set(header, 0);
        expect(b.encryptRangeToStage(store, offset, length)).toBe(p);
        expect(t2.sealStaged!(dst, 12, p, length)).toBe(size);
        expect(hex(dst)).toBe(hex(expected));
        other.encryptRangeInto(store, 0, 100, new Uint8Array(200), 0);
      }
    }
    expect(b.stats).toEqual(a.stats);
  });

  it('encryptRangeToStage stages nothing for silence, passthrough and no key', () => {
    const e = new FrameEncryptor();
    expect(e.encryptRangeToStage(PLAINTEXT, 0, PLAINTEXT.length)).toBe(FRAME_DROPPED);
    e.setRatchet(BASE_SECRET);
    expect(e.encryptRangeToStage(OPUS_SILENCE_FRAME, 0, OPUS_SILENCE_FRAME.length)).toBe(FRAME_UNCHANGED);
    e.setPassthrough(true);
    expect(e.encryptRangeToStage(PLAINTEXT, 0, PLAINTEXT.length)).toBe(FRAME_UNCHANGED);
    expect(e.stats).toEqual({ encrypted: 0, passthrough: 1, silence: 1, dropped: 1 });
  });

  it('encryptRangeInto reports unchanged and dropped frames without writing', () => {
    const e = new FrameEncryptor();
    const dst = new Uint8Array(64);
    expect(e.encryptRangeInto(PLAINTEXT, 0, PLAINTEXT.length, dst, 12)).toBe(FRAME_DROPPED);
    expect(e.encryptRangeInto(OPUS_SILENCE_FRAME, 0, OPUS_SILENCE_FRAME.length, dst, 12)).toBe(
      FRAME_UNCHANGED,
    );
    e.setPassthrough(true);
    expect(e.encryptRangeInto(PLAINTEXT, 0, PLAINTEXT.length, dst, 12)).toBe(FRAME_UNCHANGED);
    expect(dst.every((x) => x === 0)).toBe(true);
    expect(e.stats).toEqual({ encrypted: 0, passthrough: 1, silence: 1, dropped: 1 });
  });

  it('does not modify the input frame', () => {
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    const input = Uint8Array.from(PLAINTEXT);
    e.encrypt(input);
    expect(hex(input)).toBe(hex(PLAINTEXT));
  });
});

describe('FrameEncryptor: a key leaves the WebAssembly core when it is replaced', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('at a new ratchet, at a new generation and at destroy, not when the collector finds it', () => {
    const release = vi.spyOn(WasmGcm.prototype, 'release');
    const e = new FrameEncryptor();
    e.setRatchet(BASE_SECRET);
    expect(e.encrypt(PLAINTEXT)).not.toBeNull();
    expect(release).not.toHaveBeenCalled();
    e.setRatchet(randomBytes(16)); // op 22: the next epoch's key
    expect(release).toHaveBeenCalledTimes(1);
    expect(e.encrypt(PLAINTEXT)).not.toBeNull();
    e.seekCounter(0x00ffffff); // the next frame is generation 1
    expect(e.encrypt(PLAINTEXT)).not.toBeNull();
    expect(release).toHaveBeenCalledTimes(2);
    e.destroy();
    expect(release).toHaveBeenCalledTimes(3);
    expect(e.encrypt(PLAINTEXT)).toBeNull(); // no key any more: dropped, and counted
    expect(e.stats).toMatchObject({ encrypted: 3, dropped: 1 });
  });
});
