/**
 * The speaking gate: audio may leave only once the voice server has surely seen our op 5 Speaking
 * on the current websocket (voice-gateway.md §5.7: no media before op 5; §7.5: op 5 again after a
 * resume, before further audio). An op 5 written just before the websocket dies is lost with it,
 * and the media sent meanwhile is dropped by the server without anyone counting it. The websocket
 * acknowledges nothing but heartbeats, and it is ordered: the ACK of a heartbeat sent after op 5
 * proves the server read op 5. So the first non-zero op 5 on each websocket is followed by a
 * heartbeat (the probe), and the media engine holds the queue until its ACK (one round trip, once
 * per websocket). Pure: the session sends the messages and applies the hold.
 */
export class SpeakingGate {
  /** Flags of the burst the sender is in (0 = not speaking): re-sent on a resumed websocket. */
  private wanted = 0;
  /** Flags last sent on this websocket (undefined: none yet). */
  private sentFlags: number | undefined;
  /** Nonce of the heartbeat sent after our first non-zero op 5 on this websocket. */
  private probeNonce: number | undefined;
  private confirmed = false;

  /** True once the server has read a non-zero op 5 of ours on this websocket: media may flow. */
  get open(): boolean {
    return this.confirmed;
  }

  /** The flags of the burst in progress (0 = none). */
  get flags(): number {
    return this.wanted;
  }

  /** A new websocket (fresh or resuming): nothing sent before is known to have arrived. */
  reset(): void {
    this.sentFlags = undefined;
    this.probeNonce = undefined;
    this.confirmed = false;
  }

  /** The sender asks for `flags`; true when op 5 has to be sent (it differs from what this websocket got). */
  want(flags: number): boolean {
    this.wanted = flags;
    return this.sentFlags !== flags;
  }

  /** Op 5 with `flags` went out; true when a probe heartbeat has to follow it. */
  sent(flags: number): boolean {
    this.sentFlags = flags;
    return flags !== 0 && !this.confirmed && this.probeNonce === undefined;
  }

  /** The probe went out with this nonce. */
  probing(nonce: number): void {
    this.probeNonce = nonce;
  }

  /** No probe could be sent (no heartbeat running): open rather than hold audio for ever. */
  unprobed(): void {
    this.confirmed = true;
  }

  /**
   * A heartbeat ACK for nonce `t` (one we sent): true when it opened the gate. An ACK answers its
   * beat and every earlier one, so a later beat's ACK confirms too.
   */
  acked(t: number): boolean {
    if (this.confirmed || this.probeNonce === undefined || t < this.probeNonce) return false;
    this.probeNonce = undefined;
    this.confirmed = true;
    return true;
  }
}
