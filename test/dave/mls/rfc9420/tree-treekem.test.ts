import { describe, expect, it } from 'vitest';
import { Reader } from '../../../../src/dave/mls/mls-codec.js';
import { signWithLabel } from '../../../../src/dave/mls/rfc9420/crypto.js';
import { deriveSecret } from '../../../../src/dave/mls/rfc9420/crypto.js';
import { generateP256KeyPair, hpkeDeriveKeyPair } from '../../../../src/dave/mls/rfc9420/hpke.js';
import {
  decode,
  encode,
  encodeGroupContext,
  LeafNodeSource,
  leafNodeTbs,
  ProposalType,
  readProposal,
  readRatchetTree,
  readUpdatePath,
  writeRatchetTree,
} from '../../../../src/dave/mls/rfc9420/messages.js';
import type { LeafNode } from '../../../../src/dave/mls/rfc9420/messages.js';
import { RatchetTree } from '../../../../src/dave/mls/rfc9420/tree.js';
import { applyUpdatePath, createUpdatePath } from '../../../../src/dave/mls/rfc9420/treekem.js';
import type { PrivateKeys } from '../../../../src/dave/mls/rfc9420/treekem.js';
import { leafToNode } from '../../../../src/dave/mls/rfc9420/tree-math.js';
import { hex, loadVectors, unhex, VECTOR_DIR } from './vectors.js';

const treeOf = (h: string): RatchetTree =>
  RatchetTree.fromNodes(decode(readRatchetTree, unhex(h), 'ratchet tree'));
const treeBytes = (t: RatchetTree): string => hex(encode(writeRatchetTree, t.nodes));

