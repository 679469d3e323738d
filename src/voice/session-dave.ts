/**
 * The DAVE side of one VoiceSession connection: owns the DaveEndpoint, holds its outgoing messages
 * while the websocket is down (a resume delivers them), counts every frame it encrypts, drops or
 * decrypts, and turns received RTP into 'audioFrame' / 'daveDecryptFailure' results. No sockets:
 * the session hands it messages and packets and sends what it returns.
 */
import { DAVE_SEND_KEY_WAIT_MS } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import type { ReceivedRtp } from '../media/media-engine.js';
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointFactory,
  DaveEpochInfo,
  DaveInbound,
} from '../dave/dave-endpoint.js';

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
  /** FrameDecryptor reasons ('no-key', 'replay', ...) or 'unknown-user'. */
  reason: string;
}

export interface VoiceDaveStats {
  /** Our frames sent as DAVE protocol frames. */
  framesEncrypted: number;
  /** Our frames sent unchanged (silence, or passthrough in a transport-only call). */
  framesUnencrypted: number;
  /** Our frames dropped because there was no send key yet (counted, never sent in clear). */
  framesDropped: number;
  /** Received frames turned into Opus (decrypted, silence or passthrough). */
  framesDecrypted: number;
  /** Received frames that could not be decrypted, per user id then per reason. */
  decryptFailures: Record<string, Record<string, number>>;
  /** Received frames from an SSRC without a known user (no op 5 yet). */
  unknownSenderFrames: number;
  /** Rejected DAVE gateway input (each also emitted as 'daveError'). */
  errors: number;
}

/** The DAVE state of a session, as seen from the outside (`session.dave`). */
export interface VoiceDave {
  /** DAVE was offered in Identify (max_dave_protocol_version >= 1) on the current connection. */
  readonly enabled: boolean;
  /** Executed protocol version; 0 = transport encryption only (plain Opus frames). */
  readonly protocolVersion: number;
  /** MLS epoch of the current group; undefined without a group. */
  readonly epoch: bigint | undefined;
  /** 30-digit privacy code of the current epoch; undefined without a group. */
  readonly privacyCode: string | undefined;
  /** RFC 9420 epoch authenticator of the current epoch. */
  readonly epochAuthenticator: Uint8Array | undefined;
  /** 45-digit verification code with another member (rejects INVALID_ARGUMENT otherwise). */
  verificationCode(userId: string): Promise<string>;
  readonly stats: VoiceDaveStats;
  /** Resolves once every DAVE message received so far has been processed. */
  settled(): Promise<void>;
}

export interface SessionDaveHooks {
  send(message: DaveClientMessage): boolean;
  epoch(info: DaveEpochInfo): void;
  privacyCode(code: string | undefined): void;
  error(error: VoxcordError): void;
  debug(message: string): void;
  /**
   * Frames were being held (holdFrames() said so) and a send key now exists: the sender should
   * look again at once instead of at its next poll.
   */
  sendKeyReady?(): void;
}

/** Outgoing DAVE messages kept while the websocket is down; more than this means something is stuck. */
const MAX_HELD_MESSAGES = 64;
/**
 * Packets from an SSRC whose op 5 has not arrived yet (UDP can overtake the websocket) are held
 * this long / this many per SSRC, for this many SSRCs, then counted as 'unknown-user' failures.
 */
const UNMAPPED_HOLD_MS = 1_000;
const UNMAPPED_MAX_PACKETS = 50;
const UNMAPPED_MAX_SSRCS = 16;

export type ReceiveOutcome = { ok: true; frame: AudioFrame } | { ok: false; failure: DaveDecryptFailure };

function emptyStats(): VoiceDaveStats {
  return {
    framesEncrypted: 0,
    framesUnencrypted: 0,
    framesDropped: 0,
    framesDecrypted: 0,
    decryptFailures: {},
    unknownSenderFrames: 0,
    errors: 0,
  };
}

export class SessionDave implements VoiceDave {
  readonly stats: VoiceDaveStats = emptyStats();
  private endpoint: DaveEndpoint | undefined;
  private holdingSince: number | undefined;
  private held: DaveClientMessage[] = [];
  private readonly unmapped = new Map<number, ReceivedRtp[]>();
  private lastCode: string | undefined;

