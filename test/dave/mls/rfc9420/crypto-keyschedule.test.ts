import { describe, expect, it } from 'vitest';
import { Reader } from '../../../../src/dave/mls/mls-codec.js';
import {
  decryptWithLabel,
  deriveSecret,
  deriveTreeSecret,
  encryptWithLabel,
  expandWithLabel,
  refHash,
  signWithLabel,
  verifyWithLabel,
} from '../../../../src/dave/mls/rfc9420/crypto.js';
import {
  epochSecrets,
  externalPub,
  joinerSecret,
  leafRatchetSecrets,
  ratchetKeyNonce,
  senderDataKeyNonce,
} from '../../../../src/dave/mls/rfc9420/key-schedule.js';
import { mlsExporter } from '../../../../src/dave/hash-ratchet.js';
import { encodeGroupContext } from '../../../../src/dave/mls/rfc9420/messages.js';
import { left, nodeWidth, parent, right, root, sibling } from '../../../../src/dave/mls/rfc9420/tree-math.js';
import { hex, loadVectors, unhex, VECTOR_DIR } from './vectors.js';

const enc = new TextEncoder();

interface TreeMath {
  n_leaves: number;
  n_nodes: number;
  root: number;
  left: (number | null)[];
  right: (number | null)[];
  parent: (number | null)[];
  sibling: (number | null)[];
}

const orNull = (f: () => number): number | null => {
  try {
    return f();
  } catch {
    return null;
  }
};

