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
  private voiceGeneration = 0;
  /** The connect in progress for `voice`, if any. */
  private voiceConnecting: Promise<void> | undefined;
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
        voiceClosed: (code, reason, byRemote) => {
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
        },
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

  get frames(): { sent: number; nulled: number } | undefined {
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

  /** Applies a validated PATCH in Lavalink's order. Resolves when voice (if any) is connected. */
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
    if (update.voice !== undefined) await this.connect(update.voice);
    if (this.destroyed) return;
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

  private async connect(voice: VoiceCredentials): Promise<void> {
    const old = this.voice;
    const same =
      old !== undefined &&
      old.token === voice.token &&
      old.endpoint === voice.endpoint &&
      old.sessionId === voice.sessionId &&
      old.channelId === voice.channelId;
    // Identical values: a no-op on a live connection, and a wait for one still connecting (a
    // client can send the same credentials twice in a burst, e.g. lavalink-client's changeNode
    // and its voice-server handler; restarting the handshake with a token already in use fails).
    if (same && this.backend.connected) return;
    if (same && this.voiceConnecting !== undefined) return this.voiceConnecting;
    this.voice = voice;
    const generation = ++this.voiceGeneration;
    this.ctx.log(`player ${this.guildId}: voice connecting (channel ${voice.channelId})`);
    const attempt = (async (): Promise<void> => {
      try {
        await this.backend.connect(voice);
      } catch (err) {
        if (generation !== this.voiceGeneration) return; // superseded by a newer PATCH
        this.voice = undefined;
        this.ctx.log(`player ${this.guildId}: voice connect failed (${(err as Error).message})`);
        throw new HttpError(500, `Voice connection failed: ${(err as Error).message}`, { cause: err });
      } finally {
        if (generation === this.voiceGeneration) this.voiceConnecting = undefined;
      }
    })();
    this.voiceConnecting = attempt;
    return attempt;
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
