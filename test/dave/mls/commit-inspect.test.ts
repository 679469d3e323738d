import { describe, it, expect } from 'vitest';
import { DAVESession } from '@snazzah/davey';
import { inspectCommitWelcome } from '../../../src/dave/mls/commit-inspect.js';
import { concatBytes, splitCommitWelcome, snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { DaveDeliveryService } from '../../../src/server/dave/delivery-service.js';
import { proposalRefOfMessage } from '../../../src/dave/mls/mls-sign.js';
import { decodeProposalsPayload } from '../../../src/dave/opcodes.js';
import { buildLeafNode, craftCommit } from '../../server/dave/mls-fixtures.js';

const CH = '1300000000000000001';

describe('commit inspection on a real (davey) op 28', () => {
  it('finds group, epoch, sender, references and the Welcome boundary like splitCommitWelcome', () => {
    const svc = new DaveDeliveryService({ channelId: CH });
    const a = new DAVESession(1, '11', CH);
    const b = new DAVESession(1, '22', CH);
    svc.join('11', 1);
    svc.keyPackage('11', a.getSerializedKeyPackage());
    const out = svc.join('22', 1);
    b.setExternalSender(Buffer.from(svc.externalSenderPackage()));
    const op27 = out.find((o) => o.message.op === 27)!.message as { payload: Uint8Array };
    const result = b.processProposals(op27.payload[0]!, Buffer.from(op27.payload.subarray(1)), ['11', '22']);
    const payload = Buffer.concat([result.commit!, result.welcome!]);

    const c = inspectCommitWelcome(payload);
    if (!c.ok) throw new Error(c.reason);
    const split = splitCommitWelcome(payload);
    expect(Buffer.from(c.commit).equals(Buffer.from(split.commit))).toBe(true);
    expect(Buffer.from(c.welcome!).equals(Buffer.from(split.welcome!))).toBe(true);
    expect(Buffer.from(c.groupId).equals(Buffer.from(snowflakeToBE64(CH)))).toBe(true);
    expect(c.epoch).toBe(0n);
    expect(c.senderLeaf).toBe(0);
    const decoded = decodeProposalsPayload(op27.payload);
    const ref =
      decoded.operation === 'append' ? proposalRefOfMessage(decoded.messages[0]!) : new Uint8Array();
    expect(c.entries).toHaveLength(1);
    const entry = c.entries[0]!;
    expect(entry.kind).toBe('reference');
    expect(entry.kind === 'reference' && Buffer.from(entry.ref).equals(Buffer.from(ref))).toBe(true);
    if (c.pathLeaf !== undefined) {
      expect(Buffer.from(c.pathLeaf.identity).equals(Buffer.from(snowflakeToBE64('22')))).toBe(true);
    }
  });
});

describe('commit inspection and the op 28 split share one commit parser', () => {
  const GROUP = snowflakeToBE64(CH);
  const base = { groupId: GROUP, epoch: 4n, senderLeaf: 2, entries: [{ ref: new Uint8Array(32).fill(7) }] };

  it('reads group, epoch, sender leaf, references and an UpdatePath leaf', () => {
    const pathLeaf = buildLeafNode({ userId: '22' });
    const c = inspectCommitWelcome(concatBytes(craftCommit({ ...base, pathLeaf }), Uint8Array.of(0, 2)));
    if (!c.ok) throw new Error(c.detail);
    expect([c.epoch, c.senderLeaf, c.entries.length]).toEqual([4n, 2, 1]);
    expect(Buffer.from(c.pathLeaf!.identity).equals(Buffer.from(snowflakeToBE64('22')))).toBe(true);
    expect(c.pathLeaf!.source).toBe(1);
    expect(Buffer.from(c.welcome!).toString('hex')).toBe('0002');
  });

  it('rejects a non-member sender as soon as it reads the sender type, even with garbage after it', () => {
    for (const senderType of [2, 3, 4, 9]) {
      const bytes = craftCommit({ ...base, senderType }).subarray(0, 4 + 9 + 8 + 1);
      expect(inspectCommitWelcome(bytes)).toMatchObject({ ok: false, reason: 'not-member-sender' });
    }
    expect(inspectCommitWelcome(Uint8Array.of(0, 1, 0, 2))).toMatchObject({ reason: 'not-public-message' });
    expect(inspectCommitWelcome(Uint8Array.of(0, 2, 0, 1))).toMatchObject({ reason: 'malformed' });
  });

  it('split: an external-sender commit has no membership tag; a non-basic path credential is refused', () => {
    const external = craftCommit({ ...base, senderType: 2 });
    // craftCommit always appends a membership tag: for an external sender it is what follows the commit
    expect(splitCommitWelcome(external).welcome).toHaveLength(33);
    const x509Leaf = buildLeafNode({ userId: '22', credentialType: 2 });
    const withX509 = craftCommit({ ...base, pathLeaf: x509Leaf });
    expect(() => splitCommitWelcome(withX509)).toThrow(/credential type 2/);
    const inspected = inspectCommitWelcome(withX509);
    expect(inspected.ok && inspected.pathLeaf?.credentialType).toBe(2);
  });
});
