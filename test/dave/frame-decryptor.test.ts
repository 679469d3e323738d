import { afterEach, describe, it, expect, vi } from 'vitest';
import { createCipheriv, randomBytes } from 'node:crypto';
import { FrameDecryptor } from '../../src/dave/frame-decryptor.js';
import { FrameEncryptor } from '../../src/dave/frame-encryptor.js';
import { buildProtocolFrame, splitRanges } from '../../src/dave/frame-codec.js';
import { HashRatchet } from '../../src/dave/hash-ratchet.js';
import { WasmGcm } from '../../src/crypto/aes-wasm.js';
import { OPUS_SILENCE_FRAME } from '../../src/protocol/constants.js';
import { hex, unhex as bytes } from '../support/bytes.js';

const BASE_SECRET = bytes('26b5f027e5e5667b121e26734c6ad323');
const PLAINTEXT = bytes('0dc5aedd5bdc3f20be5697e54dd1f437');
const FRAME_A = bytes('4bfdd3128761287e4aa2f4d2a8a2624c1a516f9ff265fcc5010cfafa');
const FRAME_B = bytes('15ab9925513866da14993a4d570b79c888ab2b415e88554a858080080ffafa');
/** First whole second at which the lifetime bound admits generation 1: ceil(2^24 / 170). */
const GEN1_AGE_MS = 98_690_000;

function setup(secret: Uint8Array = BASE_SECRET): {
  clock: { t: number };
  d: FrameDecryptor;
  e: FrameEncryptor;
} {
  const clock = { t: 1_000 };
  const d = new FrameDecryptor({ now: () => clock.t });
  d.transitionToRatchet(secret);
  const e = new FrameEncryptor();
  e.setRatchet(secret);
  return { clock, d, e };
}

/** Encrypts `n` frames and returns them (index i holds nonce i + 1). */
function frames(e: FrameEncryptor, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => e.encrypt(Uint8Array.of(i & 0xff, i >> 8, 0xaa))!);
}

function expectOk(d: FrameDecryptor, frame: Uint8Array): Uint8Array {
  const r = d.decrypt(frame);
  if (!r.ok) throw new Error(`expected success, got ${r.reason}`);
  expect(r.passthrough).toBe(false);
  return r.frame;
}

function reason(d: FrameDecryptor, frame: Uint8Array): string {
  const r = d.decrypt(frame);
  return r.ok ? 'ok' : r.reason;
}

describe('FrameDecryptor: keys and vectors', () => {
  it('decrypts §9.7 frame A', () => {
    const { d } = setup();
    expect(hex(expectOk(d, FRAME_A))).toBe(hex(PLAINTEXT));
    expect(d.stats.decrypted).toBe(1);
  });

  it('rejects frame B (generation 1) by the lifetime bound until the ratchet is ~27 h old', () => {
    const { d, clock } = setup();
    clock.t += GEN1_AGE_MS - 1_000;
    expect(reason(d, FRAME_B)).toBe('lifetime');
    clock.t += 1_000;
    expect(hex(expectOk(d, FRAME_B))).toBe(hex(PLAINTEXT));
  });

  it('round-trips encryptor output of many sizes', () => {
    const { d, e } = setup(randomBytes(16));
    for (let n = 0; n < 1300; n += 37) {
      const opus = randomBytes(n);
      expect(hex(expectOk(d, e.encrypt(opus)!))).toBe(hex(opus));
    }
  });

  it('fails with no-key without a ratchet, under the wrong key, and for an altered frame', () => {
    const d = new FrameDecryptor({ now: () => 0 });
    expect(reason(d, FRAME_A)).toBe('no-key');
    d.transitionToRatchet(randomBytes(16));
    expect(reason(d, FRAME_A)).toBe('no-key');
    const tampered = Uint8Array.from(FRAME_A);
    tampered[3]! ^= 1;
    const { d: d2 } = setup();
    expect(reason(d2, tampered)).toBe('no-key');
    expect(hex(expectOk(d2, FRAME_A))).toBe(hex(PLAINTEXT));
    expect(d2.stats.failures['no-key']).toBe(1);
  });

  it('decrypts frames with unencrypted ranges (codec-agnostic receive)', () => {
    const key = new HashRatchet(BASE_SECRET).get(0)!;
    const media = randomBytes(40);
    const ranges = [0, 3, 10, 5, 39, 1];
    const { aad, encrypted } = splitRanges(media, media.length, ranges);
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(8, 9, true);
    const c = createCipheriv('aes-128-gcm', key, iv);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(encrypted), c.final()]);
    // Interleave: ciphertext replaces the encrypted bytes in place.
    const interleaved = Uint8Array.from(media);
    let k = 0;
    let pos = 0;
    for (let i = 0; i <= ranges.length; i += 2) {
      const end = i < ranges.length ? ranges[i]! : media.length;
      for (; pos < end; pos++) interleaved[pos] = ct[k++]!;
      if (i < ranges.length) pos = ranges[i]! + ranges[i + 1]!;
    }
    const frame = buildProtocolFrame(interleaved, c.getAuthTag().subarray(0, 8), 9, ranges);
    const { d } = setup();
    expect(hex(expectOk(d, frame))).toBe(hex(media));
    // The AAD is authenticated.
    const tampered = Uint8Array.from(frame);
    tampered[11]! ^= 1;
    expect(reason(setup().d, tampered)).toBe('no-key');
  });
});