  constructor(private readonly hooks: SessionDaveHooks) {}

  get enabled(): boolean {
    return this.endpoint !== undefined;
  }

  get protocolVersion(): number {
    return this.endpoint?.protocolVersion ?? 0;
  }

  get epoch(): bigint | undefined {
    return this.endpoint?.epoch;
  }

  get privacyCode(): string | undefined {
    return this.endpoint?.privacyCode;
  }

  get epochAuthenticator(): Uint8Array | undefined {
    return this.endpoint?.epochAuthenticator;
  }

  verificationCode(userId: string): Promise<string> {
    if (this.endpoint === undefined)
      return Promise.reject(new VoxcordError('INVALID_ARGUMENT', 'DAVE is not active on this session'));
    return this.endpoint.verificationCode(userId);
  }

  settled(): Promise<void> {
    return this.endpoint?.settled() ?? Promise.resolve();
  }

  /** A fresh connection (Identify): a new endpoint, nothing carried over. */
  start(factory: DaveEndpointFactory, userId: string, channelId: string): void {
    this.stop();
    // Messages from an endpoint that was replaced (late async work) are dropped.
    const ref: { endpoint?: DaveEndpoint } = {};
    const isCurrent = (): boolean => ref.endpoint !== undefined && ref.endpoint === this.endpoint;
    const endpoint = factory({
      userId,
      channelId,
      send: (message) => {
        if (isCurrent()) this.send(message);
      },
      notify: (event) => {
        if (!isCurrent()) return;
        switch (event.type) {
          case 'epoch': {
            const { protocolVersion, epoch, privacyCode } = event;
            this.hooks.epoch({ protocolVersion, epoch, privacyCode });
            if (privacyCode !== this.lastCode) {
              this.lastCode = privacyCode;
              this.hooks.privacyCode(privacyCode);
            }
            return;
          }
          case 'error':
            this.stats.errors++;
            this.hooks.error(event.error);
            return;
          case 'debug':
            this.hooks.debug(event.message);
        }
      },
    });
    ref.endpoint = endpoint;
    this.endpoint = endpoint;
  }

  /** The connection ended for good (or starts over): every secret is dropped. */
  stop(): void {
    const endpoint = this.endpoint;
    this.endpoint = undefined;
    this.held = [];
    this.lastCode = undefined;
    this.unmapped.clear();
    endpoint?.destroy();
  }

  handle(message: DaveInbound): void {
    const endpoint = this.endpoint;
    if (endpoint === undefined) return;
    endpoint.handle(message);
    // A send key can only appear while a message is processed: look once it has been.
    if (this.hooks.sendKeyReady === undefined) return;
    endpoint
      .settled()
      .then(() => this.checkSendKey(endpoint))
      .catch(() => undefined);
  }

  /** Wakes a held sender when `endpoint` (still ours) can now encrypt. */
  private checkSendKey(endpoint: DaveEndpoint): void {
    if (endpoint !== this.endpoint || this.holdingSince === undefined) return;
    if (endpoint.canEncrypt === false) return;
    this.holdingSince = undefined;
    this.hooks.sendKeyReady?.();
  }

