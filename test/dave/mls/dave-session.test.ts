import { inspect } from 'node:util';
import { describe, it, expect } from 'vitest';
import { createCommit, createGroup, protectMemberMessage } from '../../../src/dave/mls/rfc9420/group.js';
import type { GroupState } from '../../../src/dave/mls/rfc9420/group.js';
import {
  ContentType,
  decode,
  encode,
  EXTENSION_EXTERNAL_SENDERS,
  ProposalType,
  readKeyPackage,
  SenderType,
  WireFormat,
  writeMlsMessage,
} from '../../../src/dave/mls/rfc9420/messages.js';
import { isVoxcordError } from '../../../src/errors.js';
import { DaveSession } from '../../../src/dave/mls/dave-session.js';
import type { DaveResult } from '../../../src/dave/mls/dave-session.js';
import { createDaveKeyPackage, generateP256KeyPair } from '../../../src/dave/mls/key-package.js';
import {
  encodeExternalSender,
  encodeExternalSendersExtensionData,
  snowflakeToBE64,
} from '../../../src/dave/mls/mls-codec.js';
import { generateP256SigningKey } from '../../../src/dave/mls/mls-sign.js';
import {
  decodeCommitWelcome,
  decodeProposalsPayload,
  encodeProposalsPayload,
} from '../../../src/dave/opcodes.js';
import { CHANNEL_ID, DaveyMember, OurMember, signedProposal, TestGateway } from './harness.js';

function reasonOf(result: DaveResult): unknown {
  expect(isVoxcordError(result.error, 'DAVE_PROTOCOL_ERROR')).toBe(true);
  return result.error?.details?.reason;
}

/** op 31 for the transition, then a fresh key package (op 26). */
function expectInvalidAndRejoin(result: DaveResult, transitionId: number): void {
  expect(result.send[0]).toEqual({ op: 31, transitionId });
  expect(result.send[1]?.op).toBe(26);
  expect(result.send).toHaveLength(2);
}

async function pendingMember(gw: TestGateway, id: string, recognized: string[] = []): Promise<OurMember> {
  const m = new OurMember(id);
  m.recognize(recognized);
  await m.externalSender(gw.externalSenderPackage);
  await m.keyPackage();
  return m;
}

async function otherKeyPackage(userId: string): Promise<Uint8Array> {
  return Promise.resolve(createDaveKeyPackage(userId, generateP256KeyPair()).encoded);
}

function currentGroupOf(m: OurMember): GroupState {
  const state = (m.session as unknown as { currentGroup: GroupState | undefined }).currentGroup;
  if (state === undefined) throw new Error('no group');
  return state;
}

