/**
 * NodePlayer: one guild's player in a session, with Lavalink's semantics on top of a BackendPlayer:
 * the PATCH steps in Lavalink's order (§5), the events and the playerUpdates they imply, and the
 * continuity frameStats needs.
 */
import type { BackendPlayer, NodePlayerBackend, PlayableTrack, VoiceCredentials } from './backend.js';
import { HttpError } from './http-error.js';
import type { PlayerUpdate } from './player-update.js';
import { decodeTrack } from './track-codec.js';
import type {
  ApiPlayer,
  ApiTrack,
  JsonObject,
  LoadResult,
  NodeEvent,
  PlayerState,
  ServerMessage,
  TrackEndReason,
} from './types.js';
import { VOICE_FAILED_CLOSE_CODE } from './types.js';
import { VoiceCloseCode } from '../protocol/constants.js';
import { FRAME_STATS_MAX_GAP_MS } from './stats.js';

export interface NodePlayerContext {
  guildId: string;
  userId: string;
  sessionId: string;
  backend: NodePlayerBackend;
  send(message: ServerMessage): void;
  resolve(identifier: string): Promise<LoadResult>;
  log(message: string): void;
}

interface Current {
  api: ApiTrack;
  playable: PlayableTrack;
}

/** Builds the playable track from an `encoded` string (400 when it is not a track). */
export function playableFromEncoded(encoded: string): PlayableTrack {
  let decoded;
  try {
    decoded = decodeTrack(encoded);
  } catch (err) {
    throw new HttpError(400, `Invalid encoded track: ${(err as Error).message}`, { cause: err });
  }
  return {
    encoded,
    info: decoded.info,
    ...(decoded.probeInfo === undefined ? {} : { probeInfo: decoded.probeInfo }),
  };
}

export class NodePlayer {
  readonly guildId: string;
  private readonly backend: BackendPlayer;
  private current: Current | undefined;
  private paused = false;
  private volume = 100;
  private filtersJson: JsonObject = {};
  private voice: VoiceCredentials | undefined;
  /** Counts the connects started; a connect's outcome counts only while it is the latest. */
  private voiceGeneration = 0;
  /** The connect for `voice` has not settled yet. */
  private voiceConnecting = false;
  /** The generation whose failure the backend already reported (voiceClosed). */
  private closedGeneration = -1;
  /**
   * The credentials whose connect the current one superseded before it was ready, and when: on a
   * 4004 for the current ones, the node connects once with these (see `voiceClosed`).
   */
  private superseded: { voice: VoiceCredentials; at: number } | undefined;
  private destroyed = false;
  /** frameStats continuity: since when playing without a pause or gap, and when the last track ended. */
  private playingSince: number | undefined;
  private endedAt: number | undefined;

  constructor(private readonly ctx: NodePlayerContext) {
    this.guildId = ctx.guildId;
    this.backend = ctx.backend.createPlayer(
      { guildId: ctx.guildId, userId: ctx.userId, sessionId: ctx.sessionId },
      {
        trackStart: () => this.onStart(),
        trackEnd: (reason) => this.onEnd(reason),
        trackException: (exception) => {
          const track = this.current?.api;
          if (track === undefined) return;
          this.ctx.log(
            `player ${this.guildId}: track exception (${exception.severity}): ${exception.message ?? ''}`,
          );
          this.event({ type: 'TrackExceptionEvent', guildId: this.guildId, track, exception });
        },
        trackStuck: (thresholdMs) => {
          const track = this.current?.api;
          if (track === undefined) return;
          this.ctx.log(`player ${this.guildId}: track stuck (${thresholdMs} ms)`);
          this.event({ type: 'TrackStuckEvent', guildId: this.guildId, track, thresholdMs });
          this.sendUpdate();
        },
        voiceReady: () => {
          this.ctx.log(`player ${this.guildId}: voice ready`);
          this.sendUpdate();
        },
        voiceClosed: (code, reason, byRemote) => this.voiceClosed(code, reason, byRemote),
      },
    );
  }

  get hasTrack(): boolean {
    return this.current !== undefined;
  }

  get playing(): boolean {
    return this.current !== undefined && !this.paused;
  }

  /** frameStats: since when this player has played continuously (undefined: not now). */
  continuousSince(now: number): number | undefined {
    if (this.current === undefined) {
      if (this.endedAt !== undefined && now - this.endedAt > FRAME_STATS_MAX_GAP_MS)
        this.playingSince = undefined;
      return this.endedAt !== undefined && now - this.endedAt <= FRAME_STATS_MAX_GAP_MS
        ? this.playingSince
        : undefined;
    }
    return this.paused ? undefined : this.playingSince;
  }

  get frames(): BackendPlayer['frames'] {
    return this.backend.frames;
  }

  state(): PlayerState {
    return {
      time: Date.now(),
      position: this.current === undefined ? 0 : Math.round(this.backend.position),
      connected: this.backend.connected,
      ping: this.backend.ping,
    };
  }

