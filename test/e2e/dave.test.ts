/**
 * Issue 3 end to end: DAVE over real sockets (127.0.0.1) on the local server, with voxcord sessions
 * (our MLS, ratchets and frame crypto) and davey-driven sessions (our transport, @snazzah/davey's
 * DAVE, driven like discord.js drives it) in the same calls. At every epoch all members agree on the
 * epoch authenticator and privacy code, and every sender's Opus frames decrypt at every receiver.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import type { VoxcordError } from '../../src/errors.js';
import { createDaveClient } from '../../src/dave/dave-client.js';
import type { VoiceSession, VoiceSessionOptions } from '../../src/voice/session.js';
import type { DaveDecryptFailure } from '../../src/voice/session-dave.js';
import { daveyEndpoint } from '../helpers/davey-endpoint.js';
import { flipNearEnd, instrument } from '../helpers/dave-instrument.js';
import type { Instrumented } from '../helpers/dave-instrument.js';
import { CHANNEL, GUILD, startHarness, until, waitForDaveGroup } from './harness.js';
import type { Harness } from './harness.js';
import { hex, isSilence } from '../support/bytes.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

type Kind = 'voxcord' | 'davey';

interface Member {
  id: string;
  kind: Kind;
  session: VoiceSession;
  inst: Instrumented;
  /** Non-silence Opus frames received (decrypted), hex, per sender. */
  got: Map<string, string[]>;
  /** Raw 'rtp' payloads (non-silence), hex, per sender. */
  raw: Map<string, string[]>;
  failures: DaveDecryptFailure[];
  errors: VoxcordError[];
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}

async function join(
  h: Harness,
  id: string,
  kind: Kind,
  extra: Partial<VoiceSessionOptions> = {},
  inst = instrument(kind === 'davey' ? daveyEndpoint : createDaveClient),
): Promise<Member> {
  const m: Member = {
    id,
    kind,
    inst,
    session: undefined as unknown as VoiceSession,
    got: new Map(),
    raw: new Map(),
    failures: [],
    errors: [],
  };
  m.session = await h.join(id, { daveEndpoint: inst.factory, ...extra });
  m.session.on('audioFrame', (f) => {
    if (f.userId !== undefined && !isSilence(f.payload)) push(m.got, f.userId, hex(f.payload));
  });
  m.session.on('rtp', (p) => {
    if (p.userId !== undefined && !isSilence(p.payload)) push(m.raw, p.userId, hex(p.payload));
  });
  m.session.on('daveDecryptFailure', (f) => m.failures.push(f));
  m.session.on('daveError', (e) => m.errors.push(e));
  return m;
}

function leave(h: Harness, m: Member): void {
  expect(h.server.disconnect(m.id, GUILD)).toBe(true); // op 13 to the others, like leaving the channel
}

interface Settled {
  epoch: number;
  code: string;
  authenticator: string;
}

/**
 * Waits until the server's group is exactly `members`, its last commit transition executed and
 * every member processed that op 22; then checks that everyone agrees.
 */
async function settle(
  h: Harness,
  members: Member[],
  options: { allowTimeout?: boolean } = {},
): Promise<Settled> {
  await waitForDaveGroup(
    h.server,
    () =>
      members.map((m) => ({
        id: m.id,
        epoch: m.session.dave.epoch,
        executed: (tid) =>
          m.inst.received.some((r) => r.op === VoiceOpcode.DaveExecuteTransition && r.transitionId === tid),
      })),
    10_000,
  );
  await Promise.all(members.map((m) => m.session.dave.settled()));
  const st = h.server.daveState(GUILD, CHANNEL)!;
  if (options.allowTimeout !== true) expect(st.lastTransition?.timedOut).toBe(false); // everyone sent op 23
  const codes = new Set(members.map((m) => m.session.dave.privacyCode));
  const auths = new Set(members.map((m) => hex(m.session.dave.epochAuthenticator)));
  expect([...codes]).toHaveLength(1);
  expect([...auths]).toHaveLength(1);
  const code = [...codes][0]!;
  expect(code).toMatch(/^\d{30}$/);
  for (const m of members) {
    expect(m.session.dave.protocolVersion).toBe(1);
    expect(m.session.dave.epoch).toBe(BigInt(st.epoch));
  }
  return { epoch: st.epoch, code, authenticator: [...auths][0]! };
}

async function* framesOf(frames: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* frames;
}

