/**
 * The voice gateway's DAVE side for one call (dave.md §7): MLS delivery service, external sender
 * (Add/Remove proposals signed with our P-256 key), authentication service (key package checks)
 * and transition coordinator. A pure state machine: inputs are what a client sent (already
 * decoded from the websocket envelope), outputs are messages for the server to send, in order,
 * with its own seq numbering. No sockets, no timers: the adapter calls tick() (see nextDeadline()).
 *
 * Adapter contract: call join() after sending that user's op 4 (with sessionVersionFor()) and
 * op 11; call leave() after sending op 13 to the others. Bad client input never throws: it is
 * returned as a typed rejection with nothing to send.
 */
import type { KeyObject } from 'node:crypto';
import {
  DAVE_INIT_TRANSITION_ID,
  DAVE_TRANSITION_TIMEOUT_MS,
  MLS_CIPHERSUITE,
  VoiceOpcode,
} from '../../protocol/constants.js';
import type {
  PrepareEpochData,
  PrepareTransitionData,
  TransitionData,
} from '../../protocol/voice-messages.js';
import {
  decodeKeyPackagePayload,
  encodeAnnounceCommit,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
  encodeWelcomePayload,
} from '../../dave/opcodes.js';
import { bytesEqual, snowflakeToBE64 } from '../../dave/mls/mls-codec.js';
import { generateP256SigningKey, p256PointOf } from '../../dave/mls/mls-sign.js';
import { buildExternalAdd, buildExternalRemove } from '../../dave/mls/external-proposal.js';
import type { ExternalProposal } from '../../dave/mls/external-proposal.js';
import { checkKeyPackage } from '../../dave/mls/key-package-check.js';
import type { KeyPackageRejectReason, ValidKeyPackage } from '../../dave/mls/key-package-check.js';
import { inspectCommitWelcome } from '../../dave/mls/commit-inspect.js';
import type { CommitInspectRejectReason } from '../../dave/mls/commit-inspect.js';
import { filterWelcome, parseWelcome } from '../../dave/mls/welcome-filter.js';
import { LeafTable } from './leaf-table.js';
import { TransitionCoordinator } from './transitions.js';
import type { ExecutedTransition } from './transitions.js';

const DEFAULT_EXTERNAL_SENDER_IDENTITY = Uint8Array.of(0x00);

/** A DAVE message for one client; JSON ones use the messages.ts shapes, binary ones the payload. */
export type DaveServerMessage =
  | { op: typeof VoiceOpcode.DavePrepareTransition; d: PrepareTransitionData }
  | { op: typeof VoiceOpcode.DaveExecuteTransition; d: TransitionData }
  | { op: typeof VoiceOpcode.DavePrepareEpoch; d: PrepareEpochData }
  | {
      op:
        | typeof VoiceOpcode.DaveMlsExternalSender
        | typeof VoiceOpcode.DaveMlsProposals
        | typeof VoiceOpcode.DaveMlsAnnounceCommitTransition
        | typeof VoiceOpcode.DaveMlsWelcome;
      payload: Uint8Array;
    };

export interface DaveOutbound {
  to: string;
  message: DaveServerMessage;
}

export type DaveRejectReason =
  | KeyPackageRejectReason
  | CommitInspectRejectReason
  /** The user is not in the call. */
  | 'unknown-user'
  /** The call (or this user) is at DAVE version 0. */
  | 'dave-inactive'
  /** Key package from a user who already has a leaf and did not report op 31. */
  | 'already-member'
  | 'wrong-group'
  /** Stale: not the current epoch (also every later commit for an epoch that was already won). */
  | 'wrong-epoch'
  /** Commit from someone who may not commit now (not a member / marked for re-add). */
  | 'not-a-member'
  | 'wrong-sender-leaf'
  | 'empty-commit'
  | 'inline-proposal'
  /** The referenced set differs from the in-flight proposals sent to the committer. */
  | 'proposal-set-mismatch'
  | 'path-credential-mismatch'
  | 'missing-welcome'
  | 'unexpected-welcome'
  | 'malformed-welcome'
  | 'welcome-wrong-cipher-suite'
  | 'welcome-missing-secrets';

