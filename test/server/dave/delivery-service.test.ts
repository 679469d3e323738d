/**
 * DaveDeliveryService with hand-built MLS input: every rejection reason, exact output bytes,
 * revocation, and "bad input never throws".
 */
import { describe, it, expect } from 'vitest';
import { VoiceOpcode } from '../../../src/protocol/constants.js';
import { DaveDeliveryService } from '../../../src/server/dave/delivery-service.js';
import type { DaveInputResult, DaveOutbound } from '../../../src/server/dave/delivery-service.js';
import { decodeProposalsPayload, decodeWelcomePayload } from '../../../src/dave/opcodes.js';
import { concatBytes, snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import {
  generateP256SigningKey,
  keyPackageRef,
  proposalRefOfMessage,
} from '../../../src/dave/mls/mls-sign.js';
import { parseWelcome } from '../../../src/dave/mls/welcome-filter.js';
import { buildKeyPackage, buildLeafNode, craftCommit, craftWelcome } from './mls-fixtures.js';
import { SimCall } from './davey-harness.js';
import type { ServerMessage } from '../../../src/protocol/voice-messages.js';

const CH = '1300000000000000001';
const A = '1000000000000000001';
const B = '1000000000000000002';
const C = '1000000000000000003';
const GROUP = snowflakeToBE64(CH);

function reason(r: DaveInputResult): string {
  return r.accepted ? 'accepted' : r.reason;
}

/** The proposal refs of every op 27 append sent to `to`, in order. */
function refsSentTo(out: DaveOutbound[], to: string): Uint8Array[] {
  const refs: Uint8Array[] = [];
  for (const o of out) {
    if (o.to !== to || o.message.op !== VoiceOpcode.DaveMlsProposals) continue;
    const p = decodeProposalsPayload(o.message.payload);
    if (p.operation === 'append') refs.push(...p.messages.map((m) => proposalRefOfMessage(m)));
  }
  return refs;
}

/** Two pending users, each holding the other's Add at epoch 0. */
function pendingPair() {
  const svc = new DaveDeliveryService({ channelId: CH });
  const keyA = generateP256SigningKey();
  const keyB = generateP256SigningKey();
  const kpA = buildKeyPackage({ userId: A, signingKey: keyA });
  const kpB = buildKeyPackage({ userId: B, signingKey: keyB });
  const log: DaveOutbound[] = [];
  log.push(...svc.join(A, 1));
  const ra = svc.keyPackage(A, kpA);
  expect(reason(ra)).toBe('accepted');
  log.push(...ra.out);
  log.push(...svc.join(B, 1));
  const rb = svc.keyPackage(B, kpB);
  expect(reason(rb)).toBe('accepted');
  log.push(...rb.out);
  const [refB] = refsSentTo(log, A);
  const [refA] = refsSentTo(log, B);
  return { svc, keyA, keyB, kpA, kpB, refA: refA!, refB: refB!, log };
}

/** A's valid creation commit (adds B) with a Welcome for kpB plus an unrelated entry. */
function creationCommit(
  f: ReturnType<typeof pendingPair>,
  extra: Partial<Parameters<typeof craftCommit>[0]> = {},
) {
  const commit = craftCommit({
    groupId: GROUP,
    epoch: 0n,
    senderLeaf: 0,
    entries: [{ ref: f.refB }],
    ...extra,
  });
  const welcome = craftWelcome([keyPackageRef(f.kpB), new Uint8Array(32).fill(9)]);
  return { commit, welcome, payload: concatBytes(commit, welcome) };
}

describe('key package validation (op 26)', () => {
  const svc = new DaveDeliveryService({ channelId: CH });
  svc.join(A, 1);

  it('accepts a well-formed key package, bare or MLSMessage-wrapped', () => {
    expect(reason(svc.keyPackage(A, buildKeyPackage({ userId: A })))).toBe('accepted');
    const wrapped = concatBytes(Uint8Array.of(0, 1, 0, 5), buildKeyPackage({ userId: A }));
    expect(reason(svc.keyPackage(A, wrapped))).toBe('accepted');
  });

  it.each([
    ['garbage', Uint8Array.of(1, 2, 3), 'wrong-version'],
    ['a 3-byte stub', Uint8Array.of(0, 1, 0), 'malformed'],
    ['empty', new Uint8Array(0), 'malformed'],
    ['someone else’s identity', buildKeyPackage({ userId: B }), 'wrong-identity'],
    [
      'a 4-byte identity',
      buildKeyPackage({ userId: A, identity: Uint8Array.of(1, 2, 3, 4) }),
      'wrong-identity',
    ],
    ['2^63-1 lifetime', buildKeyPackage({ userId: A, notAfter: (1n << 63n) - 1n }), 'wrong-lifetime'],
    ['not_before 1', buildKeyPackage({ userId: A, notBefore: 1n }), 'wrong-lifetime'],
    ['bad leaf signature', buildKeyPackage({ userId: A, corruptLeafSignature: true }), 'bad-leaf-signature'],
    [
      'bad key package signature',
      buildKeyPackage({ userId: A, corruptKeyPackageSignature: true }),
      'bad-key-package-signature',
    ],
    ['cipher suite 1', buildKeyPackage({ userId: A, suite: 1 }), 'wrong-cipher-suite'],
    ['MLS version 2', buildKeyPackage({ userId: A, version: 2 }), 'wrong-version'],
    ['x509 credential', buildKeyPackage({ userId: A, credentialType: 2 }), 'wrong-credential-type'],
    ['trailing bytes', concatBytes(buildKeyPackage({ userId: A }), Uint8Array.of(0)), 'malformed'],
    ['truncated', buildKeyPackage({ userId: A }).subarray(0, 150), 'malformed'],
  ])('rejects %s', (_name, bytes, expected) => {
    const r = svc.keyPackage(A, bytes);
    expect(reason(r)).toBe(expected);
    expect(r.out).toEqual([]);
  });

  it('rejects key packages from unknown users and from version-0 calls', () => {
    expect(reason(svc.keyPackage(C, buildKeyPackage({ userId: C })))).toBe('unknown-user');
    const v0 = new DaveDeliveryService({ channelId: CH });
    v0.join(A, 0);
    expect(reason(v0.keyPackage(A, buildKeyPackage({ userId: A })))).toBe('dave-inactive');
  });
});

describe('external proposals in an unestablished group', () => {
  it('sends each pending member the Adds of the others, never its own', () => {
    const f = pendingPair();
    const toA = refsSentTo(f.log, A);
    const toB = refsSentTo(f.log, B);
    expect(toA).toHaveLength(1);
    expect(toB).toHaveLength(1);
    expect(Buffer.from(toA[0]!).equals(Buffer.from(toB[0]!))).toBe(false);
    // Add(kpA) went to B, carrying A's key package byte for byte.
    const msgToB = f.log.find((o) => o.to === B && o.message.op === VoiceOpcode.DaveMlsProposals)!;
    const decoded = decodeProposalsPayload((msgToB.message as { payload: Uint8Array }).payload);
    expect(decoded.operation).toBe('append');
    const msg = decoded.operation === 'append' ? decoded.messages[0]! : new Uint8Array();
    expect(Buffer.from(msg).includes(Buffer.from(f.kpA))).toBe(true);
  });

  it('revokes the Add of a pending member who leaves', () => {
    const f = pendingPair();
    const out = f.svc.leave(A);
    expect(out).toHaveLength(1);
    expect(out[0]!.to).toBe(B);
    const p = decodeProposalsPayload((out[0]!.message as { payload: Uint8Array }).payload);
    expect(p).toEqual({ operation: 'revoke', refs: [f.refA] });
    // A commit still referencing the revoked Add is refused.
    const commit = craftCommit({ groupId: GROUP, epoch: 0n, senderLeaf: 0, entries: [{ ref: f.refA }] });
    expect(reason(f.svc.commitWelcome(B, concatBytes(commit, craftWelcome([keyPackageRef(f.kpA)]))))).toBe(
      'proposal-set-mismatch',
    );
  });

  it('revokes the old Add when a pending member replaces its key package', () => {
    const f = pendingPair();
    const r = f.svc.keyPackage(A, buildKeyPackage({ userId: A, signingKey: f.keyA }));
    expect(r.out.map((o) => [o.to, o.message.op])).toEqual([
      [B, VoiceOpcode.DaveMlsProposals],
      [B, VoiceOpcode.DaveMlsProposals],
    ]);
    const [revoke, append] = r.out.map((o) =>
      decodeProposalsPayload((o.message as { payload: Uint8Array }).payload),
    );
    expect(revoke).toEqual({ operation: 'revoke', refs: [f.refA] });
    expect(append?.operation).toBe('append');
  });
});

describe('commit selection (op 28)', () => {
  it('accepts the first valid commit and fans out op 29 (unchanged bytes) and a filtered op 30', () => {
    const f = pendingPair();
    const { commit, payload } = creationCommit(f);
    const r = f.svc.commitWelcome(A, payload);
    expect(reason(r)).toBe('accepted');
    expect(r.out.map((o) => [o.to, o.message.op])).toEqual([
      [A, VoiceOpcode.DaveMlsAnnounceCommitTransition],
      [B, VoiceOpcode.DaveMlsWelcome],
    ]);
    const announce = (r.out[0]!.message as { payload: Uint8Array }).payload;
    const tid = (announce[0]! << 8) | announce[1]!;
    expect(tid).toBe(1);
    expect(Buffer.from(announce.subarray(2)).equals(Buffer.from(commit))).toBe(true);
    const w = decodeWelcomePayload((r.out[1]!.message as { payload: Uint8Array }).payload);
    expect(w.transitionId).toBe(tid);
    const parsed = parseWelcome(w.welcome)!;
    expect(parsed.secrets).toHaveLength(1);
    expect(Buffer.from(parsed.secrets[0]!.newMember).equals(Buffer.from(keyPackageRef(f.kpB)))).toBe(true);
    expect(f.svc.epoch).toBe(1);
    expect(f.svc.members()).toEqual([A, B]);

    // Any other commit for epoch 0 (B's, or A's again) is now stale.
    const bCommit = craftCommit({ groupId: GROUP, epoch: 0n, senderLeaf: 0, entries: [{ ref: f.refA }] });
    expect(reason(f.svc.commitWelcome(B, concatBytes(bCommit, craftWelcome([keyPackageRef(f.kpA)]))))).toBe(
      'wrong-epoch',
    );
    expect(reason(f.svc.commitWelcome(A, payload))).toBe('wrong-epoch');
  });

  it.each([
    ['wrong epoch', { epoch: 1n }, 'wrong-epoch'],
    ['wrong group', { groupId: snowflakeToBE64('42') }, 'wrong-group'],
    ['wrong sender leaf', { senderLeaf: 1 }, 'wrong-sender-leaf'],
    ['no proposals', { entries: [] }, 'empty-commit'],
    ['an inline proposal', { entries: [{ inlineRemove: 1 }] }, 'inline-proposal'],
    ['a PrivateMessage', { wireFormat: 2 }, 'not-public-message'],
    ['a proposal instead of a commit', { contentType: 2 }, 'not-commit'],
    ['an external sender', { senderType: 2 }, 'not-member-sender'],
  ] as const)('rejects %s', (_name, extra, expected) => {
    const f = pendingPair();
    const { payload } = creationCommit(f, extra as Partial<Parameters<typeof craftCommit>[0]>);
    const r = f.svc.commitWelcome(A, payload);
    expect(reason(r)).toBe(expected);
    expect(r.out).toEqual([]);
    expect(f.svc.established).toBe(false);
  });

  it('rejects a commit that misses, repeats or invents a proposal ref', () => {
    const f = pendingPair();
    const welcome = craftWelcome([keyPackageRef(f.kpB)]);
    const commitWith = (entries: { ref: Uint8Array }[]) =>
      concatBytes(craftCommit({ groupId: GROUP, epoch: 0n, senderLeaf: 0, entries }), welcome);
    // A's own Add was never sent to A: referencing it is not the expected set.
    expect(reason(f.svc.commitWelcome(A, commitWith([{ ref: f.refA }])))).toBe('proposal-set-mismatch');
    expect(reason(f.svc.commitWelcome(A, commitWith([{ ref: f.refB }, { ref: f.refB }])))).toBe(
      'proposal-set-mismatch',
    );
    expect(reason(f.svc.commitWelcome(A, commitWith([{ ref: new Uint8Array(32) }])))).toBe(
      'proposal-set-mismatch',
    );
    // A third pending member's Add is now in flight to A too: the old set misses it.
    f.svc.join(C, 1);
    f.svc.keyPackage(C, buildKeyPackage({ userId: C }));
    expect(reason(f.svc.commitWelcome(A, commitWith([{ ref: f.refB }])))).toBe('proposal-set-mismatch');
  });

  it('checks the Welcome: present, parseable, suite 2, a secret for every added key package', () => {
    const f = pendingPair();
    const commit = creationCommit(f).commit;
    expect(reason(f.svc.commitWelcome(A, commit))).toBe('missing-welcome');
    expect(reason(f.svc.commitWelcome(A, concatBytes(commit, Uint8Array.of(0, 2, 5))))).toBe(
      'malformed-welcome',
    );
    expect(reason(f.svc.commitWelcome(A, concatBytes(commit, craftWelcome([keyPackageRef(f.kpB)], 1))))).toBe(
      'welcome-wrong-cipher-suite',
    );
    expect(reason(f.svc.commitWelcome(A, concatBytes(commit, craftWelcome([keyPackageRef(f.kpA)]))))).toBe(
      'welcome-missing-secrets',
    );
    expect(reason(f.svc.commitWelcome(A, concatBytes(commit, craftWelcome([]))))).toBe(
      'welcome-missing-secrets',
    );
    expect(f.svc.established).toBe(false);
  });

  it('checks that an UpdatePath keeps the committer’s credential and signature key', () => {
    const f = pendingPair();
    const welcome = craftWelcome([keyPackageRef(f.kpB)]);
    const withPath = (pathLeaf: Uint8Array) =>
      concatBytes(
        craftCommit({ groupId: GROUP, epoch: 0n, senderLeaf: 0, entries: [{ ref: f.refB }], pathLeaf }),
        welcome,
      );
    expect(reason(f.svc.commitWelcome(A, withPath(buildLeafNode({ userId: B, signingKey: f.keyA }))))).toBe(
      'path-credential-mismatch',
    );
    expect(reason(f.svc.commitWelcome(A, withPath(buildLeafNode({ userId: A }))))).toBe(
      'path-credential-mismatch',
    );
    expect(reason(f.svc.commitWelcome(A, withPath(buildLeafNode({ userId: A, signingKey: f.keyA }))))).toBe(
      'accepted',
    );
  });

  it('established group: only members commit, from their own leaf; a Welcome without Adds is refused', () => {
    const f = pendingPair();
    expect(reason(f.svc.commitWelcome(A, creationCommit(f).payload))).toBe('accepted');
    f.svc.join(C, 1); // pending, no leaf
    // B fails its welcome: Remove(B) goes to A only.
    const out = f.svc.invalidCommitWelcome(B, 1);
    expect(out.filter((o) => o.message.op === VoiceOpcode.DaveMlsProposals).map((o) => o.to)).toEqual([A]);
    const [removeRef] = refsSentTo(out, A);
    const commit = craftCommit({ groupId: GROUP, epoch: 1n, senderLeaf: 0, entries: [{ ref: removeRef! }] });
    expect(reason(f.svc.commitWelcome(C, commit))).toBe('not-a-member');
    expect(reason(f.svc.commitWelcome(B, commit))).toBe('not-a-member'); // waiting for re-add
    expect(reason(f.svc.commitWelcome('999', commit))).toBe('unknown-user');
    const fromLeaf1 = craftCommit({
      groupId: GROUP,
      epoch: 1n,
      senderLeaf: 1,
      entries: [{ ref: removeRef! }],
    });
    expect(reason(f.svc.commitWelcome(A, fromLeaf1))).toBe('wrong-sender-leaf');
    expect(reason(f.svc.commitWelcome(A, concatBytes(commit, craftWelcome([new Uint8Array(32)]))))).toBe(
      'unexpected-welcome',
    );
    const r = f.svc.commitWelcome(A, commit);
    expect(reason(r)).toBe('accepted');
    expect(r.out.map((o) => [o.to, o.message.op])).toEqual([
      [A, VoiceOpcode.DaveMlsAnnounceCommitTransition],
    ]);
    expect(f.svc.members()).toEqual([A]);
    expect(f.svc.epoch).toBe(2);
    // B's replacement key package is proposed to A at epoch 2.
    const again = f.svc.keyPackage(B, buildKeyPackage({ userId: B, signingKey: f.keyB }));
    expect(reason(again)).toBe('accepted');
    expect(again.out.map((o) => o.to)).toEqual([A]);
    // A member's unsolicited key package is refused.
    expect(reason(f.svc.keyPackage(A, buildKeyPackage({ userId: A, signingKey: f.keyA })))).toBe(
      'already-member',
    );
  });
});

describe('bad input never throws', () => {
  it('survives random and truncated op 26 / op 28 payloads', () => {
    const f = pendingPair();
    const valid = creationCommit(f).payload;
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 300; i++) {
      const junk = new Uint8Array(rand() % 300);
      for (let j = 0; j < junk.length; j++) junk[j] = rand() & 0xff;
      if (junk.length > 4 && i % 2 === 0) junk.set([0, 1, 0, 1]); // MLSMessage-looking prefix
      expect(f.svc.keyPackage(A, junk).accepted).toBe(false);
      expect(f.svc.commitWelcome(A, junk).accepted).toBe(false);
    }
    for (let n = 0; n < valid.length; n++) {
      const cut = valid.subarray(0, n);
      expect(f.svc.commitWelcome(A, cut).accepted).toBe(false);
      const flipped = valid.slice();
      flipped[n] = (flipped[n] ?? 0) ^ 0xff;
      expect(() => f.svc.commitWelcome(B, flipped)).not.toThrow();
    }
    // Unknown ready / op 31 ids and unknown users are ignored.
    expect(f.svc.transitionReady(A, 777)).toEqual([]);
    expect(f.svc.transitionReady(A, 0)).toEqual([]);
    expect(f.svc.invalidCommitWelcome('999', 1)).toEqual([]);
    expect(f.svc.leave('999')).toEqual([]);
  });
});