describe('DaveSession: proposals (op 27) rules', () => {
  const B = '600000000000000002';

  it('ignores proposals without any group, and a revoke of everything yields no commit', async () => {
    const gw = new TestGateway();
    const fresh = new DaveSession({ userId: '600000000000000001', channelId: CHANNEL_ID });
    const add = await gw.proposal({ type: 'add', keyPackage: await otherKeyPackage(B) }, 0n);
    const ignored = await fresh.onProposals({ operation: 'append', messages: [add.message] });
    expect(ignored).toMatchObject({ send: [], ignored: 'no group' });

    const a = await pendingMember(gw, '600000000000000001', [B]);
    const committed = await a.session.onProposals({ operation: 'append', messages: [add.message] });
    expect(committed.send.map((s) => s.op)).toEqual([28]);
    const revoked = await a.session.onProposals({ operation: 'revoke', refs: [add.ref] });
    expect(revoked).toEqual({ send: [] });
    const unknown = await a.session.onProposals({ operation: 'revoke', refs: [add.ref] });
    expect(reasonOf(unknown)).toBe('unknown_proposal_ref');
    expect(unknown.send).toEqual([]);
  });

  it('rejects wrong group, wrong epoch, a forged signer, unrecognised users and garbage, sending nothing', async () => {
    const gw = new TestGateway();
    const a = await pendingMember(gw, '600000000000000001', [B]);
    const kp = await otherKeyPackage(B);
    const add = { type: 'add', keyPackage: kp } as const;
    const cases: [Uint8Array, string][] = [
      [
        signedProposal(add, { groupId: snowflakeToBE64('42'), epoch: 0n, signingKey: gw.externalSenderKey })
          .message,
        'wrong_group',
      ],
      [(await gw.proposal({ type: 'add', keyPackage: kp }, 3n)).message, 'wrong_epoch'],
      [
        signedProposal(add, {
          groupId: snowflakeToBE64(CHANNEL_ID),
          epoch: 0n,
          signingKey: generateP256SigningKey(),
        }).message,
        'bad_signature',
      ],
      [
        (await gw.proposal({ type: 'add', keyPackage: await otherKeyPackage('600000000000000099') }, 0n))
          .message,
        'unrecognized_user',
      ],
      [new Uint8Array([0, 1, 0, 1, 9, 9, 9]), 'malformed'],
    ];
    for (const [message, reason] of cases) {
      const result = await a.session.onProposals({ operation: 'append', messages: [message] });
      expect(reasonOf(result), reason).toBe(reason);
      expect(result.send).toEqual([]);
    }
    // a rejected batch leaves the queue untouched: nothing to commit yet
    expect(await a.session.onProposals({ operation: 'revoke', refs: [new Uint8Array(32)] })).toMatchObject({
      send: [],
    });
  });

  it('the op 27 decoder refuses garbage and non-DAVE proposal types before the session sees them', () => {
    expect(() => decodeProposalsPayload(new Uint8Array([0]))).toThrow(/malformed/);
    expect(() => decodeProposalsPayload(new Uint8Array([7, 0]))).toThrow(/malformed/);
  });
});