/** A recognisable Opus-sized frame: TOC byte, tag, sender, index, filler. */
function frameFor(tag: number, sender: number, i: number): Uint8Array {
  const f = new Uint8Array(48).fill((tag * 7 + sender * 13 + i) & 0xff);
  f[0] = 0xfc;
  f[1] = tag & 0xff;
  f[2] = sender;
  f[3] = i;
  return f;
}

/**
 * Every member sends `count` frames at once; every other member must receive exactly those,
 * decrypted, with no decrypt failure. Returns the raw payloads seen by each receiver per sender.
 */
async function exchange(members: Member[], tag: number, count = 5): Promise<void> {
  for (const m of members) {
    m.got.clear();
    m.raw.clear();
  }
  const failures = members.map((m) => m.failures.length);
  const sent = members.map((_, s) => Array.from({ length: count }, (_, i) => frameFor(tag, s, i)));
  await Promise.all(members.map((m, s) => m.session.playOpus(framesOf(sent[s]!)).finished));
  const tagged = (list: string[] | undefined): string[] =>
    (list ?? []).filter((x) => x.slice(2, 4) === (tag & 0xff).toString(16).padStart(2, '0'));
  await until(
    () => members.every((r) => members.every((s) => s === r || tagged(r.got.get(s.id)).length >= count)),
    5_000,
    `frames of round ${tag}`,
  );
  for (const r of members) {
    for (const [s, sender] of members.entries()) {
      if (sender === r) continue;
      expect(tagged(r.got.get(sender.id)), `${sender.id} -> ${r.id}`).toEqual(sent[s]!.map(hex));
    }
  }
  expect(members.map((m) => m.failures.length)).toEqual(failures);
}

/** What a receiver saw on the wire from `sender`: DAVE protocol frames (FA FA trailer), not the Opus. */
function expectEncryptedOnWire(receiver: Member, sender: Member): void {
  const raw = receiver.raw.get(sender.id) ?? [];
  expect(raw.length).toBeGreaterThan(0);
  for (const p of raw) expect(p.endsWith('fafa')).toBe(true);
  const plain = new Set(receiver.got.get(sender.id));
  for (const p of raw) expect(plain.has(p)).toBe(false);
}

describe('DAVE between voxcord sessions', () => {
  it('forms a group, encrypts end to end, survives joins and leaves, and resets a sole member', async () => {
    harness = await startHarness({ dave: true });
    const h = harness;
    const a = await join(h, '3001', 'voxcord');
    const b = await join(h, '3002', 'voxcord');
    const first = await settle(h, [a, b]);
    expect(first.epoch).toBe(1);

    // A -> B: exact frames after decryption, DAVE frames on the wire.
    await exchange([a, b], 1, 20);
    expectEncryptedOnWire(b, a);
    expectEncryptedOnWire(a, b);
    expect(a.session.dave.stats.framesEncrypted).toBe(20);
    expect(b.session.dave.stats.framesDecrypted).toBeGreaterThanOrEqual(20);

    const [codeAB, codeBA] = await Promise.all([
      a.session.dave.verificationCode(b.id),
      b.session.dave.verificationCode(a.id),
    ]);
    expect(codeAB).toMatch(/^\d{45}$/);
    expect(codeAB).toBe(codeBA);

    // A third joins while A is speaking: B keeps decrypting every frame across the transition.
    const long = Array.from({ length: 60 }, (_, i) => frameFor(2, 0, i));
    b.got.clear();
    const playing = a.session.playOpus(framesOf(long)).finished;
    await new Promise((r) => setTimeout(r, 200));
    const c = await join(h, '3003', 'voxcord');
    const second = await settle(h, [a, b, c]);
    await playing;
    await until(() => (b.got.get(a.id)?.length ?? 0) >= long.length, 3_000, 'the long stream');
    expect(b.got.get(a.id)).toEqual(long.map(hex));
    expect(b.failures).toEqual([]);
    expect(second.epoch).toBe(2);
    expect(second.code).not.toBe(first.code);
    await exchange([a, b, c], 3);

    // A member leaves: Remove, new epoch.
    leave(h, b);
    const third = await settle(h, [a, c]);
    expect(third.epoch).toBe(3);
    await exchange([a, c], 4);

    // The last other member leaves: sole-member reset, no key, our audio is dropped (not sent in clear).
    leave(h, c);
    await until(() => a.session.dave.epoch === undefined, 5_000, 'sole-member reset');
    await a.session.dave.settled();
    expect(a.session.dave.privacyCode).toBeUndefined();
    const dropped = a.session.dave.stats.framesDropped;
    await a.session.playOpus(framesOf([frameFor(5, 0, 0), frameFor(5, 0, 1)])).finished;
    expect(a.session.dave.stats.framesDropped).toBe(dropped + 2);

    // Someone new arrives: a fresh group at epoch 1.
    const d = await join(h, '3004', 'voxcord');
    const fresh = await settle(h, [a, d]);
    expect(fresh.epoch).toBe(1);
    await exchange([a, d], 6);
    for (const m of [a, b, c, d]) expect(m.errors).toEqual([]);
  });
});

