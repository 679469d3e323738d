/**
 * The voice backend: each node player is a voxcord AudioPlayer on a VoiceConnection. The
 * connection's adapter never sends op 4 (the bot's shard owns the main gateway): when the
 * connection "sends" its join, the adapter answers with the credentials the client PATCHed, as the
 * two voice dispatches, once. Reconnects are off: a close that the voice session cannot resume
 * itself ends the connection, and the client hears a WebSocketClosedEvent (Lavalink's behaviour).
 * Tracks: local files and http(s) Ogg/WebM Opus pass through; everything else goes through ffmpeg.
 * A local Ogg Opus track whose sound nothing changes is played by the media worker itself (a file
 * feed: no frame on this thread); the AudioPlayer is made only for the tracks that need it.
 *
 * frameStats: 'sent' = the frames that left at their 20 ms tick, or were dropped at it for want
 * of a DAVE send key (a lone bot: nobody to hear them, the track keeps time); 'nulled' = the ticks
 * inside a burst with no frame ready (the connection's `sendStats.emptyTicks`). Summed over every
 * connection the player has had.
 */
import { isVoxcordError, toError, VoxcordError } from '../errors.js';
import { checkDelay, checkMethods, checkOptions } from '../util/args.js';
import { FRAME_DURATION_MS } from '../protocol/constants.js';
import type { VoiceAdapterCreator } from '../gateway/adapter.js';
import { joinVoiceChannel } from '../gateway/registry.js';
import type { VoiceConnection, VoiceConnectionState } from '../gateway/voice-connection.js';
import type { VoiceSendStats } from '../voice/session-dave.js';
import type { FileFeedEnd, MediaEngine } from '../media/media-engine.js';
import type { FeedTransmission } from '../voice/feed-transmission.js';
import { AudioPlayer } from '../player/audio-player.js';
import { ffmpegInput } from '../player/inputs/ffmpeg.js';
import { fileInput } from '../player/inputs/file.js';
import { httpInput } from '../player/inputs/http.js';
import type { TrackInput } from '../player/inputs/source.js';
import { Track } from '../player/track.js';
import type { FilterSettings } from '../player/filters/chain.js';
import { entersState } from '../util/enters-state.js';
import { SharedInterval } from '../util/shared-interval.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';
import type {
  BackendPlayer,
  BackendPlayerContext,
  BackendPlayerListener,
  FrameCounts,
  NodePlayerBackend,
  PlayableTrack,
  PlayOptions,
  VoiceCredentials,
} from './backend.js';
import { exception } from './sources.js';
import { VOICE_FAILED_CLOSE_CODE } from './types.js';

export interface VoiceBackendOptions {
  /** Media engine shared by every player (default: the registry's shared engine). */
  engine?: MediaEngine;
  /** Voice websocket TLS (the local server's CA in tests). */
  tls?: VoiceTlsOptions;
  /**
   * How long a voice connect may take to get ready before it is given up (a WebSocketClosedEvent
   * with code 4000; default 15 000 ms). The PATCH that started it has long been answered.
   */
  connectTimeoutMs?: number;
  /**
   * No frame at the audio clock for this long while the track plays: TrackStuckEvent, once per
   * stall; the track keeps its place and goes on if audio comes back (default 10 000 ms, Lavalink's).
   */
  stuckThresholdMs?: number;
  /**
   * The input gave nothing for this long: the track fails (TrackExceptionEvent, then TrackEnd
   * `loadFailed`). Default 30 000 ms, at least the stuck threshold.
   */
  inputTimeoutMs?: number;
  /**
   * A track that plays with no voice connection to take its frames for this long ends as
   * `cleanup` (lavaplayer's player cleanup; default 60 000 ms).
   */
  cleanupThresholdMs?: number;
  /**
   * Local Ogg Opus tracks are played by the media worker itself while nothing changes the sound
   * (volume 100, no filters, not paused): no frame on the main thread (default true; see
   * `VoicePlayer.feedable`). false: every track goes through the AudioPlayer.
   */
  fileFeed?: boolean;
}

