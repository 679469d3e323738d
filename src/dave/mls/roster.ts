/**
 * The group roster: user id -> signature public key, read from the ratchet tree's leaves, with the
 * DAVE checks MLS itself does not make (dave.md §6.5 step 3): every leaf has a basic credential
 * whose identity is an 8-byte user id, and no user id appears twice.
 */
import type { RatchetTree } from './rfc9420/tree.js';
import { CREDENTIAL_BASIC, userIdFromIdentity } from './mls-codec.js';

export type Roster = ReadonlyMap<string, Uint8Array>;

export type RosterResult =
  | { ok: true; roster: Roster; leafOf: ReadonlyMap<string, number> }
  | { ok: false; reason: 'bad_credential' | 'duplicate_user'; leafIndex: number };

export function buildRoster(tree: RatchetTree): RosterResult {
  const roster = new Map<string, Uint8Array>();
  const leafOf = new Map<string, number>();
  for (const [leafIndex, leaf] of tree.members()) {
    const credential = leaf.credential;
    if (credential.credentialType !== CREDENTIAL_BASIC)
      return { ok: false, reason: 'bad_credential', leafIndex };
    const userId = userIdFromIdentity(credential.identity);
    if (userId === undefined) return { ok: false, reason: 'bad_credential', leafIndex };
    if (roster.has(userId)) return { ok: false, reason: 'duplicate_user', leafIndex };
    roster.set(userId, leaf.signatureKey);
    leafOf.set(userId, leafIndex);
  }
  return { ok: true, roster, leafOf };
}