describe('FrameDecryptor: replay window', () => {
  it('rejects a replayed frame', () => {
    const { d } = setup();
    expectOk(d, FRAME_A);
    expect(reason(d, FRAME_A)).toBe('replay');
    expect(d.stats.failures.replay).toBe(1);
  });

  it('accepts out-of-order frames within the window exactly once', () => {
    const { d, e } = setup();
    const f = frames(e, 6);
    for (const i of [0, 2, 5, 1, 4, 3]) expect(expectOk(d, f[i]!)[0]).toBe(i);
    for (const i of [0, 1, 2, 3, 4, 5]) expect(reason(d, f[i]!)).toBe('replay');
  });

  it('tracks at most the 1000 nonces below the newest', () => {
    const { d, e } = setup();
    const f = frames(e, 1300);
    expectOk(d, f[0]!); // nonce 1
    expectOk(d, f[1199]!); // nonce 1200: window is 200..1199
    expect(reason(d, f[197]!)).toBe('replay'); // nonce 198
    expect(reason(d, f[198]!)).toBe('replay'); // nonce 199
    expectOk(d, f[199]!); // nonce 200
    expectOk(d, f[1198]!); // nonce 1199
    expect(reason(d, f[199]!)).toBe('replay');
    expectOk(d, f[1299]!); // nonce 1300: window slides to 300..1299
    expect(reason(d, f[298]!)).toBe('replay'); // nonce 299 slid out
    expectOk(d, f[299]!); // nonce 300 still missing
    expectOk(d, f[1250]!);
  });

  it('keeps the window across long lossy runs', () => {
    const { d, e } = setup();
    const f = frames(e, 5000);
    const delivered: number[] = [];
    for (let i = 0; i < f.length; i++) {
      if (i % 3 === 0) continue;
      expectOk(d, f[i]!);
      delivered.push(i);
    }
    // Late arrivals: the last 1000 nonces below the newest are still accepted once.
    // Newest nonce is 5000 (index 4999): missing nonces 4000.. are still accepted once.
    expectOk(d, f[3999]!);
    expect(reason(d, f[3999]!)).toBe('replay');
    expect(reason(d, f[3996]!)).toBe('replay'); // nonce 3997 slid out of the window
    expectOk(d, f[4497]!);
    for (const i of delivered.slice(-20)) expect(reason(d, f[i]!)).toBe('replay');
  });
});

