/**
 * Reads op 28's commit MLSMessage far enough for the gateway's commit checks (dave.md §7.4):
 * group id, epoch, sender, proposal references vs inline proposals, and the UpdatePath leaf
 * (credential + signature key). Whatever follows the commit is the optional Welcome (Appendix A.4).
 * Signatures and the membership tag are not verified here: that needs the group's secrets.
 * Never throws on bad input: returns a typed rejection.
 */
import {
  MlsCodecError,
  Reader,
  SENDER_TYPE_MEMBER,
  WIRE_FORMAT_PUBLIC_MESSAGE,
  CONTENT_TYPE_COMMIT,
} from './mls-codec.js';
import { readLeafNode } from './key-package-check.js';
import type { ParsedLeafNode } from './key-package-check.js';

const PROPOSAL_OR_REF_PROPOSAL = 1;
const PROPOSAL_OR_REF_REFERENCE = 2;

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

export function inspectCommitWelcome(payload: Uint8Array): InspectedCommit | CommitInspectFailure {
  try {
    const r = new Reader(payload);
    const version = r.u16('version');
    if (version !== 1) return { ok: false, reason: 'malformed', detail: `MLS version ${version}` };
    const wireFormat = r.u16('wire format');
    if (wireFormat !== WIRE_FORMAT_PUBLIC_MESSAGE) {
      return { ok: false, reason: 'not-public-message', detail: `wire format ${wireFormat}` };
    }
    const groupId = r.opaque('group id');
    const epoch = r.u64('epoch');
    const senderType = r.u8('sender type');
    if (senderType !== SENDER_TYPE_MEMBER) {
      return { ok: false, reason: 'not-member-sender', detail: `sender type ${senderType}` };
    }
    const senderLeaf = r.u32('sender leaf index');
    r.opaque('authenticated data');
    const contentType = r.u8('content type');
    if (contentType !== CONTENT_TYPE_COMMIT) {
      return { ok: false, reason: 'not-commit', detail: `content type ${contentType}` };
    }
    const entries = readEntries(r.vector('proposals'));
    const hasPath = r.u8('path presence');
    let pathLeaf: ParsedLeafNode | undefined;
    if (hasPath === 1) {
      pathLeaf = readLeafNode(r);
      r.opaque('update path nodes');
    } else if (hasPath !== 0) {
      throw new MlsCodecError('invalid optional flag');
    }
    r.opaque('signature');
    r.opaque('confirmation tag');
    r.opaque('membership tag');
    const commit = payload.subarray(0, r.offset);
    const welcome = r.remaining > 0 ? payload.subarray(r.offset) : undefined;
    return { ok: true, commit, welcome, groupId, epoch, senderLeaf, entries, pathLeaf };
  } catch (err) {
    if (err instanceof MlsCodecError) return { ok: false, reason: 'malformed', detail: err.message };
    throw err;
  }
}

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
