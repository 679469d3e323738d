/**
 * DAVE MLS handshake costs: our DaveSession (own RFC 9420 layer on node:crypto) vs davey (OpenMLS,
 * native), same run, same machine. Run: npx tsx bench/dave-mls.ts [iterations]
 * For each group size N: a committer and an observer in an N-member group; a new member's Add
 * arrives (op 27); we time the committer's commit+welcome, the observer processing that commit,
 * and the newcomer joining from the Welcome. Medians over fresh groups. Key package alone too.
 */
import { performance } from 'node:perf_hooks';
import { DAVESession } from '@snazzah/davey';
import type { ProposalsOperationType } from '@snazzah/davey';
import { DaveSession } from '../src/dave/mls/dave-session.js';
import type { DaveResult } from '../src/dave/mls/dave-session.js';
import { createDaveKeyPackage, generateP256KeyPair } from '../src/dave/mls/key-package.js';
import { buildExternalAdd, buildExternalRemove } from '../src/dave/mls/external-proposal.js';
import { snowflakeToBE64 } from '../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../src/dave/mls/mls-sign.js';
import {
  decodeCommitWelcome,
  decodeProposalsPayload,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
} from '../src/dave/opcodes.js';

const CHANNEL = '1234567890123456789';
const ITERATIONS = Number(process.argv[2] ?? 7);
const SIZES = [2, 10, 50];

const gatewayKey = generateP256SigningKey();
const externalSender = encodeExternalSenderPackage(p256PointOf(gatewayKey), Uint8Array.of(1, 0));

const userId = (i: number): string => (500000000000000000n + BigInt(i)).toString();

function appendPayload(epoch: bigint, keyPackages: Uint8Array[]): Uint8Array {
  const ctx = { groupId: snowflakeToBE64(CHANNEL), epoch, signingKey: gatewayKey };
  const messages = keyPackages.map((kp) => buildExternalAdd(ctx, kp).message);
  return encodeProposalsPayload({ operation: 'append', messages });
}

