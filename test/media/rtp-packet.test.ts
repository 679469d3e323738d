import { describe, it, expect } from 'vitest';
import {
  RtpPacketizer,
  emptyOpenedRtp,
  openRtpPacket,
  openRtpPacketInto,
  sealRtpPacket,
} from '../../src/media/rtp-packet.js';
import { createTransportCipher } from '../../src/media/transport-cipher.js';
import type { TransportCipher } from '../../src/media/transport-cipher.js';
import { EncryptionMode } from '../../src/protocol/constants.js';
import { isVoxcordError } from '../../src/errors.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { caught } from '../support/errors.js';

const KEY = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const SILENCE = hex('f8fffe');
const AES_VECTOR = hex('80780001000003c00000002a bcc933 01b2b31f703712d9eef67671717d1054 00000001');
const XCHACHA_VECTOR = hex('80780001000003c00000002a f158af 2618db247ce207fb334177b356a29f9f 00000001');
const EXT_PACKET = hex(
  '9078000700001a400000002abede0001 bc835ace6aff08 5c83cb301e31646dfc337b03c83e36a5 00000002',
);

const aes = createTransportCipher(EncryptionMode.AesGcm, KEY);
const xchacha = createTransportCipher(EncryptionMode.XChaCha, KEY);

/** Seals an arbitrary header (any flags) around a plaintext, as a hostile or exotic sender could. */
function rawPacket(cipher: TransportCipher, header: string, plaintext: string, counter = 9): Buffer {
  return cipher.seal(hex(header), hex(plaintext), counter);
}

