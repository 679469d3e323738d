import { describe, it, expect } from 'vitest';
import { isVoxcordError } from '../../src/errors.js';
import {
  decodeAnnounceCommit,
  decodeCommitWelcome,
  decodeExternalSenderPackage,
  decodeKeyPackagePayload,
  decodeProposalsPayload,
  decodeWelcomePayload,
  encodeAnnounceCommit,
  encodeCommitWelcome,
  encodeExternalSenderPackage,
  encodeKeyPackagePayload,
  encodeProposalsPayload,
  encodeWelcomePayload,
} from '../../src/dave/opcodes.js';
import { OurMember, TestGateway } from './mls/harness.js';
import { buildKeyPackage } from '../server/dave/mls-fixtures.js';
import { hex, unhex } from '../support/bytes.js';

function expectMalformed(fn: () => unknown, op: number): void {
  try {
    fn();
  } catch (err) {
    expect(isVoxcordError(err, 'DAVE_PROTOCOL_ERROR')).toBe(true);
    expect((err as { details?: Record<string, unknown> }).details).toEqual({ op, reason: 'malformed' });
    return;
  }
  throw new Error('expected a malformed-payload error');
}

describe('DAVE binary opcode payloads (dave.md §4.7-§4.12)', () => {
  it('op 25: external sender round trip; truncated, trailing and garbage are malformed', () => {
    const key = new Uint8Array(65).fill(4);
    const payload = encodeExternalSenderPackage(key, unhex('00010100'));
    expect(hex(payload.subarray(0, 2))).toBe('4041');
    expect(hex(payload.subarray(67))).toBe('00010400010100');
    const parsed = decodeExternalSenderPackage(payload);
    expect(hex(parsed.signatureKey)).toBe(hex(key));
    expect(hex(parsed.credential.identity)).toBe('00010100');
    expectMalformed(() => decodeExternalSenderPackage(payload.subarray(0, 60)), 25);
    expectMalformed(() => decodeExternalSenderPackage(new Uint8Array([...payload, 1])), 25);
    expectMalformed(() => decodeExternalSenderPackage(new Uint8Array()), 25);
  });

  it('op 26: bare key package passes through; an MLSMessage-wrapped one is unwrapped', () => {
    const bare = unhex('00010002404104');
    expect(encodeKeyPackagePayload(bare)).toBe(bare);
    expect(hex(decodeKeyPackagePayload(bare))).toBe(hex(bare));
    expect(hex(decodeKeyPackagePayload(unhex('0001000500010002404104')))).toBe(hex(bare));
    expectMalformed(() => decodeKeyPackagePayload(unhex('0002')), 26);
    expectMalformed(() => decodeKeyPackagePayload(unhex('00020002')), 26);
  });

  it('op 27: append of real proposals and revoke of refs round trip; bad payloads are malformed', async () => {
    const gw = new TestGateway();
    const m = new OurMember('800000000000000001');
    await m.externalSender(gw.externalSenderPackage);
    const kp = await m.keyPackage();
    const add = await gw.proposal({ type: 'add', keyPackage: kp });
    const remove = await gw.proposal({ type: 'remove', leafIndex: 3 });
    const append = encodeProposalsPayload({ operation: 'append', messages: [add.message, remove.message] });
    expect(append[0]).toBe(0);
    const decoded = decodeProposalsPayload(append);
    expect(decoded.operation).toBe('append');
    expect(decoded.operation === 'append' && decoded.messages.map(hex)).toEqual([
      hex(add.message),
      hex(remove.message),
    ]);

    const revoke = encodeProposalsPayload({ operation: 'revoke', refs: [add.ref, remove.ref] });
    expect(hex(revoke.subarray(0, 3))).toBe('014042'); // op, varint 66, then 20 ‖ ref …
    expect(revoke[3]).toBe(0x20);
    const decodedRevoke = decodeProposalsPayload(revoke);
    expect(decodedRevoke.operation === 'revoke' && decodedRevoke.refs.map(hex)).toEqual([
      hex(add.ref),
      hex(remove.ref),
    ]);

    expectMalformed(() => decodeProposalsPayload(append.subarray(0, append.length - 1)), 27);
    expectMalformed(() => decodeProposalsPayload(new Uint8Array([...append, 0])), 27);
    expectMalformed(() => decodeProposalsPayload(unhex('0200')), 27);
    expectMalformed(() => decodeProposalsPayload(unhex('0000')), 27);
    // a proposal type DAVE does not allow (update = 2) inside an append
    const update = add.message.slice();
    const typeOffset = 4 + 1 + 8 + 8 + 5 + 1 + 1;
    expect(hex(update.subarray(typeOffset, typeOffset + 2))).toBe('0001');
    update[typeOffset + 1] = 2;
    expectMalformed(
      () => decodeProposalsPayload(encodeProposalsPayload({ operation: 'append', messages: [update] })),
      27,
    );
    // Adds must carry a basic-credential key_package leaf
    const x509 = await gw.proposal({
      type: 'add',
      keyPackage: buildKeyPackage({ userId: m.userId, credentialType: 2 }),
    });
    expectMalformed(
      () => decodeProposalsPayload(encodeProposalsPayload({ operation: 'append', messages: [x509.message] })),
      27,
    );
  });

  it('op 28: commit ‖ welcome split; op 29 / op 30 carry a BE u16 transition id', async () => {
    const gw = new TestGateway();
    const a = new OurMember('810000000000000001');
    const b = new OurMember('810000000000000002');
    await gw.connectFirst(a);
    await b.externalSender(gw.externalSenderPackage);
    b.recognize([a.userId]);
    await b.keyPackage();
    const aKp = (await a.keyPackage()) ?? new Uint8Array();
    const add = await gw.proposal({ type: 'add', keyPackage: aKp }, 0n);
    const out = await b.proposals(gw.appendPayload([add.message]));
    if (out === undefined) throw new Error('no commit');
    const { commit, welcome } = decodeCommitWelcome(out);
    expect(hex(commit.subarray(0, 4))).toBe('00010001');
    expect(hex((welcome ?? new Uint8Array()).subarray(0, 2))).toBe('0002');
    expect(hex(encodeCommitWelcome(commit, welcome))).toBe(hex(out));
    expect(hex(encodeCommitWelcome(commit))).toBe(hex(commit));
    expectMalformed(() => decodeCommitWelcome(out.subarray(0, 30)), 28);
    expectMalformed(() => decodeCommitWelcome(add.message), 28);

    const announce = encodeAnnounceCommit(0x1234, commit);
    expect(hex(announce.subarray(0, 2))).toBe('1234');
    expect(decodeAnnounceCommit(announce)).toEqual({ transitionId: 0x1234, commit });
    expectMalformed(() => decodeAnnounceCommit(unhex('12')), 29);
    expectMalformed(() => decodeAnnounceCommit(unhex('1234')), 29);

    const w = encodeWelcomePayload(7, welcome ?? new Uint8Array([0]));
    expect(decodeWelcomePayload(w)).toEqual({ transitionId: 7, welcome });
    expectMalformed(() => decodeWelcomePayload(unhex('00')), 30);
    expect(() => encodeWelcomePayload(70000, new Uint8Array([0]))).toThrow();
  });
});