/** op 27 removing `leaf` at `epoch`. */
function removePayload(epoch: bigint, leaf: number): Uint8Array {
  const ctx = { groupId: snowflakeToBE64(CHANNEL), epoch, signingKey: gatewayKey };
  return encodeProposalsPayload({ operation: 'append', messages: [buildExternalRemove(ctx, leaf).message] });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

async function time<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

function payloadOf(result: DaveResult, op: number): Uint8Array {
  const out = result.send.find((s) => s.op === op);
  if (result.error !== undefined) throw result.error;
  if (out === undefined || !('payload' in out)) throw new Error(`no op ${op}`);
  return out.payload;
}

interface Sample {
  commit: number;
  process: number;
  join: number;
  /** A remove: the commit carries an UpdatePath (HPKE to each copath resolution). */
  removeCommit: number;
  removeProcess: number;
}

async function oursOnce(n: number): Promise<Sample> {
  const all = Array.from({ length: n + 1 }, (_, i) => userId(i));
  const committer = new DaveSession({ userId: all[0] ?? '', channelId: CHANNEL });
  const observer = new DaveSession({ userId: all[1] ?? '', channelId: CHANNEL });
  const newcomer = new DaveSession({ userId: all[n] ?? '', channelId: CHANNEL });
  for (const s of [committer, observer, newcomer]) {
    s.addRecognizedUsers(all);
    await s.onExternalSender(externalSender);
  }
  await committer.init(1);
  const observerKp = payloadOf(await observer.init(1), 26);
  const others: Uint8Array[] = [];
  for (let i = 2; i < n; i++) others.push(createDaveKeyPackage(all[i] ?? '', generateP256KeyPair()).encoded);
  // setup: committer creates the N-member group, observer joins
  const setup = decodeCommitWelcome(
    payloadOf(
      await committer.onProposals(decodeProposalsPayload(appendPayload(0n, [observerKp, ...others]))),
      28,
    ),
  );
  await committer.onAnnounceCommit({ transitionId: 1, commit: setup.commit });
  const joined = await observer.onWelcome({ transitionId: 1, welcome: setup.welcome ?? new Uint8Array() });
  if (joined.error) throw joined.error;
  // measured round
  const newKp = payloadOf(await newcomer.init(1), 26);
  const proposals = decodeProposalsPayload(appendPayload(1n, [newKp]));
  const [commitResult, commitMs] = await time(() => committer.onProposals(proposals));
  const { commit, welcome } = decodeCommitWelcome(payloadOf(commitResult, 28));
  await observer.onProposals(proposals);
  const [processed, processMs] = await time(() => observer.onAnnounceCommit({ transitionId: 2, commit }));
  if (processed.error) throw processed.error;
  const [joinedNew, joinMs] = await time(() =>
    newcomer.onWelcome({ transitionId: 2, welcome: welcome ?? new Uint8Array() }),
  );
  if (joinedNew.error) throw joinedNew.error;
  // measured remove round (epoch 2): the newcomer (leaf n) leaves again
  await committer.onAnnounceCommit({ transitionId: 2, commit });
  const removal = decodeProposalsPayload(removePayload(2n, n));
  const [removeResult, removeCommitMs] = await time(() => committer.onProposals(removal));
  const removeCommit = decodeCommitWelcome(payloadOf(removeResult, 28)).commit;
  await observer.onProposals(removal);
  const [removed, removeProcessMs] = await time(() =>
    observer.onAnnounceCommit({ transitionId: 3, commit: removeCommit }),
  );
  if (removed.error) throw removed.error;
  return {
    commit: commitMs,
    process: processMs,
    join: joinMs,
    removeCommit: removeCommitMs,
    removeProcess: removeProcessMs,
  };
}

async function daveyRun(n: number): Promise<Sample> {
  const all = Array.from({ length: n + 1 }, (_, i) => userId(i));
  const committer = new DAVESession(1, all[0] ?? '', CHANNEL);
  const observer = new DAVESession(1, all[1] ?? '', CHANNEL);
  const newcomer = new DAVESession(1, all[n] ?? '', CHANNEL);
  for (const s of [committer, observer, newcomer]) s.setExternalSender(Buffer.from(externalSender));
  committer.getSerializedKeyPackage();
  const observerKp = new Uint8Array(observer.getSerializedKeyPackage());
  const others: Uint8Array[] = [];
  for (let i = 2; i < n; i++)
    others.push(new Uint8Array(new DAVESession(1, all[i] ?? '', CHANNEL).getSerializedKeyPackage()));
  const append = 0 as ProposalsOperationType;
  const setupPayload = appendPayload(0n, [observerKp, ...others]);
  const setup = committer.processProposals(append, Buffer.from(setupPayload.subarray(1)), all);
  if (setup.commit === undefined || setup.welcome === undefined) throw new Error('davey setup failed');
  committer.processCommit(setup.commit);
  observer.processWelcome(setup.welcome);
  const newKp = new Uint8Array(newcomer.getSerializedKeyPackage());
  const payload = Buffer.from(appendPayload(1n, [newKp]).subarray(1));
  const [result, commitMs] = await time(() => committer.processProposals(append, payload, all));
  if (result.commit === undefined || result.welcome === undefined) throw new Error('davey commit failed');
  observer.processProposals(append, payload, all);
  const commit = result.commit;
  const welcome = result.welcome;
  const [, processMs] = await time(() => observer.processCommit(commit));
  const [, joinMs] = await time(() => newcomer.processWelcome(welcome));
  committer.processCommit(commit);
  const removal = Buffer.from(removePayload(2n, n).subarray(1));
  const [removeResult, removeCommitMs] = await time(() => committer.processProposals(append, removal, all));
  const removeCommit = removeResult.commit;
  if (removeCommit === undefined) throw new Error('davey remove commit failed');
  observer.processProposals(append, removal, all);
  const [, removeProcessMs] = await time(() => observer.processCommit(removeCommit));
  return {
    commit: commitMs,
    process: processMs,
    join: joinMs,
    removeCommit: removeCommitMs,
    removeProcess: removeProcessMs,
  };
}

async function keyPackageTimes(): Promise<{ ours: number; davey: number }> {
  const ours: number[] = [];
  const davey: number[] = [];
  const session = new DaveSession({ userId: userId(1), channelId: CHANNEL });
  await session.onExternalSender(externalSender);
  const d = new DAVESession(1, userId(2), CHANNEL);
  d.setExternalSender(Buffer.from(externalSender));
  for (let i = 0; i < ITERATIONS * 3; i++) {
    ours.push((await time(() => session.init(1)))[1]);
    davey.push((await time(() => d.getSerializedKeyPackage()))[1]);
  }
  return { ours: median(ours), davey: median(davey) };
}

async function main(): Promise<void> {
  await oursOnce(2); // warm-up (JIT, ciphersuite)
  await daveyRun(2);
  const fmt = (v: number): string => v.toFixed(2).padStart(8);
  console.log(
    `DAVE MLS handshake, medians of ${ITERATIONS} fresh groups (ms): ours (own RFC 9420 layer on node:crypto) vs davey`,
  );
  console.log('operation                    N     ours    davey   ratio');
  for (const n of SIZES) {
    const ours: Sample[] = [];
    const davey: Sample[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      ours.push(await oursOnce(n));
      davey.push(await daveyRun(n));
    }
    for (const key of ['commit', 'process', 'join', 'removeCommit', 'removeProcess'] as const) {
      const o = median(ours.map((s) => s[key]));
      const d = median(davey.map((s) => s[key]));
      const label = {
        commit: 'commit + welcome adding 1',
        process: 'process that commit',
        join: 'join from welcome',
        removeCommit: 'commit removing 1 (path)',
        removeProcess: 'process that commit',
      }[key];
      console.log(`${label.padEnd(26)} ${String(n).padStart(3)} ${fmt(o)} ${fmt(d)} ${fmt(o / d)}x`);
    }
  }
  const kp = await keyPackageTimes();
  console.log(`${'key package'.padEnd(26)}   - ${fmt(kp.ours)} ${fmt(kp.davey)} ${fmt(kp.ours / kp.davey)}x`);
}

await main();
