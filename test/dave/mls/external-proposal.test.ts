import { describe, it, expect } from 'vitest';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { buildExternalAdd, buildExternalRemove } from '../../../src/dave/mls/external-proposal.js';
import { generateP256SigningKey } from '../../../src/dave/mls/mls-sign.js';

const GROUP = Buffer.from('0123456789abcdef', 'hex');

/** opaque<V> for lengths < 64 (what these tests need), written out independently. */
function v(bytes: Buffer): Buffer {
  const n = bytes.length;
  if (n >= 16384) throw new Error('test helper handles vectors < 16384 bytes only');
  return Buffer.concat([n < 64 ? Buffer.of(n) : Buffer.of(0x40 | (n >> 8), n & 0xff), bytes]);
}

describe('external proposals (dave.md §7.3)', () => {
  it('builds a Remove PublicMessage byte for byte, signed over FramedContentTBS, with its ProposalRef', () => {
    const key = generateP256SigningKey();
    const p = buildExternalRemove({ groupId: GROUP, epoch: 5n, signingKey: key }, 3);
    const framed = Buffer.from(
      '08' + '0123456789abcdef' + '0000000000000005' + '0200000000' + '00' + '02' + '0003' + '00000003',
      'hex',
    );
    const msg = Buffer.from(p.message);
    expect(msg.subarray(0, 4).toString('hex')).toBe('00010001');
    expect(msg.subarray(4, 4 + framed.length).equals(framed)).toBe(true);
    // Then exactly one opaque<V> signature (DER, ~70-72 bytes: 2-byte varint), no membership tag.
    const rest = msg.subarray(4 + framed.length);
    const sigLen = ((rest[0]! & 0x3f) << 8) | rest[1]!;
    expect(rest[0]! >> 6).toBe(1);
    expect(rest.length).toBe(2 + sigLen);
    const sig = rest.subarray(2);
    expect(sig[0]).toBe(0x30); // DER SEQUENCE
    const tbs = Buffer.concat([Buffer.from('00010001', 'hex'), framed]);
    const content = Buffer.concat([v(Buffer.from('MLS 1.0 FramedContentTBS')), v(tbs)]);
    expect(verify('sha256', content, createPublicKey(key), sig)).toBe(true);
    // ProposalRef = RefHash over AuthenticatedContent = the message without its version field.
    const ref = createHash('sha256')
      .update(v(Buffer.from('MLS 1.0 Proposal Reference')))
      .update(v(msg.subarray(2)))
      .digest();
    expect(Buffer.from(p.ref).equals(ref)).toBe(true);
  });

  it('carries the key package verbatim in an Add', () => {
    const key = generateP256SigningKey();
    const kp = Buffer.alloc(300, 0xab);
    const p = buildExternalAdd({ groupId: GROUP, epoch: 0n, signingKey: key }, kp);
    const msg = Buffer.from(p.message);
    const header =
      '00010001' + '08' + '0123456789abcdef' + '0000000000000000' + '0200000000' + '00' + '02' + '0001';
    expect(msg.subarray(0, header.length / 2).toString('hex')).toBe(header);
    expect(msg.subarray(header.length / 2, header.length / 2 + 300).equals(kp)).toBe(true);
    expect(p.ref).toHaveLength(32);
  });

  it('refuses a leaf index outside u32', () => {
    const key = generateP256SigningKey();
    expect(() => buildExternalRemove({ groupId: GROUP, epoch: 0n, signingKey: key }, -1)).toThrow(RangeError);
  });
});