describe('FrameDecryptor: generations', () => {
  it('rejects a generation more than 250 ahead of the newest', () => {
    const { d, e, clock } = setup();
    clock.t += 10 ** 12; // old enough that only the gap bound applies
    e.seekCounter(251 * 2 ** 24 + 7);
    expect(reason(d, e.encrypt(PLAINTEXT)!)).toBe('generation-gap');
    const { d: d2, e: e2, clock: c2 } = setup();
    c2.t += 10 ** 12;
    e2.seekCounter(250 * 2 ** 24 + 7);
    expect(hex(expectOk(d2, e2.encrypt(PLAINTEXT)!))).toBe(hex(PLAINTEXT));
  });

  it('applies the lifetime bound before deriving keys', () => {
    const { d, e } = setup();
    e.seekCounter(2 ** 24);
    expect(reason(d, e.encrypt(PLAINTEXT)!)).toBe('lifetime');
    expect(d.stats.attempts).toBe(0);
  });

  it('keeps an older generation 10 s after a newer one succeeds', () => {
    const { d, e, clock } = setup();
    clock.t += GEN1_AGE_MS;
    e.seekCounter(0x00ffffe0);
    const old = frames(e, 16); // nonces 0x00ffffe1 .. 0x00fffff0, generation 0
    expectOk(d, old[0]!);
    e.seekCounter(0x01000004);
    expectOk(d, e.encrypt(PLAINTEXT)!); // generation 1
    clock.t += 10_000;
    expectOk(d, old[5]!);
    clock.t += 1;
    // The generation-0 key is gone (libdave order: the frame's generation is computed before the
    // cleanup, so this one is "expired"; afterwards 0 wraps to generation 256, beyond the gap).
    expect(reason(d, old[6]!)).toBe('generation-expired');
    expect(reason(d, old[7]!)).toBe('generation-gap');
  });

  it('follows a sender across the 32-bit counter wrap', () => {
    const { d, e, clock } = setup();
    clock.t += 10 ** 13;
    for (const start of [0x00fffffe, 0x01fffffe, 0x02fffffe]) {
      e.seekCounter(start);
      for (const f of frames(e, 4)) expectOk(d, f);
    }
    e.seekCounter(0xfffffffd);
    // Generation 255 is more than 250 ahead of 2: a sender jumping there is rejected, as in libdave.
    expect(reason(d, e.encrypt(PLAINTEXT)!)).toBe('generation-gap');
  });
});

describe('FrameDecryptor: epochs', () => {
  it('accepts the previous epoch for 10 s after a transition, then only the new one', () => {
    const oldSecret = randomBytes(16);
    const newSecret = randomBytes(16);
    const { d, e, clock } = setup(oldSecret);
    const oldFrames = frames(e, 4);
    expectOk(d, oldFrames[0]!);
    d.transitionToRatchet(newSecret);
    expect(d.ratchetCount).toBe(2);
    const e2 = new FrameEncryptor();
    e2.setRatchet(newSecret);
    expectOk(d, e2.encrypt(PLAINTEXT)!);
    clock.t += 10_000;
    expectOk(d, oldFrames[1]!);
    clock.t += 1;
    expect(reason(d, oldFrames[2]!)).toBe('no-key');
    expect(d.ratchetCount).toBe(1);
    expectOk(d, e2.encrypt(PLAINTEXT)!);
  });

  it('reports the most specific reason across epochs (replay over wrong key)', () => {
    const oldSecret = randomBytes(16);
    const { d, e } = setup(oldSecret);
    const f = frames(e, 2);
    expectOk(d, f[0]!);
    d.transitionToRatchet(randomBytes(16));
    expect(reason(d, f[0]!)).toBe('replay');
    expectOk(d, f[1]!);
  });

  it('reports no-key, not replay, for a new-epoch frame whose key this member lacks (issue 11 defect 4)', () => {
    // The sender's counter restarts at each epoch (dave.md §9.2): its new-epoch nonces repeat ones
    // this member's previous ratchet already decrypted, under a key it never received.
    const { d, e } = setup(randomBytes(16));
    for (const f of frames(e, 50)) expectOk(d, f);
    const newSecret = randomBytes(16);
    const next = new FrameEncryptor();
    next.setRatchet(newSecret);
    const fresh = frames(next, 3);
    expect(fresh.map((f) => reason(d, f))).toEqual(['no-key', 'no-key', 'no-key']);
    expect(d.stats.failures.replay).toBe(0);
    // Also when this member holds a newer epoch that is not the sender's (a commit it processed
    // differently): still a missing key.
    d.transitionToRatchet(randomBytes(16));
    expect(reason(d, fresh[0]!)).toBe('no-key');
    // Once the key arrives the same frames decrypt; a second copy of one of them is a replay.
    d.transitionToRatchet(newSecret);
    for (const f of fresh) expectOk(d, f);
    expect(reason(d, fresh[1]!)).toBe('replay');
    expect(d.stats.failures).toMatchObject({ 'no-key': 4, replay: 1 });
  });

  it('a null transition only expires the existing epochs', () => {
    const { d, e, clock } = setup();
    const f = frames(e, 2);
    d.transitionToRatchet(null);
    expectOk(d, f[0]!);
    clock.t += 10_001;
    expect(reason(d, f[1]!)).toBe('no-key');
  });
});

