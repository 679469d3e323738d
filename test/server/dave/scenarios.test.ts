/**
 * dave.md §7.11 worked scenarios A-E2, with @snazzah/davey sessions as the clients.
 */
import { describe, it, expect } from 'vitest';
import { VoiceOpcode } from '../../../src/protocol/constants.js';
import { SimCall } from './davey-harness.js';
import type { SimClient } from './davey-harness.js';

const A = '158049329150427136';
const B = '158049329150427137';
const C = '158049329150427138';
const D = '158049329150427139';
const V = '158049329150427140';

const OPUS = Buffer.from('0dc5aedd5bdc3f20be5697e54dd1f437', 'hex');

/** Every sender's frame decrypts at every other member (media keys agree). */
function expectMediaWorks(call: SimCall, userIds: string[]): void {
  for (const from of userIds) {
    const frame = call.client(from).session!.encryptOpus(OPUS);
    expect(frame.subarray(-2).toString('hex')).toBe('fafa');
    for (const to of userIds) {
      if (to === from) continue;
      expect(call.client(to).session!.decrypt(from, 0, frame).equals(OPUS)).toBe(true);
    }
  }
}

function lastOf(
  c: SimClient,
  op: number,
): { transitionId?: number; protocolVersion?: number; epoch?: number } {
  const found = c.received.filter((r) => r.op === op);
  const last = found[found.length - 1];
  if (last === undefined) throw new Error(`client ${c.userId} never got op ${op}`);
  return last;
}

/** Scenario A: two users create the group. */
function createGroupOfTwo(): SimCall {
  const call = new SimCall();
  call.join(A);
  call.run();
  call.join(B);
  call.run();
  return call;
}

describe('scenario A: first two users create the group', () => {
  it('runs op 25/26/27/28/29/30/23/22 and both end at epoch 1 with the same secrets', () => {
    const call = new SimCall();
    const a = call.join(A);
    call.run();
    // A alone: op 25 only, its key package is accepted and nothing is proposed to anyone.
    expect(a.ops()).toEqual([VoiceOpcode.DaveMlsExternalSender]);
    expect(call.service.established).toBe(false);

    const b = call.join(B);
    call.run();

    expect(call.service.established).toBe(true);
    expect(call.service.epoch).toBe(1);
    expect(a.epoch).toBe(1n);
    expect(b.epoch).toBe(1n);
    expect(call.groupAgrees([A, B])).toBe(true);
    expect(a.session!.voicePrivacyCode).toBe(b.session!.voicePrivacyCode);
    expect(new Set(call.service.members())).toEqual(new Set([A, B]));

    // Exactly one of them got op 29 (the winner), the other op 30, with the same non-zero tid.
    const winner = a.ops().includes(VoiceOpcode.DaveMlsAnnounceCommitTransition) ? a : b;
    const loser = winner === a ? b : a;
    expect(loser.ops()).not.toContain(VoiceOpcode.DaveMlsAnnounceCommitTransition);
    const tid = lastOf(winner, VoiceOpcode.DaveMlsAnnounceCommitTransition).transitionId;
    expect(tid).toBeGreaterThan(0);
    expect(lastOf(loser, VoiceOpcode.DaveMlsWelcome).transitionId).toBe(tid);
    expect(call.service.leafIndexOf(winner.userId)).toBe(0);
    expect(call.service.leafIndexOf(loser.userId)).toBe(1);
    // Both reported ready, both were told to execute.
    expect(lastOf(a, VoiceOpcode.DaveExecuteTransition).transitionId).toBe(tid);
    expect(lastOf(b, VoiceOpcode.DaveExecuteTransition).transitionId).toBe(tid);
    // The loser's own commit for epoch 0 arrived after the winner's and was dropped as stale.
    expect(call.rejections.map((r) => (r.result.accepted ? '' : r.result.reason))).toEqual(['wrong-epoch']);
    expect(call.rejections[0]?.from).toBe(loser.userId);
    expectMediaWorks(call, [A, B]);
  });

  it('B gets A’s Add before sending anything; A gets B’s Add after B’s key package', () => {
    const call = new SimCall();
    call.join(A);
    call.run();
    call.join(B);
    const toB = call.outLog.filter((o) => o.to === B).map((o) => o.message.op);
    expect(toB).toEqual([VoiceOpcode.DaveMlsExternalSender, VoiceOpcode.DaveMlsProposals]);
    call.run();
    const toA = call.outLog.filter((o) => o.to === A).map((o) => o.message.op);
    expect(toA.slice(0, 2)).toEqual([VoiceOpcode.DaveMlsExternalSender, VoiceOpcode.DaveMlsProposals]);
  });
});

