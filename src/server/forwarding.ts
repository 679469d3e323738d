/**
 * Who hears whom on the local SFU, as on Discord: a deafened user (self-deafened, or deafened by
 * the server) is forwarded no audio, and a server-muted user's audio goes to nobody. The SFU asks
 * these predicates per packet; the main gateway keeps the flags current (op 4, operator controls).
 */

/** What decides media forwarding for a user. */
export interface VoiceFlags {
  selfDeaf: boolean;
  /** Server-deafened. */
  deaf: boolean;
  /** Server-muted. */
  mute: boolean;
}

export const NO_VOICE_FLAGS: Readonly<VoiceFlags> = { selfDeaf: false, deaf: false, mute: false };

/** Why a packet is withheld (counted in SfuStats.dropped under this name). */
export type WithheldReason = 'sender-server-muted' | 'receiver-deaf';

/** A sender whose packets reach nobody. */
export function senderWithheld(flags: Readonly<VoiceFlags>): WithheldReason | null {
  return flags.mute ? 'sender-server-muted' : null;
}

/** A receiver that is forwarded nothing (`allocationDeaf`: a load-test listener, see Allocation.deaf). */
export function receiverWithheld(
  flags: Readonly<VoiceFlags>,
  allocationDeaf: boolean,
): WithheldReason | null {
  return allocationDeaf || flags.selfDeaf || flags.deaf ? 'receiver-deaf' : null;
}
