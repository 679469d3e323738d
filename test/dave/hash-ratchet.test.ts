import { describe, it, expect } from 'vitest';
import {
  HashRatchet,
  deriveSecret,
  expandWithLabel,
  exportBaseSecret,
  hkdfExpand,
  mlsExporter,
} from '../../src/dave/hash-ratchet.js';
import { isVoxcordError } from '../../src/errors.js';
import { hex, unhex as bytes } from '../support/bytes.js';

// dave.md §8.2
const EXPORTER_SECRET = '37b4777fbfa0bb7b83d5a4e52d1d249000564918b96436704595c36b57c1e366';
const USER_ID = '158049329150427136';
const BASE_SECRET = '26b5f027e5e5667b121e26734c6ad323';

describe('HKDF / MLS labels', () => {
  it('HKDF-Expand matches RFC 5869 test case 1', () => {
    const prk = bytes('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    const info = bytes('f0f1f2f3f4f5f6f7f8f9');
    expect(hex(hkdfExpand(prk, info, 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('DeriveSecret and the exporter steps match dave.md §8.2', () => {
    const derived = deriveSecret(bytes(EXPORTER_SECRET), 'Discord Secure Frames v0');
    expect(hex(derived)).toBe('ce35bd2de5d3372a7e3f14e875b116271c1df75faf789c1e3c12b9604c43a574');
    const context = bytes('0000000907813102');
    expect(hex(mlsExporter(bytes(EXPORTER_SECRET), 'Discord Secure Frames v0', context, 16))).toBe(
      BASE_SECRET,
    );
  });

  it('MLS-Exporter matches the RFC 9420 key-schedule exporter check (suite 2, epoch 0)', () => {
    // mls-implementations key-schedule.json: the label is the 64-character string itself.
    const out = mlsExporter(
      bytes(EXPORTER_SECRET),
      '9ba13d54ecdec7cbefcb47b4268d7b1990fabc6d6e67681e167959389d84e4e4',
      bytes('884f1af892ab002f5be4c5d5081ade9e0e6418c6ea7a9a92e90534f19dcef785'),
      32,
    );
    expect(hex(out)).toBe('fb21b093a965ca191ddc236dd38791d738d37818d8d3861020151dfdd8ee70b0');
  });

  it('exportBaseSecret derives the base secret from exporter_secret and a user id', () => {
    expect(hex(exportBaseSecret(bytes(EXPORTER_SECRET), USER_ID))).toBe(BASE_SECRET);
    expect(hex(exportBaseSecret(bytes(EXPORTER_SECRET), 158049329150427136n))).toBe(BASE_SECRET);
  });

  it('exportBaseSecret rejects malformed user ids with a typed error', () => {
    for (const bad of ['abcd', '', '-1', '18446744073709551616']) {
      let caught: unknown;
      try {
        exportBaseSecret(bytes(EXPORTER_SECRET), bad);
      } catch (err) {
        caught = err;
      }
      expect(isVoxcordError(caught, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('ExpandWithLabel uses the u16 length, "MLS 1.0 " label and context', () => {
    // secret_1 from §8.2 is ExpandWithLabel(base, "secret", BE32(0), 32).
    expect(hex(expandWithLabel(bytes(BASE_SECRET), 'secret', bytes('00000000'), 32))).toBe(
      '41d5a40af148cdc579d2db02ef0d8362065d00261e1c3eb07fa9832a3665c906',
    );
  });
});

describe('HashRatchet', () => {
  it('derives the §8.2 generation keys', () => {
    const r = new HashRatchet(bytes(BASE_SECRET));
    expect(hex(r.get(0)!)).toBe('6599db507039854e382e24de7184bfde');
    expect(hex(r.get(1)!)).toBe('90ef26584887e3b63e0a2953bacf643e');
    expect(hex(r.get(2)!)).toBe('13e6270b856129bc26c2a533a808426a');
    expect(r.nextGeneration).toBe(3);
  });

  it('jumps ahead and caches the skipped keys', () => {
    const r = new HashRatchet(bytes(BASE_SECRET));
    expect(hex(r.get(2)!)).toBe('13e6270b856129bc26c2a533a808426a');
    expect(hex(r.get(0)!)).toBe('6599db507039854e382e24de7184bfde');
    expect(hex(r.get(1)!)).toBe('90ef26584887e3b63e0a2953bacf643e');
  });

  it('cannot recover an erased generation', () => {
    const r = new HashRatchet(bytes(BASE_SECRET));
    r.get(1);
    r.erase(0);
    expect(r.get(0)).toBeNull();
    expect(hex(r.get(1)!)).toBe('90ef26584887e3b63e0a2953bacf643e');
    r.erase(1);
    expect(r.get(1)).toBeNull();
    expect(hex(r.get(2)!)).toBe('13e6270b856129bc26c2a533a808426a');
  });

  it('matches a second ratchet fed generation by generation, past 255', () => {
    const a = new HashRatchet(bytes(BASE_SECRET));
    const b = new HashRatchet(bytes(BASE_SECRET));
    const jumped = hex(a.get(300)!);
    for (let g = 0; g < 300; g++) {
      b.get(g);
      b.erase(g);
    }
    expect(hex(b.get(300)!)).toBe(jumped);
    expect(a.get(-1)).toBeNull();
  });

  it('does not keep a reference to the caller secret', () => {
    const secret = bytes(BASE_SECRET);
    const r = new HashRatchet(secret);
    secret.fill(0);
    expect(hex(r.get(0)!)).toBe('6599db507039854e382e24de7184bfde');
  });

  it('rejects a base secret of the wrong size', () => {
    expect(() => new HashRatchet(new Uint8Array(32))).toThrow(/16 bytes/);
  });
});