describe.skipIf(VECTOR_DIR === undefined)(
  'RFC 9420 vectors: tree-math, crypto-basics, key-schedule, secret-tree, deserialization',
  () => {
    it('tree-math', () => {
      const vectors = loadVectors<TreeMath>('tree-math');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        expect(nodeWidth(v.n_leaves)).toBe(v.n_nodes);
        expect(root(v.n_leaves)).toBe(v.root);
        for (let i = 0; i < v.n_nodes; i++) {
          expect(orNull(() => left(i))).toBe(v.left[i]);
          expect(orNull(() => right(i))).toBe(v.right[i]);
          expect(orNull(() => parent(i, v.n_leaves))).toBe(v.parent[i]);
          expect(orNull(() => sibling(i, v.n_leaves))).toBe(v.sibling[i]);
        }
      }
    });

    it('crypto-basics (suite 2)', () => {
      const [v] = loadVectors<Record<string, Record<string, string | number>>>('crypto-basics');
      if (v === undefined) throw new Error('no suite-2 vector');
      const s = (o: string, k: string): string => String(v[o]?.[k]);
      expect(hex(refHash(s('ref_hash', 'label'), unhex(s('ref_hash', 'value'))))).toBe(s('ref_hash', 'out'));
      expect(
        hex(
          expandWithLabel(
            unhex(s('expand_with_label', 'secret')),
            s('expand_with_label', 'label'),
            unhex(s('expand_with_label', 'context')),
            Number(s('expand_with_label', 'length')),
          ),
        ),
      ).toBe(s('expand_with_label', 'out'));
      expect(hex(deriveSecret(unhex(s('derive_secret', 'secret')), s('derive_secret', 'label')))).toBe(
        s('derive_secret', 'out'),
      );
      expect(
        hex(
          deriveTreeSecret(
            unhex(s('derive_tree_secret', 'secret')),
            s('derive_tree_secret', 'label'),
            Number(s('derive_tree_secret', 'generation')),
            Number(s('derive_tree_secret', 'length')),
          ),
        ),
      ).toBe(s('derive_tree_secret', 'out'));
      const pub = unhex(s('sign_with_label', 'pub'));
      const content = unhex(s('sign_with_label', 'content'));
      const label = s('sign_with_label', 'label');
      expect(verifyWithLabel(pub, label, content, unhex(s('sign_with_label', 'signature')))).toBe(true);
      expect(
        verifyWithLabel(
          pub,
          label,
          content,
          signWithLabel(unhex(s('sign_with_label', 'priv')), label, content),
        ),
      ).toBe(true);
      expect(verifyWithLabel(pub, 'other', content, unhex(s('sign_with_label', 'signature')))).toBe(false);
      const e = (k: string): string => s('encrypt_with_label', k);
      const opened = decryptWithLabel(unhex(e('priv')), e('label'), unhex(e('context')), {
        kemOutput: unhex(e('kem_output')),
        ciphertext: unhex(e('ciphertext')),
      });
      expect(hex(opened)).toBe(e('plaintext'));
      const sealed = encryptWithLabel(
        unhex(e('pub')),
        e('label'),
        unhex(e('context')),
        unhex(e('plaintext')),
      );
      expect(hex(decryptWithLabel(unhex(e('priv')), e('label'), unhex(e('context')), sealed))).toBe(
        e('plaintext'),
      );
    });

    it('key-schedule (suite 2): every epoch secret, group context and exporter', () => {
      interface Epoch {
        [k: string]: unknown;
        exporter: { context: string; label: string; length: number; secret: string };
      }
      const [v] = loadVectors<{ group_id: string; initial_init_secret: string; epochs: Epoch[] }>(
        'key-schedule',
      );
      if (v === undefined) throw new Error('no suite-2 vector');
      let init = unhex(v.initial_init_secret);
      v.epochs.forEach((ep, epoch) => {
        const str = (k: string): string => String(ep[k]);
        const gc = encodeGroupContext({
          version: 1,
          cipherSuite: 2,
          groupId: unhex(v.group_id),
          epoch: BigInt(epoch),
          treeHash: unhex(str('tree_hash')),
          confirmedTranscriptHash: unhex(str('confirmed_transcript_hash')),
          extensions: [],
        });
        expect(hex(gc)).toBe(str('group_context'));
        const joiner = joinerSecret(init, unhex(str('commit_secret')), gc);
        expect(hex(joiner)).toBe(str('joiner_secret'));
        const s = epochSecrets(joiner, unhex(str('psk_secret')), gc);
        expect(hex(s.welcomeSecret)).toBe(str('welcome_secret'));
        expect(hex(s.senderDataSecret)).toBe(str('sender_data_secret'));
        expect(hex(s.encryptionSecret)).toBe(str('encryption_secret'));
        expect(hex(s.exporterSecret)).toBe(str('exporter_secret'));
        expect(hex(s.epochAuthenticator)).toBe(str('epoch_authenticator'));
        expect(hex(s.externalSecret)).toBe(str('external_secret'));
        expect(hex(s.confirmationKey)).toBe(str('confirmation_key'));
        expect(hex(s.membershipKey)).toBe(str('membership_key'));
        expect(hex(s.resumptionPsk)).toBe(str('resumption_psk'));
        expect(hex(s.initSecret)).toBe(str('init_secret'));
        expect(hex(externalPub(s.externalSecret))).toBe(str('external_pub'));
        const x = ep.exporter;
        expect(hex(mlsExporter(s.exporterSecret, x.label, unhex(x.context), x.length))).toBe(x.secret);
        init = s.initSecret;
      });
    });

    it('secret-tree (suite 2): sender data and per-leaf handshake/application ratchets', () => {
      interface Gen {
        generation: number;
        application_key: string;
        application_nonce: string;
        handshake_key: string;
        handshake_nonce: string;
      }
      const vectors = loadVectors<{
        encryption_secret: string;
        sender_data: { sender_data_secret: string; ciphertext: string; key: string; nonce: string };
        leaves: Gen[][];
      }>('secret-tree');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const sd = senderDataKeyNonce(
          unhex(v.sender_data.sender_data_secret),
          unhex(v.sender_data.ciphertext),
        );
        expect(hex(sd.key)).toBe(v.sender_data.key);
        expect(hex(sd.nonce)).toBe(v.sender_data.nonce);
        v.leaves.forEach((gens, leaf) => {
          const roots = leafRatchetSecrets(unhex(v.encryption_secret), v.leaves.length, leaf);
          for (const g of gens) {
            const a = ratchetKeyNonce(roots.application, g.generation);
            const h = ratchetKeyNonce(roots.handshake, g.generation);
            expect([hex(a.key), hex(a.nonce), hex(h.key), hex(h.nonce)]).toEqual([
              g.application_key,
              g.application_nonce,
              g.handshake_key,
              g.handshake_nonce,
            ]);
          }
        });
      }
    });

    it('deserialization: variable-length integer headers', () => {
      const vectors = loadVectors<{ vlbytes_header: string; length: number }>('deserialization');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const header = unhex(v.vlbytes_header);
        expect(new Reader(header).varint()).toBe(v.length);
      }
    });
  },
);
void enc;
