/** Options and structured log events of the local voice server. */
import type { FaultOptions } from './faults.js';
import type { DaveServiceFactory } from './dave/hooks.js';

export type { DaveCallState, DaveTransitionState } from './dave/hooks.js';

export interface VoiceServerOptions {
  /** Interface for both sockets; also the `ip` in Ready (0.0.0.0/:: advertise 127.0.0.1). Default 127.0.0.1. */
  host?: string;
  /** Websocket port; 0 (default) picks a free one. */
  port?: number;
  /** UDP port; 0 (default) picks a free one. */
  udpPort?: number;
  /** true: generate a self-signed certificate for localhost/127.0.0.1 at startup (see `tlsCa`). */
  tls?: boolean | { cert: string; key: string };
  /** Hello `heartbeat_interval` in ms. Default 41250. */
  heartbeatIntervalMs?: number;
  /** No heartbeat for this long closes the socket with 4009. Default 2 × interval. */
  heartbeatTimeoutMs?: number;
  /** How long a session survives without a websocket, waiting for Resume. Default 30000. */
  sessionGraceMs?: number;
  /** Stamped messages kept per session for Resume. Default 256. */
  replayBufferSize?: number;
  /** Modes offered in Ready. Default both rtpsize modes (AES-GCM first). */
  modes?: string[];
  /** Deterministic 32-byte transport keys (tests). Default: random per session. */
  keyFor?: (userId: string) => Uint8Array;
  /** First SSRC handed out; then +1 per session. Default: derived from `seed`. */
  ssrcStart?: number;
  /** Seed of the fault RNG (and of default SSRCs). Default: random. */
  seed?: number;
  faults?: FaultOptions;
  /** Add a 0xBEDE one-byte header extension to every forwarded packet. */
  rtpExtension?: boolean;
  /**
   * SO_RCVBUF asked for the SFU's one UDP socket (all participants send to it). Default: the OS's
   * (Linux 208 KiB, about 256 voice datagrams: 5 ms of 1000 senders). Linux caps it at
   * net.core.rmem_max and doubles it.
   */
  udpReceiveBufferBytes?: number;
  /**
   * DAVE (dave.md §7): true (default, like Discord) runs our delivery service in every call; false
   * turns it off (every op 4 says version 0); a factory plugs in another per-call service (dave/hooks.ts).
   */
  dave?: boolean | DaveServiceFactory;
  /** Close 4017 for a client whose Identify says `max_dave_protocol_version` 0 (needs `dave`). */
  daveRequired?: boolean;
  /** How long the built-in service waits for op 23 before sending op 22 anyway. Default 1500. */
  daveTransitionTimeoutMs?: number;
  /**
   * Per-websocket rate limit: more than `messages` client messages within `windowMs` closes the
   * socket with 4021. Default VOICE_GATEWAY_RATE_LIMIT_MESSAGES per VOICE_GATEWAY_RATE_WINDOW_MS.
   */
  rateLimit?: { messages: number; windowMs: number };
  /**
   * A client whose unsent server messages exceed this many bytes (it does not read its socket) is
   * dropped, its session kept for Resume. Default VOICE_GATEWAY_MAX_BUFFERED_BYTES.
   */
  maxBufferedBytes?: number;
  /** Credentials issued and not yet replaced, at most (allocate() throws beyond). Default SERVER_MAX_ALLOCATIONS. */
  maxAllocations?: number;
  /** Structured events; never contain tokens, session ids or keys. */
  log?: (event: ServerEvent) => void;
}

export type ServerEventType =
  | 'listening'
  | 'connection'
  | 'identify'
  | 'resume'
  | 'resume-failed'
  | 'select-protocol'
  | 'join'
  | 'leave'
  | 'detach'
  | 'close'
  | 'ignored-op'
  | 'udp-drop'
  | 'error'
  | 'stopped'
  /** DAVE call events: reason 'epoch', 'version', 'upgrade', 'downgrade', 'transition-executed', ... */
  | 'dave'
  /** A client's op 26/28 the DAVE service refused; `reason` is the reject reason. */
  | 'dave-reject'
  /** The first authenticated media packet of a session (time to first audio). */
  | 'first-media';

export interface ServerEvent {
  type: ServerEventType;
  connectionId?: number;
  guildId?: string;
  channelId?: string;
  userId?: string;
  ssrc?: number;
  code?: number;
  op?: number;
  /** Short machine-readable reason (drop reason, leave reason, close initiator). */
  reason?: string;
  detail?: string;
}

export interface ParticipantInfo {
  userId: string;
  guildId: string;
  channelId: string;
  ssrc: number;
  mode: string | null;
  maxDaveProtocolVersion: number;
  /** A websocket is attached now. */
  connected: boolean;
  /** Op 4 was sent. */
  joined: boolean;
  /** Flags of the last op 5, null if none. */
  speaking: number | null;
  /** Where the SFU sends this client's media. */
  udpAddress: { address: string; port: number } | null;
  packetsReceived: number;
  packetsForwarded: number;
  packetsDelivered: number;
  packetsDropped: number;
  /** Of packetsDropped: authentic packets whose transport nonce was already seen (replays). */
  packetsReplayed: number;
  daveFramesWithheld: number;
}

export interface CallInfo {
  guildId: string;
  channelId: string;
  userIds: string[];
}

export interface SfuStats {
  datagrams: number;
  ipDiscoveries: number;
  keepalives: number;
  forwarded: number;
  /** Authenticated media payloads that were DAVE protocol frames (ending in the FA FA marker). */
  daveFrames: number;
  /**
   * Drops by reason (RTP drop reasons plus 'unknown-ssrc', 'not-ready', 'no-speaking', 'replay',
   * 'fault-drop'...).
   */
  dropped: Record<string, number>;
}