export type DaveInputResult =
  | { accepted: true; out: DaveOutbound[] }
  | { accepted: false; reason: DaveRejectReason; detail: string; out: DaveOutbound[] };

export interface DaveDeliveryServiceOptions {
  /** Voice channel snowflake; the MLS group id is its BE64. */
  channelId: string;
  now?: () => number;
  /** How long to wait for op 23 before sending op 22 anyway (default 1500 ms). */
  transitionTimeoutMs?: number;
  /** P-256 private key of the external sender; generated if absent. */
  externalSenderKey?: KeyObject;
  /** External sender basic-credential identity bytes (any bytes; default `00`). */
  identity?: Uint8Array;
}

interface Participant {
  readonly userId: string;
  readonly maxVersion: number;
  /** Latest validated key package not yet used (pending member or re-add). */
  keyPackage: ValidKeyPackage | undefined;
  /** Sent op 31 while holding a leaf: its old leaf must be removed, then it is re-added. */
  needsReadd: boolean;
}

interface InflightProposal {
  readonly kind: 'add' | 'remove';
  readonly userId: string;
  readonly proposal: ExternalProposal;
  /** Removes: the leaf removed. */
  readonly leafIndex: number | undefined;
  /** Adds: the key package added. */
  readonly keyPackage: ValidKeyPackage | undefined;
  /** Who got it in op 27: exactly these may reference it in a commit. */
  readonly recipients: Set<string>;
}

function rejected(reason: DaveRejectReason, detail: string): DaveInputResult {
  return { accepted: false, reason, detail, out: [] };
}

export class DaveDeliveryService {
  readonly channelId: string;
  readonly groupId: Uint8Array;
  private readonly now: () => number;
  private readonly signingKey: KeyObject;
  private readonly senderPackage: Uint8Array;
  private readonly transitions: TransitionCoordinator;
  private readonly participants = new Map<string, Participant>();
  private readonly leaves = new LeafTable();
  private inflight: InflightProposal[] = [];
  private callVersion: 0 | 1 = 1;
  private groupEstablished = false;
  private groupEpoch = 0n;

  constructor(options: DaveDeliveryServiceOptions) {
    this.channelId = options.channelId;
    this.groupId = snowflakeToBE64(options.channelId);
    this.now = options.now ?? Date.now;
    this.signingKey = options.externalSenderKey ?? generateP256SigningKey();
    this.senderPackage = encodeExternalSenderPackage(
      p256PointOf(this.signingKey),
      options.identity ?? DEFAULT_EXTERNAL_SENDER_IDENTITY,
    );
    this.transitions = new TransitionCoordinator(options.transitionTimeoutMs ?? DAVE_TRANSITION_TIMEOUT_MS);
  }

  // ---- read-only view ----

  /** Op 25 payload (ExternalSender). */
  externalSenderPackage(): Uint8Array {
    return this.senderPackage.slice();
  }

  /** The call's DAVE version: 0 while any participant lacks DAVE. */
  get version(): 0 | 1 {
    return this.callVersion;
  }

  /** Server view of the MLS epoch (0 while unestablished). */
  get epoch(): number {
    return Number(this.groupEpoch);
  }

  get established(): boolean {
    return this.groupEstablished;
  }

  /** Group members in leaf order. */
  members(): string[] {
    return this.leaves.userIds();
  }

  leafIndexOf(userId: string): number | undefined {
    return this.leaves.indexOf(userId);
  }

  /** What op 4 `dave_protocol_version` says for this user (call join() first). */
  sessionVersionFor(userId: string): number {
    const p = this.participants.get(userId);
    return p !== undefined && p.maxVersion >= 1 ? this.callVersion : 0;
  }

