/**
 * VoiceConnection: one bot's presence in one guild's voice. It asks the main gateway (through the
 * adapter) to join, collects the credentials, runs a VoiceSession on them, and keeps the call
 * alive across what Discord does to it (voice-gateway.md §2 and §8). Every decision (reconnect
 * with backoff, final closes, moves, timeouts, leave and destroy) is the pure reducer in
 * connection-state.ts, on top of the join reducer (join-state.ts); this class is its shell: it
 * feeds it the adapter's dispatches, the sessions' states and its timers, and carries out the
 * effects (op 4, sessions, timers, events).
 *
 * Audio: `playOpus()` returns a playback that moves to each new session and continues where it
 * was (playback.ts); an audio player follows the connection the same way (`player.attach(connection)`
 * and `connection.subscribe(player)` both end in playOpus()). `subscribe()` is otherwise the
 * session hook for what observes sessions (the receiver, recorders). `receiver` is one
 * VoiceReceiver that follows the connection across sessions and closes with it.
 */
import type { Readable } from 'node:stream';
import { VOICE_JOIN_TIMEOUT_MS } from '../protocol/constants.js';
import { VoxcordError, toError } from '../errors.js';
import {
  checkArg,
  checkDelay,
  checkMethods,
  checkNumber,
  checkOptions,
  invalidArgument,
} from '../util/args.js';
import { redact } from '../util/redact.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { emptySendDrops, SEND_DROP_REASONS } from '../media/media-engine.js';
import type { MediaEngine, SendDropReason } from '../media/media-engine.js';
import { checkAudioSource, VoiceSession } from '../voice/session.js';
import type { VoiceSendStats } from '../voice/session-dave.js';
import type { VoiceSessionOptions } from '../voice/session.js';
import type { VoiceSessionState } from '../voice/session-state.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';
import { createVoiceStateUpdatePayload, isVoiceServerData, isVoiceStateData } from './adapter.js';
import type { VoiceAdapterCreator, VoiceAdapterImplementerMethods } from './adapter.js';
import { resolveBackoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import type { ConnectCause, JoinState, VoiceCredentials } from './join-state.js';
import { initialConnection, reduceConnection } from './connection-state.js';
import type {
  ConnectionEffect,
  ConnectionEvent,
  ConnectionMachine,
  ConnectionPolicy,
  ConnectionState,
  ReconnectAttempt,
} from './connection-state.js';
import { ConnectionPlayback, isConnectionSender } from './playback.js';
import type { Playback, SessionSubscriber } from './playback.js';
import { VoiceReceiver } from '../receive/receiver.js';
import { attachReceiver, lazyDecoderFactory } from '../receive/session-feed.js';
import type { CreateVoiceReceiverOptions } from '../receive/session-feed.js';

export type { DisconnectReason, DestroyReason, ReconnectAttempt } from './connection-state.js';

/** Sessions whose send counts are kept apart before being folded into one total. */
const MAX_TRACKED_SESSIONS = 8;

function addSendStats(into: VoiceSendStats, from: VoiceSendStats): void {
  into.framesSent += from.framesSent;
  into.framesCarried += from.framesCarried;
  into.emptyTicks += from.emptyTicks;
  for (const reason of SEND_DROP_REASONS) into.framesDropped[reason] += from.framesDropped[reason];
  // Sessions are added oldest first: the last one's is the live one.
  into.countedAt = from.countedAt;
}

/** The connection's state (the pure policy in connection-state.ts decides every change). */
export type VoiceConnectionState = ConnectionState<VoiceSession>;

export type VoiceConnectionStatus = VoiceConnectionState['status'];

export type VoiceConnectionEvents = {
  stateChange: [oldState: VoiceConnectionState, newState: VoiceConnectionState];
  /** Failures (also in the state). Only emitted when listened to; otherwise sent to 'debug'. */
  error: [error: VoxcordError];
  /** Diagnostics; details are redacted. */
  debug: [message: string, details?: unknown];
  reconnectAttempt: [attempt: ReconnectAttempt];
  /** A new voice session was started (join, region move, channel move, rejoin). */
  session: [session: VoiceSession, cause: ConnectCause];
  /**
   * Audio frames started being dropped instead of sent (once per run; counted in `sendStats`):
   * see VoiceSession's 'sendDrop'. 'alone' means nobody else is in the DAVE call to hear them.
   */
  sendDrop: [reason: SendDropReason];
};

export interface JoinConfig {
  guildId: string;
  channelId: string;
  selfMute: boolean;
  selfDeaf: boolean;
  group: string;
}

export interface VoiceConnectionOptions {
  guildId: string;
  channelId: string;
  selfMute?: boolean;
  selfDeaf?: boolean;
  group?: string;
  adapterCreator: VoiceAdapterCreator;
  engine: MediaEngine;
  /** Close `engine` when the connection is destroyed (it was created for this connection). */
  ownsEngine?: boolean;
  /** Highest DAVE version offered in Identify (default: the VoiceSession's default). */
  maxDaveProtocolVersion?: number;
  /** Voice websocket TLS: true (default) wss, false ws, or options (e.g. the local server's CA). */
  tls?: VoiceTlsOptions;
  /** How long to wait for both dispatches after op 4 (default VOICE_JOIN_TIMEOUT_MS). */
  joinTimeoutMs?: number;
  /** Voice handshake step timeout, passed to each VoiceSession. */
  handshakeTimeoutMs?: number;
  reconnect?: Partial<BackoffOptions>;
  /** Random source for the backoff jitter (tests pass a fixed one). */
  random?: () => number;
  /** Attached as a 'debug' listener before the join starts (the constructor already sends op 4). */
  debug?: (message: string, details?: unknown) => void;
  /** Builds the sessions (tests substitute fakes). */
  createSession?: (options: VoiceSessionOptions) => VoiceSession;
  /**
   * Options of `connection.receiver` (jitter buffer, speaking delay, `createDecoder`...). Without
   * `createDecoder` an Opus library is loaded with loadOpus() when the receiver is first used.
   */
  receiver?: Omit<CreateVoiceReceiverOptions, 'decrypt'>;
}

const ENGINE_METHODS = ['openChannel', 'close'] as const;

/**
 * The options joinVoiceChannel and a VoiceConnection share, checked before anything starts (an
 * engine is optional for joinVoiceChannel, required by the connection).
 */
export function checkJoinOptions(options: Partial<VoiceConnectionOptions>): void {
  checkArg(options, 'options', 'object');
  checkArg(options.guildId, 'guildId', 'string');
  checkArg(options.channelId, 'channelId', 'string');
  if (typeof options.adapterCreator !== 'function')
    throw invalidArgument(
      'adapterCreator',
      'a function (e.g. guild.voiceAdapterCreator)',
      options.adapterCreator,
    );
  checkArg(options.selfMute, 'selfMute', 'boolean', 'optional');
  checkArg(options.selfDeaf, 'selfDeaf', 'boolean', 'optional');
  checkArg(options.group, 'group', 'string', 'optional');
  checkMethods(options.engine, 'engine', 'a MediaEngine', ENGINE_METHODS, 'optional');
  checkNumber(options.maxDaveProtocolVersion, 'maxDaveProtocolVersion', {
    min: 0,
    integer: true,
    optional: true,
  });
  if (typeof options.tls !== 'boolean') checkOptions(options.tls, 'tls');
  checkDelay(options.joinTimeoutMs, 'joinTimeoutMs', 'optional');
  checkDelay(options.handshakeTimeoutMs, 'handshakeTimeoutMs', 'optional');
  resolveBackoff(options.reconnect); // refuses bad reconnect options before an engine starts
  for (const key of ['debug', 'random', 'createSession'] as const)
    checkArg(options[key], key, 'function', 'optional');
  checkOptions(options.receiver, 'receiver');
}

export class VoiceConnection extends TypedEmitter<VoiceConnectionEvents> {
  readonly joinConfig: JoinConfig;
  private readonly options: VoiceConnectionOptions;
  private readonly policy: ConnectionPolicy;
  /** The state announced so far (the machine runs ahead while a step's effects are carried out). */
  private current: VoiceConnectionState = { status: 'signalling' };
  private adapter: VoiceAdapterImplementerMethods | undefined;
  // ES private: its join state holds the voice token, which must not show up when a connection is logged.
  #machine: ConnectionMachine<VoiceSession>;
  private activeSession: VoiceSession | undefined;
  private sessionCleanup: (() => void) | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** The answer of the last op 4 (what rejoin() and leave() return). */
  private lastOp4Sent = false;
  private deferred: Array<() => void> | undefined;
  private readonly subscribers = new Set<SessionSubscriber>();
  private playback: ConnectionPlayback | undefined;
  private voiceReceiver: VoiceReceiver | undefined;
  /** Sessions this connection has had, for sendStats (the oldest are folded into `sendBase`). */
  private readonly sendSessions: VoiceSession[] = [];
  private readonly sendBase: VoiceSendStats = {
    framesSent: 0,
    framesDropped: emptySendDrops(),
    framesCarried: 0,
    emptyTicks: 0,
  };

  constructor(options: VoiceConnectionOptions) {
    super();
    checkJoinOptions(options);
    checkMethods(options.engine, 'engine', 'a MediaEngine', ENGINE_METHODS);
    this.options = options;
    this.joinConfig = {
      guildId: options.guildId,
      channelId: options.channelId,
      selfMute: options.selfMute ?? false,
      selfDeaf: options.selfDeaf ?? true,
      group: options.group ?? 'default',
    };
    this.policy = {
      guildId: options.guildId,
      backoff: resolveBackoff(options.reconnect),
      joinTimeoutMs: options.joinTimeoutMs ?? VOICE_JOIN_TIMEOUT_MS,
      random: options.random ?? Math.random,
    };
    this.#machine = initialConnection(options.guildId, options.channelId);
    if (options.debug !== undefined) this.on('debug', options.debug);
    // Events raised while the constructor runs (the join starts here) go out once the caller
    // has had a chance to attach listeners.
    const deferred: Array<() => void> = [];
    this.deferred = deferred;
    this.start();
    this.deferred = undefined;
    if (deferred.length > 0) queueMicrotask(() => deferred.forEach((emit) => emit()));
  }

  get state(): VoiceConnectionState {
    return this.current;
  }

  /** The current voice session, if one is running. */
  get session(): VoiceSession | undefined {
    return this.activeSession;
  }

  /**
   * Received audio of this connection: per-user streams, the mixed stream, speaking events and
   * stats. Created on first access; it is fed by the current session and by every later one
   * (rejoins, region and channel moves), and closed (every stream ended) when the connection is
   * destroyed.
   */
  get receiver(): VoiceReceiver {
    if (this.voiceReceiver !== undefined) return this.voiceReceiver;
    const { tickIntervalMs, ...options } = this.options.receiver ?? {};
    const receiver = new VoiceReceiver({
      ...options,
      createDecoder: options.createDecoder ?? lazyDecoderFactory().createDecoder,
    });
    this.voiceReceiver = receiver;
    if (this.current.status === 'destroyed') {
      receiver.close();
      return receiver;
    }
    const clock = tickIntervalMs === undefined ? {} : { tickIntervalMs };
    let detach: (() => void) | undefined;
    const unsubscribe = this.subscribe({
      attach: (session) => {
        detach?.();
        detach = attachReceiver(receiver, session, clock);
      },
      detach: () => {
        detach?.();
        detach = undefined;
      },
    });
    receiver.once('close', () => {
      unsubscribe();
      detach?.();
      detach = undefined;
    });
    return receiver;
  }

  /**
   * What became of the audio frames sent through this connection, over all its sessions: sent,
   * dropped by reason ('alone', 'no-key', 'session-ended', 'stopped'), carried over to the next
   * session.
   */
  get sendStats(): VoiceSendStats {
    const total: VoiceSendStats = {
      framesSent: this.sendBase.framesSent,
      framesDropped: { ...this.sendBase.framesDropped },
      framesCarried: this.sendBase.framesCarried,
      emptyTicks: this.sendBase.emptyTicks,
    };
    for (const session of this.sendSessions) addSendStats(total, session.sendStats);
    return total;
  }

  /**
   * The collected gateway credentials state, for diagnostics: a copy in which the voice token and
   * the session id read `[redacted]` (secrets never reach logs or util.inspect).
   */
  get gatewayState(): Readonly<JoinState> {
    return redact(this.#machine.join) as JoinState;
  }

  // ---- public API ----

  /**
   * Sends op 4 again, optionally for another channel or flags. Resets the reconnect attempt count.
   * Moving to another channel drops the current session at once. Returns false if the adapter
   * could not send (see the state). Throws DESTROYED after destroy().
   */
  rejoin(config: { channelId?: string; selfMute?: boolean; selfDeaf?: boolean } = {}): boolean {
    this.assertAlive();
    checkOptions(config);
    checkArg(config.channelId, 'channelId', 'string', 'optional');
    checkArg(config.selfMute, 'selfMute', 'boolean', 'optional');
    checkArg(config.selfDeaf, 'selfDeaf', 'boolean', 'optional');
    if (config.selfMute !== undefined) this.joinConfig.selfMute = config.selfMute;
    if (config.selfDeaf !== undefined) this.joinConfig.selfDeaf = config.selfDeaf;
    this.lastOp4Sent = false;
    this.dispatch(
      config.channelId === undefined ? { type: 'rejoin' } : { type: 'rejoin', channelId: config.channelId },
    );
    return this.lastOp4Sent && !this.isDestroyed();
  }

  /** Leaves the channel (op 4 with channel_id null). The connection can rejoin() later. */
  leave(): boolean {
    if (this.current.status === 'destroyed') return false;
    this.lastOp4Sent = false;
    this.dispatch({ type: 'leave' });
    return this.lastOp4Sent && !this.isDestroyed();
  }

  /** Alias of leave(), the @discordjs/voice name. */
  disconnect(): boolean {
    return this.leave();
  }

  /** Leaves (op 4 with channel_id null), releases the adapter and every socket. Final. */
  destroy(): void {
    if (this.current.status === 'destroyed') return;
    this.dispatch({ type: 'destroy' });
  }

  /**
   * Sends Opus frames on the current and every later session: after a region move, channel move
   * or rejoin the new session continues from the frame where the old one stopped. Replaces any
   * previous playback.
   */
  playOpus(source: AsyncIterable<Uint8Array> | Readable): Playback {
    this.assertAlive();
    checkAudioSource(source);
    this.stopPlayback();
    const playback = new ConnectionPlayback(source, (frames) => {
      this.sendBase.framesDropped.stopped += frames;
    });
    this.playback = playback;
    const unsubscribe = this.subscribe(playback);
    playback.onSettled = () => {
      unsubscribe();
      if (this.playback === playback) this.playback = undefined;
    };
    return playback;
  }

  /**
   * The session hook: `attach` now with the current session (if any) and with every new one,
   * `detach` before a session is destroyed. Returns the unsubscribe function. An audio player
   * (anything with `drained()`) is attached to the connection itself instead, so it sends through
   * `playOpus()` and its unsent frames move to the next session.
   */
  subscribe(subscriber: SessionSubscriber): () => void {
    checkMethods(subscriber, 'subscriber', 'an audio player or a session subscriber', ['attach', 'detach']);
    if (isConnectionSender(subscriber)) {
      // An audio player: it follows the connection through playOpus(), like every sender.
      this.safely(() => subscriber.attach(this));
      return () => subscriber.detach(this);
    }
    this.subscribers.add(subscriber);
    if (this.activeSession !== undefined)
      this.safely(() => subscriber.attach(this.activeSession as VoiceSession));
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  // ---- the reducer and its effects ----

  private dispatch(event: ConnectionEvent<VoiceSession>): void {
    const step = reduceConnection(this.#machine, event, this.policy);
    this.#machine = step.state;
    this.joinConfig.channelId = step.state.channelId;
    this.syncJoinTimer();
    const destroying = step.state.status.status === 'destroyed';
    for (const effect of step.effects) {
      // An effect destroyed the connection (a throwing adapter): the rest of this step is moot.
      if (!destroying && this.#machine.status.status === 'destroyed') return;
      this.apply(effect);
    }
  }

  private apply(effect: ConnectionEffect<VoiceSession>): void {
    switch (effect.type) {
      case 'state':
        return this.announce(effect.state);
      case 'sendOp4': {
        const sent = this.sendPayload(effect.channelId);
        this.lastOp4Sent = sent;
        return this.dispatch({ type: 'op4', purpose: effect.purpose, sent });
      }
      case 'startSession':
        return this.startSession(effect.credentials, effect.cause);
      case 'dropSession':
        return this.dropSession();
      case 'stopPlayback':
        return this.stopPlayback();
      case 'armReconnect':
        this.clearReconnectTimer();
        this.reconnectTimer = setTimeout(() => {
          this.reconnectTimer = undefined;
          this.dispatch({ type: 'reconnectDue' });
        }, effect.delayMs);
        return;
      case 'cancelReconnect':
        return this.clearReconnectTimer();
      case 'reconnectAttempt': {
        const attempt = effect.attempt;
        return this.later(() => this.emit('reconnectAttempt', attempt));
      }
      case 'error':
        return this.emitError(effect.error);
      case 'debug':
        return this.debug(effect.message);
      case 'releaseAdapter': {
        const adapter = this.adapter;
        this.adapter = undefined;
        if (!effect.destroy || adapter === undefined) return;
        try {
          adapter.destroy();
        } catch (err) {
          this.debug(`adapter.destroy() threw: ${toError(err).message}`);
        }
        return;
      }
      case 'close':
        this.subscribers.clear();
        this.voiceReceiver?.close();
        return;
      case 'closeEngine':
        if (this.options.ownsEngine === true) {
          this.options.engine
            .close()
            .catch((err: unknown) => this.debug(`engine close failed: ${toError(err).message}`));
        }
        return;
    }
  }

  private announce(next: VoiceConnectionState): void {
    const old = this.current;
    this.current = next;
    this.debug(`state ${old.status} -> ${next.status}${'reason' in next ? ` (${next.reason})` : ''}`);
    this.emit('stateChange', old, next);
  }

  /** The join timer runs while the join reducer waits for dispatches. */
  private syncJoinTimer(): void {
    if (this.#machine.join.phase === 'awaiting' && this.#machine.status.status !== 'destroyed') {
      if (this.joinTimer === undefined) {
        this.joinTimer = setTimeout(() => {
          this.joinTimer = undefined;
          this.dispatch({ type: 'gateway', event: { type: 'timeout' } });
        }, this.policy.joinTimeoutMs);
      }
    } else if (this.joinTimer !== undefined) {
      clearTimeout(this.joinTimer);
      this.joinTimer = undefined;
    }
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  // ---- adapter side ----

  private start(): void {
    try {
      this.adapter = this.options.adapterCreator({
        onVoiceServerUpdate: (data: unknown) => this.onVoiceServer(data),
        onVoiceStateUpdate: (data: unknown) => this.onVoiceState(data),
        destroy: () => this.dispatch({ type: 'adapterDestroyed' }),
      });
    } catch (err) {
      this.adapterFailed(err, 'adapterCreator threw');
      return;
    }
    if (
      typeof this.adapter !== 'object' ||
      this.adapter === null ||
      typeof this.adapter.sendPayload !== 'function' ||
      typeof this.adapter.destroy !== 'function'
    ) {
      this.adapter = undefined;
      this.adapterFailed(undefined, 'adapterCreator did not return { sendPayload, destroy }');
      return;
    }
    this.dispatch({ type: 'start' });
  }

  private onVoiceState(data: unknown): void {
    if (this.current.status === 'destroyed') return;
    if (!isVoiceStateData(data)) return this.malformedDispatch('VOICE_STATE_UPDATE');
    this.debug('VOICE_STATE_UPDATE', data);
    this.dispatch({ type: 'gateway', event: { type: 'voiceState', data } });
  }

  private onVoiceServer(data: unknown): void {
    if (this.current.status === 'destroyed') return;
    if (!isVoiceServerData(data)) return this.malformedDispatch('VOICE_SERVER_UPDATE');
    this.debug('VOICE_SERVER_UPDATE', data);
    this.dispatch({ type: 'gateway', event: { type: 'voiceServer', data } });
  }

  /**
   * The adapter handed over something that is not dispatch data (null, numeric ids...). Nothing is
   * thrown back into the gateway library that called us: the dispatch is ignored and reported.
   */
  private malformedDispatch(name: string): void {
    this.emitError(
      new VoxcordError('ADAPTER_ERROR', `the gateway adapter delivered a malformed ${name} (ignored)`, {
        details: { guildId: this.joinConfig.guildId },
      }),
    );
  }

  /** Sends op 4 for `channelId`; false if not sent. Never throws: a throwing adapter destroys us. */
  private sendPayload(channelId: string | null): boolean {
    const adapter = this.adapter;
    if (adapter === undefined) return false;
    const payload = createVoiceStateUpdatePayload({
      guildId: this.joinConfig.guildId,
      channelId,
      selfMute: this.joinConfig.selfMute,
      selfDeaf: this.joinConfig.selfDeaf,
    });
    try {
      const sent = adapter.sendPayload(payload);
      this.debug(`op 4 ${sent ? 'sent' : 'not sent (adapter unavailable)'}`, payload.d);
      return sent;
    } catch (err) {
      this.adapterFailed(err, 'sendPayload threw');
      return false;
    }
  }

  private adapterFailed(cause: unknown, what: string): void {
    const error = new VoxcordError('ADAPTER_ERROR', `the gateway adapter failed: ${what}`, {
      cause: cause === undefined ? undefined : toError(cause),
      details: { guildId: this.joinConfig.guildId },
    });
    this.dispatch({ type: 'adapterFailed', error });
  }

  // ---- sessions ----

  private startSession(credentials: VoiceCredentials, cause: ConnectCause): void {
    const sessionOptions: VoiceSessionOptions = {
      endpoint: credentials.endpoint,
      serverId: credentials.serverId,
      userId: credentials.userId,
      sessionId: credentials.sessionId,
      token: credentials.token,
      channelId: credentials.channelId,
      engine: this.options.engine,
    };
    // Unset = the session's default (it offers DAVE once it can do it).
    if (this.options.maxDaveProtocolVersion !== undefined)
      sessionOptions.maxDaveProtocolVersion = this.options.maxDaveProtocolVersion;
    if (this.options.tls !== undefined) sessionOptions.tls = this.options.tls;
    if (this.options.handshakeTimeoutMs !== undefined)
      sessionOptions.handshakeTimeoutMs = this.options.handshakeTimeoutMs;
    let session: VoiceSession;
    try {
      session = (this.options.createSession ?? ((o: VoiceSessionOptions) => new VoiceSession(o)))(
        sessionOptions,
      );
    } catch (err) {
      const error =
        err instanceof VoxcordError
          ? err
          : new VoxcordError('INVALID_ARGUMENT', 'could not create the voice session', {
              cause: toError(err),
            });
      this.dispatch({ type: 'sessionFailed', error });
      return;
    }
    const onState = (_old: VoiceSessionState, next: VoiceSessionState): void => {
      if (session === this.activeSession) this.dispatch({ type: 'sessionState', session, state: next });
    };
    const onDebug = (message: string): void => this.debug(`session: ${message}`);
    session.on('stateChange', onState);
    session.on('debug', onDebug);
    // Kept after the session is dropped: frames left queued are counted (and reported) just after.
    session.on('sendDrop', (reason) => this.emit('sendDrop', reason));
    this.trackSendStats(session);
    this.activeSession = session;
    this.sessionCleanup = () => {
      session.off('stateChange', onState);
      session.off('debug', onDebug);
    };
    this.debug(`starting a voice session (${cause}) on ${credentials.endpoint}`);
    this.emit('session', session, cause);
    this.dispatch({ type: 'sessionStarted', session });
    for (const subscriber of [...this.subscribers]) this.safely(() => subscriber.attach(session));
    try {
      session.connect();
    } catch (err) {
      this.debug(`session.connect() threw: ${toError(err).message}`);
    }
  }

  private trackSendStats(session: VoiceSession): void {
    // A fake session (tests) may not count.
    if ((session as Partial<VoiceSession>).sendStats === undefined) return;
    this.sendSessions.push(session);
    // Long gone sessions have final counts: fold them in rather than keep them.
    while (this.sendSessions.length > MAX_TRACKED_SESSIONS)
      addSendStats(this.sendBase, this.sendSessions.shift()!.sendStats);
  }

  /** Detaches subscribers, removes our listeners and destroys the session. */
  private dropSession(): void {
    const session = this.activeSession;
    if (session === undefined) return;
    this.activeSession = undefined;
    this.sessionCleanup?.();
    this.sessionCleanup = undefined;
    for (const subscriber of [...this.subscribers]) this.safely(() => subscriber.detach(session));
    try {
      session.destroy();
    } catch (err) {
      this.debug(`session.destroy() threw: ${toError(err).message}`);
    }
  }

  // ---- plumbing ----

  private stopPlayback(): void {
    const playback = this.playback;
    this.playback = undefined;
    playback?.stop();
  }

  /** Re-reads the state (calls above may have destroyed us; TypeScript's narrowing cannot tell). */
  private isDestroyed(): boolean {
    return this.current.status === 'destroyed';
  }

  private assertAlive(): void {
    if (this.current.status === 'destroyed')
      throw new VoxcordError('DESTROYED', 'the voice connection was destroyed');
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.debug(`session subscriber threw: ${toError(err).message}`);
    }
  }

  private emitError(error: VoxcordError): void {
    this.later(() => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else this.debug(`error: ${error.code}: ${error.message}`);
    });
  }

  private later(emit: () => void): void {
    if (this.deferred !== undefined) this.deferred.push(emit);
    else emit();
  }

  private debug(message: string, details?: unknown): void {
    if (this.listenerCount('debug') === 0) return;
    if (details === undefined) this.emit('debug', message);
    else this.emit('debug', message, redact(details));
  }
}
