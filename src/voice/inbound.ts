/**
 * The inbound stage, twin of transmit.ts: every transport-decrypted packet of a session goes in
 * (`receive`), and one AudioFrame or one DaveDecryptFailure comes out, to the sink. It owns the
 * SSRC -> user map (op 5; one SSRC per user, at most CLIENT_MAX_TRACKED_USERS), holds the packets
 * of an SSRC whose op 5 has not arrived yet (UDP can overtake the websocket: a receiver drops
 * audio it cannot name, and DAVE cannot decrypt it),
 * still names a user's SSRC for a while after their op 13 (the websocket can overtake UDP too),
 * decrypts DAVE frames with the sender's ratchet, and counts what it did. No sockets, no timers:
 * the session feeds it, gives up held packets when due (heldUntil), and the receiver reads what
 * it emits.
 */
import { CLIENT_MAX_TRACKED_USERS, CLIENT_WS_UDP_SKEW_MS } from '../protocol/constants.js';
import { makeRoom } from '../util/bounded.js';
import type { ReceivedRtp } from '../media/media-engine.js';
import type { DaveEndpoint } from '../dave/dave-endpoint.js';

/** A received Opus frame, DAVE-decrypted (or plain when the call is transport-only). */
export interface AudioFrame {
  /** Sender, from the server's op 5 for that SSRC; undefined when not known (yet). */
  userId: string | undefined;
  ssrc: number;
  sequence: number;
  timestamp: number;
  /** Opus (after DAVE decryption). */
  payload: Uint8Array;
  /** performance.now() when the datagram arrived. */
  receivedAt: number;
}

export interface DaveDecryptFailure {
  /** Undefined when the SSRC is not mapped to a user yet (reason 'unknown-user'). */
  userId: string | undefined;
  ssrc: number;
  sequence: number;
  /** FrameDecryptor reasons ('no-key', 'replay', ...), 'unknown-user', or 'exception' (a decryptor bug). */
  reason: string;
}

/** What the stage emitted for one packet, as one value (tests and callers that collect). */
export type ReceiveOutcome = { ok: true; frame: AudioFrame } | { ok: false; failure: DaveDecryptFailure };

/** The stage's counters, shown in `session.dave.stats`. */
export interface InboundStats {
  /** Received frames turned into Opus (decrypted, silence or passthrough). */
  framesDecrypted: number;
  /** Received frames that could not be decrypted, per user id then per reason. */
  decryptFailures: Record<string, Record<string, number>>;
  /** Received frames from an SSRC whose op 5 did not come within CLIENT_WS_UDP_SKEW_MS. */
  unknownSenderFrames: number;
}

/** Where the stage's output goes (the session, which emits 'audioFrame' / 'daveDecryptFailure'). */
export interface InboundSink {
  frame(frame: AudioFrame): void;
  failure(failure: DaveDecryptFailure): void;
}

/** What the stage needs of a DAVE endpoint. */
export type DaveDecrypt = Pick<DaveEndpoint, 'decrypt'>;

/** The stage as the DAVE side of a session sees it: it hands over its endpoint and reads the counters. */
export interface InboundDavePort {
  useDave(dave: DaveDecrypt | undefined): void;
  readonly stats: InboundStats;
}

/**
 * Packets held for an SSRC without op 5 (at most CLIENT_WS_UDP_SKEW_MS) are also bounded: this
 * many per SSRC, for this many SSRCs; what is given up is reported as an 'unknown-user' failure
 * (without DAVE: as a frame without a user, which is what it is).
 */
const UNMAPPED_MAX_PACKETS = 50;
const UNMAPPED_MAX_SSRCS = 16;

export class InboundStage implements InboundDavePort {
  readonly stats: InboundStats = { framesDecrypted: 0, decryptFailures: {}, unknownSenderFrames: 0 };
  private readonly ssrcUsers = new Map<number, string>();
  private readonly unmapped = new Map<number, ReceivedRtp[]>();
  /** SSRC -> the user who had it and when their op 13 came (performance.now()). */
  private readonly departed = new Map<number, { userId: string; at: number }>();
  /** The endpoint frames are decrypted with; undefined = no DAVE (frames are plain Opus). */
  private dave: DaveDecrypt | undefined;

  constructor(private readonly sink: InboundSink) {}

  /** SSRC -> user id, from op 5. */
  get users(): ReadonlyMap<number, string> {
    return this.ssrcUsers;
  }

  /**
   * DAVE started (a new endpoint: held packets wait for their op 5 to decrypt with it) or stopped
   * (undefined: held packets are given up with the secrets).
   */
  useDave(dave: DaveDecrypt | undefined): void {
    // Held packets are given up as what they came as (encrypted or plain) when that changes.
    if ((dave === undefined) !== (this.dave === undefined)) this.giveUpHeld();
    this.dave = dave;
  }

  /** One transport-decrypted packet: emits its frame or failure now, or holds it until its op 5. */
  receive(packet: ReceivedRtp): void {
    if (this.unmapped.size > 0) this.expireHeld(packet.receivedAt);
    const userId = this.ssrcUsers.get(packet.ssrc) ?? this.departedUser(packet);
    if (userId === undefined) this.hold(packet);
    else this.emit(packet, userId);
  }

