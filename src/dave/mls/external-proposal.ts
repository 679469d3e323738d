/**
 * External-sender proposals built by the voice gateway (dave.md §7.3): an Add or Remove carried in
 * a PublicMessage from external sender index 0, signed with the gateway's P-256 key over
 * FramedContentTBS (no GroupContext for external senders), no membership tag. The same bytes are
 * valid in every member's group with that group id and epoch.
 */
import type { KeyObject } from 'node:crypto';
import { concatBytes, encodeOpaque } from './mls-codec.js';
import { proposalRefOfMessage, signWithLabel } from './mls-sign.js';

const MLS10 = Uint8Array.of(0x00, 0x01);
const WIRE_PUBLIC_MESSAGE = Uint8Array.of(0x00, 0x01);
const SENDER_EXTERNAL_INDEX_0 = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00);
const EMPTY_AUTHENTICATED_DATA = Uint8Array.of(0x00);
const CONTENT_TYPE_PROPOSAL = Uint8Array.of(0x02);
const PROPOSAL_ADD = Uint8Array.of(0x00, 0x01);
const PROPOSAL_REMOVE = Uint8Array.of(0x00, 0x03);

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
    SENDER_EXTERNAL_INDEX_0,
    EMPTY_AUTHENTICATED_DATA,
    CONTENT_TYPE_PROPOSAL,
    proposal,
  );
  const tbs = concatBytes(MLS10, WIRE_PUBLIC_MESSAGE, framedContent);
  const signature = signWithLabel(ctx.signingKey, 'FramedContentTBS', tbs);
  const message = concatBytes(tbs, encodeOpaque(signature));
  return { message, ref: proposalRefOfMessage(message) };
}

/** Add proposal carrying the key package exactly as received (bare KeyPackage bytes). */
export function buildExternalAdd(ctx: ProposalContext, keyPackage: Uint8Array): ExternalProposal {
  return build(ctx, concatBytes(PROPOSAL_ADD, keyPackage));
}

export function buildExternalRemove(ctx: ProposalContext, leafIndex: number): ExternalProposal {
  if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex > 0xffffffff) {
    throw new RangeError('leaf index out of u32 range');
  }
  return build(ctx, concatBytes(PROPOSAL_REMOVE, u32(leafIndex)));
}
