import { describe, it, expect } from 'vitest';
import { parseRtpHeader, writeRtpHeader } from '../../src/media/rtp.js';
import { hexBuffer as hex } from '../support/bytes.js';

describe('writeRtpHeader', () => {
  it('writes 80 78 seq ts ssrc big-endian (media.md §7 header)', () => {
    const out = new Uint8Array(12);
    writeRtpHeader(out, { sequence: 1, timestamp: 960, ssrc: 42 });
    expect(Buffer.from(out).toString('hex')).toBe('80780001000003c00000002a');
  });

  it('honours the offset and wraps out-of-range values', () => {
    const out = new Uint8Array(16).fill(0xee);
    writeRtpHeader(out, { sequence: 0x1ffff, timestamp: 2 ** 32 + 5, ssrc: 0xffffffff }, 4);
    expect(Buffer.from(out).toString('hex')).toBe('eeeeeeee8078ffff00000005ffffffff');
  });
});

describe('parseRtpHeader', () => {
  it('parses a plain header', () => {
    const info = parseRtpHeader(hex('80780001000003c00000002a ffff'));
    expect(info).toEqual({
      padding: false,
      extension: false,
      csrcCount: 0,
      marker: false,
      payloadType: 0x78,
      sequence: 1,
      timestamp: 960,
      ssrc: 42,
      headerLength: 12,
      extensionBodyLength: 0,
    });
  });

  it('computes the rtpsize header length with CSRCs and an extension preamble', () => {
    // V=2 P=1 X=1 CC=2, M=1 PT=120
    const pkt = hex('b2f8 0007 00001a40 ffffffff  00000001 00000002  bede0003  ' + '00'.repeat(12));
    const info = parseRtpHeader(pkt);
    expect(info).toMatchObject({
      padding: true,
      extension: true,
      csrcCount: 2,
      marker: true,
      payloadType: 0x78,
      sequence: 7,
      timestamp: 6720,
      ssrc: 0xffffffff,
      headerLength: 12 + 8 + 4,
      extensionBodyLength: 12,
    });
  });

  it('drops short, non-v2 and truncated-header packets without throwing', () => {
    expect(parseRtpHeader(new Uint8Array(0))).toEqual({ drop: 'too-short' });
    expect(parseRtpHeader(new Uint8Array(11))).toEqual({ drop: 'too-short' });
    expect(parseRtpHeader(hex('40780001000003c00000002a'))).toEqual({ drop: 'not-rtp' });
    expect(parseRtpHeader(hex('c0780001000003c00000002a'))).toEqual({ drop: 'not-rtp' });
    // CC=15 claims 60 bytes of CSRCs.
    expect(parseRtpHeader(hex('8f780001000003c00000002a 00000000'))).toEqual({ drop: 'malformed' });
    // X=1 but no room for the preamble.
    expect(parseRtpHeader(hex('90780001000003c00000002a bede'))).toEqual({ drop: 'malformed' });
  });
});
