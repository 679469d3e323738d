/**
 * @discordjs/voice's AudioPlayer on voxcord's: one resource at a time (voxcord's `play`), the five
 * statuses, the per-status events, AudioPlayerError, PlayerSubscription and NoSubscriberBehavior.
 * voxcord's player is attached to each subscribed connection while it is Ready (the "playable"
 * subscribers of @discordjs/voice), so its own `noSubscriber` does what NoSubscriberBehavior says
 * (Pause: 'autopaused'; Stop; Play: real-time pace to nobody, frames counted in
 * `player.voxcord.stats.framesDropped`). `maxMissedFrames` stops the resource after that many
 * consecutive frames it had no audio for, as @discordjs/voice does (→ Idle).
 */
import { EventEmitter } from 'node:events';
import { AudioPlayer as VoxcordPlayer, VoxcordError } from '../../index.js';
import type { NoSubscriberBehavior as VoxcordNoSubscriber, Track } from '../../index.js';
import { AudioPlayerStatus, NoSubscriberBehavior, VoiceConnectionStatus } from './enums.js';
import type { VoiceConnection } from './connection.js';
import { AudioResource } from './resource.js';

export class AudioPlayerError extends Error {
  readonly resource: AudioResource;
  constructor(error: Error, resource: AudioResource) {
    super(error.message, { cause: error });
    this.name = 'AudioPlayerError';
    this.resource = resource;
    if (error.stack !== undefined) this.stack = error.stack;
  }
}

export class PlayerSubscription {
  constructor(
    readonly connection: VoiceConnection,
    readonly player: AudioPlayer,
  ) {}

  /** Stops sending this player's audio to the connection. */
  unsubscribe(): void {
    this.connection.onSubscriptionRemoved(this);
    this.player.removeSubscription(this);
  }
}

export type AudioPlayerState =
  | { status: AudioPlayerStatus.Idle }
  | { status: AudioPlayerStatus.Buffering; resource: AudioResource }
  | {
      status: AudioPlayerStatus.Playing;
      resource: AudioResource;
      missedFrames: number;
      playbackDuration: number;
    }
  | {
      status: AudioPlayerStatus.Paused | AudioPlayerStatus.AutoPaused;
      resource: AudioResource;
      playbackDuration: number;
      silencePacketsRemaining: number;
    };

export interface CreateAudioPlayerOptions {
  behaviors?: { noSubscriber?: NoSubscriberBehavior; maxMissedFrames?: number };
  /** Emit 'debug' events. */
  debug?: boolean;
}

export type StatusListener<T> = (
  oldState: AudioPlayerState,
  newState: AudioPlayerState & { status: T },
) => void;