describe('DaveSession: commits (op 29)', () => {
  it('ignores a commit when no proposals were received this epoch', async () => {
    const gw = new TestGateway();
    const a = new OurMember('610000000000000001');
    const b = new OurMember('610000000000000002');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    const r = await a.session.onAnnounceCommit({ transitionId: 9, commit: new Uint8Array([0, 1, 0, 1]) });
    expect(r).toEqual({ send: [], ignored: 'no proposals this epoch' });
  });

  it('refuses a commit with an inline proposal (op 31 + new key package)', async () => {
    const gw = new TestGateway();
    const a = new OurMember('620000000000000001');
    const b = new OurMember('620000000000000002');
    const c = '620000000000000003';
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    a.recognize([c]);
    b.recognize([c]);
    const kpC = await otherKeyPackage(c);
    const add = await gw.proposal({ type: 'add', keyPackage: kpC });
    await b.proposals(gw.appendPayload([add.message])); // b now has proposals queued
    const state = currentGroupOf(a);
    const keyPackage = decode(readKeyPackage, kpC, 'key package');
    const inline = protectMemberMessage(
      {
        groupId: state.context.groupId,
        epoch: state.context.epoch,
        sender: { type: SenderType.Member, index: state.ownLeaf },
        authenticatedData: new Uint8Array(0),
        body: {
          contentType: ContentType.Commit,
          commit: { proposals: [{ kind: 'proposal', proposal: { type: ProposalType.Add, keyPackage } }] },
        },
      },
      state.context,
      state.membershipKey,
      state.signaturePrivate,
      new Uint8Array(32),
    );
    const commit = encode(writeMlsMessage, { wireFormat: WireFormat.PublicMessage, publicMessage: inline });
    const r = await b.session.onAnnounceCommit({ transitionId: 5, commit });
    expect(reasonOf(r)).toBe('inline_proposal');
    expectInvalidAndRejoin(r, 5);
    expect(b.session.established).toBe(false);
  });

  it('refuses a replayed commit from an older epoch', async () => {
    const gw = new TestGateway();
    const a = new OurMember('630000000000000001');
    const b = new OurMember('630000000000000002');
    const c = new OurMember('630000000000000003');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    // epoch 1 -> 2 by a's commit, keep its bytes
    for (const m of [a, b]) m.recognize([c.userId, '630000000000000004']);
    await c.externalSender(gw.externalSenderPackage);
    const addC = await gw.proposal({ type: 'add', keyPackage: await c.keyPackage() });
    const outA = await a.proposals(gw.appendPayload([addC.message]));
    await b.proposals(gw.appendPayload([addC.message]));
    const old = decodeCommitWelcome(outA ?? new Uint8Array()).commit;
    await a.session.onAnnounceCommit({ transitionId: 1, commit: old });
    await b.session.onAnnounceCommit({ transitionId: 1, commit: old });
    expect(b.session.epoch).toBe(2n);
    const addD = await gw.proposal(
      { type: 'add', keyPackage: await otherKeyPackage('630000000000000004') },
      2n,
    );
    await b.proposals(gw.appendPayload([addD.message]));
    const r = await b.session.onAnnounceCommit({ transitionId: 2, commit: old });
    expect(reasonOf(r)).toBe('wrong_epoch');
    expectInvalidAndRejoin(r, 2);
  });

  it('refuses a group where one user id appears twice (after adopting its own commit)', async () => {
    const gw = new TestGateway();
    const ours = new OurMember('640000000000000001');
    const davey = new DaveyMember('640000000000000002');
    const dup = '640000000000000003';
    await gw.connectFirst(davey);
    await gw.connectSecond(ours, 'second');
    ours.recognize([dup]);
    const add1 = await gw.proposal({ type: 'add', keyPackage: await otherKeyPackage(dup) });
    const add2 = await gw.proposal({ type: 'add', keyPackage: await otherKeyPackage(dup) });
    const out = await ours.proposals(gw.appendPayload([add1.message, add2.message]));
    const { commit } = decodeCommitWelcome(out ?? new Uint8Array());
    const r = await ours.session.onAnnounceCommit({ transitionId: 3, commit });
    expect(reasonOf(r)).toBe('duplicate_user');
    expectInvalidAndRejoin(r, 3);
  });

  it('reports its own removal as a failure', async () => {
    const gw = new TestGateway();
    const a = new OurMember('650000000000000001');
    const b = new OurMember('650000000000000002');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first'); // leaves: [a, b]
    const remove = await gw.proposal({ type: 'remove', leafIndex: 0 });
    const outB = await b.proposals(gw.appendPayload([remove.message]));
    // the removed member cannot commit its own removal (like davey's CannotRemoveSelf) but queues it
    const own = await a.session.onProposals(decodeProposalsPayload(gw.appendPayload([remove.message])));
    expect(reasonOf(own)).toBe('commit_failed');
    expect(own.send).toEqual([]);
    const r = await a.session.onAnnounceCommit({
      transitionId: 4,
      commit: decodeCommitWelcome(outB ?? new Uint8Array()).commit,
    });
    expect(reasonOf(r)).toBe('self_removed');
    expectInvalidAndRejoin(r, 4);
  });
});