  /** SFU rule: never forward DAVE (`FA FA`) frames to a client without DAVE. */
  shouldForwardDaveFrames(toUserId: string): boolean {
    const p = this.participants.get(toUserId);
    return p !== undefined && p.maxVersion >= 1;
  }

  /** When tick() next has something to do, if anything. */
  nextDeadline(): number | undefined {
    return this.transitions.nextDeadline();
  }

  // ---- inputs ----

  join(userId: string, maxDaveVersion: number): DaveOutbound[] {
    const out: DaveOutbound[] = [];
    if (this.participants.has(userId)) out.push(...this.leave(userId)); // a new session replaces the old
    const maxVersion: 0 | 1 = maxDaveVersion >= 1 ? 1 : 0;
    if (this.participants.size === 0) {
      this.resetGroup();
      this.callVersion = maxVersion;
    }
    const p: Participant = { userId, maxVersion, keyPackage: undefined, needsReadd: false };
    const others = [...this.participants.values()];
    this.participants.set(userId, p);

    if (this.callVersion === 1 && maxVersion === 0) {
      // Downgrade (§7.8): DAVE clients prepare version 0, then execute; the group is forgotten now.
      this.callVersion = 0;
      out.push(...this.flushTransitions());
      this.resetGroup();
      const tid = this.transitions.allocate();
      for (const o of others) {
        out.push({
          to: o.userId,
          message: { op: VoiceOpcode.DavePrepareTransition, d: { protocol_version: 0, transition_id: tid } },
        });
      }
      this.transitions.start(
        tid,
        0,
        others.map((o) => o.userId),
        this.now(),
      );
      return out;
    }
    if (this.callVersion === 0) return out; // op 25 only after a later upgrade's op 24 (§7.8)

    out.push(this.externalSenderTo(p));
    if (!this.groupEstablished) {
      // Newcomers get the Adds of every pending member that already has a key package (§7.2).
      const messages: Uint8Array[] = [];
      for (const prop of this.inflight) {
        prop.recipients.add(userId);
        messages.push(prop.proposal.message);
      }
      if (messages.length > 0) out.push(this.appendTo(userId, messages));
    }
    return out;
  }

  leave(userId: string): DaveOutbound[] {
    const p = this.participants.get(userId);
    if (p === undefined) return [];
    this.participants.delete(userId);
    const out = this.executed(this.transitions.dropUser(userId));
    if (this.participants.size === 0) {
      this.resetGroup();
      this.transitions.clear();
      this.callVersion = 1;
      return out;
    }
    if (p.maxVersion === 0) {
      if (this.callVersion === 0 && [...this.participants.values()].every((o) => o.maxVersion >= 1)) {
        out.push(...this.upgrade());
      }
      return out;
    }
    if (this.callVersion !== 1) return out;

    out.push(...this.revokeAddsOf(userId));
    for (const prop of this.inflight) prop.recipients.delete(userId);
    if (this.groupEstablished && this.leaves.indexOf(userId) !== undefined)
      out.push(...this.afterMemberLost('leave'));
    return out;
  }

  keyPackage(userId: string, payload: Uint8Array): DaveInputResult {
    const p = this.participants.get(userId);
    if (p === undefined) return rejected('unknown-user', 'key package from a user not in the call');
    if (this.callVersion !== 1 || p.maxVersion < 1) return rejected('dave-inactive', 'DAVE is not active');
    let bare = payload;
    try {
      bare = decodeKeyPackagePayload(payload); // unwraps an MLSMessage-wrapped key package
    } catch {
      // checkKeyPackage below says precisely what is wrong
    }
    const check = checkKeyPackage(bare, userId);
    if (!check.ok) return rejected(check.reason, check.detail);
    if (this.groupEstablished && this.leaves.indexOf(userId) !== undefined && !p.needsReadd) {
      return rejected('already-member', 'user already has a leaf');
    }
    const out = this.revokeAddsOf(userId); // a replaced key package is never used (§5.4)
    p.keyPackage = check;
    if (this.groupEstablished) {
      out.push(...this.reconcile());
    } else {
      const recipients = [...this.participants.values()]
        .filter((o) => o.userId !== userId && o.maxVersion >= 1)
        .map((o) => o.userId);
      const add = this.newAdd(userId, check, recipients);
      for (const to of recipients) out.push(this.appendTo(to, [add.proposal.message]));
    }
    return { accepted: true, out };
  }

