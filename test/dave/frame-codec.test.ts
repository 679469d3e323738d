import { describe, it, expect } from 'vitest';
import {
  buildProtocolFrame,
  createParsedFrame,
  isOpusSilence,
  joinRanges,
  parseProtocolFrame,
  protocolFrameSize,
  splitRanges,
  wrapGeneration,
  writeTrailer,
} from '../../src/dave/frame-codec.js';
import { isVoxcordError } from '../../src/errors.js';
import { createDaveyPair } from './davey-pair.js';
import { hex, unhex as bytes } from '../support/bytes.js';
import { caught as catchError } from '../support/errors.js';

// dave.md §9.7
const FRAME_A = bytes('4bfdd3128761287e4aa2f4d2a8a2624c · 1a516f9ff265fcc5 · 01 · 0c · fafa');
const FRAME_B = bytes('15ab9925513866da14993a4d570b79c8 · 88ab2b415e88554a · 85808008 · 0f · fafa');

describe('parseProtocolFrame', () => {
  it('parses the §9.7 frames', () => {
    const p = createParsedFrame();
    expect(parseProtocolFrame(FRAME_A, p)).toBe('ok');
    expect(p).toEqual({ mediaLength: 16, tagOffset: 16, nonce: 1, ranges: [] });
    expect(parseProtocolFrame(FRAME_B, p)).toBe('ok');
    expect(p).toEqual({ mediaLength: 16, tagOffset: 16, nonce: 0x01000005, ranges: [] });
  });

  it('says not-protocol-frame without a marker or below 11 bytes', () => {
    const p = createParsedFrame();
    expect(parseProtocolFrame(new Uint8Array(0), p)).toBe('not-protocol-frame');
    expect(parseProtocolFrame(bytes('f8fffe'), p)).toBe('not-protocol-frame');
    expect(parseProtocolFrame(FRAME_A.subarray(0, FRAME_A.length - 1), p)).toBe('not-protocol-frame');
    expect(parseProtocolFrame(bytes('00000000000000000bfafa').subarray(1), p)).toBe('not-protocol-frame');
    const noMarker = Uint8Array.from(FRAME_A);
    noMarker[noMarker.length - 2] = 0xfb;
    expect(parseProtocolFrame(noMarker, p)).toBe('not-protocol-frame');
  });

  it('accepts S equal to the frame length (empty media part)', () => {
    const p = createParsedFrame();
    expect(parseProtocolFrame(bytes('1122334455667788 00 0c fafa'), p)).toBe('ok');
    expect(p.mediaLength).toBe(0);
    expect(p.nonce).toBe(0);
  });

  it('rejects broken trailers as malformed', () => {
    const p = createParsedFrame();
    const cases: Record<string, string> = {
      'S above length': '1122334455667788 00 0d fafa',
      'S below 11': 'aa 1122334455667788 00 0a fafa',
      'truncated (S claims more than present)': FRAME_A.subarray(4)
        .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '')
        .replace(/0cfafa$/, '20fafa'),
      'nonce runs into S': 'aa 1122334455667788 80 0c fafa',
      'no room for the nonce': 'aa 1122334455667788 0b fafa',
      'ULEB overrun (11 bytes)': 'aa 1122334455667788 ffffffffffffffffff8100 16 fafa',
      'odd range list': 'aabbcc 1122334455667788 01 00 0d fafa',
      'range beyond media': 'aabbcc 1122334455667788 01 02 02 0e fafa',
      'ranges out of order': 'aabbccddee 1122334455667788 01 02 01 00 01 10 fafa',
      'overlapping ranges': 'aabbccddee 1122334455667788 01 00 02 01 01 10 fafa',
      'range size overrun': 'aabbcc 1122334455667788 01 00 8080 0f fafa',
    };
    for (const [name, frame] of Object.entries(cases)) {
      expect([name, parseProtocolFrame(bytes(frame), p)]).toEqual([name, 'malformed']);
    }
  });

  it('parses ascending ranges, including zero-size and adjacent ones', () => {
    const p = createParsedFrame();
    const frame = bytes('aabbccddee 1122334455667788 07 00 01 01 02 04 00 12 fafa');
    expect(parseProtocolFrame(frame, p)).toBe('ok');
    expect(p.mediaLength).toBe(5);
    expect(p.nonce).toBe(7);
    expect(p.ranges).toEqual([0, 1, 1, 2, 4, 0]);
  });

  it('never throws on random input', () => {
    const p = createParsedFrame();
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(Math.random() * 40);
      const frame = new Uint8Array(len);
      for (let j = 0; j < len; j++) frame[j] = Math.floor(Math.random() * 256);
      if (len >= 2 && i % 2 === 0) {
        frame[len - 1] = 0xfa;
        frame[len - 2] = 0xfa;
        if (len >= 3) frame[len - 3] = 11 + (i % 8);
      }
      expect(['ok', 'malformed', 'not-protocol-frame']).toContain(parseProtocolFrame(frame, p));
    }
  });
});