/** The events, typed as @discordjs/voice types them. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed events, as @discordjs/voice does
export interface AudioPlayer {
  on(event: 'error', listener: (error: AudioPlayerError) => void): this;
  on(event: 'debug', listener: (message: string) => void): this;
  on(event: 'stateChange', listener: (oldState: AudioPlayerState, newState: AudioPlayerState) => void): this;
  on(event: 'subscribe' | 'unsubscribe', listener: (subscription: PlayerSubscription) => void): this;
  on<T extends AudioPlayerStatus>(event: T, listener: StatusListener<T>): this;
  once(event: 'error', listener: (error: AudioPlayerError) => void): this;
  once(event: 'debug', listener: (message: string) => void): this;
  once(
    event: 'stateChange',
    listener: (oldState: AudioPlayerState, newState: AudioPlayerState) => void,
  ): this;
  once(event: 'subscribe' | 'unsubscribe', listener: (subscription: PlayerSubscription) => void): this;
  once<T extends AudioPlayerStatus>(event: T, listener: StatusListener<T>): this;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AudioPlayer extends EventEmitter {
  /** voxcord's player underneath (stats, filters, queue, overlays ...). */
  readonly voxcord: VoxcordPlayer;
  readonly behaviors: { noSubscriber: NoSubscriberBehavior; maxMissedFrames: number };
  private current: AudioPlayerState = { status: AudioPlayerStatus.Idle };
  private readonly subs = new Set<PlayerSubscription>();
  private readonly byTrack = new Map<Track, AudioResource>();
  /** Connections voxcord's player is attached to (the Ready ones). */
  private readonly attachedTo = new Set<VoiceConnection>();
  private readonly reevaluate = (): void => this.checkSubscribers();
  /** While Playing: watches voxcord's missedFrames for maxMissedFrames. */
  private missWatch: ReturnType<typeof setInterval> | undefined;

  constructor(options: CreateAudioPlayerOptions = {}) {
    super();
    // The subpath reaches voxcord through its root only, so this check is its own.
    for (const [name, value] of [
      ['options', options],
      ['behaviors', options?.behaviors],
    ] as const)
      if (value !== undefined && (typeof value !== 'object' || value === null))
        throw new VoxcordError('INVALID_ARGUMENT', `createAudioPlayer ${name} must be an object`);
    this.behaviors = {
      noSubscriber: options.behaviors?.noSubscriber ?? NoSubscriberBehavior.Pause,
      maxMissedFrames: options.behaviors?.maxMissedFrames ?? 5,
    };
    const { noSubscriber: behavior, maxMissedFrames } = this.behaviors;
    if (!Object.values(NoSubscriberBehavior).includes(behavior))
      throw new VoxcordError('INVALID_ARGUMENT', "behaviors.noSubscriber must be 'pause', 'play' or 'stop'");
    if (!(maxMissedFrames === Infinity || (Number.isInteger(maxMissedFrames) && maxMissedFrames >= 0)))
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        'behaviors.maxMissedFrames must be an integer, 0 or more, or Infinity',
      );
    const noSubscriber: Record<NoSubscriberBehavior, VoxcordNoSubscriber> = {
      [NoSubscriberBehavior.Pause]: 'pause',
      [NoSubscriberBehavior.Play]: 'play',
      [NoSubscriberBehavior.Stop]: 'stop',
    };
    this.voxcord = new VoxcordPlayer({ noSubscriber: noSubscriber[this.behaviors.noSubscriber] ?? 'pause' });
    this.voxcord.on('stateChange', () => this.sync());
    this.voxcord.on('trackStart', (track) => this.onTrackStart(track));
    this.voxcord.on('trackEnd', (track, reason) => this.onTrackEnd(track, reason));
    this.voxcord.on('trackError', (track, error) => this.onTrackError(track, error));
    if (options.debug === true) this.voxcord.on('debug', (message) => this.emit('debug', message));
  }

  get state(): AudioPlayerState {
    return this.current;
  }

  /** Connections that are ready to receive audio. */
  get playable(): VoiceConnection[] {
    return [...this.subs]
      .map((s) => s.connection)
      .filter((c) => c.state.status === VoiceConnectionStatus.Ready);
  }

  /**
   * Plays `resource` now (the one playing ends). Throws if the resource has ended or belongs to
   * another player, as @discordjs/voice does.
   */
  play(resource: AudioResource): void {
    if (!(resource instanceof AudioResource))
      throw new VoxcordError('INVALID_ARGUMENT', 'play needs an AudioResource (from createAudioResource)');
    if (resource.ended) throw new Error('Cannot play a resource that has already ended.');
    if (resource.audioPlayer !== undefined && resource.audioPlayer !== this)
      throw new Error('Resource is already being played by another audio player.');
    resource.audioPlayer = this;
    const previous = this.current;
    // A resource that never started is still in voxcord's queue: it must not play after this one.
    if (
      previous.status !== AudioPlayerStatus.Idle &&
      previous.resource !== resource &&
      !previous.resource.started
    ) {
      this.voxcord.remove(previous.resource.track);
      this.onTrackEnd(previous.resource.track, 'replaced');
    }
    this.byTrack.set(resource.track, resource);
    resource.position = () => this.voxcord.playbackDuration;
    this.voxcord.play(resource.track);
    this.setState({ status: AudioPlayerStatus.Buffering, resource });
    this.checkSubscribers();
  }

  /** Pauses; false if nothing was playing. */
  pause(interpolateSilence = true): boolean {
    void interpolateSilence; // voxcord ends the burst with five silence frames either way
    const state = this.current;
    if (state.status !== AudioPlayerStatus.Playing) return false;
    this.voxcord.pause();
    this.setState(this.pausedState(AudioPlayerStatus.Paused, state.resource));
    return true;
  }

  /** Resumes after pause(); false if it was not paused. */
  unpause(): boolean {
    const state = this.current;
    if (state.status !== AudioPlayerStatus.Paused) return false;
    this.voxcord.resume();
    this.setState(this.playingState(state.resource));
    this.checkSubscribers();
    return true;
  }

  /** Stops playing (→ Idle); false if already idle. `force` is accepted: voxcord always stops at once. */
  stop(force = false): boolean {
    void force;
    const state = this.current;
    if (state.status === AudioPlayerStatus.Idle) return false;
    this.voxcord.stop();
    // A resource that had not started yet gets no trackEnd from voxcord; one that finished may
    // still be waiting for its last frames to leave (the stop dropped them).
    this.onTrackEnd(state.resource.track, 'stopped');
    this.idleAfter(state.resource);
    return true;
  }

  /** @internal Sends to `connection` (connection.subscribe(player) calls it). */
  subscribe(connection: VoiceConnection): PlayerSubscription {
    const existing = [...this.subs].find((s) => s.connection === connection);
    if (existing !== undefined) return existing;
    const subscription = new PlayerSubscription(connection, this);
    this.subs.add(subscription);
    connection.on('stateChange', this.reevaluate);
    this.emit('subscribe', subscription);
    this.checkSubscribers();
    return subscription;
  }

  /** @internal */
  removeSubscription(subscription: PlayerSubscription): void {
    if (!this.subs.delete(subscription)) return;
    subscription.connection.off('stateChange', this.reevaluate);
    this.emit('unsubscribe', subscription);
    this.checkSubscribers();
  }

  private onTrackStart(track: Track): void {
    const state = this.current;
    const resource = this.byTrack.get(track);
    if (resource === undefined) return;
    resource.started = true;
    resource.startFrame = this.voxcord.stats.framesSent;
    if (state.status === AudioPlayerStatus.Buffering && state.resource === resource)
      this.setState(this.playingState(resource));
  }

  private onTrackEnd(track: Track, reason: string): void {
    const resource = this.byTrack.get(track);
    if (resource === undefined) return;
    this.byTrack.delete(track);
    // voxcord has already let go of the track: its length is the frames produced since it started
    // (a compat player plays one track at a time, without overlays or seeks).
    resource.playedMs =
      resource.startFrame === undefined ? 0 : (this.voxcord.stats.framesSent - resource.startFrame) * 20;
    resource.position = undefined;
    resource.ended = true;
    if (reason === 'replaced') return;
    // @discordjs/voice goes Idle once the resource's last frame has been sent; voxcord's trackEnd
    // comes when that frame was produced, up to ~0.5 s earlier. A bot that destroys the connection
    // on Idle must not cut that off.
    if (reason === 'finished') void this.voxcord.drained().then(() => this.idleAfter(resource));
    else this.idleAfter(resource);
  }

  /** Idle, if `resource` is still the one the player is on. */
  private idleAfter(resource: AudioResource): void {
    const state = this.current;
    if (state.status === AudioPlayerStatus.Idle || state.resource !== resource) return;
    this.setState({ status: AudioPlayerStatus.Idle });
    this.checkSubscribers();
  }

  private onTrackError(track: Track, error: VoxcordError): void {
    const resource = this.byTrack.get(track);
    if (resource === undefined) return;
    // An 'error' nobody listens to would throw in EventEmitter; voxcord never crashes the bot for it.
    if (this.listenerCount('error') > 0) this.emit('error', new AudioPlayerError(error, resource));
    else this.emit('debug', `unhandled audio player error: ${error.message}`);
  }

  private playingState(resource: AudioResource): AudioPlayerState {
    const player = this.voxcord;
    return {
      status: AudioPlayerStatus.Playing,
      resource,
      get missedFrames() {
        return player.missedFrames;
      },
      get playbackDuration() {
        return resource.playbackDuration;
      },
    };
  }

  private pausedState(
    status: AudioPlayerStatus.Paused | AudioPlayerStatus.AutoPaused,
    resource: AudioResource,
  ): AudioPlayerState {
    return {
      status,
      resource,
      silencePacketsRemaining: 0,
      get playbackDuration() {
        return resource.playbackDuration;
      },
    };
  }

  /**
   * voxcord's player follows the Ready connections (its noSubscriber does the rest); the status
   * says at once what it will do, as @discordjs/voice's does.
   */
  private checkSubscribers(): void {
    const ready = new Set(this.playable);
    for (const connection of [...this.attachedTo]) {
      if (ready.has(connection)) continue;
      this.attachedTo.delete(connection);
      this.voxcord.detach(connection.voxcord);
    }
    for (const connection of ready) {
      if (this.attachedTo.has(connection)) continue;
      this.attachedTo.add(connection);
      this.voxcord.attach(connection.voxcord);
    }
    const state = this.current;
    if (
      ready.size === 0 &&
      this.behaviors.noSubscriber === NoSubscriberBehavior.Pause &&
      (state.status === AudioPlayerStatus.Buffering || state.status === AudioPlayerStatus.Playing)
    ) {
      this.setState(this.pausedState(AudioPlayerStatus.AutoPaused, state.resource));
    }
    this.sync();
  }

  /** Follows voxcord's status: autopaused, playing again, or stopped by NoSubscriberBehavior.Stop. */
  private sync(): void {
    const state = this.current;
    if (state.status === AudioPlayerStatus.Idle || state.status === AudioPlayerStatus.Paused) return;
    switch (this.voxcord.status) {
      case 'autopaused':
        if (state.status !== AudioPlayerStatus.AutoPaused)
          this.setState(this.pausedState(AudioPlayerStatus.AutoPaused, state.resource));
        return;
      case 'playing':
        if (state.status === AudioPlayerStatus.AutoPaused && this.playable.length > 0)
          this.setState(
            state.resource.started
              ? this.playingState(state.resource)
              : { status: AudioPlayerStatus.Buffering, resource: state.resource },
          );
        return;
      case 'idle':
        // Stopped without a track end (NoSubscriberBehavior.Stop before the resource started).
        this.onTrackEnd(state.resource.track, 'stopped');
        return;
      default:
        return;
    }
  }

  /**
   * @discordjs/voice stops the player after `maxMissedFrames` consecutive frames its resource had
   * nothing for (a stalled stream); voxcord's `missedFrames` is that count, checked every frame.
   */
  private watchMissedFrames(playing: boolean): void {
    const max = this.behaviors.maxMissedFrames;
    if (!playing || !Number.isFinite(max)) {
      if (this.missWatch !== undefined) clearInterval(this.missWatch);
      this.missWatch = undefined;
      return;
    }
    this.missWatch ??= setInterval(() => {
      const missed = this.voxcord.missedFrames;
      if (this.current.status !== AudioPlayerStatus.Playing || missed < max) return;
      this.emit('debug', `${missed} frames missed (maxMissedFrames ${max}): stopping the resource`);
      this.stop();
    }, 20);
    this.missWatch.unref();
  }

  private setState(next: AudioPlayerState): void {
    const old = this.current;
    this.current = next;
    this.watchMissedFrames(next.status === AudioPlayerStatus.Playing);
    this.emit('stateChange', old, next);
    if (
      old.status !== next.status ||
      ('resource' in old && 'resource' in next && old.resource !== next.resource)
    )
      this.emit(next.status, old, next);
  }
}

export function createAudioPlayer(options?: CreateAudioPlayerOptions): AudioPlayer {
  return new AudioPlayer(options);
}