describe('DAVE and the first frames of a call', () => {
  it('holds audio played right at ready until the group forms: no frame is lost', async () => {
    const h = (harness = await startHarness({ dave: true }));
    const alice = await join(h, '2001', 'voxcord');
    const bob = await join(h, '2002', 'voxcord');
    // Both are 'ready' (transport up) but the MLS group is still forming: play at once.
    const frames = Array.from({ length: 30 }, (_, i) => Uint8Array.of(0xfc, i, 0x55, 0xaa));
    await alice.session.playOpus(
      (async function* () {
        yield* frames;
      })(),
    ).finished;
    await until(() => (bob.got.get('2001')?.length ?? 0) >= frames.length, 5_000, 'every frame at bob');
    expect(bob.got.get('2001')).toEqual(frames.map((f) => hex(f)));
    expect(alice.session.dave.stats.framesDropped).toBe(0);
    expect(bob.failures).toEqual([]);
  });
});

describe('DAVE interop with davey (two members)', () => {
  it.each<[Kind]>([['voxcord'], ['davey']])('%s creates the group', async (creatorKind) => {
    harness = await startHarness({ dave: true });
    const h = harness;
    const otherKind: Kind = creatorKind === 'voxcord' ? 'davey' : 'voxcord';
    const joinerInst = instrument(otherKind === 'davey' ? daveyEndpoint : createDaveClient);
    joinerInst.drop.add(VoiceOpcode.DaveMlsProposals); // never commits: the creator's commit wins
    const creator = await join(h, '4001', creatorKind);
    const joiner = await join(h, '4002', otherKind, {}, joinerInst);
    await settle(h, [creator, joiner]);
    expect(creator.inst.receivedOps()).toContain(VoiceOpcode.DaveMlsAnnounceCommitTransition);
    expect(creator.inst.receivedOps()).not.toContain(VoiceOpcode.DaveMlsWelcome);
    expect(joiner.inst.receivedOps()).toContain(VoiceOpcode.DaveMlsWelcome);
    expect(creator.inst.sentOps()).toContain(VoiceOpcode.DaveMlsCommitWelcome);
    expect(joiner.inst.sentOps()).not.toContain(VoiceOpcode.DaveMlsCommitWelcome);

    await exchange([creator, joiner], 1, 10);
    expectEncryptedOnWire(creator, joiner);
    expectEncryptedOnWire(joiner, creator);
    const codes = await Promise.all([
      creator.session.dave.verificationCode(joiner.id),
      joiner.session.dave.verificationCode(creator.id),
    ]);
    expect(codes[0]).toMatch(/^\d{45}$/);
    expect(codes[0]).toBe(codes[1]);
    expect([...creator.errors, ...joiner.errors]).toEqual([]);
  });
});

describe('DAVE interop with davey (mixed call)', () => {
  it('3 davey + 3 voxcord members agree at every one of 13 epochs and all decrypt each other', async () => {
    harness = await startHarness({ dave: true });
    const h = harness;
    const members: Member[] = [];
    const epochs: Settled[] = [];
    let round = 0;
    const step = async (): Promise<void> => {
      const settled = await settle(h, members);
      epochs.push(settled);
      await exchange(members, ++round, 3);
    };
    const add = async (id: string, kind: Kind): Promise<void> => {
      members.push(await join(h, id, kind));
      if (members.length >= 2) await step();
    };
    const remove = async (id: string): Promise<void> => {
      const i = members.findIndex((m) => m.id === id);
      leave(h, members[i]!);
      members.splice(i, 1);
      await step();
    };

    await add('5001', 'voxcord');
    await add('5101', 'davey');
    await add('5002', 'voxcord');
    await add('5102', 'davey');
    await add('5003', 'voxcord');
    await add('5103', 'davey');
    expect(members.map((m) => m.kind).sort()).toEqual([
      'davey',
      'davey',
      'davey',
      'voxcord',
      'voxcord',
      'voxcord',
    ]);
    await remove('5101');
    await add('5104', 'davey');
    await remove('5001');
    await add('5004', 'voxcord');
    await remove('5102');
    await remove('5002');
    await add('5105', 'davey');
    await add('5005', 'voxcord');

    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(new Set(epochs.map((e) => e.code)).size).toBe(13);
    expect(members).toHaveLength(6);
    for (const m of members) expect(m.errors).toEqual([]);
  }, 45_000);
});

