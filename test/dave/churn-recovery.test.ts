/**
 * DAVE under churn with bad commits and welcomes, without sockets (net.ts): seeded programs of
 * joins, leaves and corrupted MLS messages of the kinds a buggy member causes (its op 28 commit
 * bytes, or the op 29 / op 30 a member cannot process), run against the local delivery service
 * with members that are our DaveClients or @snazzah/davey's (independent: OpenMLS, libdave's rules). However a program ran, once nobody corrupts anything any more and the
 * transitions have run (timeouts included), every member must be in one group: the service's
 * members, one epoch, one privacy code and authenticator, and everyone decrypting everyone.
 * `DAVE_CHURN_SEEDS=1-500` for a long run.
 */
import { describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { createRng } from '../../src/server/faults.js';
import { decrypts, Net } from './net.js';
import type { Node as NetNode } from './net.js';
import type { DaveEndpoint } from '../../src/dave/dave-endpoint.js';
import { daveyEndpoint } from '../helpers/davey-endpoint.js';

type Node = NetNode<DaveEndpoint>;

function seedList(spec: string): number[] {
  const [from, to] = spec.split('-').map(Number);
  return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
}

const SEEDS = seedList(process.env.DAVE_CHURN_SEEDS ?? '1-30');
const STEPS = 10;
const MAX_MEMBERS = 5;

/** A copy of `payload` with one byte flipped at a place `rng` picks, within its last `within` bytes. */
function flipped(payload: Uint8Array, rng: () => number, within = payload.length): Uint8Array {
  const out = Uint8Array.from(payload);
  const at = out.length - 1 - Math.floor(rng() * Math.min(within, out.length));
  out[at] = out[at]! ^ (1 + Math.floor(rng() * 255));
  return out;
}

/** Runs program `seed`; returns what it did, for the failure message. */
async function run(seed: number): Promise<{ net: Net; members: Node[]; log: string[] }> {
  const rng = createRng(seed);
  const net = new Net();
  if (process.env.DAVE_CHURN_TRACE !== undefined) net.trace = [];
  const log: string[] = [];
  let nextId = 0;
  // About a third of the members are @snazzah/davey (libdave's behaviour on OpenMLS), the rest ours.
  const join = (): void => {
    const id = String(6100000000000000000n + BigInt(nextId++));
    const davey = rng() < 0.35;
    if (davey) net.join(id, 1, daveyEndpoint);
    else net.join(id);
    log.push(`join ${id.slice(-2)}${davey ? ' (davey)' : ''}`);
  };
  join();
  join();
  await net.run();
  for (let step = 0; step < STEPS; step++) {
    const members = [...net.nodes.keys()];
    const action = Math.floor(rng() * 4);
    if (action === 0 && members.length < MAX_MEMBERS) join();
    else if (action === 1 && members.length > 1) {
      const id = members[Math.floor(rng() * members.length)]!;
      net.leave(id);
      log.push(`leave ${id.slice(-2)}`);
    } else if (action === 2) {
      // The next commit a member sends is damaged (a buggy committer).
      let done = false;
      net.interceptClient = (from, m) => {
        if (done || m.op !== VoiceOpcode.DaveMlsCommitWelcome) return m;
        done = true;
        log.push(`bad commit from ${from.slice(-2)}`);
        return { op: m.op, payload: flipped(m.payload, rng) };
      };
    } else {
      // The next op 29 or op 30 one member gets cannot be processed by it: damaged in its
      // signature or sealed part (its header names the group: a member ignores a commit for
      // another group, as libdave does, and the server sends the same bytes to every member).
      const victim = members[Math.floor(rng() * members.length)];
      let done = false;
      net.intercept = (to, m) => {
        const mls =
          m.op === VoiceOpcode.DaveMlsAnnounceCommitTransition || m.op === VoiceOpcode.DaveMlsWelcome;
        if (done || to !== victim || !mls) return m;
        done = true;
        log.push(`bad op ${m.op} to ${to.slice(-2)}`);
        return { op: m.op, payload: flipped(m.payload, rng, 32) };
      };
    }
    // Sometimes the next change comes before this one has settled.
    if (rng() < 0.6) await net.run();
  }
  net.intercept = undefined;
  net.interceptClient = undefined;
  for (let round = 0; round < 20; round++) {
    await net.run();
    if (!net.expireNext()) break;
  }
  await net.run();
  return { net, members: [...net.nodes.values()], log };
}

/** What is wrong once program `seed` has settled ('' when nothing is), with its trace if asked for. */
async function problem(seed: number): Promise<string> {
  const { net, members, log } = await run(seed);
  // A member left alone has no group (a sole-member reset): nothing to agree on.
  if (members.length < 2) return '';
  const id = (n: Node): string => n.id.slice(-2);
  const wrong: string[] = [];
  const inService = net.service.members().sort().join(' ');
  if (
    inService !==
    members
      .map((m) => m.id)
      .sort()
      .join(' ')
  )
    wrong.push(`service members ${inService}`);
  for (const [what, of] of [
    ['epoch', (n: Node) => String(n.client.epoch)],
    ['privacy code', (n: Node) => String(n.client.privacyCode)],
    ['authenticator', (n: Node) => Buffer.from(n.client.epochAuthenticator ?? []).toString('hex')],
  ] as const) {
    if (new Set(members.map(of)).size !== 1)
      wrong.push(`${what}s ${members.map((n) => `${id(n)}:${of(n)}`).join(' ')}`);
  }
  for (const from of members)
    for (const to of members)
      if (from !== to && !decrypts(from, to)) wrong.push(`${id(to)} cannot decrypt ${id(from)}`);
  if (wrong.length === 0) return '';
  const errors = members.map(
    (m) =>
      `${id(m)}: ${JSON.stringify(m.events.flatMap((e) => (e.type === 'error' ? [e.error.details] : [])))}`,
  );
  return [`seed ${seed}: ${log.join(', ')}: ${wrong.join('; ')}`, ...(net.trace ?? []), ...errors].join('\n');
}

describe('DAVE under churn with bad commits and welcomes', () => {
  it(
    `${SEEDS.length} programs: once the damage stops, every member is in one group and hears everyone`,
    { timeout: 600_000 },
    async () => {
      const problems: string[] = [];
      for (const seed of SEEDS) {
        const p = await problem(seed);
        await new Promise((r) => setImmediate(r)); // lets vitest's own messages through on long runs
        if (p !== '') problems.push(p);
      }
      expect(problems).toEqual([]);
    },
  );
});
