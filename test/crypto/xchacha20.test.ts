import { describe, it, expect } from 'vitest';
import {
  hchacha20,
  hchacha20Words,
  keyWords,
  xchacha20Poly1305Decrypt,
  xchacha20Poly1305Encrypt,
} from '../../src/crypto/xchacha20.js';
import { loadSodium } from '../../src/media/sodium.js';
import { hexBuffer as hex } from '../support/bytes.js';

const run = (first: number, n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => first + i));

// draft-irtf-cfrg-xchacha-03 §2.2.1
const H_KEY = run(0x00, 32);
const H_NONCE = hex('000000090000004a0000000031415927');
const H_SUBKEY = '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc';

// draft-irtf-cfrg-xchacha-03 §A.3.1
const A_KEY = run(0x80, 32);
const A_NONCE = run(0x40, 24);
const A_AAD = hex('50515253c0c1c2c3c4c5c6c7');
const A_PT = Buffer.from(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const A_CT = hex(`
  bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
  731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
  2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
  21f9664c97637da9768812f615c68b13b52e`);
const A_TAG = hex('c0875924c1c7987947deafd8780acf49');

describe('HChaCha20', () => {
  it('matches the draft §2.2.1 subkey', () => {
    expect(Buffer.from(hchacha20(H_KEY, H_NONCE)).toString('hex')).toBe(H_SUBKEY);
  });

  it('writes into a caller buffer, and the word form agrees', () => {
    const out = new Uint8Array(32);
    expect(hchacha20(H_KEY, H_NONCE, out)).toBe(out);
    const viaWords = new Uint8Array(32);
    hchacha20Words(keyWords(H_KEY), 0x09000000, 0x4a000000, 0, 0x27594131, viaWords);
    expect(Buffer.from(viaWords).toString('hex')).toBe(H_SUBKEY);
  });

  it('rejects wrong key and nonce sizes', () => {
    expect(() => hchacha20(new Uint8Array(31), H_NONCE)).toThrow(RangeError);
    expect(() => hchacha20(H_KEY, new Uint8Array(15))).toThrow(RangeError);
  });
});

describe('AEAD_XChaCha20_Poly1305', () => {
  it('matches the draft §A.3.1 ciphertext and tag', () => {
    const sealed = xchacha20Poly1305Encrypt(A_KEY, A_NONCE, A_PT, A_AAD);
    expect(sealed.subarray(0, A_PT.length).toString('hex')).toBe(A_CT.toString('hex'));
    expect(sealed.subarray(A_PT.length).toString('hex')).toBe(A_TAG.toString('hex'));
  });

  it('decrypts the draft vector and rejects any tampering', () => {
    const sealed = Buffer.concat([A_CT, A_TAG]);
    expect(xchacha20Poly1305Decrypt(A_KEY, A_NONCE, sealed, A_AAD)?.equals(A_PT)).toBe(true);
    for (const i of [0, 50, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 1;
      expect(xchacha20Poly1305Decrypt(A_KEY, A_NONCE, bad, A_AAD)).toBeNull();
    }
    const badAad = Buffer.from(A_AAD);
    badAad[0]! ^= 1;
    expect(xchacha20Poly1305Decrypt(A_KEY, A_NONCE, sealed, badAad)).toBeNull();
    const badNonce = Buffer.from(A_NONCE);
    badNonce[23]! ^= 1; // the part that is not hashed into the subkey
    expect(xchacha20Poly1305Decrypt(A_KEY, badNonce, sealed, A_AAD)).toBeNull();
    expect(xchacha20Poly1305Decrypt(A_KEY, A_NONCE, sealed.subarray(0, 15), A_AAD)).toBeNull();
  });

  it('handles an empty plaintext', () => {
    const sealed = xchacha20Poly1305Encrypt(A_KEY, A_NONCE, new Uint8Array(0), A_AAD);
    expect(sealed.length).toBe(16);
    expect(xchacha20Poly1305Decrypt(A_KEY, A_NONCE, sealed, A_AAD)?.length).toBe(0);
  });

  it.skipIf(loadSodium() === null)('agrees with libsodium on random inputs', () => {
    const sodium = loadSodium()!;
    for (let n = 0; n < 20; n++) {
      const key = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256)));
      const nonce = Buffer.from(Array.from({ length: 24 }, () => Math.floor(Math.random() * 256)));
      const pt = Buffer.from(Array.from({ length: n * 7 }, () => Math.floor(Math.random() * 256)));
      const aad = Buffer.from([n, 1, 2]);
      const viaSodium = Buffer.alloc(pt.length + 16);
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(viaSodium, pt, aad, null, nonce, key);
      expect(xchacha20Poly1305Encrypt(key, nonce, pt, aad).equals(viaSodium)).toBe(true);
    }
  });
});