describe('scenario B: a third user joins the established group', () => {
  it('adds C at epoch 2: op 29 to A and B, op 30 to C, op 22 to all three', () => {
    const call = createGroupOfTwo();
    const c = call.join(C);
    call.run();
    expect(call.service.epoch).toBe(2);
    expect(call.groupAgrees([A, B, C])).toBe(true);
    expect(c.ops()).toEqual([
      VoiceOpcode.DaveMlsExternalSender,
      VoiceOpcode.DaveMlsWelcome,
      VoiceOpcode.DaveExecuteTransition,
    ]);
    const tid = lastOf(c, VoiceOpcode.DaveMlsWelcome).transitionId;
    for (const u of [A, B]) {
      expect(lastOf(call.client(u), VoiceOpcode.DaveMlsAnnounceCommitTransition).transitionId).toBe(tid);
      expect(lastOf(call.client(u), VoiceOpcode.DaveExecuteTransition).transitionId).toBe(tid);
    }
    expect(call.service.leafIndexOf(C)).toBe(2);
    expectMediaWorks(call, [A, B, C]);
  });
});

describe('scenario C: a member leaves', () => {
  it('proposes Remove(leaf of B) to A and C; the commit has no Welcome; epoch 3', () => {
    const call = createGroupOfTwo();
    call.join(C);
    call.run();
    const bLeaf = call.service.leafIndexOf(B);
    const before = call.outLog.length;
    call.leave(B);
    const immediate = call.outLog.slice(before);
    expect(immediate.map((o) => [o.to, o.message.op]).sort()).toEqual(
      [
        [A, VoiceOpcode.DaveMlsProposals],
        [C, VoiceOpcode.DaveMlsProposals],
      ].sort(),
    );
    call.run();
    expect(call.service.epoch).toBe(3);
    expect(call.service.leafIndexOf(B)).toBeUndefined();
    expect(call.service.members().sort()).toEqual([A, C].sort());
    expect(bLeaf).toBeDefined();
    expect(call.groupAgrees([A, C])).toBe(true);
    expect(call.client(A).session!.getUserIds().sort()).toEqual([A, C].sort());
    const sent = call.outLog.slice(before).map((o) => o.message.op);
    expect(sent).not.toContain(VoiceOpcode.DaveMlsWelcome);
    expectMediaWorks(call, [A, C]);
  });
});

describe('scenario D: sole-member reset', () => {
  it('sends op 24 epoch 1 + op 21 tid 0 to the last member, then a newcomer re-forms the group', () => {
    const call = createGroupOfTwo();
    call.join(C);
    call.run();
    call.leave(B);
    call.run();
    const before = call.outLog.length;
    const a = call.client(A);
    const sentBefore = a.sent.length;
    call.leave(C);
    const sent = call.outLog.slice(before);
    expect(sent.map((o) => o.to)).toEqual([A, A]);
    expect(sent[0]?.message).toMatchObject({
      op: VoiceOpcode.DavePrepareEpoch,
      d: { protocol_version: 1, epoch: 1 },
    });
    expect(sent[1]?.message).toEqual({
      op: VoiceOpcode.DavePrepareTransition,
      d: { protocol_version: 1, transition_id: 0 },
    });
    expect(call.service.established).toBe(false);
    expect(call.service.epoch).toBe(0);
    expect(call.service.members()).toEqual([]);
    call.run();
    // A re-initialised and sent only a fresh key package (no op 23 for tid 0), accepted as pending.
    expect(a.sent.slice(sentBefore).map((m) => m.op)).toEqual([VoiceOpcode.DaveMlsKeyPackage]);
    expect(call.rejections.every((r) => !r.result.accepted && r.result.reason === 'wrong-epoch')).toBe(true);
    expect(call.rejections.every((r) => r.op === VoiceOpcode.DaveMlsCommitWelcome)).toBe(true);

    call.join(D);
    call.run();
    expect(call.service.epoch).toBe(1);
    expect(call.groupAgrees([A, D])).toBe(true);
    expectMediaWorks(call, [A, D]);
  });
});

