import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateDisplayableCode, generateKeyFingerprint, generatePairwiseFingerprint } from '@snazzah/davey';
import {
  displayableCode,
  keyFingerprint,
  pairwiseFingerprint,
  privacyCode,
  verificationCode,
} from '../../src/dave/codes.js';
import { isVoxcordError } from '../../src/errors.js';
import { hex, unhex as bytes } from '../support/bytes.js';

const zeros = (n: number): Uint8Array => new Uint8Array(n);

function invalid(fn: () => unknown): boolean {
  try {
    fn();
  } catch (err) {
    return isVoxcordError(err, 'INVALID_ARGUMENT');
  }
  return false;
}

async function rejectsInvalid(p: () => Promise<unknown>): Promise<boolean> {
  try {
    await p();
  } catch (err) {
    return isVoxcordError(err, 'INVALID_ARGUMENT');
  }
  return false;
}

describe('displayableCode (dave.md §10.4)', () => {
  it('matches the libdave vectors', () => {
    expect(displayableCode(bytes('aabbccddee'), 5, 5)).toBe('05870');
    expect(
      displayableCode(bytes('aabbccddeebbccddeeffccddeeffaaddeeffaabbeeffaabbccffaabbccdd'), 30, 5),
    ).toBe('058708105556138052119572494877');
  });

  it('rejects short data, a length not a multiple of the group, and groups above 8', () => {
    expect(invalid(() => displayableCode(bytes('aabbccdd'), 5, 5))).toBe(true);
    expect(invalid(() => displayableCode(bytes('aabbccdd'), 4, 3))).toBe(true);
    expect(invalid(() => displayableCode(randomBytes(1024), 1024, 11))).toBe(true);
  });

  it('agrees with davey on random inputs, including 8-digit groups', () => {
    for (let i = 0; i < 50; i++) {
      const data = randomBytes(64);
      const group = 1 + (i % 8);
      const length = group * (1 + (i % 6));
      expect(displayableCode(data, length, group)).toBe(generateDisplayableCode(data, length, group));
    }
  });
});

describe('privacyCode', () => {
  it('derives the code of the RFC 9420 suite-2 epoch-0 authenticator', () => {
    expect(privacyCode(bytes('6bb5c0d569550a2c7e1917b0ebeef193b703281fc5eaa3392b3125c8e394f69d'))).toBe(
      '143130818599953299192285919956',
    );
  });
});

describe('keyFingerprint', () => {
  it('matches the libdave vectors', () => {
    expect(hex(keyFingerprint(0, zeros(33), '1234'))).toBe('0000' + '00'.repeat(33) + '00000000000004d2');
    expect(Array.from(keyFingerprint(0, zeros(33), '1234')).join('')).toBe(
      '000000000000000000000000000000000000000004210',
    );
    expect(Array.from(keyFingerprint(0, zeros(65), '12345678')).join('')).toBe('0'.repeat(72) + '1889778');
    expect(hex(keyFingerprint(0, zeros(65), 12345678n))).toBe('0000' + '00'.repeat(65) + '0000000000bc614e');
  });

  it('rejects an unsupported version, a bad user id and an empty key', () => {
    expect(invalid(() => keyFingerprint(1, zeros(33), '1234'))).toBe(true);
    expect(invalid(() => keyFingerprint(0, zeros(33), 'abcd'))).toBe(true);
    expect(invalid(() => keyFingerprint(0, zeros(0), '1234'))).toBe(true);
  });

  it('agrees with davey', () => {
    const key = randomBytes(65);
    expect(hex(keyFingerprint(0, key, '158049329150427136'))).toBe(
      hex(generateKeyFingerprint(0, key, '158049329150427136')),
    );
  });
});

describe('pairwiseFingerprint and verificationCode', () => {
  const V1 =
    '8581f12c24874fc31b1c97457cc5bd29c007102d4ff78a3a7ea1b2880c6d60a4a95c02e888ae4a9cad90bfb8222df28829850e9e774fcc3006dc7906f20ba43c';
  const V2 =
    '8da9c28f164816f50d8c42e49fc3656a77f045bfb2e3c27ea2ffde948a0521d7f0a7eaf595b62e140453bf1fa54afda5c7101d47c1cda99aff9a221e5eabf72b';

  it('matches the libdave vectors in both orders', async () => {
    expect(hex(await pairwiseFingerprint(0, zeros(33), '1234', zeros(65), '5678'))).toBe(V1);
    expect(hex(await pairwiseFingerprint(0, zeros(65), '5678', zeros(33), '1234'))).toBe(V1);
    expect(hex(await pairwiseFingerprint(0, bytes('0064'), '1', bytes('0014'), '2'))).toBe(V2);
  });

  it('derives the verification codes of the vectors', async () => {
    expect(await verificationCode(zeros(33), '1234', zeros(65), '5678')).toBe(
      '167087148466685475014767895181229783641225826',
    );
    expect(await verificationCode(bytes('0014'), '2', bytes('0064'), '1')).toBe(
      '888540385217029685755312237093938343205203589',
    );
  });

  it('rejects bad inputs with a typed error', async () => {
    expect(await rejectsInvalid(() => pairwiseFingerprint(1, zeros(33), '1234', zeros(65), '5678'))).toBe(
      true,
    );
    expect(await rejectsInvalid(() => pairwiseFingerprint(0, zeros(33), 'abcd', zeros(65), '5678'))).toBe(
      true,
    );
    expect(await rejectsInvalid(() => pairwiseFingerprint(0, zeros(0), '1234', zeros(65), '5678'))).toBe(
      true,
    );
  });

  it('agrees with davey on random 65-byte keys', async () => {
    const a = randomBytes(65);
    const b = randomBytes(65);
    const ours = await pairwiseFingerprint(0, a, '158049329150427136', b, '80351110224678912');
    const theirs = await generatePairwiseFingerprint(0, a, '158049329150427136', b, '80351110224678912');
    expect(hex(ours)).toBe(hex(theirs));
  });
});
