import { describe, it, expect } from 'vitest';
import { DAVESession } from '@snazzah/davey';
import { inspectCommitWelcome } from '../../../src/dave/mls/commit-inspect.js';
import { splitCommitWelcome, snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { DaveDeliveryService } from '../../../src/server/dave/delivery-service.js';
import { proposalRefOfMessage } from '../../../src/dave/mls/mls-sign.js';
import { decodeProposalsPayload } from '../../../src/dave/opcodes.js';

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