describe.skipIf(VECTOR_DIR === undefined)(
  'RFC 9420 vectors: tree-operations, tree-validation, treekem',
  () => {
    it('tree-operations (suite-independent): add, update, remove with truncation; tree hashes', () => {
      const vectors = loadVectors<{
        tree_before: string;
        tree_after: string;
        tree_hash_before: string;
        tree_hash_after: string;
        proposal: string;
        proposal_sender: number;
      }>('tree-operations', true);
      expect(vectors.length).toBe(5);
      for (const v of vectors) {
        const tree = treeOf(v.tree_before);
        expect(hex(tree.treeHash())).toBe(v.tree_hash_before);
        const proposal = readProposal(new Reader(unhex(v.proposal)));
        if (proposal.type === ProposalType.Add) tree.addLeaf(proposal.keyPackage.leafNode);
        else if (proposal.type === ProposalType.Update) tree.updateLeaf(v.proposal_sender, proposal.leafNode);
        else if (proposal.type === ProposalType.Remove) tree.removeLeaf(proposal.removed);
        else throw new Error('unexpected proposal type');
        expect(treeBytes(tree)).toBe(v.tree_after);
        expect(hex(tree.treeHash())).toBe(v.tree_hash_after);
      }
    });

    it('tree-validation (suite 2): tree hashes and resolutions of every node, parent hashes, signatures, unmerged leaves', () => {
      const vectors = loadVectors<{
        tree: string;
        group_id: string;
        tree_hashes: string[];
        resolutions: number[][];
      }>('tree-validation');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const tree = treeOf(v.tree);
        v.tree_hashes.forEach((h, x) => expect(hex(tree.treeHash(x))).toBe(h));
        v.resolutions.forEach((r, x) => expect(tree.resolution(x)).toEqual(r));
        expect(tree.verifyParentHashes()).toBe(true);
        expect(tree.verifyLeafSignatures(unhex(v.group_id))).toBe(true);
        expect(tree.verifyUnmergedLeaves()).toBe(true);
        expect(tree.verifyKeysUnique()).toBe(true);
      }
    });

    it('tree validation refuses what RFC 9420 refuses and accepts what ts-mls 1.6.4 refused', () => {
      const vectors = loadVectors<{ tree: string; resolutions: number[][] }>('tree-validation');
      const v12 = vectors[12];
      const v13 = vectors[13];
      if (v12 === undefined || v13 === undefined) throw new Error('expected 14 suite-2 trees');
      // vector 12: nodes 11 and 13 list leaf 7 as unmerged, the root does not (a valid tree)
      expect(v12.resolutions[11]).toEqual([11, 14]);
      expect(v12.resolutions[7]).toEqual([7]);
      expect(treeOf(v12.tree).verifyUnmergedLeaves()).toBe(true);

      // vector 13: leaf 5 is unmerged at node 11 and the root; drop it from node 11 (between the
      // leaf and the root): every non-blank node in between must list it
      expect(v13.resolutions[11]).toEqual([11, 10]);
      expect(v13.resolutions[7]).toEqual([7, 10]);
      const tree = treeOf(v13.tree);
      const p11 = tree.parentNode(11);
      if (p11 === undefined) throw new Error('node 11 blank');
      tree.setNode(11, { type: 'parent', parent: { ...p11, unmergedLeaves: [] } });
      expect(tree.verifyUnmergedLeaves()).toBe(false);
      // an unmerged leaf that is not below the node
      const other = treeOf(v13.tree);
      other.setNode(11, { type: 'parent', parent: { ...p11, unmergedLeaves: [0] } });
      expect(other.verifyUnmergedLeaves()).toBe(false);

      // a parent hash that does not chain from any leaf
      const forged = treeOf(v13.tree);
      const root = forged.parentNode(forged.root);
      if (root === undefined) throw new Error('root blank');
      forged.setNode(forged.root, { type: 'parent', parent: { ...root, encryptionKey: p11.encryptionKey } });
      expect(forged.verifyParentHashes()).toBe(false);
      expect(forged.verifyKeysUnique()).toBe(false);
      expect(treeOf(v13.tree).verifyParentHashes()).toBe(true);
    });

    interface TreeKem {
      group_id: string;
      epoch: number;
      confirmed_transcript_hash: string;
      ratchet_tree: string;
      leaves_private: {
        index: number;
        encryption_priv: string;
        signature_priv: string;
        path_secrets: { node: number; path_secret: string }[];
      }[];
      update_paths: {
        sender: number;
        update_path: string;
        path_secrets: (string | null)[];
        commit_secret: string;
        tree_hash_after: string;
      }[];
    }

    const contextFor = (v: TreeKem) => (tree: RatchetTree) =>
      encodeGroupContext({
        version: 1,
        cipherSuite: 2,
        groupId: unhex(v.group_id),
        epoch: BigInt(v.epoch),
        treeHash: tree.treeHash(),
        confirmedTranscriptHash: unhex(v.confirmed_transcript_hash),
        extensions: [],
      });

    const keysOf = (leaf: TreeKem['leaves_private'][number]): PrivateKeys => {
      const keys: PrivateKeys = new Map([[leafToNode(leaf.index), unhex(leaf.encryption_priv)]]);
      for (const ps of leaf.path_secrets) {
        keys.set(ps.node, hpkeDeriveKeyPair(deriveSecret(unhex(ps.path_secret), 'node')).privateKey);
      }
      return keys;
    };

    it('treekem (suite 2): every member processes every update path (filtered direct paths, blank subtrees, unmerged leaves)', () => {
      const vectors = loadVectors<TreeKem>('treekem');
      expect(vectors.length).toBeGreaterThan(0);
      let processed = 0;
      for (const v of vectors) {
        const base = treeOf(v.ratchet_tree);
        expect(base.verifyParentHashes()).toBe(true);
        for (const up of v.update_paths) {
          const path = decode(readUpdatePath, unhex(up.update_path), 'update path');
          for (const receiver of v.leaves_private) {
            if (receiver.index === up.sender) continue;
            const tree = base.clone();
            const result = applyUpdatePath(
              tree,
              keysOf(receiver),
              up.sender,
              receiver.index,
              path,
              contextFor(v),
              new Set(),
            );
            expect(hex(result.commitSecret)).toBe(up.commit_secret);
            expect(result.pathSecret === undefined ? null : hex(result.pathSecret)).toBe(
              up.path_secrets[receiver.index],
            );
            expect(hex(tree.treeHash())).toBe(up.tree_hash_after);
            expect(tree.verifyParentHashes()).toBe(true);
            processed++;
          }
        }
      }
      expect(processed).toBeGreaterThan(0);
    });

    it('treekem (suite 2): an update path we create from every leaf is processed by every other member', () => {
      for (const v of loadVectors<TreeKem>('treekem')) {
        const base = treeOf(v.ratchet_tree);
        for (const sender of v.leaves_private) {
          const tree = base.clone();
          const old = tree.leaf(sender.index);
          if (old === undefined) throw new Error('sender leaf blank');
          const leafKeys = generateP256KeyPair();
          const makeLeaf = (parentHash: Uint8Array): LeafNode => {
            const leaf: LeafNode = {
              ...old,
              encryptionKey: leafKeys.publicKey,
              source: LeafNodeSource.Commit,
              parentHash,
              signature: new Uint8Array(0),
            };
            delete leaf.lifetime;
            leaf.signature = signWithLabel(
              unhex(sender.signature_priv),
              'LeafNodeTBS',
              leafNodeTbs(leaf, unhex(v.group_id), sender.index),
            );
            return leaf;
          };
          const created = createUpdatePath(
            tree,
            keysOf(sender),
            sender.index,
            leafKeys,
            makeLeaf,
            contextFor(v),
            new Set(),
          );
          expect(tree.verifyParentHashes()).toBe(true);
          expect(tree.verifyLeafSignatures(unhex(v.group_id))).toBe(true);
          for (const receiver of v.leaves_private) {
            if (receiver.index === sender.index) continue;
            const theirs = base.clone();
            const result = applyUpdatePath(
              theirs,
              keysOf(receiver),
              sender.index,
              receiver.index,
              created.path,
              contextFor(v),
              new Set(),
            );
            expect(hex(result.commitSecret)).toBe(hex(created.commitSecret));
            expect(hex(theirs.treeHash())).toBe(hex(tree.treeHash()));
          }
        }
      }
    });
  },
);