  toJSON(): ApiPlayer {
    const state = this.state();
    const track = this.current?.api;
    return {
      guildId: this.guildId,
      track: track === undefined ? null : { ...track, info: { ...track.info, position: state.position } },
      volume: this.volume,
      paused: this.paused,
      state,
      voice: {
        token: this.voice?.token ?? '',
        endpoint: this.voice?.endpoint ?? '',
        sessionId: this.voice?.sessionId ?? '',
        channelId: this.voice?.channelId ?? '',
      },
      filters: this.filtersJson,
    };
  }

  sendUpdate(): void {
    if (this.destroyed) return;
    this.ctx.send({ op: 'playerUpdate', guildId: this.guildId, state: this.state() });
  }

  /**
   * Applies a validated PATCH in Lavalink's order. New voice credentials start a connect in the
   * background (see `connect`): the answer does not wait for it.
   */
  async update(update: PlayerUpdate, noReplace: boolean): Promise<void> {
    // Resolve the new track first: a bad one is a 400 before anything changes.
    let next: { playable: PlayableTrack | null } | undefined;
    if (update.newTrack !== undefined) {
      if ('identifier' in update.newTrack)
        next = { playable: await this.resolveIdentifier(update.newTrack.identifier) };
      else
        next = {
          playable: update.newTrack.encoded === null ? null : playableFromEncoded(update.newTrack.encoded),
        };
    }
    if (this.destroyed) return;
    if (update.voice !== undefined) this.connect(update.voice);
    const current = this.current;
    if (next === undefined && current !== undefined) {
      if (update.paused !== undefined) this.setPaused(update.paused);
      if (update.userData !== undefined) current.api = { ...current.api, userData: update.userData };
      if (update.position !== undefined) {
        this.backend.seek(update.position);
        this.sendUpdate();
      }
      if (update.endTime !== undefined) this.backend.setEndTime(update.endTime ?? undefined);
    } else if (next === undefined && update.paused !== undefined) {
      this.paused = update.paused;
    }
    if (update.volume !== undefined) {
      this.volume = update.volume;
      this.backend.setVolume(update.volume);
    }
    if (update.filters !== undefined) {
      this.filtersJson = update.filters.json;
      this.backend.setFilters(update.filters.settings);
      this.sendUpdate();
    }
    if (next === undefined) return;
    if (noReplace && this.current !== undefined) return;
    this.paused = update.paused ?? false;
    if (next.playable === null) {
      this.stopTrack('stopped');
      return;
    }
    const playable = next.playable;
    const api: ApiTrack = {
      encoded: playable.encoded,
      info: playable.info,
      pluginInfo: {},
      userData: update.userData ?? {},
    };
    if (this.current !== undefined) this.stopTrack('replaced');
    this.current = { api, playable };
    this.ctx.log(`player ${this.guildId}: play ${playable.info.sourceName} ${playable.info.title}`);
    this.backend.play(playable, {
      startMs: update.position ?? 0,
      endTimeMs: update.endTime ?? undefined,
      paused: this.paused,
    });
    this.sendUpdate();
  }

  /** `stopped`: the current track ends with TrackEndEvent `stopped` before the player goes. */
  destroy(stopped = false): void {
    if (this.destroyed) return;
    if (stopped) this.stopTrack('stopped');
    this.destroyed = true;
    this.current = undefined;
    this.backend.destroy();
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    this.backend.setPaused(paused);
    if (!paused && this.current !== undefined) this.playingSince = Date.now();
  }

  /**
   * Starts connecting with `voice` and returns at once; a later PATCH with other credentials
   * supersedes this connect (its outcome is then ignored). Lavalink answers once the voice
   * websocket is open and reports what happens next (a 4004 after Identify included) as a
   * WebSocketClosedEvent; voxcord answers at once and reports every failure that way. Answering
   * at once matters on failover: lavalink-client's changeNode PATCHes the credentials its op 4 has
   * just replaced and then, from the new VOICE_SERVER_UPDATE, the fresh ones. A PATCH that waited
   * for the connect would answer the stale one's 4004 with a 500 when the fresh one has not
   * arrived yet (changeNode fails; the client moves the player again, which replaces the fresh
   * token too), and it holds one of the client's five move slots for a whole voice join.
   */
  private connect(voice: VoiceCredentials, fallback = false): void {
    const old = this.voice;
    const same =
      old !== undefined &&
      old.token === voice.token &&
      old.endpoint === voice.endpoint &&
      old.sessionId === voice.sessionId &&
      old.channelId === voice.channelId;
    // Identical values: a no-op on a live connection or on one still connecting (a client can
    // send the same credentials twice in a burst, e.g. lavalink-client's changeNode and its
    // voice-server handler; restarting the handshake with a token in use gains nothing).
    if (same && (this.backend.connected || this.voiceConnecting)) return;
    this.superseded =
      !fallback && this.voiceConnecting && old !== undefined ? { voice: old, at: Date.now() } : undefined;
    this.voice = voice;
    const generation = ++this.voiceGeneration;
    this.voiceConnecting = true;
    this.ctx.log(`player ${this.guildId}: voice connecting (channel ${voice.channelId})`);
    this.backend.connect(voice).then(
      () => {
        if (generation !== this.voiceGeneration) return;
        this.voiceConnecting = false;
        this.superseded = undefined;
      },
      (err: unknown) => {
        if (generation !== this.voiceGeneration || this.destroyed) return; // superseded
        this.voiceConnecting = false;
        const message = err instanceof Error ? err.message : String(err);
        this.ctx.log(`player ${this.guildId}: voice connect failed (${message})`);
        // A failure the backend did not report as a close (e.g. a timeout) is reported here.
        if (this.closedGeneration !== generation) this.voiceClosed(closeCodeOf(err), message, false);
      },
    );
  }

