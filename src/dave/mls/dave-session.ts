/**
 * DAVE v1 client session: the MLS group member side of dave.md §6, with the transition bookkeeping
 * (ops 21-24) in the same place. Pure: no sockets, no timers. Every handler takes a decoded opcode
 * payload and resolves to a DaveResult saying what to send (in order) and which key changes the
 * media side must make; rejections are typed VoxcordErrors (code DAVE_PROTOCOL_ERROR,
 * details.reason) in the result, never thrown. Handlers are serialised internally, so callers may
 * fire them in arrival order without awaiting each one.
 *
 * Behaviour follows libdave (the reference) where davey differs: the send key switches on op 22,
 * not when the commit is processed; no commit is produced for an empty queue (davey; dave.md §6.4).
 */
import { VoxcordError } from '../../errors.js';
import {
  DAVE_EXPORTER_LABEL,
  DAVE_INIT_TRANSITION_ID,
  DAVE_MEDIA_KEY_BYTES,
  VoiceOpcode,
} from '../../protocol/constants.js';
import type { AnnounceCommitPayload, ProposalsPayload, WelcomePayload } from '../opcodes.js';
import { decodeExternalSenderPackage, encodeCommitWelcome } from '../opcodes.js';
import { createDaveKeyPackage, generateP256KeyPair } from './key-package.js';
import type { DaveKeyPackage, SignatureKeyPair } from './key-package.js';
import {
  bytesEqual,
  CREDENTIAL_BASIC,
  encodeExternalSendersExtensionData,
  parseExternalSendersExtensionData,
  snowflakeToBE64,
  snowflakeToBigInt,
  snowflakeToLE64,
  userIdFromIdentity,
} from './mls-codec.js';
import type { ExternalSenderInfo } from './mls-codec.js';
import { buildRoster } from './roster.js';
import type { Roster } from './roster.js';
import { inspectCustom, publicView } from '../../util/redact.js';
import type { InspectStylized } from '../../util/redact.js';
import type { inspect } from 'node:util';
import {
  createCommit,
  createGroup,
  exportSecret,
  joinFromWelcome,
  MlsGroupError,
  processCommit,
  proposalKey,
  readPublicMessage,
  verifyExternalProposal,
} from './rfc9420/group.js';
import type { CachedProposal, GroupState } from './rfc9420/group.js';
import { ContentType, EXTENSION_EXTERNAL_SENDERS, ProposalType, SenderType } from './rfc9420/messages.js';
import type { PublicMessage } from './rfc9420/messages.js';

export type DaveRejectReason =
  | 'malformed'
  | 'invalid_argument'
  | 'group_established'
  | 'wrong_group'
  | 'wrong_epoch'
  | 'not_public_message'
  | 'wrong_content_type'
  | 'not_external_sender'
  | 'bad_signature'
  | 'proposal_type'
  | 'unrecognized_user'
  | 'unknown_proposal_ref'
  | 'inline_proposal'
  | 'not_member_sender'
  | 'commit_failed'
  | 'self_removed'
  | 'bad_credential'
  | 'duplicate_user'
  | 'no_key_package'
  | 'no_external_sender'
  | 'welcome_failed'
  | 'external_sender_mismatch'
  | 'internal';

export type DaveOutbound =
  | { op: typeof VoiceOpcode.DaveMlsKeyPackage; payload: Uint8Array }
  | { op: typeof VoiceOpcode.DaveMlsCommitWelcome; payload: Uint8Array }
  | { op: typeof VoiceOpcode.DaveTransitionReady; transitionId: number }
  | { op: typeof VoiceOpcode.DaveMlsInvalidCommitWelcome; transitionId: number };

export interface DaveTransition {
  transitionId: number;
  protocolVersion: number;
}

