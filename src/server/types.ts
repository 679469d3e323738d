/** Options and structured log events of the local voice server. */
import type { FaultOptions } from './faults.js';
import type { DaveServiceFactory } from './call.js';

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
  /** DAVE delivery service, one instance per call (see call.ts). Default: none (DAVE version 0). */
  dave?: DaveServiceFactory;
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
  | 'stopped';

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
  /** Drops by reason (RTP drop reasons plus 'unknown-ssrc', 'not-ready', 'no-speaking', 'fault-drop'...). */
  dropped: Record<string, number>;
}