describe('building frames', () => {
  it('builds the §9.7 frames from ciphertext, tag and nonce', () => {
    expect(hex(buildProtocolFrame(FRAME_A.subarray(0, 16), FRAME_A.subarray(16, 24), 1))).toBe(hex(FRAME_A));
    expect(hex(buildProtocolFrame(FRAME_B.subarray(0, 16), FRAME_B.subarray(16, 24), 0x01000005))).toBe(
      hex(FRAME_B),
    );
    expect(protocolFrameSize(16, 1)).toBe(28);
    expect(protocolFrameSize(16, 0x01000005)).toBe(31);
  });

  it('writes the trailer after the tag and round-trips ranges', () => {
    const media = bytes('aabbccddee');
    const frame = buildProtocolFrame(media, bytes('1122334455667788'), 300, [0, 1, 3, 2]);
    const p = createParsedFrame();
    expect(parseProtocolFrame(frame, p)).toBe('ok');
    expect(p).toEqual({ mediaLength: 5, tagOffset: 5, nonce: 300, ranges: [0, 1, 3, 2] });
    const out = new Uint8Array(4);
    expect(writeTrailer(out, 0, 1)).toBe(4);
    expect(hex(out)).toBe('010cfafa');
  });

  it('refuses bad ranges, bad tags and trailers above 255 bytes', () => {
    const tag = new Uint8Array(8);
    expect(
      isVoxcordError(
        catchError(() => buildProtocolFrame(new Uint8Array(4), tag, 1, [2, 1, 0, 1])),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(
      isVoxcordError(
        catchError(() => buildProtocolFrame(new Uint8Array(4), tag, 1, [2, 3])),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(
      isVoxcordError(
        catchError(() => buildProtocolFrame(new Uint8Array(4), tag, 1, [1])),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    expect(
      isVoxcordError(
        catchError(() => buildProtocolFrame(new Uint8Array(4), new Uint8Array(16), 1)),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true);
    const many = Array.from({ length: 250 }, () => 0);
    expect(
      isVoxcordError(
        catchError(() => buildProtocolFrame(new Uint8Array(4), tag, 1, many)),
        'DAVE_ENCRYPT_FAILED',
      ),
    ).toBe(true);
  });

  it('splits and joins interleaved frames', () => {
    const media = bytes('00112233445566778899');
    const ranges = [1, 2, 6, 1, 9, 1];
    const { aad, encrypted } = splitRanges(media, media.length, ranges);
    expect(hex(aad)).toBe('112266' + '99');
    expect(hex(encrypted)).toBe('00' + '334455' + '7788');
    expect(hex(joinRanges(aad, encrypted, ranges))).toBe(hex(media));
    const none = splitRanges(media, media.length, []);
    expect(none.aad.length).toBe(0);
    expect(hex(none.encrypted)).toBe(hex(media));
  });
});

describe('helpers', () => {
  it('recognises only the exact silence frame', () => {
    expect(isOpusSilence(bytes('f8fffe'))).toBe(true);
    expect(isOpusSilence(bytes('f8fffe00'))).toBe(false);
    expect(isOpusSilence(bytes('f8ffff'))).toBe(false);
  });

  it('wrapGeneration follows dave.md §9.4', () => {
    expect(wrapGeneration(0, 0)).toBe(0);
    expect(wrapGeneration(0, 5)).toBe(5);
    expect(wrapGeneration(5, 4)).toBe(260);
    expect(wrapGeneration(255, 0)).toBe(256);
    expect(wrapGeneration(256, 255)).toBe(511);
    expect(wrapGeneration(300, 44)).toBe(300);
    expect(wrapGeneration(300, 43)).toBe(555);
  });
});

describe('davey frames', () => {
  it('parse as Opus protocol frames with nonces counting from 1', () => {
    const { alice, bob, aliceId } = createDaveyPair();
    const p = createParsedFrame();
    for (let i = 1; i <= 200; i++) {
      const opus = Buffer.alloc(i % 50, i);
      const frame = alice.encryptOpus(opus);
      expect(parseProtocolFrame(frame, p)).toBe('ok');
      expect(p).toEqual({ mediaLength: opus.length, tagOffset: opus.length, nonce: i, ranges: [] });
      expect(frame.length).toBe(protocolFrameSize(opus.length, i));
      expect(hex(bob.decrypt(aliceId, 0, frame))).toBe(hex(opus));
    }
    // davey, like us, never encrypts silence.
    expect(hex(alice.encryptOpus(Buffer.from('f8fffe', 'hex')))).toBe('f8fffe');
  });
});
