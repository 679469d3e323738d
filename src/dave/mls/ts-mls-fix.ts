/**
 * Working around ts-mls 1.6.4's external_senders bug without patching ts-mls.
 *
 * The bug: ts-mls decodes the `external_senders` extension data as ONE ExternalSender, but RFC 9420
 * §12.1.8.1 (and davey/libdave/Discord) encode `ExternalSender external_senders<V>`, a vector. With
 * correct bytes ts-mls reads the vector's length as the signature key's length, then finds no
 * credential and fails. It does so in exactly three places (grep of dist/src, v1.6.4):
 *   1. createGroup -> validateExternalSenders      ("Could not decode external_senders")
 *   2. processing a proposal from an external sender -> findSignaturePublicKey / senderFromExtension
 *   3. proposeExternal                              ("Could not decode external_sender extension")
 * Joining from a Welcome, creating and processing commits never decode it: for them the
 * extension is opaque bytes hashed into the GroupContext, and because its type is the *default*
 * extension 'external_senders', ts-mls does not demand it in leaf capabilities (DAVE key packages
 * advertise no extensions, §5.4).
 *
 * Options considered: patch-package/postinstall (does not travel to a consumer's node_modules);
 * replacing ts-mls's decoder at runtime (its exports are ESM live bindings we cannot reassign, and a
 * second ts-mls instance in a consumer's tree would stay broken); a numeric extension type 5 (encodes
 * identically but ts-mls then requires 5 in every leaf's capabilities, which libdave/davey leaves do
 * not list). Chosen: keep the correct bytes in the state and never let ts-mls reach its decoder:
 *   1. createPendingGroup: call createGroup with no extensions, then set the correct extension. This
 *      is exactly what createGroup would have built: epoch 0's key schedule comes from a random
 *      epoch secret only (ts-mls 1.6.4 createGroup) and the GroupContext is plain data.
 *   2. processExternalProposal: verify the signature ourselves through ts-mls's
 *      unprotectPublicMessage with an explicit signature key (its documented override) and queue the
 *      proposal with ts-mls's own processProposal (same ProposalRef computation as ts-mls).
 *   3. createExternalProposal: build and sign the external proposal per dave.md §7.3 by hand.
 * Nothing here mutates ts-mls; it holds wherever and however often ts-mls is installed. The test
 * test/dave/mls/ts-mls-fix.test.ts proves interop in both directions with davey. When ts-mls ships
 * the upstream fix (2.0.0-rc.12+), (1) and (2) keep working unchanged.
 */
import type {
  CiphersuiteImpl,
  ClientState,
  Extension,
  KeyPackage,
  PrivateKeyPackage,
  PublicMessage,
} from 'ts-mls';
import { createGroup, processProposal } from 'ts-mls/clientState.js';
import { unprotectPublicMessage } from 'ts-mls/messageProtectionPublic.js';
import type { AuthenticatedContent } from 'ts-mls/authenticatedContent.js';
import { makeProposalRef } from 'ts-mls/authenticatedContent.js';
import { p256Signature } from './crypto-provider.js';
import {
  concatBytes,
  encodeExternalSendersExtensionData,
  encodeOpaque,
  MlsCodecError,
  parseExternalSendersExtensionData,
  snowflakeToBE64,
} from './mls-codec.js';
import type { ExternalSenderInfo } from './mls-codec.js';
import { createHash } from 'node:crypto';

/** The group context extension DAVE uses: external_senders with the single op 25 sender. */
export function externalSendersExtension(externalSender: Uint8Array): Extension {
  return {
    extensionType: 'external_senders',
    extensionData: encodeExternalSendersExtensionData([externalSender]),
  };
}

/** All external senders of a group, parsed as the vector the RFC defines. */
export function groupExternalSenders(state: ClientState): ExternalSenderInfo[] {
  const senders: ExternalSenderInfo[] = [];
  for (const ext of state.groupContext.extensions) {
    if (ext.extensionType === 'external_senders' || ext.extensionType === 5) {
      senders.push(...parseExternalSendersExtensionData(ext.extensionData));
    }
  }
  return senders;
}