/** How often the stuck watchdog looks at the player's counters (main thread, cheap). */
const STUCK_CHECK_MS = 250;
/** Every player's stuck and cleanup checks run from this one timer. */
const watchdog = new SharedInterval(STUCK_CHECK_MS);
/**
 * A player checks every `checkEvery(...)` watchdog ticks: a tenth of its shortest threshold, at
 * most every 250 ms and at least every second (reading a connection's send counts sums its
 * sessions' and channels' counts: at a thousand players, four times a second is work that a 10 s
 * threshold does not need). Players are spread over the ticks.
 */
const checkEvery = (thresholdMs: number): number =>
  Math.max(1, Math.min(4, Math.floor(thresholdMs / 10 / STUCK_CHECK_MS)));
let watchdogPhase = 0;

/**
 * lavaplayer's severities: 'common' = a known outside cause (the file or URL is unavailable),
 * 'suspicious' = the source answered with something unexpected (not the promised format,
 * truncated, stalled), 'fault' = anything else (a bug, or no way to tell).
 */
export function severityOf(error: VoxcordError): 'common' | 'suspicious' | 'fault' {
  if (error.code !== 'AUDIO_INPUT_ERROR') return 'fault';
  for (let e: unknown = error.cause; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ECONNREFUSED' || code === 'ENOTFOUND')
      return 'common';
    if (/^HTTP status \d+/.test(e.message)) return 'common';
  }
  return 'suspicious';
}

/** The adapter: op 4 is swallowed; the PATCHed credentials answer the first join, once. */
function credentialAdapter(guildId: string, userId: string, voice: VoiceCredentials): VoiceAdapterCreator {
  return (methods) => {
    let delivered = false;
    return {
      sendPayload(payload) {
        if (payload.d.channel_id !== null && !delivered) {
          delivered = true;
          queueMicrotask(() => {
            methods.onVoiceStateUpdate({
              guild_id: guildId,
              channel_id: voice.channelId,
              user_id: userId,
              session_id: voice.sessionId,
            });
            methods.onVoiceServerUpdate({ guild_id: guildId, token: voice.token, endpoint: voice.endpoint });
          });
        }
        return true;
      },
      destroy() {},
    };
  };
}

// The bench's http tracks (bench/node-process.ts, node-djs-backend.ts) take their bytes from here,
// in this build and in the older builds an A/B runs against.
export { httpBytes } from '../player/inputs/http.js';

