/**
 * Reads op 28's commit MLSMessage far enough for the gateway's commit checks (dave.md §7.4):
 * group id, epoch, sender, proposal references vs inline proposals, and the UpdatePath leaf
 * (credential + signature key). Whatever follows the commit is the optional Welcome (Appendix A.4).
 * Signatures and the membership tag are not verified here: that needs the group's secrets.
 * Never throws on bad input: returns a typed rejection.
 */
import {
  MlsCodecError,
  MlsWrongMessageError,
  parseCommitWelcome,
  Reader,
  SENDER_TYPE_MEMBER,
} from './mls-codec.js';
import type { ParsedLeafNode } from './mls-codec.js';

const PROPOSAL_OR_REF_PROPOSAL = 1;
const PROPOSAL_OR_REF_REFERENCE = 2;
const MEMBER_ONLY = [SENDER_TYPE_MEMBER];

export type CommitEntry = { kind: 'reference'; ref: Uint8Array } | { kind: 'inline'; proposalType: number };

export interface InspectedCommit {
  ok: true;
  /** The commit MLSMessage, byte-identical to what the client sent (op 29 forwards it unchanged). */
  commit: Uint8Array;
  /** The bare Welcome that followed it, if any. */
  welcome: Uint8Array | undefined;
  groupId: Uint8Array;
  epoch: bigint;
  /** Committer's leaf index (sender type member). */
  senderLeaf: number;
  entries: CommitEntry[];
  /** UpdatePath leaf node, when the commit has a path. */
  pathLeaf: ParsedLeafNode | undefined;
}

export type CommitInspectRejectReason =
  'malformed' | 'not-public-message' | 'not-commit' | 'not-member-sender';

export interface CommitInspectFailure {
  ok: false;
  reason: CommitInspectRejectReason;
  detail: string;
}

const WRONG_FIELD_REASONS: Partial<Record<MlsWrongMessageError['field'], CommitInspectRejectReason>> = {
  'wire-format': 'not-public-message',
  'sender-type': 'not-member-sender',
  'content-type': 'not-commit',
};

export function inspectCommitWelcome(payload: Uint8Array): InspectedCommit | CommitInspectFailure {
  try {
    const c = parseCommitWelcome(payload, MEMBER_ONLY);
    return {
      ok: true,
      commit: c.commit,
      welcome: c.welcome,
      groupId: c.groupId,
      epoch: c.epoch,
      senderLeaf: c.senderIndex ?? 0, // always set for a member sender
      entries: readEntries(new Reader(c.proposals)),
      pathLeaf: c.pathLeaf,
    };
  } catch (err) {
    if (err instanceof MlsWrongMessageError) {
      return { ok: false, reason: WRONG_FIELD_REASONS[err.field] ?? 'malformed', detail: err.message };
    }
    if (err instanceof MlsCodecError) return { ok: false, reason: 'malformed', detail: err.message };
    throw err;
  }
}

/** `ProposalOrRef proposals<V>` (RFC 9420 §12.4). */
function readEntries(list: Reader): CommitEntry[] {
  const entries: CommitEntry[] = [];
  while (list.remaining > 0) {
    const type = list.u8('proposal or ref type');
    if (type === PROPOSAL_OR_REF_REFERENCE) {
      entries.push({ kind: 'reference', ref: list.opaque('proposal ref') });
    } else if (type === PROPOSAL_OR_REF_PROPOSAL) {
      // Inline proposals are refused anyway; their bodies vary by type, so stop walking here.
      entries.push({ kind: 'inline', proposalType: list.u16('proposal type') });
      break;
    } else {
      throw new MlsCodecError(`invalid ProposalOrRef type ${type}`);
    }
  }
  return entries;
}