export interface DaveResult {
  /** Messages to send, in this order. */
  send: DaveOutbound[];
  /** Why the input was rejected. */
  error?: VoxcordError;
  /** Set when the input was deliberately ignored (no reply), with the reason. */
  ignored?: string;
  /**
   * Install receive ratchets for the current group now (dave.md §6.9): for every recognised remote
   * user, `exportBaseSecret(user)`; protocol version 0 means receive passthrough instead.
   */
  prepareRatchets?: DaveTransition;
  /**
   * Switch the send side now (dave.md §6.8): version 0 -> send plain Opus; otherwise encrypt with
   * `exportBaseSecret(self)` of the current group (or drop audio if `established` is false).
   */
  execute?: DaveTransition;
}

export interface DaveSessionOptions {
  userId: string;
  channelId: string;
  /** Persistent identity key; a fresh ephemeral P-256 key is generated when omitted. */
  signatureKeyPair?: SignatureKeyPair;
}

interface OutboundCommit {
  commit: Uint8Array;
  state: GroupState;
}

const settled = (): void => undefined;

function reject(
  reason: DaveRejectReason,
  message: string,
  extra?: Record<string, unknown>,
  cause?: unknown,
): VoxcordError {
  const details: Record<string, unknown> = { reason, ...extra };
  if (cause instanceof Error) details.mlsError = cause.message; // our MLS errors carry no secrets
  return new VoxcordError('DAVE_PROTOCOL_ERROR', `DAVE: ${message}`, { details });
}

