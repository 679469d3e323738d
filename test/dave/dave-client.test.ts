/**
 * DaveClient (the client-side DAVE coordinator) without sockets: our clients talk to the local
 * server's DaveDeliveryService in-process (net.ts), with op 22 optionally held back to observe the
 * key timing of dave.md §6.8/§6.9.
 */
import { describe, expect, it, vi } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { FrameDecryptor } from '../../src/dave/frame-decryptor.js';
import { createParsedFrame, parseProtocolFrame } from '../../src/dave/frame-codec.js';
import { decrypts, expectAgreement, Net, OPUS, pair, sentOps, SILENCE } from './net.js';

describe('DaveClient: group formation and key timing', () => {
  it('sends a key package on op 4, drops audio until op 22, then encrypts with the new key', async () => {
    const net = new Net();
    net.holdExecute = true;
    const a = net.join('600000000000000001');
    const b = net.join('600000000000000002');
    await net.run();
    expect(sentOps(a)[0]).toBe(VoiceOpcode.DaveMlsKeyPackage);
    expect(sentOps(b)[0]).toBe(VoiceOpcode.DaveMlsKeyPackage);
    // Commit/welcome processed: ready reported, epoch and privacy code known on both sides.
    expect(sentOps(a)).toContain(VoiceOpcode.DaveTransitionReady);
    expect(sentOps(b)).toContain(VoiceOpcode.DaveTransitionReady);
    expect(a.client.epoch).toBe(1n);
    expectAgreement([a, b]);
    const epochEvent = a.events.find((e) => e.type === 'epoch' && e.epoch === 1n);
    expect(epochEvent).toMatchObject({ privacyCode: a.client.privacyCode, protocolVersion: 1 });
    // No send key before op 22 (libdave): the frame is dropped, never sent in clear.
    expect(a.client.encrypt(OPUS)).toBeNull();
    expect(a.client.encryptStats.dropped).toBe(1);

    net.releaseExecute();
    await net.run();
    const wire = a.client.encrypt(OPUS)!;
    expect(Buffer.from(wire.subarray(wire.length - 2)).toString('hex')).toBe('fafa');
    expect(Buffer.from(wire.subarray(0, OPUS.length)).equals(Buffer.from(OPUS))).toBe(false);
    expect(b.client.decrypt(a.id, wire)).toEqual({ ok: true, frame: Buffer.from(OPUS) });
    expect(decrypts(b, a)).toBe(true);
  });

  it('switches receive keys on the commit and the send key only on op 22', async () => {
    const { net, a, b } = await pair();
    net.holdExecute = true;
    const c = net.join('600000000000000003');
    await net.run();
    expectAgreement([a, b, c]);
    expect(a.client.epoch).toBe(2n);
    // A still sends with its epoch-1 key: B (which kept it) decrypts, the newcomer cannot.
    const old = a.client.encrypt(OPUS)!;
    expect(b.client.decrypt(a.id, old).ok).toBe(true);
    expect(c.client.decrypt(a.id, old)).toEqual({ ok: false, reason: 'no-key' });
    net.releaseExecute();
    await net.run();
    const fresh = a.client.encrypt(OPUS)!;
    expect(c.client.decrypt(a.id, fresh).ok).toBe(true);
    expect(b.client.decrypt(a.id, fresh).ok).toBe(true);
    expect(decrypts(c, a) && decrypts(c, b) && decrypts(b, c)).toBe(true);
  });

  it('passes silence unencrypted both ways and reports frames without a key', async () => {
    const { a, b } = await pair();
    expect(a.client.encrypt(SILENCE)).toBe(SILENCE);
    expect(b.client.decrypt('600000000000000099', SILENCE)).toEqual({ ok: true, frame: SILENCE });
    expect(b.client.decrypt('600000000000000099', a.client.encrypt(OPUS)!)).toEqual({
      ok: false,
      reason: 'no-key',
    });
    expect(b.client.decrypt(a.id, OPUS)).toEqual({ ok: false, reason: 'not-protocol-frame' });
  });

  it('encrypts with its one send key: encrypt() and the key handed to the engine share one frame counter', async () => {
    const { a, b } = await pair();
    const parsed = createParsedFrame();
    const nonceOf = (frame: Uint8Array | null): number => {
      expect(frame).not.toBeNull();
      expect(parseProtocolFrame(frame!, parsed)).toBe('ok');
      return parsed.nonce;
    };
    const key = a.client.sendKey();
    expect(key.mode).toBe('encrypt');
    const stats = { encrypted: 0, passthrough: 0, silence: 0, dropped: 0 };
    // A second holder of the secret would restart at 1 and reuse the client's nonces.
    expect(nonceOf(a.client.encrypt(OPUS))).toBe(1);
    const viaKey = key.encryptFrame(OPUS, stats);
    expect(nonceOf(viaKey)).toBe(2);
    expect(nonceOf(a.client.encrypt(OPUS))).toBe(3);
    expect(b.client.decrypt(a.id, viaKey!)).toEqual({ ok: true, frame: Buffer.from(OPUS) });
    expect(a.client.encryptStats.encrypted).toBe(2);
    expect(stats.encrypted).toBe(1);
  });

  it('releases a replaced send key after telling its holders (op 22), and its last one at destroy', async () => {
    const { net, a } = await pair();
    net.holdExecute = true;
    net.join('600000000000000003');
    await net.run();
    const old = a.client.sendKey();
    expect(old.mode).toBe('encrypt');
    // While the 'sendKey' event is handled the old key still encrypts: a holder switches keys
    // without a frame lost in between.
    const atEvent: boolean[] = [];
    const push = a.events.push.bind(a.events);
    a.events.push = (...events) => {
      for (const e of events) if (e.type === 'sendKey') atEvent.push(old.encryptFrame(OPUS) !== null);
      return push(...events);
    };
    net.releaseExecute();
    await net.run();
    expect(atEvent).toEqual([true]);
    const fresh = a.client.sendKey();
    expect(fresh.mode).toBe('encrypt');
    expect(fresh).not.toBe(old);
    expect(old.baseSecret()).toBeUndefined();
    expect(old.encryptFrame(OPUS)).toBeNull();
    expect(a.client.encrypt(OPUS)).not.toBeNull();
    a.client.destroy();
    expect(fresh.baseSecret()).toBeUndefined();
  });

  it('keeps the decryptor of a user who disconnected (op 13) for their frames in flight, 1 s, then drops it', async () => {
    const { net, a, b } = await pair();
    const inFlight = [b.client.encrypt(OPUS)!, b.client.encrypt(OPUS)!];
    expect(a.client.decryptorOf(b.id)).toBeDefined();
    a.client.handle({ op: VoiceOpcode.ClientDisconnect, userId: b.id });
    await net.run();
    net.clock += 1_000;
    expect(a.client.decrypt(b.id, inFlight[0]!)).toEqual({ ok: true, frame: Buffer.from(OPUS) });
    net.clock += 1;
    expect(a.client.decrypt(b.id, inFlight[1]!)).toEqual({ ok: false, reason: 'no-key' });
  });

  it('a user back before their decryptor is dropped (op 11 after op 13) keeps it', async () => {
    const { net, a, b } = await pair();
    a.client.handle({ op: VoiceOpcode.ClientDisconnect, userId: b.id });
    a.client.handle({ op: VoiceOpcode.ClientsConnect, userIds: [b.id] });
    await net.run();
    net.clock += 5_000;
    expect(a.client.decrypt(b.id, b.client.encrypt(OPUS)!).ok).toBe(true);
  });

  it('gives equal verification codes on both sides and refuses non-members', async () => {
    const { a, b } = await pair();
    const [ab, ba] = await Promise.all([a.client.verificationCode(b.id), b.client.verificationCode(a.id)]);
    expect(ab).toMatch(/^\d{45}$/);
    expect(ab).toBe(ba);
    await expect(a.client.verificationCode('600000000000000099')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(a.client.verificationCode(a.id)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('DaveClient: version changes and resets', () => {
  it('downgrade: receive passthrough on op 21, plain sending on op 22; upgrade: plain accepted 10 s more', async () => {
    const { net, a, b } = await pair();
    net.holdExecute = true;
    net.join('600000000000000009', 0); // a client without DAVE
    await net.run();
    const prepare = a.sent.at(-1);
    expect(prepare?.op).toBe(VoiceOpcode.DaveTransitionReady);
    // Prepared, not executed: plain frames are accepted, ours are still encrypted.
    expect(a.client.decrypt(b.id, OPUS)).toEqual({ ok: true, frame: OPUS });
    expect(a.client.encrypt(OPUS)).not.toBe(OPUS);
    net.releaseExecute();
    await net.run();
    expect(a.client.encrypt(OPUS)).toBe(OPUS);
    expect(a.client.protocolVersion).toBe(0);
    expect(a.client.epoch).toBeUndefined();
    expect(a.client.privacyCode).toBeUndefined();
    expect(a.events.at(-1)).toEqual({
      type: 'epoch',
      protocolVersion: 0,
      epoch: undefined,
      privacyCode: undefined,
    });

    net.leave('600000000000000009');
    await net.run();
    expect(a.client.protocolVersion).toBe(1);
    expect(a.client.epoch).toBe(1n);
    expectAgreement([a, b]);
    expect(decrypts(a, b) && decrypts(b, a)).toBe(true);
    // Plain frames still pass for 10 s after the upgrade executed, then they are refused.
    expect(a.client.decrypt(b.id, OPUS)).toEqual({ ok: true, frame: OPUS });
    net.clock += 10_001;
    expect(a.client.decrypt(b.id, OPUS)).toEqual({ ok: false, reason: 'not-protocol-frame' });
  });

  it('sole-member reset: new key package, no key, audio dropped; the next joiner forms a new group', async () => {
    const { net, a, b } = await pair();
    const before = a.sent.length;
    net.leave(b.id);
    await net.run();
    expect(sentOps(a).slice(before)).toEqual([VoiceOpcode.DaveMlsKeyPackage]);
    expect(a.client.epoch).toBeUndefined();
    expect(a.client.protocolVersion).toBe(1);
    expect(a.client.encrypt(OPUS)).toBeNull();
    const c = net.join('600000000000000003');
    await net.run();
    expect(a.client.epoch).toBe(1n);
    expectAgreement([a, c]);
    expect(decrypts(a, c) && decrypts(c, a)).toBe(true);
  });
});

describe('DaveClient: bad input', () => {
  it('an invalid commit answers op 31 then a new key package, and the member is re-added', async () => {
    const { net, a, b } = await pair();
    let corrupted = false;
    net.intercept = (to, m) => {
      if (to !== b.id || corrupted || m.op !== VoiceOpcode.DaveMlsAnnounceCommitTransition) return m;
      corrupted = true;
      const payload = Uint8Array.from(m.payload);
      payload[payload.length - 3]! ^= 0xff;
      return { op: m.op, payload };
    };
    const before = b.sent.length;
    const c = net.join('600000000000000003');
    await net.run();
    expect(corrupted).toBe(true);
    const reply = sentOps(b).slice(before);
    const invalid = reply.indexOf(VoiceOpcode.DaveMlsInvalidCommitWelcome);
    expect(invalid).toBeGreaterThanOrEqual(0);
    expect(reply[invalid + 1]).toBe(VoiceOpcode.DaveMlsKeyPackage);
    expect(reply.filter((op) => op === VoiceOpcode.DaveMlsInvalidCommitWelcome)).toHaveLength(1);
    const error = b.events.find((e) => e.type === 'error');
    expect(error?.type === 'error' && error.error.details?.reason).toBe('commit_failed');
    expect(net.service.members().sort()).toEqual([a.id, b.id, c.id].sort());
    expectAgreement([a, b, c]);
    expect(decrypts(a, b) && decrypts(b, c) && decrypts(c, a)).toBe(true);
  });

  it('reports malformed binary payloads and sends nothing', async () => {
    const { net, a } = await pair();
    const before = a.sent.length;
    a.client.handle({ op: VoiceOpcode.DaveMlsProposals, payload: Uint8Array.of(0xff) });
    a.client.handle({ op: VoiceOpcode.DaveMlsAnnounceCommitTransition, payload: Uint8Array.of(0) });
    await net.run();
    const errors = a.events.filter((e) => e.type === 'error');
    expect(errors.map((e) => e.type === 'error' && e.error.details?.reason)).toEqual([
      'malformed',
      'malformed',
    ]);
    expect(a.sent.length).toBe(before);
    expect(a.client.epoch).toBe(1n); // the group is untouched
  });

  it('after destroy nothing is processed and nothing can be encrypted', async () => {
    const { net, a } = await pair();
    a.client.destroy();
    const before = a.sent.length;
    a.client.handle({ op: VoiceOpcode.DavePrepareEpoch, epoch: 1, protocolVersion: 1, transitionId: 9 });
    await net.run();
    expect(a.sent.length).toBe(before);
    expect(a.client.encrypt(OPUS)).toBeNull();
    expect(a.client.epoch).toBeUndefined();
  });

  it('destroy releases the receive keys at once, a disconnect (op 13) on the first message or frame after 1 s', async () => {
    const { net, a, b } = await pair();
    const c = net.join('600000000000000003');
    await net.run();
    const destroyed = vi.spyOn(FrameDecryptor.prototype, 'destroy');
    try {
      a.client.handle({ op: VoiceOpcode.ClientDisconnect, userId: c.id });
      await net.run();
      expect(destroyed).toHaveBeenCalledTimes(0);
      net.clock += 1_001;
      a.client.handle({ op: VoiceOpcode.ClientsConnect, userIds: [] });
      await net.run();
      expect(destroyed).toHaveBeenCalledTimes(1);
      const ofB = a.client.decryptorOf(b.id)!;
      expect(a.client.decrypt(b.id, b.client.encrypt(OPUS)!).ok).toBe(true);
      expect(ofB.retained.ciphers).toBe(1);
      a.client.destroy();
      expect(destroyed).toHaveBeenCalledTimes(2);
      expect(ofB.retained).toMatchObject({ ratchets: 0, ciphers: 0 });
    } finally {
      destroyed.mockRestore();
    }
  });
});