  commitWelcome(userId: string, payload: Uint8Array): DaveInputResult {
    const p = this.participants.get(userId);
    if (p === undefined) return rejected('unknown-user', 'commit from a user not in the call');
    if (this.callVersion !== 1 || p.maxVersion < 1) return rejected('dave-inactive', 'DAVE is not active');
    const c = inspectCommitWelcome(payload);
    if (!c.ok) return rejected(c.reason, c.detail);
    if (!bytesEqual(c.groupId, this.groupId)) return rejected('wrong-group', 'group id is not this channel');
    if (c.epoch !== this.groupEpoch)
      return rejected('wrong-epoch', `commit for epoch ${c.epoch}, group at ${this.groupEpoch}`);

    let committerLeaf = 0; // the creator of a new group is leaf 0
    let knownKey: Uint8Array | undefined;
    if (this.groupEstablished) {
      const leaf = this.leaves.indexOf(userId);
      if (leaf === undefined || p.needsReadd)
        return rejected('not-a-member', 'committer is not a group member');
      committerLeaf = leaf;
      knownKey = this.leaves.at(leaf)?.signatureKey;
    } else {
      knownKey = p.keyPackage?.signatureKey;
    }
    if (c.senderLeaf !== committerLeaf) {
      return rejected('wrong-sender-leaf', `sender leaf ${c.senderLeaf}, committer is at ${committerLeaf}`);
    }

    // Proposals: references only, exactly the in-flight ones this committer was sent (§7.4).
    if (c.entries.length === 0) return rejected('empty-commit', 'commit has no proposals');
    const refs: Uint8Array[] = [];
    for (const e of c.entries) {
      if (e.kind === 'inline')
        return rejected('inline-proposal', `inline proposal of type ${e.proposalType}`);
      refs.push(e.ref);
    }
    const expected = this.inflight.filter((prop) => prop.recipients.has(userId));
    const chosen: InflightProposal[] = [];
    for (const ref of refs) {
      const prop = expected.find((x) => bytesEqual(x.proposal.ref, ref));
      if (prop === undefined || chosen.includes(prop)) {
        return rejected('proposal-set-mismatch', 'commit references an unknown or repeated proposal');
      }
      chosen.push(prop);
    }
    if (chosen.length !== expected.length) {
      return rejected(
        'proposal-set-mismatch',
        `commit misses ${expected.length - chosen.length} proposal(s)`,
      );
    }

    const expectedIdentity = snowflakeToBE64(userId);
    if (c.pathLeaf !== undefined) {
      const leaf = c.pathLeaf;
      if (
        leaf.credentialType !== 1 ||
        !bytesEqual(leaf.identity, expectedIdentity) ||
        (knownKey !== undefined && !bytesEqual(leaf.signatureKey, knownKey))
      ) {
        return rejected('path-credential-mismatch', 'update path changes the committer credential or key');
      }
    }

    const adds = chosen.filter((x) => x.kind === 'add');
    const welcomes = new Map<string, Uint8Array>();
    if (adds.length > 0) {
      if (c.welcome === undefined)
        return rejected('missing-welcome', 'commit adds members but has no welcome');
      const welcome = parseWelcome(c.welcome);
      if (welcome === undefined) return rejected('malformed-welcome', 'welcome does not parse');
      if (welcome.cipherSuite !== MLS_CIPHERSUITE) {
        return rejected('welcome-wrong-cipher-suite', `welcome cipher suite ${welcome.cipherSuite}`);
      }
      for (const add of adds) {
        const kp = add.keyPackage;
        const filtered = kp === undefined ? undefined : filterWelcome(welcome, kp.ref);
        if (filtered === undefined)
          return rejected('welcome-missing-secrets', 'welcome lacks a joiner secret');
        welcomes.set(add.userId, filtered);
      }
    } else if (c.welcome !== undefined) {
      return rejected('unexpected-welcome', 'welcome with a commit that adds nobody');
    }

    return {
      accepted: true,
      out: this.acceptCommit(p, c.commit, chosen, welcomes, c.pathLeaf?.signatureKey ?? knownKey),
    };
  }

