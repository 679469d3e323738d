/**
 * The group roster: user id -> signature public key, read from the ratchet tree's leaves, with the
 * DAVE checks neither ts-mls nor davey make (dave.md §6.5 step 3): every leaf has a basic credential
 * whose identity is an 8-byte user id, and no user id appears twice.
 */
import type { RatchetTree } from 'ts-mls';
import { userIdFromIdentity } from './mls-codec.js';

export type Roster = ReadonlyMap<string, Uint8Array>;

export type RosterResult =
  | { ok: true; roster: Roster; leafOf: ReadonlyMap<string, number> }
  | { ok: false; reason: 'bad_credential' | 'duplicate_user'; leafIndex: number };

export function buildRoster(tree: RatchetTree): RosterResult {
  const roster = new Map<string, Uint8Array>();
  const leafOf = new Map<string, number>();
  for (let nodeIndex = 0; nodeIndex < tree.length; nodeIndex += 2) {
    const node = tree[nodeIndex];
    if (node === undefined || node.nodeType !== 'leaf') continue;
    const leafIndex = nodeIndex / 2;
    const credential = node.leaf.credential;
    if (credential.credentialType !== 'basic') return { ok: false, reason: 'bad_credential', leafIndex };
    const userId = userIdFromIdentity(credential.identity);
    if (userId === undefined) return { ok: false, reason: 'bad_credential', leafIndex };
    if (roster.has(userId)) return { ok: false, reason: 'duplicate_user', leafIndex };
    roster.set(userId, node.leaf.signaturePublicKey);
    leafOf.set(userId, leafIndex);
  }
  return { ok: true, roster, leafOf };
}
