/**
 * Issue 11, defect 1: a frame is DAVE-encrypted with the key in force when it is sent. A voxcord
 * member streams numbered frames; a third member (voxcord, or davey driven like discord.js) joins
 * while it does. Once the joiner has op 22 (the sender switches keys at the same op), at most one
 * frame from the sender may fail to decrypt at the joiner, and every later frame arrives. Before,
 * frames were encrypted when queued (15-25 of them in the worker), so the joiner lost 0.3-0.5 s
 * of every voxcord sender after op 22 (frames under the previous epoch's key).
 * "After op 22" is judged by when a frame was due to leave (its RTP timestamp on the sender's
 * 20 ms clock), not when the joiner's main thread got to it: on a loaded machine the frames sent
 * before op 22 may still be in the SFU's socket or the receive batch, and be handed over after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { createDaveClient } from '../../src/dave/dave-client.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { daveyEndpoint } from '../helpers/davey-endpoint.js';
import { instrument } from '../helpers/dave-instrument.js';
import type { Instrumented } from '../helpers/dave-instrument.js';
import { CHANNEL, GUILD, startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const FRAMES = 300;

async function* numbered(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < FRAMES; i++) {
    const f = new Uint8Array(40).fill(0x33);
    f[0] = 0xfc;
    f[1] = i >> 8;
    f[2] = i & 0xff;
    yield f;
  }
}

const indexOf = (p: Uint8Array): number | undefined =>
  p.length === 40 && p[0] === 0xfc && p[3] === 0x33 ? (p[1]! << 8) | p[2]! : undefined;

interface Receiver {
  session: VoiceSession;
  inst: Instrumented;
  /** Indices decrypted from the sender, in arrival order. */
  got: number[];
  /** Decrypt failures of the sender's frames, split by whether op 22 of the join had arrived. */
  failuresBefore22: number;
  failuresAfter22: string[];
  /** The sequence of each failure while op 22 was there, and performance.now() when it arrived. */
  failedWithOp22: { sequence: number; op22At: number }[];
  /** RTP sequence -> [RTP timestamp, performance.now() when the datagram arrived] (frames decrypted here). */
  arrived: Map<number, [number, number]>;
}

async function member(
  h: Harness,
  id: string,
  kind: 'voxcord' | 'davey',
  senderId: string,
  op22After: () => number,
): Promise<Receiver> {
  const inst = instrument(kind === 'davey' ? daveyEndpoint : createDaveClient);
  const session = await h.join(id, { daveEndpoint: inst.factory });
  const r: Receiver = {
    session,
    inst,
    got: [],
    failuresBefore22: 0,
    failuresAfter22: [],
    failedWithOp22: [],
    arrived: new Map(),
  };
  const op22At = (): number | undefined => {
    const k = inst.received.findIndex(
      (m) => m.op === VoiceOpcode.DaveExecuteTransition && m.transitionId >= op22After(),
    );
    return k < 0 ? undefined : inst.receivedAt[k];
  };
  session.on('audioFrame', (f) => {
    const i = f.userId === senderId ? indexOf(f.payload) : undefined;
    if (i !== undefined) {
      r.got.push(i);
      r.arrived.set(f.sequence, [f.timestamp, f.receivedAt]);
    }
  });
  session.on('daveDecryptFailure', (f) => {
    if (f.userId !== senderId) return;
    const at = op22At();
    if (at === undefined) r.failuresBefore22++;
    else r.failedWithOp22.push({ sequence: f.sequence, op22At: at });
  });
  return r;
}

/**
 * Splits the joiner's failures that came with op 22 there by when their frame was due to leave the
 * sender. The member already in the call decrypts every frame: its copies give each sequence's RTP
 * timestamp (960 per 20 ms tick), and the earliest arrival against that schedule places the
 * schedule on this process's clock (arrival is never before the due time).
 */
function judgeByDueTime(joiner: Receiver, early: Receiver): void {
  const seen = [...early.arrived.values()];
  const [ts0] = seen[0]!;
  const ticks = (ts: number): number => ((ts - ts0) >>> 0) / 960;
  const epoch = Math.min(...seen.map(([ts, at]) => at - ticks(ts) * 20));
  for (const { sequence, op22At } of joiner.failedWithOp22) {
    const copy = early.arrived.get(sequence);
    if (copy !== undefined && epoch + ticks(copy[0]) * 20 < op22At) joiner.failuresBefore22++;
    else joiner.failuresAfter22.push(`sequence ${sequence}`);
  }
}

async function settled(h: Harness, ids: string[]): Promise<number> {
  let tid = 0;
  await until(
    () => {
      const st = h.server.daveState(GUILD, CHANNEL);
      const last = st?.lastTransition;
      if (st === undefined || !st.established || last?.kind !== 'commit' || !last.executed) return false;
      tid = last.transitionId;
      return [...st.members].sort().join() === [...ids].sort().join();
    },
    10_000,
    `group ${ids.join(',')}`,
  );
  return tid;
}

describe.each(['voxcord', 'davey'] as const)('a %s member joins while a voxcord member streams', (kind) => {
  it('loses at most one of its frames after op 22, and every later frame arrives', async () => {
    const h = (harness = await startHarness({ dave: true }));
    const SENDER = '5001';
    let joinTransition = Number.POSITIVE_INFINITY;
    const sender = await h.join(SENDER);
    const early = await member(h, '5002', 'voxcord', SENDER, () => joinTransition);
    const firstTid = await settled(h, [SENDER, '5002']);
    joinTransition = firstTid + 1;

    const playing = sender.playOpus(numbered()).finished;
    await until(() => early.got.length >= 40, 5_000, 'audio before the join');
    const joiner = await member(h, '5003', kind, SENDER, () => joinTransition);
    await settled(h, [SENDER, '5002', '5003']);
    await playing;
    await until(() => joiner.got.includes(FRAMES - 1), 5_000, 'the last frame at the joiner');

    // The joiner: at most one frame lost after its op 22, nothing missing after the first it decrypted.
    judgeByDueTime(joiner, early);
    const lostAfter22 = joiner.failuresAfter22.length;
    console.log(
      `${kind} joiner: failures before op 22 ${joiner.failuresBefore22}, after op 22 ${lostAfter22}, ` +
        `first index decrypted ${joiner.got[0]}`,
    );
    expect(lostAfter22).toBeLessThanOrEqual(1);
    const first = joiner.got[0]!;
    const expected = Array.from({ length: FRAMES - first }, (_, k) => first + k);
    expect(joiner.got.filter((i) => i >= first)).toEqual(expected);
    // The member already there keeps every frame across the key change.
    expect(early.got).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    expect(early.failuresBefore22 + early.failedWithOp22.length).toBe(0);
  });
});
