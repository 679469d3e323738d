import { describe, it, expect } from 'vitest';
import { buildKeepalive, isKeepalive } from '../../src/media/keepalive.js';

describe('keepalive', () => {
  it('is 8 bytes: LE32 counter then 4 zero bytes', () => {
    expect(buildKeepalive(0).toString('hex')).toBe('0000000000000000');
    expect(buildKeepalive(0x01020304).toString('hex')).toBe('0403020100000000');
    expect(buildKeepalive(2 ** 32 + 1).toString('hex')).toBe('0100000000000000');
    expect(buildKeepalive(0xffffffff).toString('hex')).toBe('ffffffff00000000');
  });

  it('recognises keepalives and nothing else', () => {
    expect(isKeepalive(buildKeepalive(7))).toBe(true);
    expect(isKeepalive(Buffer.from('0700000000000001', 'hex'))).toBe(false);
    expect(isKeepalive(new Uint8Array(7))).toBe(false);
    expect(isKeepalive(new Uint8Array(9))).toBe(false);
    expect(isKeepalive(Buffer.from('80780001000003c00000002a', 'hex'))).toBe(false);
  });
});