  transitionReady(userId: string, transitionId: number): DaveOutbound[] {
    if (transitionId === DAVE_INIT_TRANSITION_ID) return []; // DPP sends ready for the init transition; meaningless
    const done = this.transitions.ready(userId, transitionId);
    return done === undefined ? [] : this.executed([done]);
  }

  /** Op 31: the user could not process transition `transitionId`; remove and re-add it (§7.7). */
  invalidCommitWelcome(userId: string, _transitionId: number): DaveOutbound[] {
    const p = this.participants.get(userId);
    if (p === undefined) return [];
    const out = this.executed(this.transitions.dropUser(userId));
    if (this.callVersion !== 1 || !this.groupEstablished || this.leaves.indexOf(userId) === undefined)
      return out;
    if (p.needsReadd) return out;
    p.needsReadd = true;
    for (const prop of this.inflight) prop.recipients.delete(userId);
    out.push(...this.afterMemberLost('invalid'));
    return out;
  }

  tick(): DaveOutbound[] {
    return this.executed(this.transitions.expire(this.now()));
  }

  // ---- internals ----

  private acceptCommit(
    committer: Participant,
    commit: Uint8Array,
    chosen: InflightProposal[],
    welcomes: Map<string, Uint8Array>,
    committerKey: Uint8Array | undefined,
  ): DaveOutbound[] {
    const tid = this.transitions.allocate();
    const removedLeaves = new Set(chosen.filter((x) => x.kind === 'remove').map((x) => x.leafIndex));
    let prior: string[];
    if (this.groupEstablished) {
      prior = this.leaves
        .entries()
        .filter((e) => !removedLeaves.has(e.index))
        .map((e) => e.leaf.userId)
        .filter((u) => {
          const o = this.participants.get(u);
          return o !== undefined && !o.needsReadd;
        });
    } else {
      prior = [committer.userId];
      this.leaves.clear();
      this.leaves.add(committer.userId, committerKey);
      committer.keyPackage = undefined; // the creator's own key package is never used
    }
    // Removes before Adds, Adds in the order the commit lists them (§7.9).
    for (const prop of chosen)
      if (prop.kind === 'remove' && prop.leafIndex !== undefined) this.leaves.remove(prop.leafIndex);
    const added: string[] = [];
    for (const prop of chosen) {
      if (prop.kind !== 'add') continue;
      this.leaves.add(prop.userId, prop.keyPackage?.signatureKey);
      const o = this.participants.get(prop.userId);
      if (o !== undefined && o.keyPackage === prop.keyPackage) {
        o.keyPackage = undefined;
        o.needsReadd = false;
      }
      if (o !== undefined) added.push(prop.userId);
    }
    const committerLeaf = this.leaves.at(this.leaves.indexOf(committer.userId) ?? -1);
    if (committerLeaf !== undefined && committerKey !== undefined) committerLeaf.signatureKey = committerKey;
    this.groupEpoch += 1n;
    this.groupEstablished = true;
    this.inflight = [];

    const out: DaveOutbound[] = [];
    const announce = encodeAnnounceCommit(tid, commit);
    for (const to of prior)
      out.push({ to, message: { op: VoiceOpcode.DaveMlsAnnounceCommitTransition, payload: announce } });
    for (const to of added) {
      const welcome = welcomes.get(to);
      if (welcome !== undefined) {
        out.push({
          to,
          message: { op: VoiceOpcode.DaveMlsWelcome, payload: encodeWelcomePayload(tid, welcome) },
        });
      }
    }
    this.transitions.start(tid, 1, [...prior, ...added], this.now());
    // Whatever changed while this commit was in flight (leaves, new key packages) goes next epoch.
    out.push(...this.afterMemberLost('commit'));
    return out;
  }

