/**
 * One two-member DAVE group in process, as a bot joining a channel with one user: a gateway key
 * signs the Add, the first member commits it, the second joins from the Welcome. Used by
 * bench/dave-session-memory.ts and its test.
 */
import type { KeyObject } from 'node:crypto';
import { DaveSession } from '../src/dave/mls/dave-session.js';
import type { DaveResult } from '../src/dave/mls/dave-session.js';
import { buildExternalAdd } from '../src/dave/mls/external-proposal.js';
import { snowflakeToBE64 } from '../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../src/dave/mls/mls-sign.js';
import {
  decodeCommitWelcome,
  decodeProposalsPayload,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
} from '../src/dave/opcodes.js';

export interface TestGatewayKey {
  key: KeyObject;
  /** Op 25 payload. */
  externalSender: Uint8Array;
}

export function gatewayKey(): TestGatewayKey {
  const key = generateP256SigningKey();
  return { key, externalSender: encodeExternalSenderPackage(p256PointOf(key), Uint8Array.of(1, 0)) };
}

function payloadOf(result: DaveResult, op: number): Uint8Array {
  if (result.error !== undefined) throw result.error;
  const out = result.send.find((s) => s.op === op);
  if (out === undefined || !('payload' in out)) throw new Error(`no op ${op}`);
  return out.payload;
}

/** Group number `i` (its own channel and users); both members established at epoch 1. */
export async function twoMemberGroup(
  i: number,
  gateway: TestGatewayKey,
): Promise<{ committer: DaveSession; joiner: DaveSession }> {
  const channel = (900000000000000000n + BigInt(i)).toString();
  const a = (500000000000000000n + BigInt(2 * i)).toString();
  const b = (500000000000000000n + BigInt(2 * i + 1)).toString();
  const committer = new DaveSession({ userId: a, channelId: channel });
  const joiner = new DaveSession({ userId: b, channelId: channel });
  for (const s of [committer, joiner]) {
    s.addRecognizedUsers([a, b]);
    await s.onExternalSender(gateway.externalSender);
  }
  await committer.init(1);
  const kp = payloadOf(await joiner.init(1), 26);
  const ctx = { groupId: snowflakeToBE64(channel), epoch: 0n, signingKey: gateway.key };
  const proposals = decodeProposalsPayload(
    encodeProposalsPayload({ operation: 'append', messages: [buildExternalAdd(ctx, kp).message] }),
  );
  const cw = decodeCommitWelcome(payloadOf(await committer.onProposals(proposals), 28));
  await joiner.onProposals(proposals);
  const done = await committer.onAnnounceCommit({ transitionId: 1, commit: cw.commit });
  if (done.error) throw done.error;
  const joined = await joiner.onWelcome({ transitionId: 1, welcome: cw.welcome ?? new Uint8Array() });
  if (joined.error) throw joined.error;
  return { committer, joiner };
}
