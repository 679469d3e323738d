/**
 * Test harness: an in-process DAVE gateway (external sender + delivery service, dave.md §7) driving
 * a mix of our DaveSession members and davey (@snazzah/davey, OpenMLS) members. No network.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { DAVESession } from '@snazzah/davey';
import type { ProposalsOperationType } from '@snazzah/davey';
import { VoiceOpcode } from '../../../src/protocol/constants.js';
import { DaveSession } from '../../../src/dave/mls/dave-session.js';
import type { DaveResult } from '../../../src/dave/mls/dave-session.js';
import { buildExternalAdd, buildExternalRemove } from '../../../src/dave/mls/external-proposal.js';
import type { ExternalProposal, ProposalContext } from '../../../src/dave/mls/external-proposal.js';
import { snowflakeToBE64 } from '../../../src/dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../../../src/dave/mls/mls-sign.js';
import {
  decodeAnnounceCommit,
  decodeCommitWelcome,
  decodeProposalsPayload,
  decodeWelcomePayload,
  encodeAnnounceCommit,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
  encodeWelcomePayload,
} from '../../../src/dave/opcodes.js';

export const CHANNEL_ID = '1234567890123456789';

export type ProposalBody = { type: 'add'; keyPackage: Uint8Array } | { type: 'remove'; leafIndex: number };

// ---- frame crypto for cross-checks (dave.md §8, §9.2), independent of src/dave ----

function expandWithLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const fullLabel = Buffer.from(`MLS 1.0 ${label}`);
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff]),
    Buffer.from([fullLabel.length]),
    fullLabel,
    Buffer.from([context.length]),
    context,
  ]);
  // one HMAC block suffices for length <= 32
  return createHmac('sha256', secret)
    .update(Buffer.concat([info, Buffer.from([1])]))
    .digest()
    .subarray(0, length);
}

/** Generation-0 media key from a base secret. */
export function gen0Key(baseSecret: Uint8Array): Buffer {
  return expandWithLabel(baseSecret, 'key', new Uint8Array(4), 16);
}

