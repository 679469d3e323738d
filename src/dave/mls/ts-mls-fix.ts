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
 *   3. proposeExternal: not needed; the gateway side builds and signs external proposals per
 *      dave.md §7.3 by hand (external-proposal.ts).
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
import {
  encodeExternalSendersExtensionData,
  MlsCodecError,
  parseExternalSendersExtensionData,
} from './mls-codec.js';
import type { ExternalSenderInfo } from './mls-codec.js';

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
