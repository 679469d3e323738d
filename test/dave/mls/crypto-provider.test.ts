import { describe, it, expect } from 'vitest';
import { makeHpke } from 'ts-mls/crypto/implementation/default/makeHpke.js';
import { mlsExporter } from 'ts-mls/keySchedule.js';
import {
  cachedKeyCount,
  getDaveCiphersuite,
  hkdfExpand,
  hkdfExtract,
  p256Hpke,
  p256Signature,
} from '../../../src/dave/mls/crypto-provider.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const enc = new TextEncoder();

describe('node:crypto provider for ciphersuite 2', () => {
  it('HKDF matches RFC 5869 test case 1 (extract and expand, multi-block)', () => {
    const prk = hkdfExtract(unhex('000102030405060708090a0b0c'), new Uint8Array(22).fill(0x0b));
    expect(hex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    const okm = hkdfExpand(prk, unhex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(hex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    expect(hex(hkdfExpand(prk, unhex('f0f1f2f3f4f5f6f7f8f9'), 16))).toBe(hex(okm.subarray(0, 16)));
  });

  it('ts-mls exporter on our KDF gives the dave.md §8.2 base secret', async () => {
    const cs = await getDaveCiphersuite();
    const base = await mlsExporter(
      unhex('37b4777fbfa0bb7b83d5a4e52d1d249000564918b96436704595c36b57c1e366'),
      'Discord Secure Frames v0',
      unhex('0000000907813102'),
      16,
      cs,
    );
    expect(hex(base)).toBe('26b5f027e5e5667b121e26734c6ad323');
  });

  it('ECDSA P-256: DER signatures, verification failures are false, not throws', async () => {
    const { signKey, publicKey } = await p256Signature.keygen();
    expect(signKey.length).toBe(32);
    expect(publicKey.length).toBe(65);
    expect(publicKey[0]).toBe(4);
    const msg = enc.encode('hello');
    const sig = await p256Signature.sign(signKey, msg);
    expect(sig[0]).toBe(0x30);
    expect(await p256Signature.verify(publicKey, msg, sig)).toBe(true);
    expect(await p256Signature.verify(publicKey, enc.encode('hellO'), sig)).toBe(false);
    expect(await p256Signature.verify(publicKey, msg, sig.subarray(1))).toBe(false);
    expect(await p256Signature.verify(publicKey, msg, new Uint8Array(64))).toBe(false);
    expect(await p256Signature.verify(publicKey.subarray(1), msg, sig)).toBe(false);
    const bad = publicKey.slice();
    bad[64] = (bad[64] ?? 0) ^ 1; // not on the curve
    expect(await p256Signature.verify(bad, msg, sig)).toBe(false);
  });

  it('keeps a bounded number of imported keys however many identities sign and verify', async () => {
    const msg = enc.encode('bounded');
    const pairs = await Promise.all(Array.from({ length: 150 }, () => p256Signature.keygen()));
    for (const { signKey, publicKey } of pairs) {
      const sig = await p256Signature.sign(signKey, msg);
      expect(await p256Signature.verify(publicKey, msg, sig)).toBe(true);
    }
    expect(cachedKeyCount()).toBeLessThanOrEqual(128);
    // Recently used keys still work (evicted ones are imported again on demand).
    const first = pairs[0]!;
    expect(
      await p256Signature.verify(first.publicKey, msg, await p256Signature.sign(first.signKey, msg)),
    ).toBe(true);
  });

  it('HPKE interoperates with the @hpke/core implementation in both directions', async () => {
    const reference = await makeHpke({
      kem: 'DHKEM-P256-HKDF-SHA256',
      kdf: 'HKDF-SHA256',
      aead: 'AES128GCM',
    });
    const info = enc.encode('info');
    const aad = enc.encode('aad');
    const pt = enc.encode('group secrets');

    // ours seals, reference opens
    const refKeys = await reference.generateKeyPair();
    const refPub = await reference.exportPublicKey(refKeys.publicKey);
    const sealed = await p256Hpke.seal(await p256Hpke.importPublicKey(refPub), pt, info, aad);
    expect(hex(await reference.open(refKeys.privateKey, sealed.enc, sealed.ct, info, aad))).toBe(hex(pt));

    // reference seals, ours opens (after a raw private key round trip)
    const ourKeys = await p256Hpke.generateKeyPair();
    const ourPub = await p256Hpke.exportPublicKey(ourKeys.publicKey);
    const sealed2 = await reference.seal(await reference.importPublicKey(ourPub), pt, info, aad);
    // ts-mls types HPKE keys as DOM CryptoKeys (unresolved here): keep the handle opaque
    const ourPriv: unknown = await p256Hpke.importPrivateKey(
      await p256Hpke.exportPrivateKey(ourKeys.privateKey),
    );
    expect(
      hex(await p256Hpke.open(ourPriv as typeof ourKeys.privateKey, sealed2.enc, sealed2.ct, info, aad)),
    ).toBe(hex(pt));
    await expect(
      p256Hpke.open(ourPriv as typeof ourKeys.privateKey, sealed2.enc, sealed2.ct, info, enc.encode('other')),
    ).rejects.toThrow();

    // DeriveKeyPair is deterministic and identical
    const ikm = new Uint8Array(32).fill(9);
    const a = await p256Hpke.deriveKeyPair(ikm);
    const b = await reference.deriveKeyPair(ikm);
    expect(hex(await p256Hpke.exportPublicKey(a.publicKey))).toBe(
      hex(await reference.exportPublicKey(b.publicKey)),
    );
    expect(hex(await p256Hpke.exportPrivateKey(a.privateKey))).toBe(
      hex(await reference.exportPrivateKey(b.privateKey)),
    );

    // exporter (external init secret path)
    const ctx = enc.encode('ctx');
    const exported = await p256Hpke.exportSecret(await p256Hpke.importPublicKey(refPub), ctx, 32, info);
    expect(hex(await reference.importSecret(refKeys.privateKey, ctx, exported.enc, 32, info))).toBe(
      hex(exported.secret),
    );
  });

  it('rejects malformed HPKE keys', async () => {
    await expect(p256Hpke.importPublicKey(new Uint8Array(33))).rejects.toThrow();
    await expect(p256Hpke.importPrivateKey(new Uint8Array(32))).rejects.toThrow(); // zero scalar
  });
});