export class DaveSession {
  readonly userId: string;
  readonly channelId: string;
  readonly groupId: Uint8Array;
  private readonly signatureKeys: SignatureKeyPair;
  private readonly recognized = new Set<string>();
  private readonly pendingTransitions = new Map<number, number>();
  private version = 0;
  private externalSender: ExternalSenderInfo | undefined;
  private keyPackage: DaveKeyPackage | undefined;
  private pendingGroup: GroupState | undefined;
  private currentGroup: GroupState | undefined;
  /** Verified proposals of this epoch by ProposalRef, in arrival order (undefined: none yet). */
  private proposals: Map<string, CachedProposal> | undefined;
  private outbound: OutboundCommit | undefined;
  private currentRoster: Roster = new Map();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: DaveSessionOptions) {
    this.userId = snowflakeToBigInt(options.userId).toString();
    this.channelId = snowflakeToBigInt(options.channelId).toString();
    this.groupId = snowflakeToBE64(this.channelId);
    this.signatureKeys = options.signatureKeyPair ?? generateP256KeyPair();
    this.recognized.add(this.userId);
  }

  // ---- read-only view ----

  /** The executed/negotiated DAVE protocol version (0 = no E2EE). */
  get protocolVersion(): number {
    return this.version;
  }

  /** util.inspect: no group state, private key or key package (see util/redact.ts). */
  [inspectCustom](depth: number, options: InspectStylized, inspectFn: typeof inspect): string {
    const fields = {
      userId: this.userId,
      channelId: this.channelId,
      version: this.version,
      epoch: this.epoch,
    };
    return publicView('DaveSession', fields, depth, options, inspectFn);
  }

  /** True once a group has been joined or created by a processed commit/welcome. */
  get established(): boolean {
    return this.currentGroup !== undefined;
  }

  /** Current MLS epoch of the established group. */
  get epoch(): bigint | undefined {
    return this.currentGroup?.context.epoch;
  }

  /** RFC 9420 epoch_authenticator of the established group (input of the privacy code, §10.2). */
  get epochAuthenticator(): Uint8Array | undefined {
    const value = this.currentGroup?.epochAuthenticator;
    return value === undefined ? undefined : value.slice();
  }

  /** Our signature public key (65 bytes), the identity used in verification codes. */
  get signaturePublicKey(): Uint8Array {
    return this.signatureKeys.publicKey.slice();
  }

  /** user id -> signature public key of every member of the established group. */
  get roster(): Roster {
    return this.currentRoster;
  }

  get recognizedUsers(): ReadonlySet<string> {
    return this.recognized;
  }

  /**
   * Which MLS state this session still holds (diagnostics and tests; booleans only, no secrets).
   * The key package and the pending one-member group live only until a group is adopted; the
   * proposal cache and the outbound commit only within an epoch; PrivateMessage secrets (a secret
   * tree) are never derived at all: DAVE has no PrivateMessages.
   * @internal
   */
  get retained(): {
    keyPackage: boolean;
    pendingGroup: boolean;
    proposalState: boolean;
    outboundCommit: boolean;
    privateMessageSecrets: boolean;
  } {
    return {
      keyPackage: this.keyPackage !== undefined,
      pendingGroup: this.pendingGroup !== undefined,
      proposalState: this.proposals !== undefined,
      outboundCommit: this.outbound !== undefined,
      privateMessageSecrets: false,
    };
  }

  /**
   * The per-sender base secret of the current epoch: MLS-Exporter("Discord Secure Frames v0",
   * LE64(userId), 16) (dave.md §8.1). Undefined without an established group.
   */
  exportBaseSecret(userId: string): Promise<Uint8Array | undefined> {
    const group = this.currentGroup;
    if (group === undefined) return Promise.resolve(undefined);
    return Promise.resolve(
      exportSecret(group, DAVE_EXPORTER_LABEL, snowflakeToLE64(userId), DAVE_MEDIA_KEY_BYTES),
    );
  }

  // ---- recognised users (op 11 / op 13) ----

  addRecognizedUsers(userIds: readonly string[]): void {
    for (const id of userIds) {
      try {
        this.recognized.add(snowflakeToBigInt(id).toString());
      } catch {
        // not a snowflake: ignore, it can never match a credential
      }
    }
  }

  removeRecognizedUser(userId: string): void {
    if (userId !== this.userId) this.recognized.delete(userId);
  }

  // ---- handlers ----

  /** Op 4 (session start) with the negotiated version: Init (§6.1). Sends op 26 for version > 0. */
  init(protocolVersion: number): Promise<DaveResult> {
    return this.run(async () => this.doInit(protocolVersion));
  }

  /** Op 25. */
  onExternalSender(payload: Uint8Array): Promise<DaveResult> {
    return this.run(async () => {
      if (this.currentGroup !== undefined) {
        return { send: [], ignored: 'external sender after the group was established' };
      }
      let sender: ExternalSenderInfo;
      try {
        sender = decodeExternalSenderPackage(payload);
      } catch (err) {
        return { send: [], error: reject('malformed', 'bad external sender package', { op: 25 }, err) };
      }
      this.externalSender = sender;
      this.proposals = undefined;
      this.outbound = undefined;
      if (this.keyPackage !== undefined) this.createPending();
      return { send: [] };
    });
  }

  /** Op 27 (§6.4). Returns op 28 when there is something to commit. */
  onProposals(payload: ProposalsPayload): Promise<DaveResult> {
    return this.run(async () => this.doProposals(payload));
  }

  /** Op 29 (§6.5). */
  onAnnounceCommit(payload: AnnounceCommitPayload): Promise<DaveResult> {
    return this.run(async () => this.doAnnounceCommit(payload));
  }

  /** Op 30 (§6.6). */
  onWelcome(payload: WelcomePayload): Promise<DaveResult> {
    return this.run(async () => this.doWelcome(payload));
  }

  /** Op 21 (§6.7). */
  onPrepareTransition(transition: DaveTransition): Promise<DaveResult> {
    return this.run(async () => {
      const result: DaveResult = { send: [], prepareRatchets: { ...transition } };
      this.afterPrepare(transition, result);
      return result;
    });
  }

  /** Op 22 (§6.8). Unknown transition ids are ignored. */
  onExecuteTransition(transitionId: number): Promise<DaveResult> {
    return this.run(async () => {
      const version = this.pendingTransitions.get(transitionId);
      if (version === undefined) return { send: [], ignored: `unknown transition ${transitionId}` };
      this.pendingTransitions.delete(transitionId);
      return { send: [], execute: this.executeNow(transitionId, version) };
    });
  }

  /** Op 24 (§6.10): epoch 1 = new group (Init + op 26); otherwise only a version change. */
  onPrepareEpoch(data: {
    epoch: number;
    protocolVersion: number;
    transitionId?: number;
  }): Promise<DaveResult> {
    return this.run(async () => {
      if (data.epoch === 1) return this.doInit(data.protocolVersion);
      if (data.transitionId === undefined || data.transitionId === DAVE_INIT_TRANSITION_ID) {
        return { send: [], ignored: 'prepare epoch without transition' };
      }
      this.pendingTransitions.set(data.transitionId, data.protocolVersion);
      return { send: [{ op: VoiceOpcode.DaveTransitionReady, transitionId: data.transitionId }] };
    });
  }

  /** Drops every MLS secret this session holds. */
  reset(): void {
    this.resetMls();
    this.pendingTransitions.clear();
  }

  // ---- internals ----

  private run(task: () => Promise<DaveResult>): Promise<DaveResult> {
    const next = this.queue.then(task).catch((err: unknown): DaveResult => ({
      send: [],
      error: reject('internal', 'unexpected failure', {}, err),
    }));
    // The queue waits for `next` without holding its result (payloads sent long ago) alive.
    this.queue = next.then(settled);
    return next;
  }

  private resetMls(): void {
    this.keyPackage = undefined;
    this.pendingGroup = undefined;
    this.currentGroup = undefined;
    this.proposals = undefined;
    this.outbound = undefined;
    this.currentRoster = new Map();
  }

  private async doInit(protocolVersion: number): Promise<DaveResult> {
    if (!Number.isInteger(protocolVersion) || protocolVersion < 0) {
      return { send: [], error: reject('invalid_argument', 'invalid protocol version') };
    }
    this.resetMls();
    this.version = protocolVersion;
    if (protocolVersion === 0) return { send: [] };
    this.keyPackage = createDaveKeyPackage(this.userId, this.signatureKeys);
    if (this.externalSender !== undefined) this.createPending();
    return Promise.resolve({
      send: [{ op: VoiceOpcode.DaveMlsKeyPackage, payload: this.keyPackage.encoded }],
    });
  }

  /** The one-member epoch-0 group bound to the op 25 external sender (dave.md §6.1). */
  private createPending(): void {
    if (this.keyPackage === undefined || this.externalSender === undefined) return;
    this.pendingGroup = createGroup(this.groupId, this.keyPackage.bundle, [
      {
        extensionType: EXTENSION_EXTERNAL_SENDERS,
        extensionData: encodeExternalSendersExtensionData([this.externalSender.encoded]),
      },
    ]);
  }

  private async doProposals(payload: ProposalsPayload): Promise<DaveResult> {
    const base = this.pendingGroup ?? this.currentGroup;
    if (base === undefined) return { send: [], ignored: 'no group' };
    const sender = this.externalSender;
    if (sender === undefined) return { send: [], ignored: 'no external sender' };
    const proposals = new Map(this.proposals ?? []);

    if (payload.operation === 'append') {
      for (const bytes of payload.messages) {
        const checked = this.checkExternalProposal(bytes, base);
        if (checked !== undefined) return { send: [], error: checked };
        let verified: CachedProposal;
        try {
          verified = verifyExternalProposal(base, bytes, sender.signatureKey);
        } catch (err) {
          return {
            send: [],
            error: reject('bad_signature', 'proposal not signed by the external sender', {}, err),
          };
        }
        proposals.set(proposalKey(verified.ref), verified);
      }
    } else {
      for (const ref of payload.refs) {
        if (!proposals.delete(proposalKey(ref)))
          return { send: [], error: reject('unknown_proposal_ref', 'revoke of an unknown proposal') };
      }
    }
    this.proposals = proposals;
    this.outbound = undefined;

    if (proposals.size === 0) return { send: [] };
    let result;
    try {
      result = createCommit(base, [...proposals.values()]);
    } catch (err) {
      return { send: [], error: reject('commit_failed', 'could not create a commit', {}, err) };
    }
    this.outbound = { commit: result.commit, state: result.state };
    return Promise.resolve({
      send: [
        { op: VoiceOpcode.DaveMlsCommitWelcome, payload: encodeCommitWelcome(result.commit, result.welcome) },
      ],
    });
  }

  /** DAVE rules for one external proposal (§6.4 step 3); the signature is checked afterwards. */
  private checkExternalProposal(bytes: Uint8Array, state: GroupState): VoxcordError | undefined {
    let message: PublicMessage;
    try {
      message = readPublicMessage(bytes);
    } catch (err) {
      if (err instanceof MlsGroupError)
        return reject('not_public_message', 'proposal is not a PublicMessage');
      return reject('malformed', 'undecodable proposal message');
    }
    const content = message.content;
    if (!bytesEqual(content.groupId, state.context.groupId)) {
      return reject('wrong_group', 'proposal for another group');
    }
    if (content.epoch !== state.context.epoch) {
      return reject('wrong_epoch', 'proposal for another epoch', {
        epoch: content.epoch.toString(),
        expected: state.context.epoch.toString(),
      });
    }
    if (content.body.contentType !== ContentType.Proposal)
      return reject('wrong_content_type', 'not a proposal');
    if (content.sender.type !== SenderType.External || content.sender.index !== 0) {
      return reject('not_external_sender', 'proposal not from external sender 0');
    }
    const proposal = content.body.proposal;
    if (proposal.type === ProposalType.Add) {
      const credential = proposal.keyPackage.leafNode.credential;
      const userId =
        credential.credentialType === CREDENTIAL_BASIC ? userIdFromIdentity(credential.identity) : undefined;
      if (userId === undefined)
        return reject('bad_credential', 'added key package has no user id credential');
      if (!this.recognized.has(userId)) {
        return reject('unrecognized_user', 'add proposal for an unrecognised user', { userId });
      }
    } else if (proposal.type !== ProposalType.Remove) {
      return reject('proposal_type', 'only add and remove proposals are allowed');
    }
    return undefined;
  }

  private async doAnnounceCommit(payload: AnnounceCommitPayload): Promise<DaveResult> {
    const { transitionId } = payload;
    const proposals = this.proposals;
    const state = this.pendingGroup ?? this.currentGroup;
    if (proposals === undefined || state === undefined)
      return { send: [], ignored: 'no proposals this epoch' };
    let message: PublicMessage;
    try {
      message = readPublicMessage(payload.commit);
    } catch (err) {
      if (err instanceof MlsGroupError) {
        return this.fail(transitionId, reject('not_public_message', 'commit is not a PublicMessage'));
      }
      return this.fail(transitionId, reject('malformed', 'undecodable commit'));
    }
    if (!bytesEqual(message.content.groupId, state.context.groupId)) {
      return { send: [], ignored: 'commit for another group' };
    }

    let next: GroupState;
    if (this.outbound !== undefined && bytesEqual(this.outbound.commit, payload.commit)) {
      next = this.outbound.state; // our own commit won: adopt the state made with it
    } else {
      const error = this.checkCommit(message, state, proposals);
      if (error !== undefined) return this.fail(transitionId, error);
      try {
        const processed = processCommit(state, payload.commit, proposals);
        if (processed.kind === 'removed') {
          return this.fail(transitionId, reject('self_removed', 'this commit removes us from the group'));
        }
        next = processed.state;
      } catch (err) {
        return this.fail(transitionId, reject('commit_failed', 'commit rejected by MLS validation', {}, err));
      }
    }
    return this.adopt(next, transitionId);
  }

  private checkCommit(
    message: PublicMessage,
    state: GroupState,
    proposals: ReadonlyMap<string, CachedProposal>,
  ): VoxcordError | undefined {
    const content = message.content;
    if (content.epoch !== state.context.epoch) {
      return reject('wrong_epoch', 'commit for another epoch', {
        epoch: content.epoch.toString(),
        expected: state.context.epoch.toString(),
      });
    }
    if (content.body.contentType !== ContentType.Commit) return reject('wrong_content_type', 'not a commit');
    if (content.sender.type !== SenderType.Member)
      return reject('not_member_sender', 'commit not from a member');
    for (const entry of content.body.commit.proposals) {
      if (entry.kind !== 'reference') return reject('inline_proposal', 'commit carries an inline proposal');
      if (!proposals.has(proposalKey(entry.ref))) {
        return reject('unknown_proposal_ref', 'commit references an unknown proposal');
      }
    }
    return undefined;
  }

  private async doWelcome(payload: WelcomePayload): Promise<DaveResult> {
    const { transitionId } = payload;
    const keyPackage = this.keyPackage;
    const sender = this.externalSender;
    if (this.currentGroup !== undefined) {
      return this.fail(transitionId, reject('group_established', 'welcome while already in a group'));
    }
    if (keyPackage === undefined)
      return this.fail(transitionId, reject('no_key_package', 'welcome without a key package'));
    if (sender === undefined)
      return this.fail(transitionId, reject('no_external_sender', 'welcome before op 25'));
    let joined: GroupState;
    try {
      joined = joinFromWelcome(payload.welcome, keyPackage.bundle);
    } catch (err) {
      if (err instanceof MlsGroupError) {
        return this.fail(transitionId, reject('welcome_failed', 'could not join from the welcome', {}, err));
      }
      return this.fail(transitionId, reject('malformed', 'undecodable welcome'));
    }
    if (!bytesEqual(joined.context.groupId, this.groupId)) {
      return this.fail(transitionId, reject('wrong_group', 'welcome for another group'));
    }
    const senders: ExternalSenderInfo[] = [];
    try {
      for (const ext of joined.context.extensions) {
        if (ext.extensionType === EXTENSION_EXTERNAL_SENDERS) {
          senders.push(...parseExternalSendersExtensionData(ext.extensionData));
        }
      }
    } catch (err) {
      return this.fail(transitionId, reject('malformed', 'bad external_senders extension', {}, err));
    }
    const only = senders[0];
    if (senders.length !== 1 || only === undefined || !bytesEqual(only.encoded, sender.encoded)) {
      return this.fail(
        transitionId,
        reject('external_sender_mismatch', 'group must have exactly the op 25 external sender', {
          externalSenders: senders.length,
        }),
      );
    }
    return this.adopt(joined, transitionId);
  }

  /** Roster check, then the new group becomes current (§6.5 steps 3 and 5, §6.6 steps 3 and 5). */
  private async adopt(next: GroupState, transitionId: number): Promise<DaveResult> {
    const roster = buildRoster(next.tree);
    if (!roster.ok) {
      return this.fail(
        transitionId,
        reject(
          roster.reason,
          roster.reason === 'duplicate_user'
            ? 'user appears twice in the group'
            : 'member without a user id credential',
          {
            leafIndex: roster.leafIndex,
          },
        ),
      );
    }
    this.currentGroup = next;
    this.currentRoster = roster.roster;
    this.pendingGroup = undefined;
    this.proposals = undefined;
    this.outbound = undefined;
    this.keyPackage = undefined;
    const transition = { transitionId, protocolVersion: this.version };
    const result: DaveResult = { send: [], prepareRatchets: transition };
    this.afterPrepare(transition, result);
    return Promise.resolve(result);
  }

  /** prepareRatchets' tail (§6.9): tid 0 executes now, otherwise remember it and report ready. */
  private afterPrepare(transition: DaveTransition, result: DaveResult): void {
    if (transition.transitionId === DAVE_INIT_TRANSITION_ID) {
      result.execute = this.executeNow(transition.transitionId, transition.protocolVersion);
    } else {
      this.pendingTransitions.set(transition.transitionId, transition.protocolVersion);
      result.send.push({ op: VoiceOpcode.DaveTransitionReady, transitionId: transition.transitionId });
    }
  }

  private executeNow(transitionId: number, protocolVersion: number): DaveTransition {
    if (protocolVersion === 0) this.resetMls();
    this.version = protocolVersion;
    return { transitionId, protocolVersion };
  }

  /** Failure of a commit/welcome: op 31, reset, new key package (libdave sample, §6.5 step 4). */
  private async fail(transitionId: number, error: VoxcordError): Promise<DaveResult> {
    const send: DaveOutbound[] = [{ op: VoiceOpcode.DaveMlsInvalidCommitWelcome, transitionId }];
    const reinit = await this.doInit(this.version);
    send.push(...reinit.send);
    return { send, error };
  }
}