describe('external sender package (op 25)', () => {
  it('is the RFC 9420 ExternalSender for our P-256 key and identity', () => {
    const key = generateP256SigningKey();
    const svc = new DaveDeliveryService({
      channelId: CH,
      externalSenderKey: key,
      identity: Uint8Array.of(1, 2),
    });
    const pkg = svc.externalSenderPackage();
    const spki = key.export({ format: 'jwk' });
    const point = concatBytes(
      Uint8Array.of(4),
      Buffer.from(spki.x!, 'base64url'),
      Buffer.from(spki.y!, 'base64url'),
    );
    expect(Buffer.from(pkg).toString('hex')).toBe(`4041${Buffer.from(point).toString('hex')}000102` + '0102');
  });
});

describe('pending member leaving with davey clients', () => {
  it('revokes its Add; the stale commit is dropped; the group then forms with the next joiner', () => {
    const call = new SimCall();
    call.join(A);
    call.run();
    call.join(B); // B queues op 25 + Add(kpA), commits
    call.leave(A); // revoke goes out before B's commit reaches the server
    call.run();
    expect(call.service.established).toBe(false);
    expect(call.rejections.map((r) => reason(r.result))).toEqual(['proposal-set-mismatch']);
    call.join(C);
    call.run();
    expect(call.service.epoch).toBe(1);
    expect(call.groupAgrees([B, C])).toBe(true);
  });
});

describe('output shapes', () => {
  it('are voice gateway ServerMessages the server can encode with its seq', () => {
    const svc = new DaveDeliveryService({ channelId: CH });
    const out = svc.join(A, 1);
    // Compile-time: every DaveServerMessage is a ServerMessage of src/protocol/voice-messages.ts.
    const asServer: ServerMessage[] = out.map((o) => o.message);
    expect(asServer).toEqual([
      { op: VoiceOpcode.DaveMlsExternalSender, payload: svc.externalSenderPackage() },
    ]);
  });
});