  /**
   * Membership shrank (leave, op 31) or a commit landed: propose what is missing, or reset when
   * the group cannot continue (§7.6 sole-member reset).
   */
  private afterMemberLost(cause: 'leave' | 'invalid' | 'commit'): DaveOutbound[] {
    const valid = this.validMembers();
    const pendingWithKp = [...this.participants.values()].some(
      (o) => o.keyPackage !== undefined && (this.leaves.indexOf(o.userId) === undefined || o.needsReadd),
    );
    if (valid.length === 0) return this.restartGroup();
    if (cause === 'leave' && valid.length === 1 && !pendingWithKp) {
      return this.soleMemberReset(valid[0] as string);
    }
    return this.reconcile();
  }

  /** Members that can commit: present, holding a leaf, not waiting for re-add. */
  private validMembers(): string[] {
    return this.leaves.userIds().filter((u) => {
      const o = this.participants.get(u);
      return o !== undefined && !o.needsReadd;
    });
  }

  /** Established group: propose Remove for stale leaves and Add for unused key packages. */
  private reconcile(): DaveOutbound[] {
    if (!this.groupEstablished) return [];
    const recipients = this.validMembers();
    if (recipients.length === 0) return [];
    const fresh: InflightProposal[] = [];
    for (const { index, leaf } of this.leaves.entries()) {
      const o = this.participants.get(leaf.userId);
      const stale = o === undefined || o.needsReadd;
      if (stale && !this.inflight.some((x) => x.kind === 'remove' && x.leafIndex === index)) {
        const proposal = buildExternalRemove(this.proposalContext(), index);
        fresh.push(
          this.track({
            kind: 'remove',
            userId: leaf.userId,
            proposal,
            leafIndex: index,
            keyPackage: undefined,
            recipients: new Set(recipients),
          }),
        );
      }
    }
    for (const o of this.participants.values()) {
      const kp = o.keyPackage;
      if (kp === undefined || o.maxVersion < 1) continue;
      if (this.leaves.indexOf(o.userId) !== undefined && !o.needsReadd) continue;
      if (this.inflight.some((x) => x.kind === 'add' && x.keyPackage === kp)) continue;
      fresh.push(this.newAdd(o.userId, kp, recipients));
    }
    if (fresh.length === 0) return [];
    const messages = fresh.map((x) => x.proposal.message);
    return recipients.map((to) => this.appendTo(to, messages));
  }

  private newAdd(userId: string, kp: ValidKeyPackage, recipients: string[]): InflightProposal {
    const proposal = buildExternalAdd(this.proposalContext(), kp.keyPackage);
    return this.track({
      kind: 'add',
      userId,
      proposal,
      leafIndex: undefined,
      keyPackage: kp,
      recipients: new Set(recipients),
    });
  }

  private track(prop: InflightProposal): InflightProposal {
    this.inflight.push(prop);
    return prop;
  }

  /** Revokes (op 27 revoke) the in-flight Adds of a user to everyone who got them. */
  private revokeAddsOf(userId: string): DaveOutbound[] {
    const mine = this.inflight.filter((x) => x.kind === 'add' && x.userId === userId);
    if (mine.length === 0) return [];
    this.inflight = this.inflight.filter((x) => !mine.includes(x));
    const byRecipient = new Map<string, Uint8Array[]>();
    for (const prop of mine) {
      for (const to of prop.recipients) {
        if (to === userId || !this.participants.has(to)) continue;
        const list = byRecipient.get(to) ?? [];
        list.push(prop.proposal.ref);
        byRecipient.set(to, list);
      }
    }
    return [...byRecipient].map(([to, refs]) => ({
      to,
      message: {
        op: VoiceOpcode.DaveMlsProposals,
        payload: encodeProposalsPayload({ operation: 'revoke', refs }),
      },
    }));
  }