describe('scenario E: downgrade for a version-0 joiner, upgrade when it leaves', () => {
  it('op 21 v0 -> op 23 -> op 22, op 4 v0 for the joiner, no FA FA frames to it; op 24 + op 25 on upgrade', () => {
    const call = createGroupOfTwo();
    const tidBefore = lastOf(call.client(A), VoiceOpcode.DaveExecuteTransition).transitionId ?? 0;
    call.join(V, 0);
    expect(call.service.sessionVersionFor(V)).toBe(0);
    expect(call.service.version).toBe(0);
    expect(call.service.shouldForwardDaveFrames(V)).toBe(false);
    expect(call.service.shouldForwardDaveFrames(A)).toBe(true);
    call.run();
    for (const u of [A, B]) {
      const c = call.client(u);
      const prep = lastOf(c, VoiceOpcode.DavePrepareTransition);
      expect(prep.protocolVersion).toBe(0);
      expect(prep.transitionId).toBeGreaterThan(tidBefore);
      expect(lastOf(c, VoiceOpcode.DaveExecuteTransition).transitionId).toBe(prep.transitionId);
      expect(c.executedVersion).toBe(0);
    }
    expect(call.client(V).received).toEqual([]); // no DAVE binary to a v0 client
    expect(call.service.established).toBe(false);

    // A DAVE-capable user joining a v0 call gets version 0 and no op 25 yet.
    const d = call.join(D);
    expect(call.service.sessionVersionFor(D)).toBe(0);
    call.run();
    expect(d.received).toEqual([]);

    // Upgrade: op 24 v1 epoch 1 before op 25 to everyone, then a normal group creation.
    call.leave(V);
    expect(call.service.version).toBe(1);
    call.run();
    for (const u of [A, B, D]) {
      const ops = call.client(u).ops();
      const i24 = ops.lastIndexOf(VoiceOpcode.DavePrepareEpoch);
      const i25 = ops.lastIndexOf(VoiceOpcode.DaveMlsExternalSender);
      expect(i24).toBeGreaterThanOrEqual(0);
      expect(i25).toBeGreaterThan(i24);
      expect(lastOf(call.client(u), VoiceOpcode.DavePrepareEpoch)).toMatchObject({
        epoch: 1,
        protocolVersion: 1,
      });
    }
    expect(call.service.epoch).toBeGreaterThanOrEqual(1);
    expect(call.groupAgrees([A, B, D])).toBe(true);
    expectMediaWorks(call, [A, B, D]);
  });
});

describe('scenario E2: invalid welcome recovery', () => {
  it('op 31 from C -> Remove(C) + Add(new key package) -> C joins again', () => {
    const call = createGroupOfTwo();
    const cc = call.join(C);
    cc.corruptNextWelcome = true;
    call.run();
    expect(cc.failures).toHaveLength(1);
    expect(cc.sent.map((m) => m.op)).toContain(VoiceOpcode.DaveMlsInvalidCommitWelcome);
    // The group went through C's add (epoch 2) and then remove + re-add.
    // Remove(C) and Add(new kpC) landed in one commit: epoch 2 -> 3 (Remove-only commits lost).
    expect(call.service.epoch).toBe(3);
    expect(
      call.rejections.some((r) => !r.result.accepted && r.result.reason === 'proposal-set-mismatch'),
    ).toBe(true);
    expect(call.service.members().sort()).toEqual([A, B, C].sort());
    expect(call.groupAgrees([A, B, C])).toBe(true);
    expect(cc.session!.getUserIds().sort()).toEqual([A, B, C].sort());
    const welcomes = cc.received.filter((r) => r.op === VoiceOpcode.DaveMlsWelcome);
    expect(welcomes).toHaveLength(2);
    expectMediaWorks(call, [A, B, C]);
  });
});

describe('transition timeout', () => {
  it('sends op 22 after the timeout when a member never reports ready', () => {
    const call = new SimCall({ transitionTimeoutMs: 1500 });
    call.intercept = (from, m) => (from === B && m.op === VoiceOpcode.DaveTransitionReady ? null : m);
    call.join(A);
    call.run();
    call.join(B);
    call.run();
    const a = call.client(A);
    expect(a.ops()).not.toContain(VoiceOpcode.DaveExecuteTransition);
    expect(call.service.nextDeadline()).toBe(call.clock + 1500);
    call.tick(1499);
    call.run();
    expect(a.ops()).not.toContain(VoiceOpcode.DaveExecuteTransition);
    call.tick(1);
    call.run();
    expect(a.ops()).toContain(VoiceOpcode.DaveExecuteTransition);
    expect(call.client(B).ops()).toContain(VoiceOpcode.DaveExecuteTransition);
    expect(call.service.nextDeadline()).toBeUndefined();
  });
});
