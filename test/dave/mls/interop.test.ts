/**
 * Interop with davey (Rust/OpenMLS, what discord.js uses), in process: our TestGateway plays the
 * voice gateway (external sender + delivery service), members are our DaveSession or davey.
 */
import { describe, it, expect } from 'vitest';
import { DaveyMember, OurMember, TestGateway } from './harness.js';
import type { Member } from './harness.js';
import { hex } from '../../support/bytes.js';

const OPUS = Uint8Array.from({ length: 120 }, (_, i) => (i * 7 + 3) & 0xff);

/** Every member agrees on epoch and epoch authenticator, and every sender's frame decrypts at every receiver. */
async function expectAgreement(members: Member[], epoch: bigint): Promise<void> {
  const authenticators = new Set<string>();
  for (const m of members) {
    expect(m.epoch(), `${m.kind} ${m.userId} epoch`).toBe(epoch);
    authenticators.add(hex(m.epochAuthenticator()));
  }
  expect(authenticators.size).toBe(1);
  for (const sender of members) {
    const frame = await sender.encrypt(OPUS);
    expect(frame.length).toBe(OPUS.length + 8 + 1 + 3);
    for (const receiver of members) {
      if (receiver === sender) continue;
      const plain = await receiver.decrypt(sender.userId, frame);
      expect(hex(plain), `${sender.kind} ${sender.userId} -> ${receiver.kind} ${receiver.userId}`).toBe(
        hex(OPUS),
      );
    }
  }
}

async function expectSameBaseSecrets(ours: OurMember[], userIds: string[]): Promise<void> {
  for (const id of userIds) {
    const values = new Set<string>();
    for (const m of ours) values.add(hex(await m.session.exportBaseSecret(id)));
    expect(values.size).toBe(1);
    expect([...values][0]).toMatch(/^[0-9a-f]{32}$/);
  }
}

describe('DAVE MLS interop with davey', () => {
  it('our session commits the initial Add and davey joins from our Welcome', async () => {
    const gw = new TestGateway();
    const davey = new DaveyMember('158049329150427136');
    const ours = new OurMember('158049329150427137');
    await gw.connectFirst(davey);
    await gw.connectSecond(ours, 'second'); // ours gets Add(davey) and wins
    await expectAgreement([ours, davey], 1n);
    expect([...ours.session.roster.keys()].sort()).toEqual([davey.userId, ours.userId].sort());
    expect(davey.session.getUserIds().sort()).toEqual([davey.userId, ours.userId].sort());
    // transition bookkeeping: op 23 for the commit's transition id
    const last = ours.results.at(-1);
    expect(last?.prepareRatchets).toEqual({ transitionId: 1, protocolVersion: 1 });
    expect(last?.send).toEqual([{ op: 23, transitionId: 1 }]);
  });

  it("davey commits the initial Add and our session joins from davey's Welcome", async () => {
    const gw = new TestGateway();
    const ours = new OurMember('200000000000000001');
    const davey = new DaveyMember('200000000000000002');
    await gw.connectFirst(ours);
    await gw.connectSecond(davey, 'second'); // davey wins, ours joins by Welcome
    await expectAgreement([ours, davey], 1n);
    const roster = ours.session.roster;
    expect(roster.size).toBe(2);
    expect(roster.get(ours.userId)).toEqual(ours.session.signaturePublicKey);
    expect(roster.get(davey.userId)?.length).toBe(65);
  });

  it('our pending member commits when it was first (commit from the first user)', async () => {
    const gw = new TestGateway();
    const ours = new OurMember('300000000000000001');
    const davey = new DaveyMember('300000000000000002');
    await gw.connectFirst(ours);
    await gw.connectSecond(davey, 'first'); // ours (first) wins; davey's own commit is dropped
    await expectAgreement([ours, davey], 1n);
  });

  it('a mixed group of 3 davey and 3 ours goes through 12 epochs of adds and removes', async () => {
    const gw = new TestGateway();
    const d1 = new DaveyMember('400000000000000001');
    const o1 = new OurMember('400000000000000002');
    const d2 = new DaveyMember('400000000000000003');
    const o2 = new OurMember('400000000000000004');
    const d3 = new DaveyMember('400000000000000005');
    const o3 = new OurMember('400000000000000006');
    const o4 = new OurMember('400000000000000007');
    const d4 = new DaveyMember('400000000000000008');
    const o5 = new OurMember('400000000000000009');

    const check = async (): Promise<void> => {
      const members = gw.members;
      await expectAgreement(members, gw.epoch);
      const ours = members.filter((m): m is OurMember => m instanceof OurMember);
      await expectSameBaseSecrets(
        ours,
        members.map((m) => m.userId),
      );
      for (const m of ours) expect(m.session.roster.size).toBe(members.length);
    };

    await gw.connectFirst(d1);
    await gw.connectSecond(o1, 'second');
    await check(); // epoch 1
    await gw.add(d2, d1);
    await check();
    await gw.add(o2, o1);
    await check();
    await gw.add(d3, o2);
    await check();
    await gw.add(o3, d2);
    await check(); // epoch 5: 6 members, 3 + 3
    expect(gw.members.map((m) => m.kind).sort()).toEqual(['davey', 'davey', 'davey', 'ours', 'ours', 'ours']);
    await gw.remove(d2, o3);
    await check();
    await gw.remove(o1, d3);
    await check();
    await gw.add(o4, d1); // fills a blank leaf
    await check();
    await gw.add(d4, o2);
    await check();
    await gw.remove(d3, o4);
    await check();
    await gw.remove(o2, d4);
    await check();
    await gw.add(o5, o3);
    await check();
    expect(gw.epoch).toBe(12n);
  });
});
