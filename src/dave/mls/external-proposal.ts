/**
 * External-sender proposals built by the voice gateway (dave.md §7.3): an Add or Remove carried in
 * a PublicMessage from external sender index 0, signed with the gateway's P-256 key over
 * FramedContentTBS (no GroupContext for external senders), no membership tag. The same bytes are
 * valid in every member's group with that group id and epoch.
 */
import type { KeyObject } from 'node:crypto';
import {
  concatBytes,
  CONTENT_TYPE_PROPOSAL,
  encodeOpaque,
  PROPOSAL_TYPE_ADD,
  PROPOSAL_TYPE_REMOVE,
  SENDER_TYPE_EXTERNAL,
  WIRE_FORMAT_PUBLIC_MESSAGE,
} from './mls-codec.js';
import { proposalRefOfMessage, signWithLabel } from './mls-sign.js';

/** version mls10 ‖ wire_format public_message */
const HEADER = Uint8Array.of(0x00, 0x01, 0x00, WIRE_FORMAT_PUBLIC_MESSAGE);
/** sender external, sender_index 0 ‖ authenticated_data empty ‖ content_type proposal */
const EXTERNAL_PROPOSAL_PREFIX = Uint8Array.of(SENDER_TYPE_EXTERNAL, 0, 0, 0, 0, 0x00, CONTENT_TYPE_PROPOSAL);

export interface ExternalProposal {
  /** The MLSMessage (PublicMessage) bytes that go into op 27. */
  message: Uint8Array;
  /** ProposalRef (32 bytes): what commits reference and op 27 revoke lists. */
  ref: Uint8Array;
}

export interface ProposalContext {
  /** BE64 channel id. */
  groupId: Uint8Array;
  epoch: bigint;
  signingKey: KeyObject;
}

function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function build(ctx: ProposalContext, proposal: Uint8Array): ExternalProposal {
  const framedContent = concatBytes(
    encodeOpaque(ctx.groupId),
    u64(ctx.epoch),
    EXTERNAL_PROPOSAL_PREFIX,
    proposal,
  );
  const tbs = concatBytes(HEADER, framedContent); // no GroupContext for external senders
  const signature = signWithLabel(ctx.signingKey, 'FramedContentTBS', tbs);
  const message = concatBytes(tbs, encodeOpaque(signature));
  return { message, ref: proposalRefOfMessage(message) };
}

/** Add proposal carrying the key package exactly as received (bare KeyPackage bytes). */
export function buildExternalAdd(ctx: ProposalContext, keyPackage: Uint8Array): ExternalProposal {
  return build(ctx, concatBytes(Uint8Array.of(0, PROPOSAL_TYPE_ADD), keyPackage));
}

export function buildExternalRemove(ctx: ProposalContext, leafIndex: number): ExternalProposal {
  if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex > 0xffffffff) {
    throw new RangeError('leaf index out of u32 range');
  }
  return build(ctx, concatBytes(Uint8Array.of(0, PROPOSAL_TYPE_REMOVE), u32(leafIndex)));
}