  /** Sole-member reset (§7.6): op 24 epoch 1 + op 21 tid 0; the group restarts unestablished. */
  private soleMemberReset(userId: string): DaveOutbound[] {
    const out = this.flushTransitions();
    this.resetGroup();
    const tid = this.transitions.allocate();
    out.push({
      to: userId,
      message: { op: VoiceOpcode.DavePrepareEpoch, d: { protocol_version: 1, epoch: 1, transition_id: tid } },
    });
    out.push({
      to: userId,
      message: {
        op: VoiceOpcode.DavePrepareTransition,
        d: { protocol_version: 1, transition_id: DAVE_INIT_TRANSITION_ID },
      },
    });
    return out;
  }

  /**
   * No member can commit any more: start over unestablished; pending members with key packages
   * propose each other again at epoch 0 (their pending groups are still at epoch 0).
   */
  private restartGroup(): DaveOutbound[] {
    const out = this.flushTransitions();
    const kps = [...this.participants.values()].filter((o) => o.keyPackage !== undefined);
    this.resetGroup(true);
    for (const o of kps) {
      if (o.keyPackage === undefined) continue;
      const recipients = [...this.participants.values()]
        .filter((x) => x.userId !== o.userId && x.maxVersion >= 1)
        .map((x) => x.userId);
      const add = this.newAdd(o.userId, o.keyPackage, recipients);
      for (const to of recipients) out.push(this.appendTo(to, [add.proposal.message]));
    }
    return out;
  }

  /** Upgrade (§7.8): op 24 v1 epoch 1 to everyone, then op 25; all become pending. */
  private upgrade(): DaveOutbound[] {
    const out = this.flushTransitions();
    this.callVersion = 1;
    this.resetGroup();
    const tid = this.transitions.allocate();
    for (const p of this.participants.values()) {
      out.push({
        to: p.userId,
        message: {
          op: VoiceOpcode.DavePrepareEpoch,
          d: { protocol_version: 1, epoch: 1, transition_id: tid },
        },
      });
    }
    // Re-sent to everyone: clients that kept it just store it again; late joiners need it.
    for (const p of this.participants.values()) out.push(this.externalSenderTo(p));
    return out;
  }

  /** Forget the group: unestablished, epoch 0, no leaves, no in-flight proposals. */
  private resetGroup(keepKeyPackages = false): void {
    this.groupEstablished = false;
    this.groupEpoch = 0n;
    this.leaves.clear();
    this.inflight = [];
    for (const p of this.participants.values()) {
      p.needsReadd = false;
      if (!keepKeyPackages) p.keyPackage = undefined;
    }
  }

  private flushTransitions(): DaveOutbound[] {
    return this.executed(this.transitions.flush());
  }

  private executed(done: ExecutedTransition[]): DaveOutbound[] {
    const out: DaveOutbound[] = [];
    for (const t of done) {
      for (const to of t.recipients) {
        if (!this.participants.has(to)) continue;
        out.push({
          to,
          message: { op: VoiceOpcode.DaveExecuteTransition, d: { transition_id: t.transitionId } },
        });
      }
    }
    return out;
  }

  private externalSenderTo(p: Participant): DaveOutbound {
    return { to: p.userId, message: { op: VoiceOpcode.DaveMlsExternalSender, payload: this.senderPackage } };
  }

  private appendTo(to: string, messages: Uint8Array[]): DaveOutbound {
    return {
      to,
      message: {
        op: VoiceOpcode.DaveMlsProposals,
        payload: encodeProposalsPayload({ operation: 'append', messages }),
      },
    };
  }

  private proposalContext(): { groupId: Uint8Array; epoch: bigint; signingKey: KeyObject } {
    return { groupId: this.groupId, epoch: this.groupEpoch, signingKey: this.signingKey };
  }
}