function uleb(v: number): Buffer {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push(0x80 | (v & 0x7f));
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** Decrypts an Opus protocol frame (no ranges) with a key; throws on failure. */
export function decryptOpusFrame(key: Uint8Array, frame: Uint8Array): Buffer {
  const f = Buffer.from(frame);
  if (f.readUInt16BE(f.length - 2) !== 0xfafa) throw new Error('no magic marker');
  const supplemental = f[f.length - 3] ?? 0;
  const mediaEnd = f.length - supplemental;
  const tag = f.subarray(mediaEnd, mediaEnd + 8);
  let nonce = 0;
  let shift = 0;
  for (let i = mediaEnd + 8; i < f.length - 3; i++) {
    const b = f[i] ?? 0;
    nonce += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  const iv = Buffer.alloc(12);
  iv.writeUInt32LE(nonce >>> 0, 8);
  const d = createDecipheriv('aes-128-gcm', key, iv, { authTagLength: 8 });
  d.setAuthTag(tag);
  return Buffer.concat([d.update(f.subarray(0, mediaEnd)), d.final()]);
}

/** Encrypts an Opus frame as a DAVE protocol frame with the given key and nonce. */
export function encryptOpusFrame(key: Uint8Array, nonce: number, opus: Uint8Array): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32LE(nonce >>> 0, 8);
  const c = createCipheriv('aes-128-gcm', key, iv);
  const ct = Buffer.concat([c.update(opus), c.final()]);
  const tag = c.getAuthTag().subarray(0, 8);
  const n = uleb(nonce);
  return Buffer.concat([ct, tag, n, Buffer.from([8 + n.length + 3, 0xfa, 0xfa])]);
}

// ---- members ----

export interface Member {
  readonly userId: string;
  readonly kind: 'ours' | 'davey';
  /** op 26 payload after (re)init. */
  keyPackage(): Promise<Uint8Array>;
  externalSender(payload: Uint8Array): Promise<void>;
  recognize(ids: string[]): void;
  /** op 27 payload in, op 28 payload out (or undefined). */
  proposals(payload: Uint8Array): Promise<Uint8Array | undefined>;
  /** op 29 payload. */
  commit(payload: Uint8Array): Promise<void>;
  /** op 30 payload. */
  welcome(payload: Uint8Array): Promise<void>;
  epoch(): bigint | undefined;
  epochAuthenticator(): Uint8Array | undefined;
  /** Encrypts an Opus frame as this member would send it in the current epoch. */
  encrypt(opus: Uint8Array): Promise<Uint8Array>;
  /** Decrypts a frame from `senderId`; throws on failure. */
  decrypt(senderId: string, frame: Uint8Array): Promise<Uint8Array>;
}

export class OurMember implements Member {
  readonly kind = 'ours';
  readonly session: DaveSession;
  readonly results: DaveResult[] = [];
  private nonce = 0;
  constructor(readonly userId: string) {
    this.session = new DaveSession({ userId, channelId: CHANNEL_ID });
  }

  private record(result: DaveResult): DaveResult {
    this.results.push(result);
    return result;
  }

  async keyPackage(): Promise<Uint8Array> {
    const r = this.record(await this.session.init(1));
    const kp = r.send.find((s) => s.op === VoiceOpcode.DaveMlsKeyPackage);
    if (kp === undefined || !('payload' in kp)) throw new Error('no key package');
    return kp.payload;
  }

  async externalSender(payload: Uint8Array): Promise<void> {
    const r = this.record(await this.session.onExternalSender(payload));
    if (r.error) throw r.error;
  }

  recognize(ids: string[]): void {
    this.session.addRecognizedUsers(ids);
  }

  async proposals(payload: Uint8Array): Promise<Uint8Array | undefined> {
    const r = this.record(await this.session.onProposals(decodeProposalsPayload(payload)));
    if (r.error) throw r.error;
    const out = r.send.find((s) => s.op === VoiceOpcode.DaveMlsCommitWelcome);
    return out !== undefined && 'payload' in out ? out.payload : undefined;
  }

  async commit(payload: Uint8Array): Promise<void> {
    const r = this.record(await this.session.onAnnounceCommit(decodeAnnounceCommit(payload)));
    if (r.error) throw r.error;
    if (r.ignored !== undefined) throw new Error(`commit ignored: ${r.ignored}`);
    this.nonce = 0;
  }

  async welcome(payload: Uint8Array): Promise<void> {
    const r = this.record(await this.session.onWelcome(decodeWelcomePayload(payload)));
    if (r.error) throw r.error;
    this.nonce = 0;
  }

  epoch(): bigint | undefined {
    return this.session.epoch;
  }

  epochAuthenticator(): Uint8Array | undefined {
    return this.session.epochAuthenticator;
  }

  async encrypt(opus: Uint8Array): Promise<Uint8Array> {
    const base = await this.session.exportBaseSecret(this.userId);
    if (base === undefined) throw new Error('no group');
    this.nonce += 1; // senders start at 1
    return encryptOpusFrame(gen0Key(base), this.nonce, opus);
  }

  async decrypt(senderId: string, frame: Uint8Array): Promise<Uint8Array> {
    const base = await this.session.exportBaseSecret(senderId);
    if (base === undefined) throw new Error('no group');
    return decryptOpusFrame(gen0Key(base), frame);
  }
}

export class DaveyMember implements Member {
  readonly kind = 'davey';
  readonly session: DAVESession;
  private readonly recognized = new Set<string>();
  constructor(readonly userId: string) {
    this.session = new DAVESession(1, userId, CHANNEL_ID);
    this.recognized.add(userId);
  }

  async keyPackage(): Promise<Uint8Array> {
    return new Uint8Array(this.session.getSerializedKeyPackage());
  }

  async externalSender(payload: Uint8Array): Promise<void> {
    this.session.setExternalSender(Buffer.from(payload));
  }

  recognize(ids: string[]): void {
    for (const id of ids) this.recognized.add(id);
  }

  async proposals(payload: Uint8Array): Promise<Uint8Array | undefined> {
    const op = (payload[0] ?? 0) as ProposalsOperationType; // 0 append, 1 revoke
    const result = this.session.processProposals(op, Buffer.from(payload.subarray(1)), [...this.recognized]);
    if (result.commit === undefined) return undefined;
    return result.welcome === undefined
      ? new Uint8Array(result.commit)
      : new Uint8Array(Buffer.concat([result.commit, result.welcome]));
  }

  async commit(payload: Uint8Array): Promise<void> {
    this.session.processCommit(Buffer.from(decodeAnnounceCommit(payload).commit));
  }

  async welcome(payload: Uint8Array): Promise<void> {
    this.session.processWelcome(Buffer.from(decodeWelcomePayload(payload).welcome));
  }

  epoch(): bigint | undefined {
    return this.session.epoch ?? undefined;
  }

  epochAuthenticator(): Uint8Array | undefined {
    const a = this.session.getEpochAuthenticator();
    return a === null ? undefined : new Uint8Array(a);
  }

  async encrypt(opus: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(this.session.encryptOpus(Buffer.from(opus)));
  }

  async decrypt(senderId: string, frame: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(this.session.decrypt(senderId, 0 /* AUDIO */, Buffer.from(frame)));
  }
}

// ---- gateway ----

/** An external Add or Remove in any group, signed with any key (for forgeries too). */
export function signedProposal(body: ProposalBody, ctx: ProposalContext): ExternalProposal {
  return body.type === 'add'
    ? buildExternalAdd(ctx, body.keyPackage)
    : buildExternalRemove(ctx, body.leafIndex);
}

export class TestGateway {
  readonly externalSenderKey = generateP256SigningKey();
  readonly externalSenderPublicKey = p256PointOf(this.externalSenderKey);
  readonly externalSenderPackage = encodeExternalSenderPackage(
    this.externalSenderPublicKey,
    Uint8Array.of(0x01, 0x00),
  );
  /** leaf index -> member (null = blank). */
  leaves: (Member | null)[] = [];
  epoch = 0n;
  private transitionId = 0;
  pending: Member | undefined;
  pendingKeyPackage: Uint8Array | undefined;

  get members(): Member[] {
    return this.leaves.filter((m): m is Member => m !== null);
  }

  private nextTransition(): number {
    this.transitionId = (this.transitionId % 0xffff) + 1;
    return this.transitionId;
  }

  async proposal(body: ProposalBody, epoch = this.epoch): Promise<ExternalProposal> {
    return signedProposal(body, {
      groupId: snowflakeToBE64(CHANNEL_ID),
      epoch,
      signingKey: this.externalSenderKey,
    });
  }

  appendPayload(messages: Uint8Array[]): Uint8Array {
    return encodeProposalsPayload({ operation: 'append', messages });
  }

  /** First user: op 25 and a key package, no group yet. */
  async connectFirst(m: Member): Promise<void> {
    await m.externalSender(this.externalSenderPackage);
    this.pending = m;
    this.pendingKeyPackage = await m.keyPackage();
  }

  /** Second user: initial group creation at epoch 0; `committer` is whose commit wins. */
  async connectSecond(m: Member, committer: 'first' | 'second'): Promise<void> {
    const first = this.pending;
    const firstKp = this.pendingKeyPackage;
    if (first === undefined || firstKp === undefined) throw new Error('no first member');
    first.recognize([m.userId]);
    m.recognize([first.userId]);
    await m.externalSender(this.externalSenderPackage);
    const kp = await m.keyPackage();
    const addFirst = await this.proposal({ type: 'add', keyPackage: firstKp }, 0n);
    const addSecond = await this.proposal({ type: 'add', keyPackage: kp }, 0n);
    const secondOut = await m.proposals(this.appendPayload([addFirst.message]));
    const firstOut = await first.proposals(this.appendPayload([addSecond.message]));
    const winnerOut = committer === 'first' ? firstOut : secondOut;
    if (winnerOut === undefined) throw new Error('committer produced no commit');
    const { commit, welcome } = decodeCommitWelcome(winnerOut);
    if (welcome === undefined) throw new Error('no welcome');
    const tid = this.nextTransition();
    const [winner, joiner] = committer === 'first' ? [first, m] : [m, first];
    await winner.commit(encodeAnnounceCommit(tid, commit));
    await joiner.welcome(encodeWelcomePayload(tid, welcome));
    this.leaves = [winner, joiner];
    this.epoch = 1n;
    this.pending = undefined;
    this.pendingKeyPackage = undefined;
  }

  /** Adds a member to the established group; `committer` is a current member whose commit wins. */
  async add(m: Member, committer: Member): Promise<void> {
    for (const existing of this.members) existing.recognize([m.userId]);
    m.recognize(this.members.map((x) => x.userId));
    await m.externalSender(this.externalSenderPackage);
    const kp = await m.keyPackage();
    const add = await this.proposal({ type: 'add', keyPackage: kp });
    await this.commitRound([add.message], committer, m);
    const blank = this.leaves.indexOf(null);
    if (blank >= 0) this.leaves[blank] = m;
    else this.leaves.push(m);
  }

  /** Removes a member; `committer` is a remaining member whose commit wins. */
  async remove(m: Member, committer: Member): Promise<void> {
    const leaf = this.leaves.indexOf(m);
    if (leaf < 0) throw new Error('not a member');
    this.leaves[leaf] = null;
    while (this.leaves.length > 0 && this.leaves[this.leaves.length - 1] === null) this.leaves.pop();
    const remove = await this.proposal({ type: 'remove', leafIndex: leaf });
    await this.commitRound([remove.message], committer, undefined);
  }

  /** Every member answers the proposals; the committer's commit wins; op 29 to members, op 30 to the joiner. */
  private async commitRound(
    messages: Uint8Array[],
    committer: Member,
    joiner: Member | undefined,
  ): Promise<void> {
    const payload = this.appendPayload(messages);
    let winning: Uint8Array | undefined;
    for (const member of this.members) {
      const out = await member.proposals(payload);
      if (out === undefined) throw new Error(`${member.kind} ${member.userId} produced no commit`);
      if (member === committer) winning = out;
    }
    if (winning === undefined) throw new Error('committer is not a member');
    const { commit, welcome } = decodeCommitWelcome(winning);
    const tid = this.nextTransition();
    for (const member of this.members) await member.commit(encodeAnnounceCommit(tid, commit));
    if (joiner !== undefined) {
      if (welcome === undefined) throw new Error('no welcome');
      await joiner.welcome(encodeWelcomePayload(tid, welcome));
    }
    this.epoch += 1n;
  }
}
