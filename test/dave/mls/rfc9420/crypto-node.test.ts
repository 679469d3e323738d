import { describe, expect, it } from 'vitest';
import { hkdfExpand, mlsExporter } from '../../../../src/dave/hash-ratchet.js';
import {
  decryptWithLabel,
  encryptWithLabel,
  extract,
  signWithLabel,
  verifyWithLabel,
} from '../../../../src/dave/mls/rfc9420/crypto.js';
import { generateP256KeyPair, hpkeSeal } from '../../../../src/dave/mls/rfc9420/hpke.js';
import { p256PublicFromScalar } from '../../../../src/dave/mls/mls-sign.js';
import { hex, unhex } from '../../../support/bytes.js';

const enc = new TextEncoder();

describe('suite-2 crypto on node:crypto (beyond the RFC 9420 vectors)', () => {
  it('HKDF matches RFC 5869 test case 1 (extract and expand, multi-block)', () => {
    const prk = extract(unhex('000102030405060708090a0b0c'), new Uint8Array(22).fill(0x0b));
    expect(hex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    const okm = hkdfExpand(prk, unhex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(hex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('the exporter gives the dave.md §8.2 base secret', () => {
    const base = mlsExporter(
      unhex('37b4777fbfa0bb7b83d5a4e52d1d249000564918b96436704595c36b57c1e366'),
      'Discord Secure Frames v0',
      unhex('0000000907813102'),
      16,
    );
    expect(hex(base)).toBe('26b5f027e5e5667b121e26734c6ad323');
  });

  it('ECDSA P-256: DER signatures, verification failures are false, not throws', () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    expect(privateKey.length).toBe(32);
    expect(publicKey.length).toBe(65);
    const msg = enc.encode('hello');
    const sig = signWithLabel(privateKey, 'L', msg);
    expect(sig[0]).toBe(0x30);
    expect(verifyWithLabel(publicKey, 'L', msg, sig)).toBe(true);
    expect(verifyWithLabel(publicKey, 'L', enc.encode('hellO'), sig)).toBe(false);
    expect(verifyWithLabel(publicKey, 'L', msg, sig.subarray(1))).toBe(false);
    expect(verifyWithLabel(publicKey, 'L', msg, new Uint8Array(64))).toBe(false);
    expect(verifyWithLabel(publicKey.subarray(1), 'L', msg, sig)).toBe(false);
    const bad = publicKey.slice();
    bad[64] = (bad[64] ?? 0) ^ 1; // not on the curve
    expect(verifyWithLabel(bad, 'L', msg, sig)).toBe(false);
  });

  it('signs and verifies from raw key bytes for many identities', () => {
    const msg = enc.encode('bounded');
    const pairs = Array.from({ length: 150 }, () => generateP256KeyPair());
    for (const { privateKey, publicKey } of pairs) {
      expect(verifyWithLabel(publicKey, 'L', msg, signWithLabel(privateKey, 'L', msg))).toBe(true);
    }
    const first = pairs[0];
    if (first === undefined) throw new Error('no pair');
    expect(verifyWithLabel(first.publicKey, 'L', msg, signWithLabel(first.privateKey, 'L', msg))).toBe(true);
  });

  it('a scalar array rewritten in place signs with its new value (the signer remembers points by array)', () => {
    const msg = enc.encode('rekeyed');
    const key = generateP256KeyPair();
    expect(verifyWithLabel(key.publicKey, 'L', msg, signWithLabel(key.privateKey, 'L', msg))).toBe(true);
    const next = generateP256KeyPair();
    key.privateKey.set(next.privateKey);
    const sig = signWithLabel(key.privateKey, 'L', msg);
    expect(verifyWithLabel(next.publicKey, 'L', msg, sig)).toBe(true);
  });

  it('EncryptWithLabel round trips, and refuses a wrong label, wrong context and malformed keys', () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    const ct = encryptWithLabel(publicKey, 'Welcome', enc.encode('ctx'), enc.encode('secret'));
    expect(hex(decryptWithLabel(privateKey, 'Welcome', enc.encode('ctx'), ct))).toBe(
      hex(enc.encode('secret')),
    );
    expect(() => decryptWithLabel(privateKey, 'UpdatePathNode', enc.encode('ctx'), ct)).toThrow();
    expect(() => decryptWithLabel(privateKey, 'Welcome', enc.encode('ctX'), ct)).toThrow();
    expect(() =>
      hpkeSeal(new Uint8Array(33), new Uint8Array(0), new Uint8Array(0), new Uint8Array(1)),
    ).toThrow();
    expect(() => p256PublicFromScalar(new Uint8Array(32))).toThrow(); // zero scalar
  });
});