/** The player input for a resolved track. */
export function inputFor(track: PlayableTrack): TrackInput {
  const { sourceName, identifier } = track.info;
  const probe = track.probeInfo?.split('|')[0];
  // No tag reads or ffprobe per play: the node has the track's length and title from loadtracks.
  if (sourceName === 'local') return fileInput(identifier, { metadata: false });
  const url = (track.info.uri ?? identifier).replace(/^icy:\/\//i, 'http://');
  if (probe === 'ogg' || probe === 'matroska/webm') return httpInput(url);
  return ffmpegInput(url);
}

/** frameStats' view of a connection's send counts (see the module comment). */
function frameCounts(stats: VoiceSendStats): { sent: number; nulled: number } {
  return {
    sent: stats.framesSent + stats.framesDropped.alone + stats.framesDropped['no-key'],
    nulled: stats.emptyTicks,
  };
}

/**
 * A track the media worker plays by itself (voice/feed-transmission.ts). `feed` is undefined
 * until the voice connection is ready; the track's position is `startMs` plus the frames it took.
 */
interface Fed {
  track: Track;
  path: string;
  startMs: number;
  feed: FeedTransmission | undefined;
}

/** A feed being stopped, so that the AudioPlayer plays on from its exact count (handOver). */
interface HandOver {
  fed: Fed;
  /** A seek asked for meanwhile (it wins over the feed's count). */
  seekTo?: number;
}

/** How much longer than the queue ahead of it a finished track may take to be heard (endWhenHeard). */
const END_HEARD_SLACK_MS = 1_000;

/** At most this much is added to a feed's last reported position (counted every second, sent within half a second). */
const FEED_POSITION_SLACK_MS = 1_600;

class VoicePlayer implements BackendPlayer {
  /** The AudioPlayer, made when a track first needs one (a track the worker plays does not). */
  private audio: AudioPlayer | undefined;
  private readonly stallTimeoutMs: number;
  /** Lavalink's volume and filters, kept here for an AudioPlayer made later. */
  private volume = 1;
  private filterSettings: FilterSettings = {};
  private connection: VoiceConnection | undefined;
  /** When `connection` was made (performance.now()): its counts are as of then until its first tick. */
  private connectionAt = 0;
  private unsubscribe: (() => void) | undefined;
  private generation = 0;
  private currentTrack: Track | undefined;
  private startMs = 0;
  private endTime: number | undefined;
  /** Set while a finished track's last frames are still on their way to listeners (endWhenHeard). */
  private ending: NodeJS.Timeout | undefined;
  private closedReported = false;
  /** connect() will try again after a transport failure of the connection it is waiting for. */
  private transportRetry = false;
  private startReported: Track | undefined;
  /** The frame counts of the connections this player had before the current one. */
  private readonly pastFrames = { sent: 0, nulled: 0 };
  /** The stuck watchdog: the counters when a frame last went out, and whether this stall was reported. */
  private readonly stopWatchdog: () => void;
  private stuckBase: { sent: number; nulled: number; at: number; any: boolean } | undefined;
  private stuckReported = false;
  /** Since when the current track has had no voice connection to play on (cleanup). */
  private unpolledSince: number | undefined;
  /** The current track, while the media worker plays it (or waits for voice to). */
  private fed: Fed | undefined;
  private handOverOf: HandOver | undefined;
  /** Lavalink's pause, kept here too: a track handed over from a feed starts paused. */
  private paused = false;
  /** Tracks whose feed failed (not Ogg Opus after all, unreadable): the AudioPlayer plays them. */
  private readonly unfeedable = new WeakSet<Track>();

  constructor(
    private readonly ctx: BackendPlayerContext,
    private readonly listener: BackendPlayerListener,
    private readonly options: VoiceBackendOptions,
  ) {
    const stuckMs = options.stuckThresholdMs ?? 10_000;
    this.stallTimeoutMs = Math.max(stuckMs, options.inputTimeoutMs ?? 30_000);
    const cleanupMs = options.cleanupThresholdMs ?? 60_000;
    const every = checkEvery(Math.min(stuckMs, cleanupMs));
    let tick = watchdogPhase++ % every;
    this.stopWatchdog = watchdog.add(() => {
      if (++tick < every) return;
      tick = 0;
      this.checkStuck(stuckMs);
      this.checkCleanup(cleanupMs);
    });
  }

  private get current(): Track | undefined {
    return this.currentTrack;
  }

  /** A new current track (or none) ends the wait for the last one to be heard. */
  private set current(track: Track | undefined) {
    if (track !== this.currentTrack) {
      clearTimeout(this.ending);
      this.ending = undefined;
    }
    this.currentTrack = track;
  }

  private get player(): AudioPlayer {
    return this.audio ?? this.makePlayer();
  }

  private makePlayer(): AudioPlayer {
    const player = new AudioPlayer({ stallTimeoutMs: this.stallTimeoutMs });
    this.audio = player;
    player.volume = this.volume;
    player.filters.set(this.filterSettings);
    player.on('trackStart', (track) => {
      if (track !== this.current) return;
      if (this.startMs > 0) player.seek(this.startMs);
      this.reportStart(track);
    });
    player.on('trackError', (track, error: VoxcordError) => {
      if (track !== this.current) return;
      this.listener.trackException(exception(error.message, severityOf(error), error));
    });
    player.on('trackEnd', (track, reason) => {
      if (track !== this.current) return; // replaced/stopped by the protocol layer: it reports those
      if (reason === 'finished') {
        this.endWhenHeard(track, performance.now() + player.aheadMs + END_HEARD_SLACK_MS);
        return;
      }
      this.current = undefined;
      if (reason === 'error') this.listener.trackEnd('loadFailed');
    });
    if (this.connection !== undefined) this.unsubscribe = this.connection.subscribe(player);
    return player;
  }

  get position(): number {
    const fed = this.fed;
    if (fed !== undefined) {
      const feed = fed.feed;
      if (feed === undefined) return fed.startMs;
      const since = Math.min(Math.max(0, performance.now() - feed.framesAt), FEED_POSITION_SLACK_MS);
      return fed.startMs + feed.framesSent * FRAME_DURATION_MS + (this.connected ? since : 0);
    }
    const handing = this.handOverOf;
    if (handing !== undefined)
      return handing.seekTo ?? handing.fed.startMs + (handing.fed.feed?.framesSent ?? 0) * FRAME_DURATION_MS;
    if (this.ending !== undefined) {
      // Finished producing, still being heard: the AudioPlayer has no current track.
      const heard = this.audio?.lastHeard;
      return heard !== undefined && heard.track === this.current ? heard.positionMs : 0;
    }
    return this.audio?.playbackDuration ?? 0;
  }

  /**
   * Lavalink's TrackEnd comes as the track's last frame goes out; the AudioPlayer finishes a track
   * when it has produced that frame, up to the engine's queue (500 ms) earlier. So 'finished' is
   * reported once listeners have heard it (or by `deadline`, should the count never get there);
   * meanwhile the track is still the player's, and a PATCH that replaces or stops it cuts the rest.
   */
  private endWhenHeard(track: Track, deadline: number): void {
    clearTimeout(this.ending);
    this.ending = undefined;
    if (this.current !== track) return;
    const aheadMs = this.connected ? (this.audio?.aheadMs ?? 0) : 0;
    const now = performance.now();
    if (aheadMs > 0 && now < deadline) {
      this.ending = setTimeout(() => this.endWhenHeard(track, deadline), Math.min(aheadMs, deadline - now));
      return;
    }
    this.current = undefined;
    this.listener.trackEnd('finished');
  }

  get connected(): boolean {
    return this.connection?.state.status === 'ready';
  }

  get ping(): number {
    const state = this.connection?.state;
    return state?.status === 'ready' ? (state.session.ping ?? -1) : -1;
  }

  get frames(): FrameCounts {
    return this.frameCounts();
  }

  private frameCounts(): FrameCounts {
    if (this.connection === undefined) return { ...this.pastFrames };
    const stats = this.connection.sendStats;
    const now = frameCounts(stats);
    return {
      sent: this.pastFrames.sent + now.sent,
      nulled: this.pastFrames.nulled + now.nulled,
      // Before its first tick (or a report of it) a connection's counts are those it started with:
      // a track started since may have sent frames no report has brought yet.
      at: stats.countedAt ?? this.connectionAt,
    };
  }

  play(track: PlayableTrack, options: PlayOptions): void {
    let input: TrackInput;
    try {
      input = inputFor(track);
    } catch (err) {
      queueMicrotask(() => {
        this.listener.trackException(exception('The track cannot be played.', 'fault', err));
        this.listener.trackEnd('loadFailed');
      });
      return;
    }
    const t = new Track(input, { title: track.info.title });
    this.dropFeed();
    this.current = t;
    this.stuckBase = undefined;
    this.startMs = options.startMs;
    this.paused = options.paused;
    this.setEndTime(options.endTimeMs);
    this.audio?.stop();
    if (track.info.sourceName === 'local' && track.probeInfo === 'ogg') {
      const fed: Fed = { track: t, path: track.info.identifier, startMs: options.startMs, feed: undefined };
      if (this.feedable(fed)) {
        this.fed = fed;
        this.startFeed(fed);
        queueMicrotask(() => this.reportStart(t));
        return;
      }
    }
    this.player.play(t);
    if (options.paused) {
      this.player.pause();
      // Lavalink reports the start of a track loaded paused at once, not at resume.
      queueMicrotask(() => this.reportStart(t));
    }
  }

  /**
   * Whether the media worker can play `fed` now: file feeds are on, nothing changes the sound
   * (volume 100, no filters), not paused, and not a track whose feed failed before. Voice need not
   * be ready yet: the feed starts when it is (startFeed), as the AudioPlayer would only start
   * sending then.
   */
  private feedable(fed: Fed): boolean {
    return (
      this.options.fileFeed !== false &&
      !this.paused &&
      this.volume === 1 &&
      this.audio?.filters.active !== true &&
      !this.unfeedable.has(fed.track) &&
      (this.endTime === undefined || this.endTime > fed.startMs)
    );
  }

  /** Starts `fed` on the ready session, if there is one (else connect() starts it once ready). */
  private startFeed(fed: Fed): void {
    if (fed.feed !== undefined || this.fed !== fed) return;
    const session = this.connection?.state.status === 'ready' ? this.connection.session : undefined;
    if (session === undefined) return;
    const frame = (ms: number): number => Math.floor(ms / FRAME_DURATION_MS);
    const feed = session.feedOggOpusFile(
      fed.path,
      {
        skipFrames: frame(fed.startMs),
        ...(this.endTime === undefined ? {} : { endFrame: frame(this.endTime) }),
      },
      (end) => this.onFeedEnd(fed, end),
    );
    if (feed === undefined) {
      // This session cannot (an inline engine): the AudioPlayer plays the track.
      this.unfeedable.add(fed.track);
      this.fed = undefined;
      this.playOn(fed, 0);
      return;
    }
    fed.feed = feed;
  }

  private onFeedEnd(fed: Fed, end: FileFeedEnd): void {
    if (this.fed !== fed) return; // stopped here (replaced, stopped, handed over): handled there
    this.fed = undefined;
    if (end.reason === 'finished') {
      if (this.current !== fed.track) return;
      this.current = undefined;
      this.listener.trackEnd('finished');
      return;
    }
    // Failed, or stopped by the engine (the session ended, the channel closed): play on from the
    // frames taken. After a failure, or a feed that could not start, the AudioPlayer does (it meets
    // a failure itself, to report it as for any input), so a feed is never retried in a loop.
    if (end.reason === 'failed' || end.frames === 0) this.unfeedable.add(fed.track);
    this.playOn(fed, end.frames);
  }

  /**
   * Something the feed does not do (pause, seek, volume, filters, an end time) is asked for: the
   * feed stops, and the track plays on from its exact count (playOn).
   */
  private handOver(): void {
    const fed = this.fed;
    if (fed === undefined) return;
    this.fed = undefined;
    const feed = fed.feed;
    if (feed === undefined) {
      this.playOn(fed, 0);
      return;
    }
    const handing: HandOver = { fed };
    this.handOverOf = handing;
    void feed
      .stopFeed()
      .then((frames) => {
        if (this.handOverOf !== handing) return; // replaced or stopped meanwhile
        this.handOverOf = undefined;
        this.playOn(fed, frames, handing.seekTo);
      })
      .catch((err: unknown) => {
        if (this.current !== fed.track) return;
        this.current = undefined;
        this.listener.trackException(exception('The track cannot be played.', 'fault', err));
        this.listener.trackEnd('loadFailed');
      });
  }

  /**
   * Plays `fed`'s track on from `frames` (or `seekTo`): in a new feed when feedable (it starts once
   * voice is ready, as the AudioPlayer would), else in the AudioPlayer.
   */
  private playOn(fed: Fed, frames: number, seekTo?: number): void {
    if (this.current !== fed.track) return;
    const startMs = seekTo ?? fed.startMs + frames * FRAME_DURATION_MS;
    const next: Fed = { ...fed, startMs, feed: undefined };
    if (this.feedable(next)) {
      this.fed = next;
      this.startFeed(next);
      return;
    }
    this.startMs = startMs;
    this.player.stop();
    this.player.play(fed.track);
    if (this.paused) this.player.pause();
  }

  /** Stops the feed (if any) without playing on: the caller replaces or stops the track. */
  private dropFeed(): void {
    const fed = this.fed;
    this.fed = undefined;
    this.handOverOf = undefined;
    fed?.feed?.stop();
  }

  private reportStart(track: Track): void {
    if (track !== this.current || this.startReported === track) return;
    this.startReported = track;
    this.listener.trackStart();
  }

  stop(): void {
    this.current = undefined;
    this.dropFeed();
    this.audio?.stop();
  }

  /**
   * Lavalink's TrackStuck: no frame went out (or was dropped at its tick) for the threshold at the
   * audio clock, i.e. the empty ticks the engine counted since the last frame; before the track's
   * first frame, the time since it was started. Paused, or without voice, nothing is expected.
   */
  private checkStuck(thresholdMs: number): void {
    if (this.current === undefined || this.audio?.status === 'paused' || !this.connected) {
      this.stuckBase = undefined;
      return;
    }
    const now = performance.now();
    const frames = this.frameCounts();
    const base = this.stuckBase;
    if (base === undefined || frames.sent !== base.sent) {
      this.stuckBase = { sent: frames.sent, nulled: frames.nulled, at: now, any: base !== undefined };
      this.stuckReported = false;
      return;
    }
    const waitedMs = base.any ? (frames.nulled - base.nulled) * FRAME_DURATION_MS : now - base.at;
    if (waitedMs >= thresholdMs && !this.stuckReported) {
      this.stuckReported = true;
      this.listener.trackStuck(thresholdMs);
    }
    // A feed with no frame for the input timeout (a read that hangs): the AudioPlayer takes the
    // track over from the frames sent, and fails it after its own timeout if the file gives none.
    const fed = this.fed;
    if (fed?.feed !== undefined && waitedMs >= this.stallTimeoutMs) {
      this.unfeedable.add(fed.track);
      this.handOver();
    }
  }

  /** lavaplayer's cleanup: a playing track nobody takes frames from (no voice) ends as 'cleanup'. */
  private checkCleanup(thresholdMs: number): void {
    if (this.current === undefined || this.audio?.status === 'paused' || this.connected) {
      this.unpolledSince = undefined;
      return;
    }
    const now = performance.now();
    this.unpolledSince ??= now;
    if (now - this.unpolledSince < thresholdMs) return;
    this.unpolledSince = undefined;
    this.current = undefined;
    this.dropFeed();
    this.audio?.stop();
    this.listener.trackEnd('cleanup');
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) this.handOver();
    if (this.handOverOf !== undefined || this.audio === undefined) return; // applied when it plays
    if (paused) this.audio.pause();
    else this.audio.resume();
  }

  seek(ms: number): void {
    if (this.current === undefined) return;
    if (this.fed !== undefined && this.fed.feed === undefined) {
      this.fed.startMs = ms; // waiting for voice: it starts there
      return;
    }
    this.handOver();
    if (this.handOverOf !== undefined) {
      this.handOverOf.seekTo = ms;
      return;
    }
    try {
      this.player.seek(ms);
    } catch {
      this.startMs = ms; // not started yet: applied at its start
    }
  }

  setEndTime(ms: number | undefined): void {
    if (ms !== this.endTime) this.handOver();
    this.endTime = ms;
    if (this.current !== undefined) this.current.endMs = ms;
  }

  setVolume(volume: number): void {
    this.volume = Math.min(4, volume / 100);
    if (this.audio !== undefined) this.audio.volume = this.volume;
    if (this.volume !== 1) this.handOver();
  }

  setFilters(filters: FilterSettings): void {
    this.filterSettings = filters;
    // Whether a set changes the sound is the filter chain's to say: an empty set needs no player.
    const chain = Object.keys(filters).length === 0 ? this.audio?.filters : this.player.filters;
    chain?.set(filters);
    if (chain?.active === true) this.handOver();
  }

  async connect(voice: VoiceCredentials): Promise<void> {
    const generation = ++this.generation;
    for (let attempt = 1; ; attempt++) {
      this.dropConnection();
      this.closedReported = false;
      // A transport failure (IP discovery or UDP, e.g. packets lost on a loaded host) is tried
      // again with the same credentials, a bounded number of times; closes by the voice server are not.
      this.transportRetry = attempt < CONNECT_ATTEMPTS;
      const connection = joinVoiceChannel({
        guildId: this.ctx.guildId,
        channelId: voice.channelId,
        group: `voxcord-node:${this.ctx.sessionId}`,
        adapterCreator: credentialAdapter(this.ctx.guildId, this.ctx.userId, voice),
        reconnect: { maxAttempts: 0 },
        ...(this.options.engine === undefined ? {} : { engine: this.options.engine }),
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      });
      this.connection = connection;
      this.connectionAt = performance.now();
      if (this.audio !== undefined) this.unsubscribe = connection.subscribe(this.audio);
      connection.on('stateChange', (_old, next) => this.onConnectionState(connection, next));
      connection.on('error', () => undefined); // reported through the state (WebSocketClosedEvent)
      try {
        await readyOrClosed(connection, this.options.connectTimeoutMs ?? 15_000);
        break;
      } catch (err) {
        if (generation !== this.generation) return; // a newer PATCH superseded this one
        if (this.transportRetry && isTransportFailure(err)) continue;
        this.dropConnection();
        throw toError(err);
      } finally {
        this.transportRetry = false;
      }
    }
    if (generation !== this.generation) return;
    this.listener.voiceReady();
    if (this.fed !== undefined) this.startFeed(this.fed);
  }

  destroy(): void {
    this.generation++;
    this.current = undefined;
    this.dropFeed();
    this.stopWatchdog();
    this.dropConnection();
    this.audio?.destroy();
  }

  private onConnectionState(connection: VoiceConnection, next: VoiceConnectionState): void {
    if (connection !== this.connection || this.closedReported) return;
    if (next.status === 'disconnected' && !next.willReconnect) {
      if (this.transportRetry && isTransportFailure(next.error)) return; // connect() tries again
      this.closedReported = true;
      this.listener.voiceClosed(
        next.closeCode ?? VOICE_FAILED_CLOSE_CODE,
        next.error?.message ?? next.reason,
        true,
      );
    }
  }

  private dropConnection(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const connection = this.connection;
    this.connection = undefined;
    if (connection === undefined) return;
    const counts = frameCounts(connection.sendStats);
    this.pastFrames.sent += counts.sent;
    this.pastFrames.nulled += counts.nulled;
    connection.destroy();
  }
}

