/**
 * Test helper: a two-member @snazzah/davey group with this process playing the voice gateway's
 * external sender (one signed external Add proposal, dave.md §4.7, §4.9). Lets frame-level tests
 * compare with davey before our own MLS session exists.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { DAVESession } from '@snazzah/davey';

function mlsOpaque(bytes: Uint8Array): Buffer {
  const n = bytes.length;
  const prefix =
    n < 0x40
      ? Buffer.of(n)
      : n < 0x4000
        ? Buffer.of(0x40 | (n >> 8), n & 0xff)
        : Buffer.of(0x80 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  return Buffer.concat([prefix, bytes]);
}

function u16(n: number): Buffer {
  return Buffer.of(n >> 8, n & 0xff);
}

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
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const pub = Buffer.concat([
    Buffer.of(4),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  const externalSender = Buffer.concat([mlsOpaque(pub), u16(1), mlsOpaque(Buffer.of(0, 1, 1, 0))]);
  const alice = new DAVESession(1, aliceId, channelId);
  const bob = new DAVESession(1, bobId, channelId);
  alice.setExternalSender(externalSender);
  bob.setExternalSender(externalSender);
  alice.getSerializedKeyPackage();
  const bobKeyPackage = bob.getSerializedKeyPackage();
  const groupId = Buffer.alloc(8);
  groupId.writeBigUInt64BE(BigInt(channelId));
  // FramedContent of an external Add proposal at epoch 0 (RFC 9420 §6).
  const content = Buffer.concat([
    mlsOpaque(groupId),
    Buffer.alloc(8),
    Buffer.of(2, 0, 0, 0, 0),
    mlsOpaque(Buffer.alloc(0)),
    Buffer.of(2),
    u16(1),
    bobKeyPackage,
  ]);
  const tbs = Buffer.concat([u16(1), u16(1), content]);
  const signature = sign(
    'sha256',
    Buffer.concat([mlsOpaque(Buffer.from('MLS 1.0 FramedContentTBS')), mlsOpaque(tbs)]),
    privateKey,
  );
  const message = Buffer.concat([u16(1), u16(1), content, mlsOpaque(signature)]);
  const result = alice.processProposals(0, mlsOpaque(message), [aliceId, bobId]);
  if (result.commit === undefined || result.welcome === undefined)
    throw new Error('davey produced no commit/welcome');
  bob.processWelcome(result.welcome);
  alice.processCommit(result.commit);
  return { alice, bob, aliceId, bobId };
}