describe('DAVE version changes', () => {
  it('downgrades to passthrough when a v0 client joins and re-creates the group when it leaves', async () => {
    harness = await startHarness({ dave: true });
    const h = harness;
    const a = await join(h, '6001', 'voxcord');
    const d = await join(h, '6101', 'davey');
    const before = await settle(h, [a, d]);

    const v = await join(h, '6201', 'voxcord', { maxDaveProtocolVersion: 0 });
    expect(v.session.dave.enabled).toBe(false);
    await until(
      () =>
        h.server.daveState(GUILD, CHANNEL)?.lastTransition?.kind === 'downgrade' &&
        h.server.daveState(GUILD, CHANNEL)?.lastTransition?.executed === true &&
        a.session.dave.protocolVersion === 0 &&
        d.session.dave.protocolVersion === 0,
      5_000,
      'downgrade',
    );
    await a.session.dave.settled();
    expect(a.session.dave.epoch).toBeUndefined();
    expect(a.session.dave.privacyCode).toBeUndefined();
    // Plain Opus on the wire in every direction, and still delivered as audio frames.
    await exchange([a, d, v], 1, 4);
    for (const r of [a, d, v])
      for (const s of [a, d, v]) if (r !== s) expect(r.raw.get(s.id)).toEqual(r.got.get(s.id));

    leave(h, v);
    const after = await settle(h, [a, d]);
    expect(after.epoch).toBe(1);
    expect(after.code).not.toBe(before.code);
    await exchange([a, d], 2, 4);
    expectEncryptedOnWire(a, d);
    expectEncryptedOnWire(d, a);
    expect([...a.errors, ...d.errors]).toEqual([]);
  });
});

describe('DAVE recovery from an invalid welcome or commit', () => {
  it('answers op 31 with a new key package and is re-added', async () => {
    harness = await startHarness({ dave: true });
    const h = harness;
    const a = await join(h, '7001', 'voxcord');
    const b = await join(h, '7002', 'voxcord');
    await settle(h, [a, b]);

    // C's first welcome is corrupted: it reports op 31, sends a new key package, and is welcomed again.
    const cInst = instrument();
    cInst.tamperNext(VoiceOpcode.DaveMlsWelcome, (p) => flipNearEnd(p));
    const c = await join(h, '7003', 'voxcord', {}, cInst);
    await settle(h, [a, b, c], { allowTimeout: true });
    expect(c.errors.map((e) => e.details?.reason)).toEqual(['welcome_failed']);
    const cSent = c.inst.sentOps();
    const invalid = cSent.indexOf(VoiceOpcode.DaveMlsInvalidCommitWelcome);
    expect(invalid).toBeGreaterThan(0);
    expect(cSent[invalid + 1]).toBe(VoiceOpcode.DaveMlsKeyPackage);
    expect(c.inst.receivedOps().filter((op) => op === VoiceOpcode.DaveMlsWelcome)).toHaveLength(2);
    await exchange([a, b, c], 1);

    // B gets a corrupted commit when D joins: B falls out, reports op 31, and is re-added.
    b.inst.tamperNext(VoiceOpcode.DaveMlsAnnounceCommitTransition, (p) => flipNearEnd(p));
    const d = await join(h, '7004', 'voxcord');
    await settle(h, [a, b, c, d], { allowTimeout: true });
    expect(b.errors.map((e) => e.details?.reason)).toEqual(['commit_failed']);
    expect(b.inst.sentOps()).toContain(VoiceOpcode.DaveMlsInvalidCommitWelcome);
    expect(b.inst.receivedOps()).toContain(VoiceOpcode.DaveMlsWelcome);
    await exchange([a, b, c, d], 2);
  });
});