describe('DaveSession: welcomes (op 30)', () => {
  /** A Welcome adding `kp` to a group made by the MLS layer directly, with the given external senders. */
  async function welcomeFor(
    kp: Uint8Array,
    senders: Uint8Array[],
    groupId = snowflakeToBE64(CHANNEL_ID),
  ): Promise<Uint8Array> {
    const creator = createDaveKeyPackage('660000000000000009', generateP256KeyPair());
    const state = createGroup(groupId, creator.bundle, [
      {
        extensionType: EXTENSION_EXTERNAL_SENDERS,
        extensionData: encodeExternalSendersExtensionData(senders),
      },
    ]);
    const keyPackage = decode(readKeyPackage, kp, 'key package');
    const result = createCommit(state, [
      { ref: new Uint8Array(32), proposal: { type: ProposalType.Add, keyPackage } },
    ]);
    if (result.welcome === undefined) throw new Error('no welcome');
    return Promise.resolve(result.welcome);
  }

  it('joins a well-formed Welcome at transition 0 and executes immediately (no op 23)', async () => {
    const gw = new TestGateway();
    const m = await pendingMember(gw, '660000000000000001');
    const kp = m.results.at(-1)?.send[0];
    const welcome = await welcomeFor(kp !== undefined && 'payload' in kp ? kp.payload : new Uint8Array(), [
      gw.externalSenderPackage,
    ]);
    const r = await m.session.onWelcome({ transitionId: 0, welcome });
    expect(r).toEqual({
      send: [],
      prepareRatchets: { transitionId: 0, protocolVersion: 1 },
      execute: { transitionId: 0, protocolVersion: 1 },
    });
    expect(m.session.established).toBe(true);
    expect(m.session.roster.size).toBe(2);
    expect((await m.session.exportBaseSecret('660000000000000009'))?.length).toBe(16);
  });

  it('refuses two external senders, a different sender, a Welcome for someone else, another group, garbage', async () => {
    const gw = new TestGateway();
    const other = encodeExternalSender(generateP256KeyPair().publicKey, new Uint8Array([1]));
    const cases: [(kp: Uint8Array) => Promise<Uint8Array>, string][] = [
      [(kp) => welcomeFor(kp, [gw.externalSenderPackage, other]), 'external_sender_mismatch'],
      [(kp) => welcomeFor(kp, [other]), 'external_sender_mismatch'],
      [
        async () => welcomeFor(await otherKeyPackage('660000000000000002'), [gw.externalSenderPackage]),
        'welcome_failed',
      ],
      [(kp) => welcomeFor(kp, [gw.externalSenderPackage], snowflakeToBE64('77')), 'wrong_group'],
      [async () => new Uint8Array([0, 2, 0, 0]), 'welcome_failed'], // well-formed, no secrets
      [async () => new Uint8Array([0, 2, 5]), 'malformed'],
    ];
    for (const [make, reason] of cases) {
      const m = await pendingMember(gw, '660000000000000001');
      const sent = m.results.at(-1)?.send[0];
      const welcome = await make(sent !== undefined && 'payload' in sent ? sent.payload : new Uint8Array());
      const r = await m.session.onWelcome({ transitionId: 12, welcome });
      expect(reasonOf(r), reason).toBe(reason);
      expectInvalidAndRejoin(r, 12);
      expect(m.session.established).toBe(false);
    }
  });

  it('refuses a Welcome before op 25 and while already in a group', async () => {
    const early = new DaveSession({ userId: '660000000000000005', channelId: CHANNEL_ID });
    await early.init(1);
    expect(reasonOf(await early.onWelcome({ transitionId: 1, welcome: new Uint8Array([0, 2]) }))).toBe(
      'no_external_sender',
    );

    const gw = new TestGateway();
    const a = new OurMember('660000000000000006');
    const b = new OurMember('660000000000000007');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    const r = await b.session.onWelcome({ transitionId: 2, welcome: new Uint8Array([0, 2]) });
    expect(reasonOf(r)).toBe('group_established');
  });
});

describe('DaveSession: transitions (ops 21, 22, 24)', () => {
  it('prepare -> ready -> execute, downgrade drops MLS state, unknown ids are ignored', async () => {
    const gw = new TestGateway();
    const a = new OurMember('670000000000000001');
    const b = new OurMember('670000000000000002');
    await gw.connectFirst(a);
    await gw.connectSecond(b, 'first');
    expect(a.results.at(-1)?.send).toEqual([{ op: 23, transitionId: 1 }]);
    expect(await a.session.onExecuteTransition(1)).toEqual({
      send: [],
      execute: { transitionId: 1, protocolVersion: 1 },
    });
    expect(await a.session.onExecuteTransition(1)).toMatchObject({
      send: [],
      ignored: 'unknown transition 1',
    });

    const prep = await a.session.onPrepareTransition({ transitionId: 7, protocolVersion: 0 });
    expect(prep).toEqual({
      send: [{ op: 23, transitionId: 7 }],
      prepareRatchets: { transitionId: 7, protocolVersion: 0 },
    });
    expect(a.session.established).toBe(true);
    expect(await a.session.onExecuteTransition(7)).toEqual({
      send: [],
      execute: { transitionId: 7, protocolVersion: 0 },
    });
    expect(a.session.established).toBe(false);
    expect(a.session.protocolVersion).toBe(0);
    expect(await a.session.exportBaseSecret(a.userId)).toBeUndefined();

    // upgrade: op 24 epoch 1 -> new key package
    const up = await a.session.onPrepareEpoch({ epoch: 1, protocolVersion: 1, transitionId: 8 });
    expect(up.send.map((s) => s.op)).toEqual([26]);
    expect(a.session.protocolVersion).toBe(1);
    // a version change of an existing group reports ready for its transition
    expect(await a.session.onPrepareEpoch({ epoch: 2, protocolVersion: 1, transitionId: 9 })).toEqual({
      send: [{ op: 23, transitionId: 9 }],
    });

    // sole-member reset: op 21 with transition 0 executes immediately, no op 23
    const reset = await b.session.onPrepareTransition({ transitionId: 0, protocolVersion: 1 });
    expect(reset).toEqual({
      send: [],
      prepareRatchets: { transitionId: 0, protocolVersion: 1 },
      execute: { transitionId: 0, protocolVersion: 1 },
    });
  });

  it('init(0) sends nothing; handlers never throw on garbage', async () => {
    const s = new DaveSession({ userId: '680000000000000001', channelId: CHANNEL_ID });
    expect(await s.init(0)).toEqual({ send: [] });
    expect(reasonOf(await s.onExternalSender(new Uint8Array([1, 2, 3])))).toBe('malformed');
    expect(reasonOf(await s.init(-1))).toBe('invalid_argument');
    expect(() => new DaveSession({ userId: 'nope', channelId: CHANNEL_ID })).toThrow();
  });
});

