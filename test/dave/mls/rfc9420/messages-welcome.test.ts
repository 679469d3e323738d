/**
 * RFC 9420 vectors for messages, transcript hashes, welcome, passive-client-welcome and
 * message-protection (PublicMessage). Not applicable to the DAVE profile:
 * - message-protection, PrivateMessage (`*_priv`, `application`): DAVE sends no PrivateMessages
 *   and never builds a secret tree for them (the secret-tree vector still checks its derivation).
 * - passive-client-welcome, later epochs: the suite-2 entries here have none; their joins (with
 *   and without the ratchet_tree extension, with external PSKs) are all checked.
 * - passive-client-handling-commit / random: not shipped for suite 2 in ../shared (see its README).
 */
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../../../src/dave/mls/mls-codec.js';
import { verifyWithLabel } from '../../../../src/dave/mls/rfc9420/crypto.js';
import {
  confirmationTag,
  confirmedTranscriptHash,
  epochSecrets,
  interimTranscriptHash,
} from '../../../../src/dave/mls/rfc9420/key-schedule.js';
import {
  decode,
  encode,
  encodeGroupContext,
  groupInfoTbs,
  readCommit,
  readFramedContent,
  readGroupSecrets,
  readKeyPackage,
  readLeafNode,
  readMlsMessage,
  readProposal,
  readRatchetTree,
  writeCommit,
  writeFramedContent,
  writeGroupSecrets,
  writeKeyPackage,
  writeLeafNode,
  writeMlsMessage,
  writeProposal,
  writeRatchetTree,
  ContentType,
  WireFormat,
} from '../../../../src/dave/mls/rfc9420/messages.js';
import type { GroupContext, MlsMessage } from '../../../../src/dave/mls/rfc9420/messages.js';
import {
  joinFromWelcome,
  openWelcome,
  protectMemberMessage,
  verifyMemberMessage,
} from '../../../../src/dave/mls/rfc9420/group.js';
import { hex, loadVectors, unhex, VECTOR_DIR } from './vectors.js';

/** Proposal bodies in the vectors come without their type: prefix it and use the Proposal codec. */
function proposalRoundTrip(type: number, body: string): string {
  const prefixed = new Writer().u16(type).raw(unhex(body)).bytes();
  return hex(encode(writeProposal, decode(readProposal, prefixed, 'proposal')).subarray(2));
}

function roundTrip<T>(read: (r: Reader) => T, write: (w: Writer, v: T) => void, h: string): string {
  return hex(encode(write, decode(read, unhex(h), 'message')));
}

const mlsMessage = (h: string): MlsMessage => decode(readMlsMessage, unhex(h), 'MLS message');

