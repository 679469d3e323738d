/**
 * DAVE encryption at send time (issue 11, defect 1), in both engines: the queue holds plain Opus
 * and the engine encrypts each frame when its tick takes it, with the key in force then. A key
 * installed while frames are queued applies to those frames; 'hold' keeps the queue waiting;
 * 'drop' consumes one frame per tick, counted with its reason; silence is never encrypted; the
 * unsent frames can be taken back, plain.
 */
import { describe, expect, it } from 'vitest';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaChannel, MediaEngine, SendDropReason } from '../../src/media/media-engine.js';
import { openRtpPacket } from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { DaveSendKey } from '../../src/dave/send-key.js';
import { FrameDecryptor } from '../../src/dave/frame-decryptor.js';
import { Responder, waitFor } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 3);
const SECRET_A = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const SECRET_B = Uint8Array.from({ length: 16 }, (_, i) => 200 - i);

const cleanups = cleanupAfterEach();

async function setup(
  kind: 'inline' | 'worker',
): Promise<{ r: Responder; engine: MediaEngine; ch: MediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const engine = createMediaEngine({ kind, channel: { highWaterMark: 40, lowWaterMark: 2 } });
  cleanups.push(() => engine.close());
  const ch = await engine.openChannel({ ssrc: 77, serverHost: '127.0.0.1', serverPort: r.port });
  await ch.discoverAddress();
  ch.setTransport(EncryptionMode.AesGcm, KEY);
  return { r, engine, ch };
}

function payloads(r: Responder): Uint8Array[] {
  const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
  return r.rtp().map((p) => {
    const opened = openRtpPacket(p, cipher);
    if ('drop' in opened) throw new Error(opened.drop);
    return new Uint8Array(opened.payload);
  });
}

/** Frames queued in the key-change test (0.6 s: room for the new key to land mid-queue). */
const N = 30;
const frame = (i: number): Uint8Array => Uint8Array.of(0xfc, i, 0x11, 0x22, 0x33);

describe.each(['inline', 'worker'] as const)('frame protection (%s engine)', (kind) => {
  it('encrypts queued frames with the key in force when each is sent, and leaves silence plain', async () => {
    const { r, ch } = await setup(kind);
    ch.setFrameProtection!({ mode: 'hold' });
    for (let i = 0; i < N; i++) ch.enqueue(frame(i));
    ch.endBurst();
    await new Promise((res) => setTimeout(res, 120));
    expect(r.rtp()).toHaveLength(0); // held: nothing leaves while the group forms
    // The key arrives after the frames were queued: they all go out under it.
    ch.setFrameProtection!({ mode: 'encrypt', key: DaveSendKey.encrypt(SECRET_A) });
    await waitFor(() => r.rtp().length >= 5);
    // Then op 22: a new key, while frames are still queued: the rest use the new one.
    ch.setFrameProtection!({ mode: 'encrypt', key: DaveSendKey.encrypt(SECRET_B) });
    const burstEnd = new Promise<void>((resolve) => ch.on('burstEnd', resolve));
    await burstEnd;
    await waitFor(() => r.rtp().length >= N + 5);
    const wire = payloads(r);
    const a = new FrameDecryptor();
    a.transitionToRatchet(SECRET_A);
    const b = new FrameDecryptor();
    b.transitionToRatchet(SECRET_B);
    const got: string[] = [];
    for (const p of wire.slice(0, N)) {
      const ra = a.decrypt(p);
      const rb = ra.ok ? ra : b.decrypt(p);
      expect(rb.ok).toBe(true);
      if (rb.ok) got.push(`${ra.ok ? 'A' : 'B'}${rb.frame[1]}`);
    }
    // In order, all encrypted, the switch from A to B happening once, mid-queue.
    expect(got.map((g) => Number(g.slice(1)))).toEqual([...Array(N).keys()]);
    const keys = got.map((g) => g[0]).join('');
    expect(keys).toMatch(/^A+B+$/);
    expect(wire.slice(N).map((p) => [...p])).toEqual(Array.from({ length: 5 }, () => [0xf8, 0xff, 0xfe]));
    await waitFor(() => (ch.sendCounts?.().encrypted ?? 0) === N);
    expect(ch.sendCounts!()).toMatchObject({ encrypted: N, plain: 0 });
  });

  it("'drop' takes one frame per tick, counted with its reason, and 'plain' sends them as they are", async () => {
    const { r, ch } = await setup(kind);
    const drops: Array<[SendDropReason, number]> = [];
    ch.on('sendDrop', (reason, n) => drops.push([reason, n]));
    ch.setFrameProtection!({ mode: 'drop', reason: 'alone' });
    for (let i = 0; i < 6; i++) ch.enqueue(frame(i));
    await waitFor(() => (ch.sendCounts?.().dropped.alone ?? 0) === 6, 2_000);
    expect(drops.reduce((n, [, k]) => n + k, 0)).toBe(6);
    expect(drops.every(([reason]) => reason === 'alone')).toBe(true);
    expect(r.rtp()).toHaveLength(0);
    ch.setFrameProtection!({ mode: 'plain' });
    ch.enqueue(frame(9));
    await waitFor(() => r.rtp().length >= 1);
    expect([...payloads(r)[0]!]).toEqual([...frame(9)]);
  });

  it('gives the unsent frames back, plain and in order', async () => {
    const { ch } = await setup(kind);
    ch.setFrameProtection!({ mode: 'hold' });
    for (let i = 0; i < 8; i++) ch.enqueue(frame(i));
    const taken = await ch.takeQueued!();
    expect(taken.map((f) => [...f])).toEqual([...Array(8).keys()].map((i) => [...frame(i)]));
    expect(await ch.takeQueued!()).toEqual([]);
  });

  it('keeps the frames queued at close for one takeQueued()', async () => {
    const { ch } = await setup(kind);
    ch.setFrameProtection!({ mode: 'hold' });
    for (let i = 0; i < 3; i++) ch.enqueue(frame(i));
    const taken = ch.takeQueued!();
    ch.close();
    expect((await taken).map((f) => f[1])).toEqual([0, 1, 2]);
  });
});

describe('DaveSendKey', () => {
  it('release (the worker, for the key it made once a newer one replaced it) leaves no key and no secret; the shared keys never release', () => {
    const frame = Uint8Array.from({ length: 40 }, (_, i) => i + 9);
    const key = DaveSendKey.encrypt(SECRET_A);
    expect(key.encryptFrame(frame)).not.toBeNull();
    key.release();
    expect(key.encryptFrame(frame)).toBeNull();
    expect(key.baseSecret()).toBeUndefined();
    expect(SECRET_A[0]).toBe(1); // the caller's array: the key kept a copy
    const unused = DaveSendKey.encrypt(SECRET_B);
    unused.release(); // before any frame: its encryptor is made without the secret
    expect(unused.encryptFrame(frame)).toBeNull();
    DaveSendKey.passthrough.release();
    expect(DaveSendKey.passthrough.encryptFrame(frame)).toBe(frame);
  });

  it('never shows its secret when inspected, logged or serialised', async () => {
    const { inspect } = await import('node:util');
    const key = DaveSendKey.encrypt(SECRET_A);
    const shown = `${inspect({ key }, { depth: 10, showHidden: true })} ${JSON.stringify({ key })}`;
    expect(shown).toContain('encrypt');
    expect(shown).not.toMatch(/\b1, 2, 3, 4\b/);
    expect(shown).not.toContain('Uint8Array');
  });
});