  /** After op 9 Resumed: send what was held while the websocket was down. */
  flush(): void {
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      if (!this.hooks.send(held[i]!)) {
        this.held = held.slice(i);
        return;
      }
    }
  }

  private send(message: DaveClientMessage): void {
    if (this.held.length === 0 && this.hooks.send(message)) return;
    if (this.held.length >= MAX_HELD_MESSAGES) {
      this.hooks.debug('DAVE: outgoing message dropped, too many held while disconnected');
      return;
    }
    this.held.push(message);
  }

  /**
   * Whether outgoing audio should wait instead of being dropped: DAVE is on and we have no send key
   * yet (a group is forming). Bounded by DAVE_SEND_KEY_WAIT_MS from when the wait began or the
   * call's membership last changed, so a group that never forms (or a bot alone in the call)
   * cannot stall a player for long, while a newcomer still gets the start of the audio.
   */
  holdFrames(now = performance.now()): boolean {
    const endpoint = this.endpoint;
    if (endpoint === undefined || endpoint.canEncrypt !== false) {
      this.holdingSince = undefined;
      return false;
    }
    this.holdingSince ??= now;
    return now - this.holdingSince < DAVE_SEND_KEY_WAIT_MS;
  }

  /** Someone joined or left: a new group forms, so waiting for its key is worth it again. */
  membershipChanged(): void {
    if (this.holdingSince !== undefined) this.holdingSince = performance.now();
  }

  /** Our Opus frame -> what to send, or null to drop it (counted). */
  prepareFrame(frame: Uint8Array): Uint8Array | null {
    const endpoint = this.endpoint;
    if (endpoint === undefined) return frame;
    const out = endpoint.encrypt(frame);
    if (out === null) this.stats.framesDropped++;
    else if (out === frame) this.stats.framesUnencrypted++;
    else this.stats.framesEncrypted++;
    return out;
  }

  /**
   * A received packet -> its Opus frame or why not (counted). With DAVE on, packets from an SSRC
   * without a known user are held until its op 5 (see mapped()); held packets that age out are
   * reported as 'unknown-user' failures, so the result may be empty or hold several outcomes.
   */
  receive(packet: ReceivedRtp, userId: string | undefined): ReceiveOutcome[] {
    if (this.endpoint === undefined) {
      return [{ ok: true, frame: { userId, ...rtpFields(packet), payload: packet.payload } }];
    }
    if (userId === undefined) return this.hold(packet);
    return [this.decrypt(packet, userId)];
  }

  /** Op 5 mapped `ssrc` to `userId`: the packets held for it, in arrival order. */
  mapped(ssrc: number, userId: string): ReceiveOutcome[] {
    const held = this.unmapped.get(ssrc);
    if (held === undefined) return [];
    this.unmapped.delete(ssrc);
    return held.map((packet) => this.decrypt(packet, userId));
  }

  private hold(packet: ReceivedRtp): ReceiveOutcome[] {
    const out: ReceiveOutcome[] = [];
    let list = this.unmapped.get(packet.ssrc);
    if (list === undefined) {
      if (this.unmapped.size >= UNMAPPED_MAX_SSRCS) {
        const [oldest, packets] = this.unmapped.entries().next().value as [number, ReceivedRtp[]];
        this.unmapped.delete(oldest);
        for (const p of packets) out.push(this.unknown(p));
      }
      list = [];
      this.unmapped.set(packet.ssrc, list);
    }
    list.push(packet);
    while (
      list.length > UNMAPPED_MAX_PACKETS ||
      (list.length > 0 && packet.receivedAt - list[0]!.receivedAt > UNMAPPED_HOLD_MS)
    ) {
      out.push(this.unknown(list.shift()!));
    }
    return out;
  }

  private unknown(packet: ReceivedRtp): ReceiveOutcome {
    this.stats.unknownSenderFrames++;
    return {
      ok: false,
      failure: { userId: undefined, ssrc: packet.ssrc, sequence: packet.sequence, reason: 'unknown-user' },
    };
  }

  private decrypt(packet: ReceivedRtp, userId: string): ReceiveOutcome {
    const endpoint = this.endpoint;
    const result =
      endpoint === undefined
        ? { ok: true as const, frame: packet.payload }
        : endpoint.decrypt(userId, packet.payload);
    if (!result.ok) {
      const perUser = (this.stats.decryptFailures[userId] ??= {});
      perUser[result.reason] = (perUser[result.reason] ?? 0) + 1;
      return {
        ok: false,
        failure: { userId, ssrc: packet.ssrc, sequence: packet.sequence, reason: result.reason },
      };
    }
    this.stats.framesDecrypted++;
    return { ok: true, frame: { userId, ...rtpFields(packet), payload: result.frame } };
  }
}

function rtpFields(packet: ReceivedRtp): Omit<AudioFrame, 'userId' | 'payload'> {
  return {
    ssrc: packet.ssrc,
    sequence: packet.sequence,
    timestamp: packet.timestamp,
    receivedAt: packet.receivedAt,
  };
}