  /** Op 5: `ssrc` is `userId`'s (a new SSRC replaces the user's old one; the oldest users go first). */
  map(ssrc: number, userId: string): void {
    for (const [known, id] of this.ssrcUsers)
      if (id === userId && known !== ssrc) this.ssrcUsers.delete(known);
    makeRoom(this.ssrcUsers, ssrc, CLIENT_MAX_TRACKED_USERS);
    this.ssrcUsers.set(ssrc, userId);
    this.departed.delete(ssrc);
  }

  /** After map(): the packets held for `ssrc` go out as its user's (decrypted with DAVE), in arrival order. */
  releaseHeld(ssrc: number): void {
    const held = this.unmapped.get(ssrc);
    const userId = this.ssrcUsers.get(ssrc);
    if (held === undefined || userId === undefined) return;
    this.unmapped.delete(ssrc);
    for (const packet of held) this.emit(packet, userId);
  }

  /** Op 13 at `at` (performance.now()): the user left; their SSRCs name them CLIENT_WS_UDP_SKEW_MS more. */
  forget(userId: string, at: number): void {
    for (const [ssrc, old] of this.departed)
      if (at - old.at > CLIENT_WS_UDP_SKEW_MS) this.departed.delete(ssrc);
    for (const [ssrc, id] of this.ssrcUsers) {
      if (id !== userId) continue;
      this.ssrcUsers.delete(ssrc);
      makeRoom(this.departed, ssrc, CLIENT_MAX_TRACKED_USERS);
      this.departed.set(ssrc, { userId, at });
    }
  }

  /** The connection ended: no users; what is held is given up (counted), the counters stay. */
  reset(): void {
    this.ssrcUsers.clear();
    this.departed.clear();
    this.giveUpHeld();
  }

  private departedUser(packet: ReceivedRtp): string | undefined {
    const departed = this.departed.get(packet.ssrc);
    if (departed === undefined) return undefined;
    if (packet.receivedAt - departed.at <= CLIENT_WS_UDP_SKEW_MS) return departed.userId;
    this.departed.delete(packet.ssrc);
    return undefined;
  }

  /**
   * When the oldest held packet is due to be given up (performance.now() ms), or undefined when
   * nothing is held: the session sets a timer for it, since the next packet, which also gives up
   * what is due, may never come.
   */
  get heldUntil(): number | undefined {
    if (this.unmapped.size === 0) return undefined; // per packet: no iterator
    let due: number | undefined;
    for (const list of this.unmapped.values()) {
      const at = list[0]!.receivedAt + CLIENT_WS_UDP_SKEW_MS;
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  /** Held packets older than CLIENT_WS_UDP_SKEW_MS at `now`, of every SSRC, are given up. */
  expireHeld(now: number): void {
    for (const [ssrc, list] of this.unmapped) {
      while (list.length > 0 && now - list[0]!.receivedAt > CLIENT_WS_UDP_SKEW_MS)
        this.unknown(list.shift()!);
      if (list.length === 0) this.unmapped.delete(ssrc);
    }
  }

  private giveUpHeld(): void {
    const held = [...this.unmapped.values()];
    this.unmapped.clear();
    for (const list of held) for (const packet of list) this.unknown(packet);
  }

  private hold(packet: ReceivedRtp): void {
    let list = this.unmapped.get(packet.ssrc);
    if (list === undefined) {
      if (this.unmapped.size >= UNMAPPED_MAX_SSRCS) {
        const [oldest, packets] = this.unmapped.entries().next().value as [number, ReceivedRtp[]];
        this.unmapped.delete(oldest);
        for (const p of packets) this.unknown(p);
      }
      list = [];
      this.unmapped.set(packet.ssrc, list);
    }
    list.push(packet);
    if (list.length > UNMAPPED_MAX_PACKETS) this.unknown(list.shift()!);
  }

  private unknown(packet: ReceivedRtp): void {
    this.stats.unknownSenderFrames++;
    if (this.dave === undefined) {
      this.sink.frame(frameOf(packet, undefined, packet.payload));
      return;
    }
    this.sink.failure({
      userId: undefined,
      ssrc: packet.ssrc,
      sequence: packet.sequence,
      reason: 'unknown-user',
    });
  }

  private emit(packet: ReceivedRtp, userId: string): void {
    const dave = this.dave;
    if (dave === undefined) this.sink.frame(frameOf(packet, userId, packet.payload));
    else this.decrypt(packet, userId, dave);
  }

  private decrypt(packet: ReceivedRtp, userId: string, dave: DaveDecrypt): void {
    let result: ReturnType<DaveDecrypt['decrypt']>;
    try {
      result = dave.decrypt(userId, packet.payload);
    } catch {
      // A decryptor bug costs this frame (counted), not the media channel's event loop.
      result = { ok: false, reason: 'exception' };
    }
    if (!result.ok) {
      const perUser = (this.stats.decryptFailures[userId] ??= {});
      perUser[result.reason] = (perUser[result.reason] ?? 0) + 1;
      this.sink.failure({ userId, ssrc: packet.ssrc, sequence: packet.sequence, reason: result.reason });
      return;
    }
    this.stats.framesDecrypted++;
    this.sink.frame(frameOf(packet, userId, result.frame));
  }
}

function frameOf(packet: ReceivedRtp, userId: string | undefined, payload: Uint8Array): AudioFrame {
  return {
    userId,
    ssrc: packet.ssrc,
    sequence: packet.sequence,
    timestamp: packet.timestamp,
    receivedAt: packet.receivedAt,
    payload,
  };
}
