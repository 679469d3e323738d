/**
 * Test helper: a two-member @snazzah/davey group with this process playing the voice gateway's
 * external sender (one signed external Add proposal, dave.md §4.7, §4.9). Lets frame-level tests
 * compare with davey without our own MLS session in the loop.
 */
import { DAVESession } from '@snazzah/davey';
import { buildExternalAdd } from '../../src/dave/mls/external-proposal.js';
import { encodeExternalSender, snowflakeToBE64 } from '../../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../../src/dave/mls/mls-sign.js';
import { encodeProposalsPayload } from '../../src/dave/opcodes.js';

export interface DaveyPair {
  alice: DAVESession;
  bob: DAVESession;
  aliceId: string;
  bobId: string;
}

export function createDaveyPair(
  aliceId = '158049329150427136',
  bobId = '80351110224678912',
  channelId = '1234567890123456789',
): DaveyPair {
  const signingKey = generateP256SigningKey();
  const externalSender = Buffer.from(
    encodeExternalSender(p256PointOf(signingKey), Uint8Array.of(0, 1, 1, 0)),
  );
  const alice = new DAVESession(1, aliceId, channelId);
  const bob = new DAVESession(1, bobId, channelId);
  alice.setExternalSender(externalSender);
  bob.setExternalSender(externalSender);
  alice.getSerializedKeyPackage();
  const bobKeyPackage = bob.getSerializedKeyPackage();
  const add = buildExternalAdd({ groupId: snowflakeToBE64(channelId), epoch: 0n, signingKey }, bobKeyPackage);
  // op 27 append without its operation byte, as davey takes it
  const proposals = encodeProposalsPayload({ operation: 'append', messages: [add.message] }).subarray(1);
  const result = alice.processProposals(0, Buffer.from(proposals), [aliceId, bobId]);
  if (result.commit === undefined || result.welcome === undefined)
    throw new Error('davey produced no commit/welcome');
  bob.processWelcome(result.welcome);
  alice.processCommit(result.commit);
  return { alice, bob, aliceId, bobId };
}
