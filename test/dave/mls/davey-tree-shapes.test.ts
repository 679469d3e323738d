/**
 * Tree shapes that real calls reach and the easy call shapes do not (issue 11, defects 2 and 3),
 * with davey (OpenMLS) as the peer:
 * - the committer's sibling subtree is blank (the first members left): the root is not on its
 *   filtered direct path (RFC 9420 §4.1.2, §7.9), so a commit made with the unfiltered path gives
 *   other epochs than davey's;
 * - a Welcome whose tree has a parent listing an unmerged leaf that its ancestors above do not
 *   list: valid per RFC 9420 §12.4.3.1, rejected by ts-mls 1.6.4 ("non-blank intermediate node
 *   must list leaf node in its unmerged_leaves").
 */
import { describe, expect, it } from 'vitest';
import { DaveyMember, OurMember, TestGateway } from './harness.js';
import type { Member } from './harness.js';
import { hex } from '../../support/bytes.js';

const OPUS = Uint8Array.from({ length: 60 }, (_, i) => (i * 5 + 1) & 0xff);

async function expectAgreement(gw: TestGateway): Promise<void> {
  const members = gw.members;
  const authenticators = new Set(members.map((m) => hex(m.epochAuthenticator())));
  for (const m of members) expect(m.epoch(), `${m.kind} ${m.userId}`).toBe(gw.epoch);
  expect(authenticators.size, 'one epoch authenticator').toBe(1);
  for (const sender of members) {
    const frame = await sender.encrypt(OPUS);
    for (const receiver of members) {
      if (receiver !== sender) expect(hex(await receiver.decrypt(sender.userId, frame))).toBe(hex(OPUS));
    }
  }
}

/** A 4-leaf group: leaves 0 and 1 are davey, 2 and 3 as given. */
async function fourLeaves(gw: TestGateway, leaf2: Member, leaf3: Member): Promise<[Member, Member]> {
  const first = new DaveyMember('710000000000000001');
  const second = new DaveyMember('710000000000000002');
  await gw.connectFirst(first);
  await gw.connectSecond(second, 'first');
  await gw.add(leaf2, first);
  await gw.add(leaf3, second);
  expect(gw.leaves).toEqual([first, second, leaf2, leaf3]);
  await expectAgreement(gw);
  return [first, second];
}

describe('defect 2: commits from leaf 2 or 3 after leaves 0 and 1 left (blank sibling subtree)', () => {
  it('our commit from leaf 2 is processed by davey at leaf 3, with equal epoch authenticators', async () => {
    const gw = new TestGateway();
    const ours = new OurMember('720000000000000003');
    const davey = new DaveyMember('720000000000000004');
    const [first, second] = await fourLeaves(gw, ours, davey);
    await gw.remove(first, ours);
    await expectAgreement(gw);
    await gw.remove(second, ours); // leaves 0 and 1 blank: the root leaves our filtered direct path
    await expectAgreement(gw);
    // and once more with the left half blank: a newcomer fills leaf 0, ours commits, then it leaves
    const third = new DaveyMember('720000000000000005');
    await gw.add(third, ours);
    await expectAgreement(gw);
    await gw.remove(third, ours);
    await expectAgreement(gw);
  });

  it("davey's commit from leaf 3 is processed by ours at leaf 2, with equal epoch authenticators", async () => {
    const gw = new TestGateway();
    const ours = new OurMember('730000000000000003');
    const davey = new DaveyMember('730000000000000004');
    const [first, second] = await fourLeaves(gw, ours, davey);
    await gw.remove(first, davey);
    await expectAgreement(gw);
    await gw.remove(second, davey);
    await expectAgreement(gw);
    const third = new OurMember('730000000000000005');
    await gw.add(third, davey);
    await expectAgreement(gw);
    await gw.remove(third, davey);
    await expectAgreement(gw);
  });

  it('ours at both leaf 2 and leaf 3 agree with each other and with a davey joiner', async () => {
    const gw = new TestGateway();
    const a = new OurMember('740000000000000003');
    const b = new OurMember('740000000000000004');
    const [first, second] = await fourLeaves(gw, a, b);
    await gw.remove(first, b);
    await gw.remove(second, a);
    await expectAgreement(gw);
    await gw.add(new DaveyMember('740000000000000005'), b);
    await expectAgreement(gw);
  });
});

describe('defect 3: a davey Welcome whose tree has differing unmerged_leaves along a path', () => {
  it('is accepted, and the joiner agrees with every member', async () => {
    const gw = new TestGateway();
    const davey = Array.from({ length: 8 }, (_, i) => new DaveyMember(`75000000000000000${i}`));
    const [d0, d1] = davey;
    if (d0 === undefined || d1 === undefined) throw new Error('members');
    await gw.connectFirst(d0);
    await gw.connectSecond(d1, 'first');
    for (let i = 2; i < 8; i++) await gw.add(davey[i] as DaveyMember, davey[i - 1] as DaveyMember);
    expect(gw.leaves).toEqual(davey);
    // leaves 6 and 2 leave, leaf 7 commits both: its path sets node 11 (leaves 4-7) and the root
    await gw.remove(davey[6] as DaveyMember, davey[7] as DaveyMember);
    await gw.remove(davey[2] as DaveyMember, davey[7] as DaveyMember);
    await expectAgreement(gw);
    // davey commits adds without a path: a newcomer at leaf 2 is unmerged at the root only, ours
    // at leaf 6 is unmerged at node 11 and the root. The Welcome's tree has node 11 listing [6]
    // and the root [2, 6]: valid (RFC 9420 §12.4.3.1), but not identical along leaf 6's path.
    const other = new DaveyMember('758888888888888888');
    await gw.add(other, d0);
    const ours = new OurMember('759999999999999999');
    await gw.add(ours, d0);
    expect(gw.leaves.indexOf(other)).toBe(2);
    expect(gw.leaves.indexOf(ours)).toBe(6);
    expect(ours.session.established).toBe(true);
    await expectAgreement(gw);
    // and it keeps working: a commit by the newcomer is processed by davey
    await gw.remove(davey[3] as DaveyMember, ours);
    await expectAgreement(gw);
  });
});