/** Voice connects per PATCH when the transport fails (IP discovery or UDP), with the same credentials. */
const CONNECT_ATTEMPTS = 3;

/** An IP discovery or UDP failure anywhere in the error's cause chain. */
function isTransportFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (isVoxcordError(e, 'IP_DISCOVERY_FAILED') || isVoxcordError(e, 'UDP_ERROR')) return true;
  return false;
}

/**
 * Resolves when the connection is ready; rejects at once when it closes for good (e.g. 4004 for
 * credentials the voice server no longer accepts), or at the timeout.
 */
async function readyOrClosed(connection: VoiceConnection, timeoutMs: number): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(
    () =>
      abort.abort(
        new VoxcordError('STATE_TIMEOUT', `the voice connection did not get ready within ${timeoutMs} ms`, {
          details: { timeoutMs },
        }),
      ),
    timeoutMs,
  );
  const onState = (_old: VoiceConnectionState, next: VoiceConnectionState): void => {
    if (next.status === 'disconnected' && !next.willReconnect)
      abort.abort(
        next.error ??
          new VoxcordError(
            'GATEWAY_CLOSED',
            `the voice connection closed (${next.closeCode ?? next.reason})`,
          ),
      );
  };
  connection.on('stateChange', onState);
  try {
    await entersState(connection, 'ready', abort.signal);
  } catch (err) {
    throw abort.signal.aborted ? toError(abort.signal.reason) : err;
  } finally {
    clearTimeout(timer);
    connection.off('stateChange', onState);
  }
}

export function createVoiceBackend(options: VoiceBackendOptions = {}): NodePlayerBackend {
  checkOptions(options);
  checkMethods(options.engine, 'engine', 'a MediaEngine', ['openChannel', 'close'], 'optional');
  if (typeof options.tls !== 'boolean') checkOptions(options.tls, 'tls');
  checkDelay(options.connectTimeoutMs, 'connectTimeoutMs', 'optional');
  return {
    name: 'voice',
    createPlayer: (context, listener) => new VoicePlayer(context, listener, options),
  };
}