describe('RtpPacketizer', () => {
  it('builds the media.md §7 packets as its first packet', () => {
    const p = new RtpPacketizer(42);
    expect(p.hasCipher).toBe(false);
    p.setCipher(aes);
    expect(p.hasCipher).toBe(true);
    expect(p.packetize(SILENCE, 960).equals(AES_VECTOR)).toBe(true);
    expect(p.sequence).toBe(1);
    expect(p.counter).toBe(1);

    const q = new RtpPacketizer(42);
    q.setCipher(xchacha);
    expect(q.packetize(SILENCE, 960).equals(XCHACHA_VECTOR)).toBe(true);
  });

  it('increments sequence and counter per packet and keeps the caller timestamp', () => {
    const p = new RtpPacketizer(7, { sequence: 100, counter: 500 });
    p.setCipher(aes);
    const a = p.packetize(SILENCE, 1000);
    const b = p.packetize(SILENCE, 1960);
    expect(a.readUInt16BE(2)).toBe(101);
    expect(b.readUInt16BE(2)).toBe(102);
    expect(a.readUInt32BE(4)).toBe(1000);
    expect(b.readUInt32BE(4)).toBe(1960);
    expect(b.readUInt32BE(8)).toBe(7);
    expect(a.readUInt32BE(a.length - 4)).toBe(501);
    expect(b.readUInt32BE(b.length - 4)).toBe(502);
    expect([p.sequence, p.counter]).toEqual([102, 502]);
  });

  it('wraps sequence at 2^16, counter and timestamp at 2^32', () => {
    const p = new RtpPacketizer(0xffffffff, { sequence: 0xffff, counter: 0xffffffff });
    p.setCipher(aes);
    const pkt = p.packetize(SILENCE, 2 ** 32 + 960);
    expect(pkt.readUInt16BE(2)).toBe(0);
    expect(pkt.readUInt32BE(4)).toBe(960);
    expect(pkt.readUInt32BE(8)).toBe(0xffffffff);
    expect(pkt.readUInt32BE(pkt.length - 4)).toBe(0);
    expect([p.sequence, p.counter]).toEqual([0, 0]);
  });

  it('keeps the nonce counter across a cipher change', () => {
    const p = new RtpPacketizer(42);
    p.setCipher(aes);
    p.packetize(SILENCE, 0);
    p.packetize(SILENCE, 960);
    p.setCipher(xchacha);
    const pkt = p.packetize(SILENCE, 1920);
    expect(pkt.readUInt32BE(pkt.length - 4)).toBe(3);
    const opened = openRtpPacket(pkt, xchacha);
    expect('payload' in opened && opened.payload.equals(SILENCE)).toBe(true);
  });

  it('throws INVALID_ARGUMENT without a cipher or with a bad SSRC', () => {
    const p = new RtpPacketizer(1);
    expect(
      isVoxcordError(
        caught(() => p.packetize(SILENCE, 0)),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(p.sequence).toBe(0); // nothing consumed
    expect(
      isVoxcordError(
        caught(() => new RtpPacketizer(-1)),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(
      isVoxcordError(
        caught(() => new RtpPacketizer(2 ** 32)),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
  });
});

describe('openRtpPacket', () => {
  it('opens both golden packets', () => {
    for (const [pkt, cipher] of [
      [AES_VECTOR, aes],
      [XCHACHA_VECTOR, xchacha],
    ] as const) {
      const r = openRtpPacket(pkt, cipher);
      if ('drop' in r) throw new Error(`dropped: ${r.drop}`);
      expect(r.payload.toString('hex')).toBe('f8fffe');
      expect(r.info).toMatchObject({ sequence: 1, timestamp: 960, ssrc: 42, headerLength: 12 });
    }
  });

  it('strips the header extension body (media.md §7 receive vector)', () => {
    const r = openRtpPacket(EXT_PACKET, aes);
    if ('drop' in r) throw new Error(`dropped: ${r.drop}`);
    expect(r.payload.toString('hex')).toBe('f8fffe');
    expect(r.info).toMatchObject({
      extension: true,
      sequence: 7,
      timestamp: 6720,
      ssrc: 42,
      headerLength: 16,
      extensionBodyLength: 4,
    });
  });

  it('accepts the marker bit, skips CSRCs and strips valid padding', () => {
    // V=2 P=1 X=1 CC=1, M=1 PT=120; CSRC; preamble 1 word; body; payload; 3 bytes padding (count 3).
    const pkt = rawPacket(xchacha, 'b1f8 0005 00000064 0000002a 11111111 bede0001', '10ff0000 f8fffe 000003');
    const r = openRtpPacket(pkt, xchacha);
    if ('drop' in r) throw new Error(`dropped: ${r.drop}`);
    expect(r.payload.toString('hex')).toBe('f8fffe');
    expect(r.info).toMatchObject({ marker: true, padding: true, csrcCount: 1, headerLength: 20 });
  });

  it('drops with the right reason and never throws', () => {
    const cases: Array<[Uint8Array, string]> = [
      [new Uint8Array(0), 'too-short'],
      [AES_VECTOR.subarray(0, 31), 'too-short'],
      [Buffer.concat([hex('40'), AES_VECTOR.subarray(1)]), 'not-rtp'],
      [Buffer.concat([hex('00'), AES_VECTOR.subarray(1)]), 'not-rtp'],
      // RTCP receiver report style: byte1 0xC9 -> pt 73; and the whole 200..204 range.
      ...[0xc8, 0xc9, 0xca, 0xcb, 0xcc].map((b1): [Uint8Array, string] => [
        Buffer.concat([hex('80'), Buffer.of(b1), AES_VECTOR.subarray(2)]),
        'rtcp',
      ]),
      [Buffer.concat([hex('806f'), AES_VECTOR.subarray(2)]), 'payload-type'],
      [Buffer.concat([hex('8000'), AES_VECTOR.subarray(2)]), 'payload-type'],
      [Buffer.concat([AES_VECTOR.subarray(0, 20), hex('00'), AES_VECTOR.subarray(21)]), 'auth-failed'],
      // CC=15: the CSRC list would run past the datagram.
      [Buffer.concat([hex('8f'), AES_VECTOR.subarray(1)]), 'malformed'],
      // Padding count larger than the plaintext.
      [rawPacket(aes, 'a0780001000003c00000002a', 'f8ff09'), 'malformed'],
      // Padding count 0 is invalid (it counts itself).
      [rawPacket(aes, 'a0780001000003c00000002a', 'f8ff00'), 'malformed'],
      // P=1 and an empty plaintext.
      [rawPacket(aes, 'a0780001000003c00000002a', ''), 'malformed'],
      // Extension claims 2 words (8 bytes) but the plaintext holds 7.
      [rawPacket(aes, '9078000700001a400000002abede0002', '10ff0000f8fffe'), 'malformed'],
      // Extension fits only before padding is removed.
      [rawPacket(aes, 'b078000700001a400000002abede0001', '10ff0002'), 'malformed'],
    ];
    for (const [pkt, reason] of cases) {
      expect(openRtpPacket(pkt, aes)).toEqual({ drop: reason });
    }
    // Right packet, wrong key.
    expect(openRtpPacket(AES_VECTOR, createTransportCipher(EncryptionMode.AesGcm, Buffer.alloc(32)))).toEqual(
      {
        drop: 'auth-failed',
      },
    );
    // Right key, other mode.
    expect(openRtpPacket(AES_VECTOR, xchacha)).toEqual({ drop: 'auth-failed' });
  });

  it('survives random garbage', () => {
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(Math.random() * 80);
      const buf = Buffer.from(Array.from({ length: len }, () => Math.floor(Math.random() * 256)));
      if (len > 1 && i % 2 === 0) {
        buf[0] = 0x80 | (buf[0]! & 0x3f);
        buf[1] = 0x78;
      }
      const r = openRtpPacket(buf, i % 3 === 0 ? xchacha : aes);
      expect('drop' in r).toBe(true);
    }
  });
});

describe('sealRtpPacket', () => {
  it('without an extension equals the packetizer output', () => {
    expect(sealRtpPacket({ sequence: 1, timestamp: 960, ssrc: 42 }, SILENCE, aes, 1).equals(AES_VECTOR)).toBe(
      true,
    );
  });

  it('with an extension reproduces the media.md §7 receive vector', () => {
    const pkt = sealRtpPacket({ sequence: 7, timestamp: 6720, ssrc: 42 }, SILENCE, aes, 2, hex('10ff0000'));
    expect(pkt.toString('hex')).toBe(EXT_PACKET.toString('hex'));
  });

  it('round-trips through openRtpPacket in both modes, with and without extensions', () => {
    for (const cipher of [aes, xchacha]) {
      for (const ext of [undefined, new Uint8Array(0), hex('10ff0000'), hex('22aabbcc 11dd0000')]) {
        const payload = hex('0102030405060708090a');
        const pkt = sealRtpPacket(
          { sequence: 65535, timestamp: 0xffffffff, ssrc: 3 },
          payload,
          cipher,
          12345,
          ext,
        );
        const r = openRtpPacket(pkt, cipher);
        if ('drop' in r) throw new Error(`dropped: ${r.drop}`);
        expect(r.payload.equals(payload)).toBe(true);
        expect(r.info).toMatchObject({ sequence: 65535, timestamp: 0xffffffff, ssrc: 3 });
        expect(r.info.extension).toBe(ext !== undefined);
        expect(r.info.extensionBodyLength).toBe(ext?.length ?? 0);
      }
    }
  });

  it('openRtpPacketInto decrypts into the caller buffer at its offset, on every backend, and drops as openRtpPacket does', () => {
    const ciphers: TransportCipher[] = [
      createTransportCipher(EncryptionMode.AesGcm, KEY, { backend: 'js' }),
      createTransportCipher(EncryptionMode.AesGcm, KEY, { backend: 'node' }),
      createTransportCipher(EncryptionMode.XChaCha, KEY, { backend: 'node' }),
    ];
    try {
      ciphers.push(createTransportCipher(EncryptionMode.XChaCha, KEY, { backend: 'sodium' }));
    } catch {
      // sodium-native is optional
    }
    // 600 bytes: above JS_AES_GCM_MAX_PAYLOAD, the js backend's node:crypto path.
    for (const size of [3, 600]) {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 13 + 1) & 0xff);
      for (const cipher of ciphers) {
        for (const ext of [undefined, hex('22aabbcc 11dd0000')]) {
          const pkt = sealRtpPacket({ sequence: 9, timestamp: 960, ssrc: 3 }, payload, cipher, 77, ext);
          const out = new Uint8Array(5 + pkt.length).fill(0xee);
          const opened = emptyOpenedRtp();
          expect(openRtpPacketInto(pkt, cipher, out, 5, opened)).toBeUndefined();
          expect([...out.subarray(0, 5)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]);
          expect(opened.payloadOffset).toBe(5 + (ext?.length ?? 0));
          expect([
            ...out.subarray(opened.payloadOffset, opened.payloadOffset + opened.payloadLength),
          ]).toEqual([...payload]);
          expect(opened.nonce).toBe(77);
          expect(opened.info).toMatchObject({ sequence: 9, timestamp: 960, ssrc: 3 });
          const bad = Buffer.from(pkt);
          bad[bad.length - 20] = bad[bad.length - 20]! ^ 1;
          expect(openRtpPacketInto(bad, cipher, out, 5, opened)).toBe('auth-failed');
          expect(openRtpPacketInto(pkt.subarray(0, 20), cipher, out, 5, opened)).toBe('too-short');
        }
      }
    }
  });

  it('rejects an extension body that is not a whole number of words', () => {
    const err = caught(() =>
      sealRtpPacket({ sequence: 1, timestamp: 1, ssrc: 1 }, SILENCE, aes, 1, hex('10ff00')),
    );
    expect(isVoxcordError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
