/**
 * The contract between signalling (src/voice) and the media engine (clock, RTP, transport
 * encryption, UDP). Signalling talks to the engine only through this interface, so the engine can
 * run in this thread or in a worker thread behind messages.
 */
import type { EncryptionMode } from '../protocol/constants.js';
import type { VoxcordError } from '../errors.js';
import type { DaveSendKey } from '../dave/send-key.js';
import type { LatenessData } from './lateness-histogram.js';
import type { PacingClockStats } from './clock.js';
import type { RealtimeOutcome } from './realtime.js';

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

/**
 * Why an audio frame handed to voxcord was not sent: nobody else is in the DAVE call ('alone'),
 * no DAVE send key came in time ('no-key'), or the session ended with it queued and no later
 * session took it over ('session-ended'), or the transmission was stopped with it queued (a new
 * playback replaced it, a player was detached: 'stopped').
 */
export type SendDropReason = 'alone' | 'no-key' | 'session-ended' | 'stopped';

export const SEND_DROP_REASONS: readonly SendDropReason[] = ['alone', 'no-key', 'session-ended', 'stopped'];

export function emptySendDrops(): Record<SendDropReason, number> {
  return { alone: 0, 'no-key': 0, 'session-ended': 0, stopped: 0 };
}

/**
 * What the engine does with each queued audio frame when its tick comes (silence frames always go
 * out unchanged): send it as is, DAVE-encrypt it with the key in force at that moment, keep it
 * queued (a DAVE group is forming; the queue waits), or drop it (counted with the reason).
 */
export type FrameProtection =
  | { mode: 'plain' }
  | { mode: 'encrypt'; key: DaveSendKey }
  | { mode: 'hold' }
  | { mode: 'drop'; reason: SendDropReason };

export interface FileFeedOptions {
  /** Frames of the file to pass over before the first one sent (a start position; default 0). */
  skipFrames?: number;
  /** The frame of the file (counted from its start) to stop before (a track's end time); default: its end. */
  endFrame?: number;
}

/** How a file feed ended, with the frames it had taken at their 20 ms tick (sent, or dropped there). */
export type FileFeedEnd =
  /** The file's last frame (or the one before `endFrame`) was taken at its tick. */
  | { reason: 'finished'; frames: number }
  /** Reading or demuxing failed: the frames still queued were discarded. */
  | { reason: 'failed'; frames: number; error: Error }
  /**
   * stop(), the caller's own frames or clearQueue(), or the channel closed: the frames still queued
   * were discarded (they were never heard), so playing on from `frames` repeats and skips nothing.
   * When the engine's thread died, `frames` is the last count it reported.
   */
  | { reason: 'stopped'; frames: number };

/** A file feed in progress (MediaChannel.feedOggOpusFile). */
export interface MediaFileFeed {
  /** Frames taken at their tick (skipped ones not counted), as of the engine's last report (every second, sent within half a second). */
  readonly frames: number;
  /** When `frames` was counted (performance.now() on this thread). */
  readonly framesAt: number;
  /**
   * Once it ended: the frames it had queued and threw away (0 before, and when the engine's
   * thread died). The caller counts them, or plays them again from `frames`.
   */
  readonly discarded: number;
  /** Stops the feed; resolves with the exact frames taken (its end listener hears 'stopped' too). */
  stop(): Promise<number>;
}

/** Audio frames (not the trailing silence) that left a channel, or did not. */
export interface SendCounts {
  /** DAVE-encrypted by the engine as they were sent. */
  encrypted: number;
  /** Sent as queued (transport only, DAVE passthrough, silence, or encrypted before queueing). */
  plain: number;
  dropped: Record<SendDropReason, number>;
  /**
   * 20 ms ticks inside a burst (after an audio frame, before the burst's end) at which no frame
   * went out: the queue was empty (the source fell behind) or frames were held (a DAVE group
   * forming). Lavalink's frameStats calls these "nulled".
   */
  emptyTicks: number;
}

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
  /** Audio frames sent (DAVE-encrypted by the engine or as queued) and dropped, by reason. */
  send?: SendCounts;
}

export type MediaChannelEvents = {
  rtp: [packet: ReceivedRtp];
  /** A received datagram was dropped (counted in stats). */
  drop: [reason: RtpDropReason];
  /** The send queue is down to its low-water mark: enqueue more frames. */
  drain: [];
  /** The trailing silence frames of a burst were sent; nothing is queued. */
  burstEnd: [];
  /** Queued audio frames were dropped instead of sent (counted in sendCounts()). */
  sendDrop: [reason: SendDropReason, frames: number];
  /** The UDP socket failed; the channel is unusable. */
  error: [error: VoxcordError];
};