describe('FrameDecryptor: passthrough and silence', () => {
  const plain = Uint8Array.of(0x78, 1, 2, 3);

  it('passes silence even without keys or passthrough', () => {
    const d = new FrameDecryptor({ now: () => 0 });
    const r = d.decrypt(OPUS_SILENCE_FRAME);
    expect(r).toEqual({ ok: true, frame: OPUS_SILENCE_FRAME, passthrough: true });
    expect(d.stats.silence).toBe(1);
  });

  it('starts with passthrough off and follows the deadline semantics', () => {
    const clock = { t: 0 };
    const d = new FrameDecryptor({ now: () => clock.t });
    expect(reason(d, plain)).toBe('not-protocol-frame');
    d.setPassthrough({ enable: true });
    clock.t = 10 ** 9;
    expect(d.decrypt(plain)).toEqual({ ok: true, frame: plain, passthrough: true });
    d.setPassthrough({ enable: false, expiryMs: 5_000 }); // deadline 1e9 + 5000
    clock.t += 4_999;
    expect(d.canPassthrough).toBe(true);
    expect(d.decrypt(plain).ok).toBe(true);
    d.setPassthrough({ enable: false, expiryMs: 60_000 }); // cannot extend: min(current, now + 60 s)
    clock.t += 1;
    expect(reason(d, plain)).toBe('not-protocol-frame');
    d.setPassthrough({ enable: false }); // default 10 s, still min with the past deadline
    expect(d.canPassthrough).toBe(false);
    d.setPassthrough({ enable: true });
    expect(d.decrypt(plain).ok).toBe(true);
    d.setPassthrough({ enable: false });
    clock.t += 9_999;
    expect(d.decrypt(plain).ok).toBe(true);
    clock.t += 1;
    expect(reason(d, plain)).toBe('not-protocol-frame');
    expect(d.stats.passthrough).toBe(4);
  });

  it('never passes a well-formed protocol frame through', () => {
    const clock = { t: 0 };
    const d = new FrameDecryptor({ now: () => clock.t });
    d.setPassthrough({ enable: true });
    expect(reason(d, FRAME_A)).toBe('no-key');
    d.transitionToRatchet(randomBytes(16));
    expect(reason(d, FRAME_A)).toBe('no-key');
    // A frame whose FA FA trailer is broken is not a protocol frame: it passes.
    const broken = bytes('aa 1122334455667788 80 0c fafa');
    expect(d.decrypt(broken)).toEqual({ ok: true, frame: broken, passthrough: true });
  });
});

describe('FrameDecryptor: malformed input', () => {
  it('rejects broken trailers with a reason', () => {
    const { d } = setup();
    const cases = [
      FRAME_A.subarray(FRAME_A.length - 11), // truncated: S = 12 exceeds the 11 bytes left
      bytes('1122334455667788 00 0d fafa'), // S > len
      bytes('aabbcc 1122334455667788 01 02 02 0e fafa'), // range beyond media
      bytes('aabbccddee 1122334455667788 01 02 01 00 01 10 fafa'), // ranges out of order
      bytes('aa 1122334455667788 ffffffffffffffffff8100 16 fafa'), // ULEB overrun
      bytes('aa 1122334455667788 80 0c fafa'), // nonce runs into S
    ];
    for (const f of cases) expect(reason(d, f)).toBe('malformed');
    expect(reason(d, bytes('0102'))).toBe('not-protocol-frame');
    expect(reason(d, new Uint8Array(0))).toBe('not-protocol-frame');
    expect(d.stats.failures.malformed).toBe(cases.length);
  });

  it('never throws on random or mutated frames', () => {
    const { d, e } = setup();
    const good = e.encrypt(randomBytes(60))!;
    for (let i = 0; i < 3000; i++) {
      let f: Uint8Array;
      if (i % 2 === 0) {
        f = Uint8Array.from(good);
        f[Math.floor(Math.random() * f.length)] = Math.floor(Math.random() * 256);
      } else {
        f = randomBytes(Math.floor(Math.random() * 30));
        if (f.length >= 3) {
          f[f.length - 1] = 0xfa;
          f[f.length - 2] = 0xfa;
        }
      }
      const r = d.decrypt(f);
      expect(typeof r.ok).toBe('boolean');
    }
  });
});

