/**
 * Binary payload codecs of the DAVE MLS opcodes 25-30 (dave.md §4.7-§4.12), one encoder and one
 * decoder each. A payload here is what follows the opcode byte (src/protocol/voice-messages.ts strips the
 * envelope: seq u16 for server frames, op u8). Decoders validate framing only and throw a
 * VoxcordError (DAVE_PROTOCOL_ERROR, details.reason 'malformed'); MLS semantics are checked by the
 * session.
 */
import { VoxcordError } from '../errors.js';
import { DaveProposalsOperation, VoiceOpcode } from '../protocol/constants.js';
import {
  concatBytes,
  CONTENT_TYPE_PROPOSAL,
  CREDENTIAL_BASIC,
  encodeExternalSender,
  encodeOpaque,
  LEAF_SOURCE_KEY_PACKAGE,
  MlsCodecError,
  parseExternalSender,
  PROPOSAL_TYPE_ADD,
  PROPOSAL_TYPE_REMOVE,
  readKeyPackage,
  readPublicMessageHeader,
  Reader,
  SENDER_TYPE_EXTERNAL,
  SENDER_TYPE_MEMBER,
  SENDER_TYPE_NEW_MEMBER_PROPOSAL,
  splitCommitWelcome,
} from './mls/mls-codec.js';
import type { ExternalSenderInfo } from './mls/mls-codec.js';

export type { ExternalSenderInfo } from './mls/mls-codec.js';

function malformed(op: number, cause: unknown): VoxcordError {
  const why = cause instanceof Error ? cause.message : 'invalid payload';
  return new VoxcordError('DAVE_PROTOCOL_ERROR', `malformed DAVE op ${op} payload: ${why}`, {
    details: { op, reason: 'malformed' },
  });
}

function guard<T>(op: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw malformed(op, err);
  }
}

/** Ops 29 and 30: `u16 transition_id ‖ body`, the body running to the end of the payload. */
function encodeWithTransitionId(transitionId: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(transitionId) || transitionId < 0 || transitionId > 0xffff) {
    throw new VoxcordError('INVALID_ARGUMENT', 'transition id must be a u16');
  }
  return concatBytes(Uint8Array.of(transitionId >> 8, transitionId & 0xff), body);
}

function decodeWithTransitionId(
  op: number,
  payload: Uint8Array,
  what: string,
): { transitionId: number; body: Uint8Array } {
  return guard(op, () => {
    const r = new Reader(payload);
    const transitionId = r.u16('transition id');
    if (r.remaining === 0) throw new MlsCodecError(`missing ${what}`);
    return { transitionId, body: payload.subarray(2) };
  });
}

// ---- op 25 dave_mls_external_sender_package (S->C) ----

export function decodeExternalSenderPackage(payload: Uint8Array): ExternalSenderInfo {
  return guard(VoiceOpcode.DaveMlsExternalSender, () => parseExternalSender(payload));
}

export function encodeExternalSenderPackage(signatureKey: Uint8Array, identity: Uint8Array): Uint8Array {
  return encodeExternalSender(signatureKey, identity);
}

// ---- op 26 dave_mls_key_package (C->S) ----

/** The key package is sent bare (dave.md §4.8); the payload is the KeyPackage itself. */
export function encodeKeyPackagePayload(keyPackage: Uint8Array): Uint8Array {
  return keyPackage;
}

/** Returns the bare KeyPackage; also unwraps an MLSMessage-wrapped one (`00 01 00 05 …`). */
export function decodeKeyPackagePayload(payload: Uint8Array): Uint8Array {
  return guard(VoiceOpcode.DaveMlsKeyPackage, () => {
    const r = new Reader(payload);
    const version = r.u16('version');
    const second = r.u16('cipher suite or wire format');
    if (version !== 1) throw new MlsCodecError(`unsupported MLS version ${version}`);
    if (second === 5 && payload.length > 4 && payload[4] === 0 && payload[5] === 1)
      return payload.subarray(4);
    return payload;
  });
}

// ---- op 27 dave_mls_proposals (S->C) ----

export type ProposalsPayload =
  { operation: 'append'; messages: Uint8Array[] } | { operation: 'revoke'; refs: Uint8Array[] };

/** Senders that may send proposals (new_member_commit may not; RFC 9420 §6). */
const PROPOSAL_SENDERS = [SENDER_TYPE_MEMBER, SENDER_TYPE_EXTERNAL, SENDER_TYPE_NEW_MEMBER_PROPOSAL];

