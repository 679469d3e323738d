import { describe, it, expect } from 'vitest';
import { createDaveKeyPackage, generateP256KeyPair } from '../../../src/dave/mls/key-package.js';
import { Reader } from '../../../src/dave/mls/mls-codec.js';
import { hex } from '../../support/bytes.js';

describe('DAVE key package (op 26, dave.md §5.4)', () => {
  it("has libdave's exact layout: suite 2, uncompressed keys, narrow capabilities, maximal lifetime", () => {
    const sig = generateP256KeyPair();
    const kp = createDaveKeyPackage('158049329150427136', sig);
    const r = new Reader(kp.encoded);
    expect(r.u16()).toBe(1); // mls10
    expect(r.u16()).toBe(2); // suite 2
    const initKey = r.opaque();
    expect(initKey.length).toBe(65);
    expect(initKey[0]).toBe(4);
    const encryptionKey = r.opaque();
    expect(encryptionKey.length).toBe(65);
    expect(hex(encryptionKey)).not.toBe(hex(initKey));
    expect(hex(r.opaque())).toBe(hex(sig.publicKey));
    expect(hex(r.take(11))).toBe('0001' + '08' + '0231810709000000'); // basic, BE64 user id
    expect(hex(r.take(12))).toBe('020001' + '020002' + '00' + '00' + '020001' + '01');
    expect(hex(r.take(16))).toBe('0000000000000000ffffffffffffffff');
    expect(r.u8()).toBe(0); // leaf extensions
    const leafSig = r.opaque();
    expect(leafSig[0]).toBe(0x30); // DER
    expect(r.u8()).toBe(0); // key package extensions
    expect(r.opaque()[0]).toBe(0x30);
    r.expectEnd('key package');
  });

  it('uses a fresh init key and leaf key every time', () => {
    const sig = generateP256KeyPair();
    const a = createDaveKeyPackage('1', sig);
    const b = createDaveKeyPackage('1', sig);
    expect(hex(a.bundle.keyPackage.initKey)).not.toBe(hex(b.bundle.keyPackage.initKey));
    expect(hex(a.bundle.keyPackage.leafNode.encryptionKey)).not.toBe(
      hex(b.bundle.keyPackage.leafNode.encryptionKey),
    );
  });
});
