/**
 * The seam between the protocol layer and the audio: a NodePlayerBackend creates one BackendPlayer
 * per (session, guild). The protocol layer owns Lavalink's semantics (which events to send, when a
 * track is 'replaced' or 'stopped'); a backend only plays, connects voice and reports what happened
 * to the audio. The voice backend (a voxcord VoiceConnection per player, fed through an adapter that
 * never sends op 4) plugs in here; `createTimelineBackend` is the stand-in without audio.
 */
import type { FilterSettings } from '../player/filters/chain.js';
import type { TrackInfo } from './track-codec.js';
import type { ApiException } from './types.js';

/** A track ready to play: what loadtracks/decodetrack resolved. */
export interface PlayableTrack {
  encoded: string;
  info: TrackInfo;
  /** `http`/`local`: the container probe name (`ogg`, `matroska/webm`, `mp3` …). */
  probeInfo?: string;
}

/** The four values of a PATCH `voice`, all non-blank. */
export interface VoiceCredentials {
  token: string;
  endpoint: string;
  sessionId: string;
  channelId: string;
}

export interface BackendPlayerContext {
  guildId: string;
  /** The WebSocket handshake's User-Id: the voice Identify user_id. */
  userId: string;
  /** The node session's id (for logs). */
  sessionId: string;
}

/** What a backend player reports. Only natural ends: 'stopped'/'replaced' come from the protocol layer. */
export interface BackendPlayerListener {
  /** The track's first frame is ready (or, without audio, playback started). */
  trackStart(): void;
  /**
   * The track ended on its own: at its end or endTime ('finished'), failing ('loadFailed'), or
   * played with no voice to take its frames for the cleanup threshold ('cleanup').
   */
  trackEnd(reason: 'finished' | 'loadFailed' | 'cleanup'): void;
  /** The track failed; trackEnd('loadFailed') follows. */
  trackException(exception: ApiException): void;
  /** No frame came for thresholdMs. */
  trackStuck(thresholdMs: number): void;
  /** The voice connection became ready. */
  voiceReady(): void;
  /** The voice connection closed for good (no resume, no rejoin): a WebSocketClosedEvent. */
  voiceClosed(code: number, reason: string, byRemote: boolean): void;
}

export interface PlayOptions {
  /** Where to start, ms. */
  startMs: number;
  /** Where the track ends as 'finished'; undefined: its real end. */
  endTimeMs: number | undefined;
  /** Start paused (loaded, position kept, nothing sent). */
  paused: boolean;
}

/**
 * A player's cumulative frame counters (frameStats), as of `at`: the audio clock's due time of the
 * last 20 ms tick they include (performance.now()); absent: as of now (read live, or final).
 */
export interface FrameCounts {
  sent: number;
  nulled: number;
  at?: number;
}

export interface BackendPlayer {
  /** Starts `track` (replacing any current one, without events for it). */
  play(track: PlayableTrack, options: PlayOptions): void;
  /** Stops the current track (no event). */
  stop(): void;
  setPaused(paused: boolean): void;
  seek(ms: number): void;
  /** The position (ms) at which the current track ends as 'finished'; undefined: its real end. */
  setEndTime(ms: number | undefined): void;
  /** Lavalink's player volume, 0-1000 (100 = unchanged). */
  setVolume(volume: number): void;
  /** Replaces the filter set (already validated). */
  setFilters(filters: FilterSettings): void;
  /**
   * Connects (or reconnects) voice with new credentials; resolves when ready, rejects when the
   * connect fails (a close is also reported through `voiceClosed`). A later call supersedes one
   * still connecting (the earlier promise then resolves without connecting). The protocol layer
   * does not wait for it to answer the PATCH.
   */
  connect(voice: VoiceCredentials): Promise<void>;
  /** Position in the current track, ms. */
  readonly position: number;
  readonly connected: boolean;
  /** Voice gateway heartbeat round trip, ms; -1 when unknown. */
  readonly ping: number;
  /**
   * Cumulative frame counters for frameStats: frames handed to the media engine ('sent') and
   * 20 ms ticks with no frame ready ('nulled'), with the audio clock's time they are as of (`at`,
   * performance.now(); absent: now). Undefined for a backend with no audio.
   */
  readonly frames: FrameCounts | undefined;
  destroy(): void;
}

export interface NodePlayerBackend {
  /** Short name for /v4/info and logs. */
  readonly name: string;
  createPlayer(context: BackendPlayerContext, listener: BackendPlayerListener): BackendPlayer;
  close?(): void | Promise<void>;
}