describe('DaveSession: state held once a group exists', () => {
  const NONE = {
    keyPackage: false,
    pendingGroup: false,
    proposalState: false,
    outboundCommit: false,
    privateMessageSecrets: false,
  };

  it('drops the key package, the pending group, proposal states and PrivateMessage secrets', async () => {
    const gw = new TestGateway();
    const a = new OurMember('670000000000000001');
    const b = new OurMember('670000000000000002');
    const c = new OurMember('670000000000000003');
    await gw.connectFirst(a);
    expect(a.session.retained).toMatchObject({ keyPackage: true, pendingGroup: true });
    await gw.connectSecond(b, 'first'); // a adopts its own commit, b joins from the Welcome
    expect(a.session.retained).toEqual(NONE);
    expect(b.session.retained).toEqual(NONE);
    // util.inspect shows the shape only: no exporter secret, no key material
    const shown = inspect(a.session, { depth: 10 });
    const base = Buffer.from((await a.session.exportBaseSecret(a.userId)) ?? []).toString('hex');
    expect(shown).toContain('epoch: 1');
    expect(shown).not.toContain(base);
    expect(shown).not.toMatch(/Uint8Array|Buffer|[0-9a-f]{32}/);

    // Between op 27 and op 29 the epoch's proposal and commit states exist; a revoke drops the commit.
    const remove = await gw.proposal({ type: 'remove', leafIndex: 1 });
    await a.proposals(gw.appendPayload([remove.message]));
    expect(a.session.retained).toMatchObject({ proposalState: true, outboundCommit: true });
    await a.proposals(encodeProposalsPayload({ operation: 'revoke', refs: [remove.ref] }));
    expect(a.session.retained).toMatchObject({ outboundCommit: false, privateMessageSecrets: false });

    // Later epochs still work on the trimmed states: c joins (b commits, a processes), a leaves.
    const gw2 = new TestGateway();
    const [x, y] = [new OurMember('670000000000000011'), new OurMember('670000000000000012')];
    await gw2.connectFirst(x);
    await gw2.connectSecond(y, 'second');
    await gw2.add(c, y);
    expect(x.session.retained).toEqual(NONE);
    await gw2.remove(x, c);
    for (const m of [y, c]) expect(m.session.retained).toEqual(NONE);
    expect(y.epoch()).toBe(3n);
    expect(Buffer.from(y.epochAuthenticator()!)).toEqual(Buffer.from(c.epochAuthenticator()!));
    const frame = await c.encrypt(Uint8Array.of(0xfc, 1, 2, 3));
    expect([...(await y.decrypt(c.userId, frame))]).toEqual([0xfc, 1, 2, 3]);
  });
});
