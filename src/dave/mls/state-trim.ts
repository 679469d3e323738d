/**
 * Drops the parts of a ts-mls group state that DAVE can never use, so a connection keeps only what
 * the next commit needs. DAVE handshakes are PublicMessages and DAVE sends no MLS application
 * messages (dave.md §6; media keys come from the exporter, §8.1), so the secret tree (PrivateMessage
 * keys, 2n - 1 nodes for n members) and the receiver data ts-mls keeps for PrivateMessages of up to
 * four past epochs are dead weight, and secret material. Both are rebuilt by ts-mls for every new
 * epoch (createCommit / processMessage / joinGroup), so nothing downstream reads the dropped values;
 * PrivateMessages are rejected before they reach ts-mls (dave-session.ts).
 */
import type { ClientState } from 'ts-mls';

/** A copy of `state` without PrivateMessage secrets (the input is left unchanged). */
export function trimGroupState(state: ClientState): ClientState {
  if (state.secretTree.length === 0 && state.historicalReceiverData.size === 0) return state;
  return { ...state, secretTree: [], historicalReceiverData: new Map() };
}

/** True when `state` holds no PrivateMessage secrets (tests). */
export function isTrimmed(state: ClientState): boolean {
  return state.secretTree.length === 0 && state.historicalReceiverData.size === 0;
}