describe.skipIf(VECTOR_DIR === undefined)(
  'RFC 9420 vectors: messages, transcript, welcome, passive client, protection',
  () => {
    it('messages: every message type decodes and re-encodes to the same bytes', () => {
      const vectors = loadVectors<Record<string, string>>('messages');
      expect(vectors.length).toBe(300);
      for (const v of vectors) {
        const s = (k: string): string => v[k] ?? '';
        for (const k of [
          'mls_welcome',
          'mls_group_info',
          'mls_key_package',
          'public_message_application',
          'public_message_proposal',
          'public_message_commit',
          'private_message',
        ]) {
          expect(roundTrip(readMlsMessage, writeMlsMessage, s(k))).toBe(s(k));
        }
        expect(roundTrip(readRatchetTree, writeRatchetTree, s('ratchet_tree'))).toBe(s('ratchet_tree'));
        expect(roundTrip(readGroupSecrets, writeGroupSecrets, s('group_secrets'))).toBe(s('group_secrets'));
        expect(roundTrip(readKeyPackage, writeKeyPackage, s('add_proposal'))).toBe(s('add_proposal'));
        expect(roundTrip(readLeafNode, writeLeafNode, s('update_proposal'))).toBe(s('update_proposal'));
        expect(roundTrip(readCommit, writeCommit, s('commit'))).toBe(s('commit'));
        expect(proposalRoundTrip(3, s('remove_proposal'))).toBe(s('remove_proposal'));
        expect(proposalRoundTrip(4, s('pre_shared_key_proposal'))).toBe(s('pre_shared_key_proposal'));
        expect(proposalRoundTrip(5, s('re_init_proposal'))).toBe(s('re_init_proposal'));
        expect(proposalRoundTrip(6, s('external_init_proposal'))).toBe(s('external_init_proposal'));
        expect(proposalRoundTrip(7, s('group_context_extensions_proposal'))).toBe(
          s('group_context_extensions_proposal'),
        );
      }
    });

    it('transcript-hashes (suite 2): confirmed and interim hashes, confirmation tag', () => {
      const vectors = loadVectors<Record<string, string>>('transcript-hashes');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const r = new Reader(unhex(v.authenticated_content ?? ''));
        const wireFormat = r.u16();
        const content = readFramedContent(r);
        expect(content.body.contentType).toBe(ContentType.Commit);
        const signature = r.opaque();
        const tag = r.opaque();
        r.expectEnd('authenticated content');
        const input = new Writer().u16(wireFormat);
        writeFramedContent(input, content);
        input.opaque(signature);
        const confirmed = confirmedTranscriptHash(
          unhex(v.interim_transcript_hash_before ?? ''),
          input.bytes(),
        );
        expect(hex(confirmed)).toBe(v.confirmed_transcript_hash_after);
        expect(hex(confirmationTag(unhex(v.confirmation_key ?? ''), confirmed))).toBe(hex(tag));
        expect(hex(interimTranscriptHash(confirmed, tag))).toBe(v.interim_transcript_hash_after);
      }
    });

    it('welcome (suite 2): group secrets and group info decrypt, signature and confirmation tag verify', () => {
      const vectors = loadVectors<Record<string, string>>('welcome');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const kpMessage = mlsMessage(v.key_package ?? '');
        const welcomeMessage = mlsMessage(v.welcome ?? '');
        if (
          kpMessage.wireFormat !== WireFormat.KeyPackage ||
          welcomeMessage.wireFormat !== WireFormat.Welcome
        ) {
          throw new Error('unexpected wire formats');
        }
        const opened = openWelcome(unhex(v.welcome ?? '').subarray(4), {
          encoded: unhex(v.key_package ?? '').subarray(4),
          initPrivate: unhex(v.init_priv ?? ''),
          initPublic: kpMessage.keyPackage.initKey,
        });
        const gi = opened.groupInfo;
        expect(
          verifyWithLabel(unhex(v.signer_pub ?? ''), 'GroupInfoTBS', groupInfoTbs(gi), gi.signature),
        ).toBe(true);
        const secrets = epochSecrets(
          opened.groupSecrets.joinerSecret,
          opened.psk,
          encodeGroupContext(gi.groupContext),
        );
        expect(hex(confirmationTag(secrets.confirmationKey, gi.groupContext.confirmedTranscriptHash))).toBe(
          hex(gi.confirmationTag),
        );
      }
    });

    it('passive-client-welcome (suite 2): joins with and without the ratchet_tree extension, with external PSKs', () => {
      const vectors = loadVectors<{
        key_package: string;
        signature_priv: string;
        encryption_priv: string;
        init_priv: string;
        welcome: string;
        ratchet_tree: string | null;
        external_psks: { psk_id: string; psk: string }[];
        initial_epoch_authenticator: string;
      }>('passive-client-welcome');
      expect(vectors.length).toBe(8);
      for (const v of vectors) {
        const kp = mlsMessage(v.key_package);
        if (kp.wireFormat !== WireFormat.KeyPackage) throw new Error('not a key package');
        const state = joinFromWelcome(
          unhex(v.welcome).subarray(4),
          {
            keyPackage: kp.keyPackage,
            encoded: unhex(v.key_package).subarray(4),
            initPrivate: unhex(v.init_priv),
            encryptionPrivate: unhex(v.encryption_priv),
            signaturePrivate: unhex(v.signature_priv),
          },
          {
            ...(v.ratchet_tree === null
              ? {}
              : { ratchetTree: decode(readRatchetTree, unhex(v.ratchet_tree), 'tree') }),
            externalPsks: new Map(v.external_psks.map((p) => [p.psk_id, unhex(p.psk)])),
          },
        );
        expect(hex(state.epochAuthenticator)).toBe(v.initial_epoch_authenticator);
      }
    });

    it('message-protection (suite 2): PublicMessage proposal and commit verify; ours verify too', () => {
      const vectors = loadVectors<Record<string, string | number>>('message-protection');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const s = (k: string): string => String(v[k]);
        const context: GroupContext = {
          version: 1,
          cipherSuite: 2,
          groupId: unhex(s('group_id')),
          epoch: BigInt(s('epoch')),
          treeHash: unhex(s('tree_hash')),
          confirmedTranscriptHash: unhex(s('confirmed_transcript_hash')),
          extensions: [],
        };
        const membershipKey = unhex(s('membership_key'));
        const pub = unhex(s('signature_pub'));
        for (const [kind, expected] of [
          ['proposal_pub', s('proposal')],
          ['commit_pub', s('commit')],
        ] as const) {
          const m = mlsMessage(s(kind));
          if (m.wireFormat !== WireFormat.PublicMessage) throw new Error('not public');
          const message = m.publicMessage;
          verifyMemberMessage(message, context, membershipKey, pub);
          const body = message.content.body;
          const bodyBytes =
            body.contentType === ContentType.Proposal
              ? encode(writeProposal, body.proposal)
              : body.contentType === ContentType.Commit
                ? encode(writeCommit, body.commit)
                : new Uint8Array(0);
          expect(hex(bodyBytes)).toBe(expected);
          const ours = protectMemberMessage(
            message.content,
            context,
            membershipKey,
            unhex(s('signature_priv')),
            message.auth.confirmationTag,
          );
          verifyMemberMessage(ours, context, membershipKey, pub);
          expect(() =>
            verifyMemberMessage(ours, { ...context, epoch: context.epoch + 1n }, membershipKey, pub),
          ).toThrow();
        }
      }
    });
  },
);
