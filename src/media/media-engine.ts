/**
 * The contract between signalling (src/voice) and the media engine (clock, RTP, transport
 * encryption, UDP). Signalling talks to the engine only through this interface, so the engine can
 * run in this thread or in a worker thread behind messages.
 */
import type { EncryptionMode } from '../protocol/constants.js';
import type { VoxcordError } from '../errors.js';
import type { LatenessData } from './lateness-histogram.js';

export interface MediaChannelOptions {
  /** Our SSRC from op 2 Ready. */
  ssrc: number;
  /** Voice UDP server address from op 2 Ready. */
  serverHost: string;
  serverPort: number;
}

export interface DiscoveredAddress {
  address: string;
  port: number;
}

/** A transport-decrypted RTP packet from another participant. */
export interface ReceivedRtp {
  ssrc: number;
  sequence: number;
  timestamp: number;
  /** RTP payload after transport decryption, extension body and padding removed (Opus or DAVE frame). */
  payload: Uint8Array;
  /** performance.now() when the datagram arrived. */
  receivedAt: number;
}

export type RtpDropReason =
  | 'too-short'
  | 'not-rtp'
  | 'rtcp'
  | 'payload-type'
  | 'auth-failed'
  | 'no-key'
  | 'malformed'
  /** Authentic, but its transport nonce was already seen for this SSRC (or is behind the window). */
  | 'replay';

export interface MediaChannelStats {
  packetsSent: number;
  bytesSent: number;
  silenceFramesSent: number;
  /** Packets sent more than one frame duration after their due time. */
  latePackets: number;
  packetsReceived: number;
  packetsDropped: Record<RtpDropReason, number>;
  keepalivesSent: number;
  /** Lateness of every packet sent (send time minus due time), mergeable across channels. */
  sendLateness?: LatenessData;
  /**
   * Times the send queue ran dry while frames were flowing (no endBurst in between): the producer
   * fell behind and a tick went out with nothing, so the audio has a gap there.
   */
  underruns?: number;
}

export type MediaChannelEvents = {
  rtp: [packet: ReceivedRtp];
  /** A received datagram was dropped (counted in stats). */
  drop: [reason: RtpDropReason];
  /** The send queue fell below its low-water mark: enqueue more frames. */
  drain: [];
  /** The trailing silence frames of a burst were sent; nothing is queued. */
  burstEnd: [];
  /** The UDP socket failed; the channel is unusable. */
  error: [error: VoxcordError];
};

export interface MediaChannel {
  /** IP discovery on this channel's socket (retried; rejects with IP_DISCOVERY_FAILED). */
  discoverAddress(): Promise<DiscoveredAddress>;
  /** Installs the transport cipher from op 4 Session Description. The nonce counter is kept across calls. */
  setTransport(mode: EncryptionMode, key: Uint8Array): void;
  /**
   * Queues one Opus frame (already DAVE-encrypted when DAVE is on) to be sent on the next free
   * 20 ms tick. Returns false once the queue is at its high-water mark: wait for 'drain'.
   */
  enqueue(frame: Uint8Array): boolean;
  /** After the queue empties, send the trailing silence frames, then emit 'burstEnd'. */
  endBurst(): void;
  /** Drops every queued frame (stop/skip). */
  clearQueue(): void;
  /** Frames queued and not yet sent. */
  readonly queued: number;
  stats(): Promise<MediaChannelStats>;
  /** Closes the socket and releases the channel's timers. */
  close(): void;
  on<E extends keyof MediaChannelEvents>(event: E, listener: (...args: MediaChannelEvents[E]) => void): this;
  off<E extends keyof MediaChannelEvents>(event: E, listener: (...args: MediaChannelEvents[E]) => void): this;
}

export interface MediaEngine {
  readonly kind: 'inline' | 'worker';
  openChannel(options: MediaChannelOptions): Promise<MediaChannel>;
  /** Closes every channel and stops the clock (and the worker, if any). */
  close(): Promise<void>;
}
