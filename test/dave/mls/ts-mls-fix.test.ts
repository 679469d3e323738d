import { describe, it, expect } from 'vitest';
import { createGroup } from 'ts-mls/clientState.js';
import { decodeMlsMessage } from 'ts-mls/message.js';
import { processMessage } from 'ts-mls/processMessages.js';
import { acceptAll } from 'ts-mls/incomingMessageAction.js';
import { emptyPskIndex } from 'ts-mls/pskIndex.js';
import type { ClientState, MLSMessage } from 'ts-mls';
import { generateP256KeyPair, getDaveCiphersuite } from '../../../src/dave/mls/crypto-provider.js';
import { createDaveKeyPackage } from '../../../src/dave/mls/key-package.js';
import type { DaveKeyPackage } from '../../../src/dave/mls/key-package.js';
import { snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import {
  createPendingGroup,
  externalSendersExtension,
  groupExternalSenders,
  processExternalProposal,
} from '../../../src/dave/mls/ts-mls-fix.js';
import { generateP256SigningKey } from '../../../src/dave/mls/mls-sign.js';
import { CHANNEL_ID, DaveyMember, OurMember, signedProposal, TestGateway } from './harness.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function publicMessageOf(bytes: Uint8Array): MLSMessage & { wireformat: 'mls_public_message' } {
  const decoded = decodeMlsMessage(bytes, 0)?.[0];
  if (decoded?.wireformat !== 'mls_public_message') throw new Error('not a public message');
  return decoded;
}

/** Our epoch-0 group for `kp`, bound to the gateway's external sender. */
async function pendingGroupOf(kp: DaveKeyPackage, gw: TestGateway): Promise<ClientState> {
  const { publicPackage, privatePackage } = kp;
  const cs = await getDaveCiphersuite();
  return createPendingGroup(
    snowflakeToBE64(CHANNEL_ID),
    publicPackage,
    privatePackage,
    gw.externalSenderPackage,
    cs,
  );
}

describe('ts-mls 1.6.4 external_senders workaround', () => {
  it('ts-mls itself still fails on a correctly encoded extension (if this starts passing, ts-mls was fixed)', async () => {
    const cs = await getDaveCiphersuite();
    const gw = new TestGateway();
    const kp = await createDaveKeyPackage('900000000000000001', generateP256KeyPair(), cs);
    const ext = externalSendersExtension(gw.externalSenderPackage);
    await expect(
      createGroup(snowflakeToBE64(CHANNEL_ID), kp.publicPackage, kp.privatePackage, [ext], cs),
    ).rejects.toThrow(/external_senders/);

    const state = await pendingGroupOf(kp, gw);
    const other = await createDaveKeyPackage('900000000000000002', generateP256KeyPair(), cs);
    const proposal = await gw.proposal({ type: 'add', keyPackage: other.encoded }, 0n);
    await expect(
      processMessage(publicMessageOf(proposal.message), state, emptyPskIndex, acceptAll, cs),
    ).rejects.toThrow(/ExternalSender/);
  });

  it('createPendingGroup carries exactly the op 25 sender, and external proposals verify and queue', async () => {
    const cs = await getDaveCiphersuite();
    const gw = new TestGateway();
    const kp = await createDaveKeyPackage('900000000000000003', generateP256KeyPair(), cs);
    const state = await pendingGroupOf(kp, gw);
    expect(state.groupContext.epoch).toBe(0n);
    expect(state.groupContext.extensions).toHaveLength(1);
    expect(groupExternalSenders(state).map((s) => hex(s.encoded))).toEqual([hex(gw.externalSenderPackage)]);

    const other = await createDaveKeyPackage('900000000000000004', generateP256KeyPair(), cs);
    const proposal = await gw.proposal({ type: 'add', keyPackage: other.encoded }, 0n);
    const { state: next, ref } = await processExternalProposal(
      state,
      publicMessageOf(proposal.message).publicMessage,
      gw.externalSenderPublicKey,
      cs,
    );
    // our hand-built ProposalRef (dave.md §7.3) equals ts-mls's
    expect(hex(ref)).toBe(hex(proposal.ref));
    expect(Object.keys(next.unappliedProposals)).toEqual([Buffer.from(proposal.ref).toString('base64')]);

    const forged = signedProposal(
      { type: 'add', keyPackage: other.encoded },
      { groupId: snowflakeToBE64(CHANNEL_ID), epoch: 0n, signingKey: generateP256SigningKey() },
    );
    await expect(
      processExternalProposal(
        state,
        publicMessageOf(forged.message).publicMessage,
        gw.externalSenderPublicKey,
        cs,
      ),
    ).rejects.toThrow();
  });

  it('davey joins our group and then accepts gateway proposals against the extension we encoded', async () => {
    const gw = new TestGateway();
    const davey = new DaveyMember('900000000000000010');
    const ours = new OurMember('900000000000000011');
    const third = new OurMember('900000000000000012');
    await gw.connectFirst(davey);
    await gw.connectSecond(ours, 'second'); // our pending group (our extension encoding) is what davey joins
    // davey reads the external sender from that group context to verify this proposal
    for (const m of [davey, ours]) m.recognize([third.userId]);
    await third.externalSender(gw.externalSenderPackage);
    const add = await gw.proposal({ type: 'add', keyPackage: await third.keyPackage() });
    const daveyCommit = await davey.proposals(gw.appendPayload([add.message]));
    expect(daveyCommit).toBeDefined();
  });

  it("we join davey's group and read its external_senders vector as op 25", async () => {
    const gw = new TestGateway();
    const ours = new OurMember('900000000000000020');
    const davey = new DaveyMember('900000000000000021');
    await gw.connectFirst(ours);
    await gw.connectSecond(davey, 'second'); // davey's pending group, ours joins by Welcome
    const state = (ours.session as unknown as { currentGroup: Parameters<typeof groupExternalSenders>[0] })
      .currentGroup;
    expect(groupExternalSenders(state).map((s) => hex(s.encoded))).toEqual([hex(gw.externalSenderPackage)]);
  });
});
