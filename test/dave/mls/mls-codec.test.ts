import { describe, it, expect } from 'vitest';
import { readMlsMessage } from '../../../src/dave/mls/rfc9420/messages.js';
import {
  encodeExternalSender,
  encodeExternalSendersExtensionData,
  encodeVarint,
  MlsCodecError,
  parseExternalSender,
  parseExternalSendersExtensionData,
  Reader,
  snowflakeToBE64,
  snowflakeToLE64,
  splitCommitWelcome,
  userIdFromIdentity,
} from '../../../src/dave/mls/mls-codec.js';
import { decodeCommitWelcome } from '../../../src/dave/opcodes.js';
import { parseWelcome } from '../../../src/dave/mls/welcome-filter.js';
import { OurMember, TestGateway } from './harness.js';
import { hex, unhex } from '../../support/bytes.js';

describe('MLS varints (dave.md §3.1)', () => {
  it('encodes the documented examples in the shortest form', () => {
    expect(hex(encodeVarint(32))).toBe('20');
    expect(hex(encodeVarint(65))).toBe('4041');
    expect(hex(encodeVarint(300))).toBe('412c');
    expect(hex(encodeVarint(20000))).toBe('80004e20');
    expect(() => encodeVarint(2 ** 30)).toThrow(MlsCodecError);
  });

  it('decodes and rejects non-minimal, invalid-prefix and truncated forms', () => {
    for (const [bytes, value] of [
      ['20', 32],
      ['4041', 65],
      ['412c', 300],
      ['80004e20', 20000],
    ] as const) {
      expect(new Reader(unhex(bytes)).varint()).toBe(value);
    }
    expect(() => new Reader(unhex('4020')).varint()).toThrow(/non-minimal/);
    expect(() => new Reader(unhex('80000020')).varint()).toThrow(/non-minimal/);
    expect(() => new Reader(unhex('c0')).varint()).toThrow(/prefix/);
    expect(() => new Reader(unhex('41')).varint()).toThrow(/truncated/);
    expect(() => new Reader(unhex('05aabb')).opaque()).toThrow(/truncated/);
  });
});

describe('snowflake byte orders', () => {
  it('credential identity is BE64, exporter context LE64 (dave.md §5.3, §8.2)', () => {
    expect(hex(snowflakeToBE64('158049329150427136'))).toBe('0231810709000000');
    expect(hex(snowflakeToLE64('158049329150427136'))).toBe('0000000907813102');
    expect(userIdFromIdentity(unhex('0231810709000000'))).toBe('158049329150427136');
    expect(userIdFromIdentity(unhex('02318107090000'))).toBeUndefined();
    expect(() => snowflakeToBE64('abc')).toThrow(MlsCodecError);
    expect(() => snowflakeToBE64('18446744073709551616')).toThrow(MlsCodecError);
  });
});

describe('ExternalSender and the external_senders vector', () => {
  const key = new Uint8Array(65).fill(4);
  const sender = encodeExternalSender(key, unhex('0100'));

  it('parses op 25 exactly and keeps the encoded bytes', () => {
    expect(hex(sender.subarray(0, 3))).toBe('404104');
    const parsed = parseExternalSender(sender);
    expect(hex(parsed.signatureKey)).toBe(hex(key));
    expect(parsed.credential).toEqual({ credentialType: 1, identity: unhex('0100') });
    expect(hex(parsed.encoded)).toBe(hex(sender));
    expect(() => parseExternalSender(new Uint8Array([...sender, 0]))).toThrow(/trailing/);
    expect(() => parseExternalSender(sender.subarray(0, sender.length - 1))).toThrow(/truncated/);
    const x509 = sender.slice();
    x509[67] = 2;
    expect(() => parseExternalSender(x509)).toThrow(/credential type/);
  });

  it('encodes the extension as a vector and parses several senders', () => {
    const other = encodeExternalSender(new Uint8Array(65).fill(5), unhex('02'));
    const data = encodeExternalSendersExtensionData([sender, other]);
    expect(data[0]).toBe(0x40); // vector length prefix, not the key's
    const parsed = parseExternalSendersExtensionData(data);
    expect(parsed.map((s) => hex(s.encoded))).toEqual([hex(sender), hex(other)]);
    expect(() => parseExternalSendersExtensionData(sender)).toThrow(MlsCodecError);
  });
});

/** Where a full MLSMessage decode of `bytes` stops. */
function messageEnd(bytes: Uint8Array): number {
  const r = new Reader(bytes);
  readMlsMessage(r);
  return r.offset;
}

describe('op 28 commit ‖ welcome split (Appendix A.4)', () => {
  it('finds the end of real commits exactly where the full MLSMessage decoder does, with and without a path', async () => {
    const gw = new TestGateway();
    const a = new OurMember('700000000000000001');
    const b = new OurMember('700000000000000002');
    const c = new OurMember('700000000000000003');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    for (const m of [a, b]) m.recognize([c.userId]);
    await c.externalSender(gw.externalSenderPackage);
    const add = await gw.proposal({ type: 'add', keyPackage: await c.keyPackage() });
    const out = await a.proposals(gw.appendPayload([add.message]));
    if (out === undefined) throw new Error('no commit');
    const { commit, welcome } = splitCommitWelcome(out);
    expect(messageEnd(out)).toBe(commit.length);
    expect(welcome).toBeDefined();
    expect(parseWelcome(welcome ?? new Uint8Array())?.secrets).toHaveLength(1);

    const remove = await gw.proposal({ type: 'remove', leafIndex: 1 });
    const out2 = await a.proposals(gw.appendPayload([add.message, remove.message]).subarray(0)); // Add + Remove: has a path
    if (out2 === undefined) throw new Error('no commit');
    const split2 = decodeCommitWelcome(out2);
    expect(messageEnd(out2)).toBe(split2.commit.length);

    expect(() => splitCommitWelcome(out.subarray(0, 40))).toThrow(MlsCodecError);
    expect(() => splitCommitWelcome(add.message)).toThrow(/not commit/);
  });
});
