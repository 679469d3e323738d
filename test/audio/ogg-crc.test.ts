import { describe, expect, it } from 'vitest';
import { oggCrc } from '../../src/audio/ogg-crc.js';

/** Bit-at-a-time reference: CRC-32, polynomial 0x04c11db7, init 0, MSB first, no final xor. */
function referenceCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

describe('oggCrc (RFC 3533 page checksum)', () => {
  it('matches the catalogue check value (CRC-32/CKSUM of "123456789" before its final xor)', () => {
    expect((oggCrc(new TextEncoder().encode('123456789')) ^ 0xffffffff) >>> 0).toBe(0x765e7680);
  });

  it('matches the bitwise reference at every length around its 8-byte steps', () => {
    const bytes = Uint8Array.from({ length: 70 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let n = 0; n <= bytes.length; n++)
      expect(oggCrc(bytes.subarray(0, n))).toBe(referenceCrc(bytes.subarray(0, n)));
  });

  it('counts the 4 checksum bytes as zero when checked in place', () => {
    const page = Uint8Array.from({ length: 61 }, (_, i) => (i * 37 + 11) & 0xff);
    const zeroed = page.slice();
    zeroed.fill(0, 22, 26);
    expect(oggCrc(page, 22)).toBe(referenceCrc(zeroed));
  });
});
