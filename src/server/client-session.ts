/**
 * Per-client voice session state on the local server: credentials, SSRC, transport key and cipher,
 * UDP address, speaking state, and the outbound message path (seq stamping + replay buffer).
 * No sockets or timers here: the websocket connection attaches a sink while it is connected;
 * while detached, stamped messages only go to the replay buffer (for Resume).
 */
import { VoiceOpcode } from '../protocol/constants.js';
import type { EncryptionMode } from '../protocol/constants.js';
import { encodeServerBinary, encodeServerJson } from '../protocol/voice-messages.js';
import type { TransportCipher } from '../media/transport-cipher.js';
import { ReplayWindow } from '../media/replay-window.js';
import { ReplayBuffer } from './replay-buffer.js';
import type { Frame, StampedFrame } from './replay-buffer.js';
import { UdpFaultInjector, WsFaultInjector, deriveSeed } from './faults.js';

/** A JSON message the server can send (everything but binary and unknown ops). */
export type ServerJsonMessage = Parameters<typeof encodeServerJson>[0];
/** Opcodes of binary server frames (25, 27, 29, 30). */
export type BinaryServerOpcode = Parameters<typeof encodeServerBinary>[0];

/** Credentials a (fake) main gateway hands to a bot: VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE. */
export interface Allocation {
  guildId: string;
  channelId: string;
  userId: string;
  /** VOICE_SERVER_UPDATE `endpoint` ("host:port", no scheme). */
  endpoint: string;
  token: string;
  sessionId: string;
  /** Identify `server_id` (= guild id). */
  serverId: string;
  /**
   * Server-deafened: the SFU forwards no media to this participant (it still sends, and still
   * takes part in signalling and DAVE). For load tests with many senders and one listener.
   */
  deaf?: boolean;
}

/** What a main gateway asks the voice server for when a user joins (see VoiceServer.allocate). */
export interface AllocateRequest {
  guildId: string;
  channelId: string;
  userId: string;
  /** The main gateway session's id, which Discord keeps across joins; random if absent. */
  sessionId?: string;
  /** The SFU forwards no media to this participant (see Allocation.deaf). */
  deaf?: boolean;
}

export interface UdpAddress {
  address: string;
  port: number;
}

/** Messages that are never stamped with a seq (voice-gateway.md §6). */
const UNSTAMPED: ReadonlySet<number> = new Set([
  VoiceOpcode.Hello,
  VoiceOpcode.HeartbeatAck,
  VoiceOpcode.Resumed,
]);

export type FrameSink = (frame: Frame) => void;

export class ClientSession {
  readonly guildId: string;
  readonly channelId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly token: string;
  /** Allocation.deaf: the SFU forwards no media to this participant. */
  readonly deaf: boolean;
  readonly ssrc: number;
  /** From Identify; the DAVE service and the SFU's FA FA rule read it. */
  maxDaveProtocolVersion = 0;

  mode: EncryptionMode | null = null;
  key: Uint8Array | null = null;
  cipher: TransportCipher | null = null;
  /** Address/port the client declared in op 1. */
  declaredAddress: UdpAddress | null = null;
  /**
   * Source address of this client's latest authenticated, fresh RTP packet (preferred: it
   * survives NAT rebinding). Never set from IP discovery, which anyone can send with any SSRC.
   */
  observedAddress: UdpAddress | null = null;
  /** Transport nonces of this client's authenticated packets: a replayed packet is dropped. */
  readonly inboundNonces = new ReplayWindow();
  /** Op 4 was sent and the client counts as a call participant for relays and the SFU. */
  joined = false;
  /** Flags of the client's last op 5, or null if it never sent one (its RTP is dropped). */
  speaking: number | null = null;
  /** Transport nonce counter for packets the SFU sends to this client (first packet uses 1). */
  outboundCounter = 0;
  /** The session ended (left, kicked, timed out); nothing is sent any more. */
  ended = false;

  readonly udpFaults: UdpFaultInjector;
  readonly wsFaults: WsFaultInjector;
  readonly stats = {
    rtpReceived: 0,
    rtpForwarded: 0,
    rtpDelivered: 0,
    rtpDropped: 0,
    /** Authenticated packets whose transport nonce was already seen (or too old): dropped. */
    rtpReplayed: 0,
    daveFramesWithheld: 0,
  };

  private readonly replay: ReplayBuffer;
  private sink: FrameSink | null = null;

  constructor(allocation: Allocation, ssrc: number, options: { replayBufferSize: number; seed: number }) {
    this.guildId = allocation.guildId;
    this.channelId = allocation.channelId;
    this.userId = allocation.userId;
    this.sessionId = allocation.sessionId;
    this.token = allocation.token;
    this.deaf = allocation.deaf === true;
    this.ssrc = ssrc;
    this.replay = new ReplayBuffer(options.replayBufferSize);
    this.udpFaults = new UdpFaultInjector(deriveSeed(options.seed, ssrc));
    this.wsFaults = new WsFaultInjector(deriveSeed(options.seed, ssrc ^ 0x5753_0000));
  }

  /** Whether a websocket is currently attached. */
  get attached(): boolean {
    return this.sink !== null;
  }

  /** Where the SFU sends this client's media, if known. */
  get udpAddress(): UdpAddress | null {
    return this.observedAddress ?? this.declaredAddress;
  }

  get lastSeq(): number {
    return this.replay.lastSeq;
  }

  attach(sink: FrameSink): void {
    this.sink = sink;
  }

  detach(sink?: FrameSink): void {
    if (sink === undefined || this.sink === sink) this.sink = null;
  }

  /**
   * Sends a JSON message. Every op except Hello/ACK/Resumed gets the next seq and is buffered for
   * Resume, also while detached. Returns the seq, or -1 for unstamped messages.
   */
  sendJson(message: ServerJsonMessage): number {
    if (this.ended) return -1;
    if (UNSTAMPED.has(message.op)) {
      this.sink?.(encodeServerJson(message));
      return -1;
    }
    const seq = this.replay.take();
    const frame = encodeServerJson(message, seq);
    this.replay.push(seq, frame);
    this.sink?.(frame);
    return seq;
  }

  /** Sends a binary DAVE frame (seq u16, op, payload) on the same seq counter. Returns the seq. */
  sendBinary(op: BinaryServerOpcode, payload: Uint8Array): number {
    if (this.ended) return -1;
    const seq = this.replay.take();
    const frame = encodeServerBinary(op, payload, seq);
    this.replay.push(seq, frame);
    this.sink?.(frame);
    return seq;
  }

  /** Frames to replay after a Resume with `seqAck`, or null if the resume must fail (4006). */
  replayAfter(seqAck: number): StampedFrame[] | null {
    return this.replay.since(seqAck);
  }

  /** Takes the next outbound transport nonce counter for this receiver (1, 2, ..., wraps at 2^32). */
  nextOutboundCounter(): number {
    this.outboundCounter = (this.outboundCounter + 1) >>> 0;
    return this.outboundCounter;
  }
}