/** A one-member epoch-0 group bound to the external sender (dave.md §6.1), without ts-mls's decoder. */
export async function createPendingGroup(
  groupId: Uint8Array,
  keyPackage: KeyPackage,
  privateKeyPackage: PrivateKeyPackage,
  externalSender: Uint8Array,
  cs: CiphersuiteImpl,
): Promise<ClientState> {
  const state = await createGroup(groupId, keyPackage, privateKeyPackage, [], cs);
  return {
    ...state,
    groupContext: { ...state.groupContext, extensions: [externalSendersExtension(externalSender)] },
  };
}

/**
 * Verifies an external proposal's signature against `signatureKey` (the op 25 sender) and queues it
 * in the state's unapplied proposals. Throws (ts-mls CryptoVerificationError) if the signature is bad.
 * The caller checks the DAVE rules (sender type/index, epoch, group, proposal type) first.
 */
export async function processExternalProposal(
  state: ClientState,
  message: PublicMessage,
  signatureKey: Uint8Array,
  cs: CiphersuiteImpl,
): Promise<{ state: ClientState; ref: Uint8Array }> {
  const content: AuthenticatedContent = await unprotectPublicMessage(
    state.keySchedule.membershipKey,
    state.groupContext,
    state.ratchetTree,
    message,
    cs,
    signatureKey,
  );
  if (content.content.contentType !== 'proposal') throw new MlsCodecError('not a proposal');
  const ref = await makeProposalRef(content, cs.hash);
  const next = await processProposal(state, content, content.content.proposal, cs.hash);
  return { state: next, ref };
}

// ---- building external proposals (the gateway's side; dave.md §7.3) ----

const LABEL_TBS = new TextEncoder().encode('MLS 1.0 FramedContentTBS');
const LABEL_PROPOSAL_REF = new TextEncoder().encode('MLS 1.0 Proposal Reference');

export type ExternalProposalBody =
  { type: 'add'; keyPackage: Uint8Array } | { type: 'remove'; leafIndex: number };

export interface ExternalProposalMessage {
  /** MLSMessage bytes (PublicMessage, sender external index 0) for op 27 append. */
  message: Uint8Array;
  /** ProposalRef for op 27 revoke and for checking commits. */
  ref: Uint8Array;
}

function u64be(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

function u32be(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v, false);
  return out;
}

/**
 * Builds and signs an external Add/Remove proposal as the voice gateway does. `groupId` is the
 * channel id (or its 8 BE bytes), `signaturePrivateKey` the 32-byte P-256 scalar of the external
 * sender. The same bytes are valid in every member's group with that group id and epoch.
 */
export async function createExternalProposal(options: {
  groupId: string | bigint | Uint8Array;
  epoch: bigint;
  proposal: ExternalProposalBody;
  signaturePrivateKey: Uint8Array;
}): Promise<ExternalProposalMessage> {
  const groupId = options.groupId instanceof Uint8Array ? options.groupId : snowflakeToBE64(options.groupId);
  const body =
    options.proposal.type === 'add'
      ? concatBytes(Uint8Array.of(0, 1), options.proposal.keyPackage)
      : concatBytes(Uint8Array.of(0, 3), u32be(options.proposal.leafIndex));
  const framedContent = concatBytes(
    encodeOpaque(groupId),
    u64be(options.epoch),
    Uint8Array.of(2, 0, 0, 0, 0), // sender: external, sender_index 0
    Uint8Array.of(0), // authenticated_data: empty
    Uint8Array.of(2), // content_type: proposal
    body,
  );
  const header = Uint8Array.of(0, 1, 0, 1); // mls10, public_message
  const tbs = concatBytes(header, framedContent); // no GroupContext for external senders
  const signature = await p256Signature.sign(
    options.signaturePrivateKey,
    concatBytes(encodeOpaque(LABEL_TBS), encodeOpaque(tbs)),
  );
  const message = concatBytes(header, framedContent, encodeOpaque(signature));
  const authenticatedContent = message.subarray(2); // wire_format ‖ FramedContent ‖ auth data
  const ref = new Uint8Array(
    createHash('sha256')
      .update(encodeOpaque(LABEL_PROPOSAL_REF))
      .update(encodeOpaque(authenticatedContent))
      .digest(),
  );
  return { message, ref };
}