/** One MLSMessage carrying an Add or Remove proposal as a PublicMessage; returns its bytes. */
function readProposalMessage(r: Reader): Uint8Array {
  const start = r.offset;
  const { senderType } = readPublicMessageHeader(r, CONTENT_TYPE_PROPOSAL, PROPOSAL_SENDERS);
  const proposalType = r.u16('proposal type');
  if (proposalType === PROPOSAL_TYPE_ADD) {
    const { leaf } = readKeyPackage(r);
    if (leaf.credentialType !== CREDENTIAL_BASIC) {
      throw new MlsCodecError(`unsupported credential type ${leaf.credentialType}`);
    }
    if (leaf.source !== LEAF_SOURCE_KEY_PACKAGE) {
      throw new MlsCodecError('key package leaf source is not key_package');
    }
  } else if (proposalType === PROPOSAL_TYPE_REMOVE) {
    r.u32('removed leaf');
  } else {
    throw new MlsCodecError(`proposal type ${proposalType} is not allowed in DAVE`);
  }
  r.opaque('signature');
  if (senderType === SENDER_TYPE_MEMBER) r.opaque('membership tag');
  return r.bytes.subarray(start, r.offset);
}

export function decodeProposalsPayload(payload: Uint8Array): ProposalsPayload {
  return guard(VoiceOpcode.DaveMlsProposals, () => {
    const r = new Reader(payload);
    const operation = r.u8('operation type');
    const body = r.vector('proposals');
    r.expectEnd('proposals payload');
    if (operation === DaveProposalsOperation.Append) {
      const messages: Uint8Array[] = [];
      while (body.remaining > 0) messages.push(readProposalMessage(body));
      if (messages.length === 0) throw new MlsCodecError('no proposals');
      return { operation: 'append', messages };
    }
    if (operation === DaveProposalsOperation.Revoke) {
      const refs: Uint8Array[] = [];
      while (body.remaining > 0) refs.push(body.opaque('proposal ref'));
      if (refs.length === 0) throw new MlsCodecError('no proposal refs');
      return { operation: 'revoke', refs };
    }
    throw new MlsCodecError(`unknown proposals operation ${operation}`);
  });
}

export function encodeProposalsPayload(payload: ProposalsPayload): Uint8Array {
  if (payload.operation === 'append') {
    return concatBytes(
      Uint8Array.of(DaveProposalsOperation.Append),
      encodeOpaque(concatBytes(...payload.messages)),
    );
  }
  const refs = payload.refs.map((ref) => encodeOpaque(ref));
  return concatBytes(Uint8Array.of(DaveProposalsOperation.Revoke), encodeOpaque(concatBytes(...refs)));
}

// ---- op 28 dave_mls_commit_welcome (C->S) ----

export interface CommitWelcomePayload {
  /** MLSMessage (PublicMessage) with the Commit. */
  commit: Uint8Array;
  /** Bare Welcome, present iff the commit adds members. */
  welcome: Uint8Array | undefined;
}

export function encodeCommitWelcome(commit: Uint8Array, welcome?: Uint8Array): Uint8Array {
  return welcome === undefined ? commit : concatBytes(commit, welcome);
}

export function decodeCommitWelcome(payload: Uint8Array): CommitWelcomePayload {
  return guard(VoiceOpcode.DaveMlsCommitWelcome, () => splitCommitWelcome(payload));
}

// ---- op 29 dave_mls_announce_commit_transition (S->C) ----

export interface AnnounceCommitPayload {
  transitionId: number;
  commit: Uint8Array;
}

export function encodeAnnounceCommit(transitionId: number, commit: Uint8Array): Uint8Array {
  return encodeWithTransitionId(transitionId, commit);
}

export function decodeAnnounceCommit(payload: Uint8Array): AnnounceCommitPayload {
  const { transitionId, body } = decodeWithTransitionId(
    VoiceOpcode.DaveMlsAnnounceCommitTransition,
    payload,
    'commit',
  );
  return { transitionId, commit: body };
}

// ---- op 30 dave_mls_welcome (S->C) ----

export interface WelcomePayload {
  transitionId: number;
  welcome: Uint8Array;
}

export function encodeWelcomePayload(transitionId: number, welcome: Uint8Array): Uint8Array {
  return encodeWithTransitionId(transitionId, welcome);
}

export function decodeWelcomePayload(payload: Uint8Array): WelcomePayload {
  const { transitionId, body } = decodeWithTransitionId(VoiceOpcode.DaveMlsWelcome, payload, 'welcome');
  return { transitionId, welcome: body };
}