  /**
   * The voice connection closed for good: WebSocketClosedEvent, then connected: false. Except a
   * 4004 (a token the voice server no longer accepts) for credentials that superseded others
   * still connecting, at most FALLBACK_WINDOW_MS earlier, for the same channel and voice session:
   * the node connects once with those instead, without an event. Two PATCHes of one move can
   * arrive out of order: lavalink-client's changeNode sends the token its op 4 has just replaced,
   * then the fresh one, on separate HTTP connections, and the stale one can arrive last (3 of 20
   * moves in one 60-player soak run, all 3 players lost). Newer supersedes older, so the stale
   * token would win; it is refused at Identify, and the credentials it replaced are the fresh ones.
   */
  private voiceClosed(code: number, reason: string, byRemote: boolean): void {
    if (this.destroyed) return;
    this.closedGeneration = this.voiceGeneration;
    const older = this.superseded;
    this.superseded = undefined;
    const current = this.voice;
    if (
      code === VoiceCloseCode.AuthenticationFailed &&
      this.voiceConnecting &&
      older !== undefined &&
      current !== undefined &&
      Date.now() - older.at <= FALLBACK_WINDOW_MS &&
      older.voice.channelId === current.channelId &&
      older.voice.sessionId === current.sessionId
    ) {
      this.ctx.log(
        `player ${this.guildId}: voice closed ${code} ${reason}; connecting with the credentials it superseded`,
      );
      // Not from inside the backend's own state change: one turn later.
      queueMicrotask(() => {
        if (!this.destroyed && this.voice === current) this.connect(older.voice, true);
      });
      return;
    }
    this.voiceConnecting = false;
    this.ctx.log(`player ${this.guildId}: voice closed ${code} ${reason}`);
    this.voice = undefined;
    this.ctx.send({
      op: 'event',
      type: 'WebSocketClosedEvent',
      guildId: this.guildId,
      code,
      reason,
      byRemote,
    });
    this.sendUpdate();
  }

  private async resolveIdentifier(identifier: string): Promise<PlayableTrack> {
    const result = await this.ctx.resolve(identifier);
    if (result.loadType !== 'track') {
      const why =
        result.loadType === 'error'
          ? (result.data.message ?? 'the track could not be loaded')
          : result.loadType === 'empty'
            ? 'no track found'
            : `the identifier gave a ${result.loadType}, not a single track`;
      throw new HttpError(400, `Identifier did not resolve to a single track: ${why}`);
    }
    return playableFromEncoded(result.data.encoded);
  }

  /** Ends the current track with a protocol reason ('stopped', 'replaced', 'cleanup'). */
  private stopTrack(reason: TrackEndReason): void {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    this.backend.stop();
    this.endedAt = Date.now();
    this.event({ type: 'TrackEndEvent', guildId: this.guildId, track: current.api, reason });
  }

  private onStart(): void {
    const current = this.current;
    if (current === undefined) return;
    const now = Date.now();
    const continuous =
      this.playingSince !== undefined &&
      this.endedAt !== undefined &&
      now - this.endedAt <= FRAME_STATS_MAX_GAP_MS;
    if (!continuous || this.paused) this.playingSince = this.paused ? undefined : now;
    this.event({ type: 'TrackStartEvent', guildId: this.guildId, track: current.api });
  }

  private onEnd(reason: 'finished' | 'loadFailed' | 'cleanup'): void {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    this.endedAt = Date.now();
    this.ctx.log(`player ${this.guildId}: track ended (${reason})`);
    this.event({ type: 'TrackEndEvent', guildId: this.guildId, track: current.api, reason });
  }

  private event(e: NodeEvent): void {
    if (this.destroyed) return;
    this.ctx.send({ op: 'event', ...e });
  }
}

/** How recent superseded credentials must be for the 4004 fallback (one move's two PATCHes). */
const FALLBACK_WINDOW_MS = 10_000;

/**
 * The close code of a failed connect: the voice websocket's own, when the error carries one;
 * else VOICE_FAILED_CLOSE_CODE.
 */
function closeCodeOf(err: unknown): number {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { details?: { closeCode?: unknown } }).details?.closeCode;
    if (typeof code === 'number') return code;
  }
  return VOICE_FAILED_CLOSE_CODE;
}