export interface MediaChannel {
  /** IP discovery on this channel's socket (retried; rejects with IP_DISCOVERY_FAILED). */
  discoverAddress(): Promise<DiscoveredAddress>;
  /** Installs the transport cipher from op 4 Session Description. The nonce counter is kept across calls. */
  setTransport(mode: EncryptionMode, key: Uint8Array): void;
  /**
   * How queued frames are sent from now on (default plain). With 'encrypt' every frame is
   * DAVE-encrypted when it leaves, with the key in force then: a key change applies to the
   * frames still queued. The key is good until the next call (its owner then releases it): an
   * engine that needs it longer copies its secret (`baseSecret()`) here.
   */
  setFrameProtection?(protection: FrameProtection): void;
  /**
   * Queues one Opus frame to be sent on the next free 20 ms tick (encrypted then, per the frame
   * protection). Returns false once the queue is at its high-water mark: wait for 'drain'.
   */
  enqueue(frame: Uint8Array): boolean;
  /** After the queue empties, send the trailing silence frames, then emit 'burstEnd'. */
  endBurst(): void;
  /** Drops every queued frame (stop/skip). */
  clearQueue(): void;
  /**
   * Removes the audio frames not sent yet and returns them, oldest first (also after close(): the
   * frames queued when the channel closed, once). A session hands them to its successor.
   */
  takeQueued?(): Promise<Uint8Array[]>;
  /** Audio frames sent or dropped so far (current for inline channels; as of the last report from a worker). */
  sendCounts?(): SendCounts;
  /**
   * The time the counts of sendCounts() are as of: the due time of the last 20 ms tick they
   * include (performance.now() on this thread). With a worker they are its last report's, up to a
   * refill period old. Undefined before the first tick, or when they are final (a closed channel).
   */
  sendCountsAt?(): number | undefined;
  /**
   * Plays a local Ogg Opus file into this channel on the engine's own thread (the media worker):
   * read, demuxed and queued there, with no frame on the caller's thread. The caller's own frames
   * (enqueue) or clearQueue() stop it; so do stop() and the channel's close. Absent on engines that
   * cannot (the inline engine: there it would save nothing).
   */
  feedOggOpusFile?(path: string, options: FileFeedOptions, onEnd: (end: FileFeedEnd) => void): MediaFileFeed;
  /** Frames queued and not yet sent. */
  readonly queued: number;
  stats(): Promise<MediaChannelStats>;
  /** Closes the socket and releases the channel's timers. */
  close(): void;
  on<E extends keyof MediaChannelEvents>(event: E, listener: (...args: MediaChannelEvents[E]) => void): this;
  off<E extends keyof MediaChannelEvents>(event: E, listener: (...args: MediaChannelEvents[E]) => void): this;
}

/** One worker thread of a worker engine (or the inline engine's thread). */
export interface EngineWorkerStats {
  /** Channels open (or opening) on it. */
  channels: number;
  /** Event-loop utilisation of its thread at the last sample (0..1; 0 before the first sample). */
  utilization: number;
  /** Its pacing clock's counters (ticks delivered, cycles skipped after stalls, wake-ups). */
  clock: PacingClockStats;
  /** Real-time scheduling of its thread, when the engine's `realtime` option asked for it (realtime.ts). */
  realtime?: RealtimeOutcome;
}

/** A media worker that just started (CreateMediaEngineOptions.onWorkerReady). */
export interface MediaWorkerReady {
  /** Its place among the engine's workers (reused by a worker that replaces one). */
  slot: number;
  /** Its thread's real-time scheduling, when the engine's `realtime` option asked for it. */
  realtime?: RealtimeOutcome;
}

/** Counters of a whole engine, summed over its workers. */
export interface MediaEngineStats {
  /** Worker threads running (0 for the inline engine). */
  workers: number;
  channels: number;
  /**
   * Worker threads that died (crash, out of memory) while the engine was open. Their channels got
   * an 'error' (UDP_ERROR) and their queued frames are counted below; the engine goes on with its
   * other workers and starts a new one when needed.
   */
  workerCrashes: number;
  /** Queued audio frames lost with a worker that died (also in each channel's dropped 'session-ended'). */
  framesLostInCrashes: number;
  clock: PacingClockStats;
  perWorker: EngineWorkerStats[];
}

export interface MediaEngine {
  readonly kind: 'inline' | 'worker';
  openChannel(options: MediaChannelOptions): Promise<MediaChannel>;
  /** Engine-wide counters, summed over its workers. */
  stats?(): Promise<MediaEngineStats>;
  /** Closes every channel and stops the clock (and the worker, if any). */
  close(): Promise<void>;
}

/** An engine of voxcord's own (createMediaEngine): it always has its counters. */
export interface VoxcordMediaEngine extends MediaEngine {
  stats(): Promise<MediaEngineStats>;
}