describe('FrameDecryptor: memory held', () => {
  it('holds no missing-nonce storage for in-order frames, grows for a gap, releases it after the gap', () => {
    const { d, e } = setup();
    const f = frames(e, 1100);
    for (let i = 0; i < 50; i++) expectOk(d, f[i]!);
    expect(d.retained).toEqual({ ratchets: 1, missingNonceCapacity: 0, ciphers: 1 });
    expectOk(d, f[60]!); // nonces 51..60 missing
    const afterGap = d.retained.missingNonceCapacity;
    expect(afterGap).toBeGreaterThanOrEqual(10);
    expect(afterGap).toBeLessThan(1000);
    expectOk(d, f[55]!); // a late arrival inside the gap is still accepted once
    expect(reason(d, f[55]!)).toBe('replay');
    for (let i = 61; i < 1100; i++) expectOk(d, f[i]!); // the gap slides out of the 1000-nonce window
    expect(d.retained.missingNonceCapacity).toBe(0);
    expect(reason(d, f[52]!)).toBe('replay');
  });

  it('a full window of missing nonces is bounded by 1000 entries', () => {
    const { d, e } = setup();
    const f = frames(e, 3000);
    expectOk(d, f[0]!);
    expectOk(d, f[2999]!);
    expect(d.retained.missingNonceCapacity).toBe(1000);
    expectOk(d, f[1999]!); // nonce 2000, the oldest still tracked
    expect(reason(d, f[1998]!)).toBe('replay');
  });

  it("drops a silent sender's expired epochs at the next transition, without any frame", () => {
    const { d, clock } = setup();
    clock.t += 1_000;
    d.transitionToRatchet(randomBytes(16)); // epoch 1 expires 10 s from now
    expect(d.retained.ratchets).toBe(2);
    clock.t += 10_001;
    d.transitionToRatchet(randomBytes(16));
    // epoch 1 is gone; epoch 2 is retained for its own 10 s, epoch 3 is current
    expect(d.retained.ratchets).toBe(2);
    clock.t += 10_001;
    d.transitionToRatchet(null);
    expect(d.retained.ratchets).toBe(1);
  });
});

describe('FrameDecryptor: keys leave the WebAssembly core when their epoch ends', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("releases an expired epoch's keys at once, not when the collector finds them", () => {
    const release = vi.spyOn(WasmGcm.prototype, 'release');
    const oldSecret = randomBytes(16);
    const newSecret = randomBytes(16);
    const { d, e, clock } = setup(oldSecret);
    expectOk(d, frames(e, 1)[0]!);
    expect(d.retained.ciphers).toBe(1);
    d.transitionToRatchet(newSecret);
    const e2 = new FrameEncryptor();
    e2.setRatchet(newSecret);
    expectOk(d, e2.encrypt(PLAINTEXT)!);
    expect(release).not.toHaveBeenCalled();
    clock.t += 10_001;
    expectOk(d, e2.encrypt(PLAINTEXT)!); // the old epoch expires here
    expect(release).toHaveBeenCalledTimes(1);
    expect(d.retained).toMatchObject({ ratchets: 1, ciphers: 1 });
  });

  it("releases an older generation's key when it is dropped, 10 s after a newer one", () => {
    const release = vi.spyOn(WasmGcm.prototype, 'release');
    const { d, e, clock } = setup();
    clock.t += GEN1_AGE_MS;
    e.seekCounter(0x00ffffe0);
    const old = frames(e, 8);
    expectOk(d, old[0]!);
    e.seekCounter(0x01000004);
    expectOk(d, e.encrypt(PLAINTEXT)!); // generation 1 (the sender released its generation 0 key)
    expect(d.retained.ciphers).toBe(2);
    const bySender = release.mock.calls.length;
    clock.t += 10_001;
    expect(reason(d, old[6]!)).toBe('generation-expired');
    expect(release).toHaveBeenCalledTimes(bySender + 1);
    expect(d.retained.ciphers).toBe(1);
  });

  it("destroy releases every epoch's keys and leaves nothing to decrypt with", () => {
    const release = vi.spyOn(WasmGcm.prototype, 'release');
    const oldSecret = randomBytes(16);
    const newSecret = randomBytes(16);
    const { d, e } = setup(oldSecret);
    const old = frames(e, 2);
    expectOk(d, old[0]!);
    d.transitionToRatchet(newSecret);
    const e2 = new FrameEncryptor();
    e2.setRatchet(newSecret);
    expectOk(d, e2.encrypt(PLAINTEXT)!);
    expect(d.retained).toMatchObject({ ratchets: 2, ciphers: 2 });
    d.destroy();
    expect(release).toHaveBeenCalledTimes(2);
    expect(d.retained).toEqual({ ratchets: 0, missingNonceCapacity: 0, ciphers: 0 });
    expect(reason(d, old[1]!)).toBe('no-key');
  });
});
