import { describe, expect, it } from 'vitest';
import { DaveSession } from '../../../src/dave/mls/dave-session.js';
import type { DaveResult } from '../../../src/dave/mls/dave-session.js';
import { buildExternalAdd } from '../../../src/dave/mls/external-proposal.js';
import { snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../../../src/dave/mls/mls-sign.js';
import {
  decodeCommitWelcome,
  decodeProposalsPayload,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
} from '../../../src/dave/opcodes.js';

const CHANNEL = '900000000000000001';
const A = '500000000000000001';
const B = '500000000000000002';

function payloadOf(result: DaveResult, op: number): Uint8Array {
  if (result.error !== undefined) throw result.error;
  const out = result.send.find((s) => s.op === op);
  if (out === undefined || !('payload' in out)) throw new Error(`no op ${op}`);
  return out.payload;
}

/** Every ArrayBuffer reachable from `root` (own properties, Maps, Sets, arrays), with the bytes viewed in it. */
function reachableBuffers(root: unknown): Map<ArrayBufferLike, number> {
  const seen = new Set<unknown>();
  const buffers = new Map<ArrayBufferLike, number>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      buffers.set(v.buffer, (buffers.get(v.buffer) ?? 0) + v.byteLength);
    } else if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      for (const x of v) stack.push(x);
    } else if (!(v instanceof Promise)) {
      for (const k of Reflect.ownKeys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d !== undefined && 'value' in d) stack.push(d.value);
      }
    }
  }
  return buffers;
}

describe('bytes a two-member DAVE session keeps', () => {
  it('its group state pins no shared 8 KiB pool slab, only buffers about the size of what it keeps', async () => {
    const gateway = generateP256SigningKey();
    const externalSender = encodeExternalSenderPackage(p256PointOf(gateway), Uint8Array.of(1, 0));
    const committer = new DaveSession({ userId: A, channelId: CHANNEL });
    const joiner = new DaveSession({ userId: B, channelId: CHANNEL });
    for (const s of [committer, joiner]) {
      s.addRecognizedUsers([A, B]);
      await s.onExternalSender(externalSender);
    }
    await committer.init(1);
    const kp = payloadOf(await joiner.init(1), 26);
    const ctx = { groupId: snowflakeToBE64(CHANNEL), epoch: 0n, signingKey: gateway };
    const proposals = decodeProposalsPayload(
      encodeProposalsPayload({ operation: 'append', messages: [buildExternalAdd(ctx, kp).message] }),
    );
    const cw = decodeCommitWelcome(payloadOf(await committer.onProposals(proposals), 28));
    await joiner.onProposals(proposals);
    expect((await committer.onAnnounceCommit({ transitionId: 1, commit: cw.commit })).error).toBeUndefined();
    const joined = await joiner.onWelcome({ transitionId: 1, welcome: cw.welcome ?? new Uint8Array() });
    expect(joined.error).toBeUndefined();
    expect(joiner.established && committer.established).toBe(true);

    for (const session of [joiner, committer]) {
      const buffers = reachableBuffers(session);
      let held = 0;
      let viewed = 0;
      for (const [buffer, bytes] of buffers) {
        // Buffer.poolSize (8 KiB) slabs are shared by unrelated allocations; one view keeps all of it
        expect(buffer.byteLength).toBeLessThan(Buffer.poolSize);
        held += buffer.byteLength;
        viewed += bytes;
      }
      expect(viewed).toBeGreaterThan(500); // keys, secrets and the two leaves are there
      expect(held).toBeLessThan(2 * viewed);
    }
  });
});
