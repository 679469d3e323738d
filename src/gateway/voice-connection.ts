/**
 * VoiceConnection: one bot's presence in one guild's voice. It asks the main gateway (through the
 * adapter) to join, collects the credentials (join-state.ts), runs a VoiceSession on them, and
 * keeps the call alive across what Discord does to it (voice-gateway.md §2 and §8):
 *
 * - the session resumes by itself on resumable drops (< 4000, 4015, missed ACKs);
 * - 'rejoin' closes (4004, 4006, 4009, 4011, handshake/UDP failures) -> op 4 again after an
 *   exponential backoff with jitter and a cap; every attempt is a 'reconnectAttempt' event;
 * - 4014 (kicked), 4021 (rate limited), 4022 (call ended), 4017 (DAVE required) and other 'final'
 *   codes -> 'disconnected' with willReconnect false and a clear reason; no op 4 is re-sent. If
 *   Discord itself hands over new credentials afterwards (a move, a new server), they are followed;
 * - endpoint null -> 'disconnected' (endpoint-lost) until a new endpoint; a new VOICE_SERVER_UPDATE
 *   or a channel move -> a fresh session;
 * - no answer to op 4 within the join timeout -> JOIN_TIMEOUT (a full channel sends nothing);
 * - an adapter that throws -> ADAPTER_ERROR and 'destroyed'.
 *
 * Audio: `playOpus()` returns a playback that moves to each new session and continues where it
 * was; `subscribe()` is the same hook for other senders (an audio player). `receiver` is one
 * VoiceReceiver that follows the connection across sessions and closes with it.
 */
import type { Readable } from 'node:stream';
import { VOICE_JOIN_TIMEOUT_MS, VoiceCloseCode } from '../protocol/constants.js';
import { VoxcordError, toError } from '../errors.js';
import { redact } from '../util/redact.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { emptySendDrops, SEND_DROP_REASONS } from '../media/media-engine.js';
import type { MediaEngine, SendDropReason } from '../media/media-engine.js';
import { VoiceSession } from '../voice/session.js';
import type { VoiceSendStats } from '../voice/session-dave.js';
import type { VoiceSessionOptions } from '../voice/session.js';
import type { VoiceSessionState } from '../voice/session-state.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';
import { createVoiceStateUpdatePayload, isVoiceServerData, isVoiceStateData } from './adapter.js';
import type { VoiceAdapterCreator, VoiceAdapterImplementerMethods } from './adapter.js';
import { backoffDelay, resolveBackoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { initialJoinState, reduceJoin } from './join-state.js';
import type { ConnectCause, JoinEffect, JoinEvent, JoinState, VoiceCredentials } from './join-state.js';
import { ConnectionPlayback } from './playback.js';
import type { Playback, SessionSubscriber } from './playback.js';
import { VoiceReceiver } from '../receive/receiver.js';
import { attachReceiver, lazyDecoderFactory } from '../receive/session-feed.js';
import type { CreateVoiceReceiverOptions } from '../receive/session-feed.js';

/** Sessions whose send counts are kept apart before being folded into one total. */
const MAX_TRACKED_SESSIONS = 8;

function addSendStats(into: VoiceSendStats, from: VoiceSendStats): void {
  into.framesSent += from.framesSent;
  into.framesCarried += from.framesCarried;
  into.emptyTicks += from.emptyTicks;
  for (const reason of SEND_DROP_REASONS) into.framesDropped[reason] += from.framesDropped[reason];
}

export type DisconnectReason =
  /** VOICE_SERVER_UPDATE with `endpoint: null`: waiting for Discord to allocate a new server. */
  | 'endpoint-lost'
  /** Waiting out the backoff before the next op 4 (see `attempt`, `delayMs`). */
  | 'reconnecting'
  /** leave() was called. */
  | 'left'
  /** Our VOICE_STATE_UPDATE says we are in no channel (disconnected by a moderator, channel deleted). */
  | 'left-channel'
  /** Close 4014: kicked, moved out, or the main gateway session dropped. */
  | 'kicked'
  /** Close 4021. */
  | 'rate-limited'
  /** Close 4022: the call ended. A later VOICE_SERVER_UPDATE, if Discord sends one, is followed. */
  | 'call-terminated'
  /** Close 4017: the channel requires DAVE and we did not offer it. */
  | 'dave-required'
  /** Another close code or failure that reconnecting would not fix (see `error`). */
  | 'session-failed'
  /** No VOICE_STATE_UPDATE / VOICE_SERVER_UPDATE within the join timeout (e.g. a full channel). */
  | 'join-timeout'
  /** The adapter could not send op 4 (its shard is down) for `maxAttempts` tries. */
  | 'adapter-unavailable'
  /** Every reconnect attempt failed. */
  | 'reconnect-failed';

export type DestroyReason =
  /** destroy() was called. */
  | 'destroyed'
  /** The adapter threw; the connection cannot talk to the gateway. */
  | 'adapter-error'
  /** The adapter called `destroy()` (its guild or gateway client went away). */
  | 'adapter-destroyed';

export type VoiceConnectionState =
  /** Op 4 sent; waiting for VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE. */
  | { status: 'signalling' }
  /** A voice session is handshaking (or resuming, keeping its UDP socket and keys). */
  | { status: 'connecting'; session: VoiceSession; resuming: boolean }
  /** Media may flow. */
  | { status: 'ready'; session: VoiceSession }
  | {
      status: 'disconnected';
      reason: DisconnectReason;
      /** True when voxcord will act by itself (backoff running, or waiting for a new endpoint). */
      willReconnect: boolean;
      closeCode?: number;
      error?: VoxcordError;
      /** For 'reconnecting': which attempt is next and when. */
      attempt?: number;
      delayMs?: number;
    }
  | { status: 'destroyed'; reason: DestroyReason; error?: VoxcordError };

export type VoiceConnectionStatus = VoiceConnectionState['status'];

/** One reconnect decision, emitted before the wait starts. */
export interface ReconnectAttempt {
  /** 1-based; reset when the connection reaches 'ready' and by rejoin(). */
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  /** Why: the session's reason, 'adapter-unavailable', or 'join-timeout'. */
  reason: string;
  closeCode?: number;
}

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

function finalReason(closeCode: number | undefined): DisconnectReason {
  switch (closeCode) {
    case VoiceCloseCode.Disconnected:
      return 'kicked';
    case VoiceCloseCode.RateLimited:
      return 'rate-limited';
    case VoiceCloseCode.CallTerminated:
      return 'call-terminated';
    case VoiceCloseCode.DaveRequired:
      return 'dave-required';
    default:
      return 'session-failed';
  }
}

/** Final reasons that are news, not failures: no 'error' event for them. */
const QUIET_REASONS: ReadonlySet<DisconnectReason> = new Set([
  'left',
  'left-channel',
  'kicked',
  'call-terminated',
]);

export class VoiceConnection extends TypedEmitter<VoiceConnectionEvents> {
  readonly joinConfig: JoinConfig;
  private readonly options: VoiceConnectionOptions;
  private readonly backoff: BackoffOptions;
  private readonly joinTimeoutMs: number;
  private readonly random: () => number;
  private current: VoiceConnectionState = { status: 'signalling' };
  private adapter: VoiceAdapterImplementerMethods | undefined;
  // ES private: holds the voice token, which must not show up when a connection is logged.
  #join: JoinState;
  private activeSession: VoiceSession | undefined;
  private sessionCleanup: (() => void) | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Reconnect attempts since the last 'ready' (or rejoin()). */
  private attempts = 0;
  /** The current op 4 was sent by a reconnect attempt (a timeout then counts as a failed attempt). */
  private reconnecting = false;
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
    for (const key of ['guildId', 'channelId'] as const) {
      if (typeof options[key] !== 'string' || options[key].length === 0)
        throw new VoxcordError('INVALID_ARGUMENT', `${key} must be a non-empty string`);
    }
    if (typeof options.adapterCreator !== 'function')
      throw new VoxcordError('INVALID_ARGUMENT', 'adapterCreator must be a function');
    this.options = options;
    this.joinConfig = {
      guildId: options.guildId,
      channelId: options.channelId,
      selfMute: options.selfMute ?? false,
      selfDeaf: options.selfDeaf ?? true,
      group: options.group ?? 'default',
    };
    this.backoff = resolveBackoff(options.reconnect);
    this.joinTimeoutMs = options.joinTimeoutMs ?? VOICE_JOIN_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    this.#join = initialJoinState(options.guildId);
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

  /** The collected gateway credentials state (read-only view, for diagnostics). */
  get gatewayState(): Readonly<JoinState> {
    return this.#join;
  }

  // ---- public API ----

  /**
   * Sends op 4 again, optionally for another channel or flags. Resets the reconnect attempt count.
   * Moving to another channel drops the current session at once. Returns false if the adapter
   * could not send (see the state). Throws DESTROYED after destroy().
   */
  rejoin(config: { channelId?: string; selfMute?: boolean; selfDeaf?: boolean } = {}): boolean {
    this.assertAlive();
    if (config.channelId !== undefined) {
      if (typeof config.channelId !== 'string' || config.channelId.length === 0)
        throw new VoxcordError('INVALID_ARGUMENT', 'channelId must be a non-empty string');
      this.joinConfig.channelId = config.channelId;
    }
    if (config.selfMute !== undefined) this.joinConfig.selfMute = config.selfMute;
    if (config.selfDeaf !== undefined) this.joinConfig.selfDeaf = config.selfDeaf;
    this.attempts = 0;
    this.reconnecting = false;
    this.clearReconnectTimer();
    const moving = this.#join.channelId !== null && this.#join.channelId !== this.joinConfig.channelId;
    if (moving || this.activeSession === undefined || this.current.status === 'disconnected') {
      this.dropSession();
      this.dispatch({ type: 'sessionEnded' });
    }
    return this.sendJoin();
  }

  /** Leaves the channel (op 4 with channel_id null). The connection can rejoin() later. */
  leave(): boolean {
    if (this.current.status === 'destroyed') return false;
    this.clearReconnectTimer();
    this.stopPlayback();
    this.dropSession();
    const sent = this.sendPayload(null);
    if (this.isDestroyed()) return false;
    this.dispatch({ type: 'request', channelId: null });
    this.setState({ status: 'disconnected', reason: 'left', willReconnect: false });
    return sent;
  }

  /** Alias of leave(), the @discordjs/voice name. */
  disconnect(): boolean {
    return this.leave();
  }

  /** Leaves (op 4 with channel_id null), releases the adapter and every socket. Final. */
  destroy(): void {
    if (this.current.status === 'destroyed') return;
    this.clearReconnectTimer();
    this.stopPlayback();
    this.dropSession();
    this.sendPayload(null);
    if (this.isDestroyed()) return;
    this.finish({ status: 'destroyed', reason: 'destroyed' });
  }

  /**
   * Sends Opus frames on the current and every later session: after a region move, channel move
   * or rejoin the new session continues from the frame where the old one stopped. Replaces any
   * previous playback.
   */
  playOpus(source: AsyncIterable<Uint8Array> | Readable): Playback {
    this.assertAlive();
    this.stopPlayback();
    const playback = new ConnectionPlayback(source);
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
   * `detach` before a session is destroyed. Returns the unsubscribe function.
   */
  subscribe(subscriber: SessionSubscriber): () => void {
    this.subscribers.add(subscriber);
    if (this.activeSession !== undefined)
      this.safely(() => subscriber.attach(this.activeSession as VoiceSession));
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  // ---- adapter side ----

  private start(): void {
    try {
      this.adapter = this.options.adapterCreator({
        onVoiceServerUpdate: (data: unknown) => this.onVoiceServer(data),
        onVoiceStateUpdate: (data: unknown) => this.onVoiceState(data),
        destroy: () => this.onAdapterDestroyed(),
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
    this.sendJoin();
  }

  private onVoiceState(data: unknown): void {
    if (this.current.status === 'destroyed') return;
    if (!isVoiceStateData(data)) return this.malformedDispatch('VOICE_STATE_UPDATE');
    this.debug('VOICE_STATE_UPDATE', data);
    this.dispatch({ type: 'voiceState', data });
  }

  private onVoiceServer(data: unknown): void {
    if (this.current.status === 'destroyed') return;
    if (!isVoiceServerData(data)) return this.malformedDispatch('VOICE_SERVER_UPDATE');
    this.debug('VOICE_SERVER_UPDATE', data);
    this.dispatch({ type: 'voiceServer', data });
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

  private onAdapterDestroyed(): void {
    if (this.current.status === 'destroyed') return;
    this.adapter = undefined;
    this.clearReconnectTimer();
    this.stopPlayback();
    this.dropSession();
    this.finish({ status: 'destroyed', reason: 'adapter-destroyed' });
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

  /** Op 4 for the configured channel, then wait for the dispatches. */
  private sendJoin(): boolean {
    if (this.current.status === 'destroyed') return false;
    const sent = this.sendPayload(this.joinConfig.channelId);
    if (this.isDestroyed()) return false;
    if (!sent) {
      this.scheduleReconnect({ reason: 'adapter-unavailable', failReason: 'adapter-unavailable' });
      return false;
    }
    if (this.activeSession === undefined) this.setState({ status: 'signalling' });
    this.dispatch({ type: 'request', channelId: this.joinConfig.channelId });
    return true;
  }

  private adapterFailed(cause: unknown, what: string): void {
    const error = new VoxcordError('ADAPTER_ERROR', `the gateway adapter failed: ${what}`, {
      cause: cause === undefined ? undefined : toError(cause),
      details: { guildId: this.joinConfig.guildId },
    });
    const adapter = this.adapter;
    this.adapter = undefined;
    if (adapter !== undefined) {
      try {
        adapter.destroy();
      } catch {
        // Already failing; nothing more to release.
      }
    }
    this.clearReconnectTimer();
    this.stopPlayback();
    this.dropSession();
    this.finish({ status: 'destroyed', reason: 'adapter-error', error }, false);
    this.emitError(error);
  }

  // ---- join state ----

  private dispatch(event: JoinEvent): void {
    const step = reduceJoin(this.#join, event);
    this.#join = step.state;
    this.syncJoinTimer();
    for (const effect of step.effects) {
      if (this.isDestroyed()) return;
      this.apply(effect);
    }
  }

  private apply(effect: JoinEffect): void {
    switch (effect.type) {
      case 'connect':
        this.clearReconnectTimer();
        this.joinConfig.channelId = effect.credentials.channelId;
        this.startSession(effect.credentials, effect.cause);
        return;
      case 'moving':
        this.debug(`moved to channel ${effect.channelId}; waiting for VOICE_SERVER_UPDATE`);
        this.joinConfig.channelId = effect.channelId;
        this.clearReconnectTimer();
        this.dropSession();
        this.setState({ status: 'signalling' });
        return;
      case 'serverLost':
        this.clearReconnectTimer();
        this.dropSession();
        this.setState({ status: 'disconnected', reason: 'endpoint-lost', willReconnect: true });
        return;
      case 'left':
        this.clearReconnectTimer();
        this.dropSession();
        this.setState({ status: 'disconnected', reason: 'left-channel', willReconnect: false });
        return;
      case 'timeout': {
        this.dropSession();
        const error = new VoxcordError(
          'JOIN_TIMEOUT',
          `no ${effect.missing.join(' / ')} within ${this.joinTimeoutMs} ms after op 4 (full channel, missing permission or GUILD_VOICE_STATES intent?)`,
          {
            details: {
              guildId: this.joinConfig.guildId,
              channelId: this.joinConfig.channelId,
              missing: effect.missing,
            },
          },
        );
        if (this.reconnecting && this.attempts < this.backoff.maxAttempts) {
          this.scheduleReconnect({ reason: 'join-timeout', failReason: 'join-timeout', error });
          return;
        }
        this.reconnecting = false;
        this.setState({ status: 'disconnected', reason: 'join-timeout', willReconnect: false, error });
        this.emitError(error);
        return;
      }
    }
  }

  private syncJoinTimer(): void {
    if (this.#join.phase === 'awaiting') {
      if (this.joinTimer === undefined) {
        this.joinTimer = setTimeout(() => {
          this.joinTimer = undefined;
          if (this.current.status !== 'destroyed') this.dispatch({ type: 'timeout' });
        }, this.joinTimeoutMs);
      }
    } else if (this.joinTimer !== undefined) {
      clearTimeout(this.joinTimer);
      this.joinTimer = undefined;
    }
  }

  // ---- sessions ----

  private startSession(credentials: VoiceCredentials, cause: ConnectCause): void {
    this.dropSession();
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
      this.dispatch({ type: 'sessionEnded' });
      this.scheduleReconnect({ reason: error.message, failReason: 'session-failed', error });
      return;
    }
    const onState = (_old: VoiceSessionState, next: VoiceSessionState): void => {
      if (session === this.activeSession) this.onSessionState(session, next);
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
    this.setState({ status: 'connecting', session, resuming: false });
    for (const subscriber of [...this.subscribers]) this.safely(() => subscriber.attach(session));
    try {
      session.connect();
    } catch (err) {
      this.debug(`session.connect() threw: ${toError(err).message}`);
    }
  }

  private onSessionState(session: VoiceSession, next: VoiceSessionState): void {
    switch (next.status) {
      case 'idle':
        return;
      case 'signalling':
      case 'connecting':
        this.setState({ status: 'connecting', session, resuming: false });
        return;
      case 'resuming':
        this.setState({ status: 'connecting', session, resuming: true });
        return;
      case 'ready':
        this.attempts = 0;
        this.reconnecting = false;
        this.setState({ status: 'ready', session });
        return;
      case 'disconnected': {
        this.dropSession();
        this.dispatch({ type: 'sessionEnded' });
        if (next.action === 'final') {
          const reason = finalReason(next.closeCode);
          const error =
            reason === 'dave-required'
              ? new VoxcordError(
                  'DAVE_PROTOCOL_ERROR',
                  'the channel requires DAVE end-to-end encryption (close 4017); offer maxDaveProtocolVersion >= 1',
                  { cause: next.error, details: { closeCode: next.closeCode } },
                )
              : next.error;
          this.setState({
            status: 'disconnected',
            reason,
            willReconnect: false,
            closeCode: next.closeCode,
            error,
          });
          if (!QUIET_REASONS.has(reason)) this.emitError(error);
          return;
        }
        // 'rejoin' (and a 'resume' the session could not do itself): fresh credentials.
        this.scheduleReconnect({
          reason: next.reason,
          failReason: 'reconnect-failed',
          closeCode: next.closeCode,
          error: next.error,
        });
        return;
      }
      case 'destroyed':
        // Not destroyed by us (we remove our listeners first): treat as a failed session.
        this.dropSession();
        this.dispatch({ type: 'sessionEnded' });
        this.scheduleReconnect({ reason: 'the voice session was destroyed', failReason: 'reconnect-failed' });
        return;
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

  // ---- reconnects ----

  private scheduleReconnect(cause: {
    reason: string;
    failReason: DisconnectReason;
    closeCode?: number;
    error?: VoxcordError;
  }): void {
    this.clearReconnectTimer();
    if (this.attempts >= this.backoff.maxAttempts) {
      this.reconnecting = false;
      const error = new VoxcordError(
        'RECONNECT_FAILED',
        `gave up after ${this.attempts} reconnect attempt(s); last failure: ${cause.reason}`,
        { cause: cause.error, details: { attempts: this.attempts, closeCode: cause.closeCode } },
      );
      const state: VoiceConnectionState = {
        status: 'disconnected',
        reason: cause.failReason,
        willReconnect: false,
        error,
      };
      if (cause.closeCode !== undefined) state.closeCode = cause.closeCode;
      this.setState(state);
      this.emitError(error);
      return;
    }
    this.attempts += 1;
    const delayMs = backoffDelay(this.attempts, this.backoff, this.random);
    const attempt: ReconnectAttempt = {
      attempt: this.attempts,
      maxAttempts: this.backoff.maxAttempts,
      delayMs,
      reason: cause.reason,
    };
    if (cause.closeCode !== undefined) attempt.closeCode = cause.closeCode;
    const state: VoiceConnectionState = {
      status: 'disconnected',
      reason: 'reconnecting',
      willReconnect: true,
      attempt: this.attempts,
      delayMs,
    };
    if (cause.closeCode !== undefined) state.closeCode = cause.closeCode;
    if (cause.error !== undefined) state.error = cause.error;
    this.setState(state);
    this.later(() => this.emit('reconnectAttempt', attempt));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.current.status !== 'disconnected' || this.current.reason !== 'reconnecting') return;
      this.reconnecting = true;
      this.sendJoin();
    }, delayMs);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  // ---- plumbing ----

  private stopPlayback(): void {
    const playback = this.playback;
    this.playback = undefined;
    playback?.stop();
  }

  private finish(state: VoiceConnectionState & { status: 'destroyed' }, destroyAdapter = true): void {
    if (this.joinTimer !== undefined) clearTimeout(this.joinTimer);
    this.joinTimer = undefined;
    this.clearReconnectTimer();
    const adapter = this.adapter;
    this.adapter = undefined;
    if (destroyAdapter && adapter !== undefined) {
      try {
        adapter.destroy();
      } catch (err) {
        this.debug(`adapter.destroy() threw: ${toError(err).message}`);
      }
    }
    this.subscribers.clear();
    this.voiceReceiver?.close();
    this.setState(state);
    if (this.options.ownsEngine === true) {
      this.options.engine
        .close()
        .catch((err: unknown) => this.debug(`engine close failed: ${toError(err).message}`));
    }
  }

  private setState(next: VoiceConnectionState): void {
    const old = this.current;
    if (old.status === 'destroyed') return;
    if (
      old.status === next.status &&
      (next.status === 'signalling' ||
        ((next.status === 'connecting' || next.status === 'ready') &&
          'session' in old &&
          old.session === next.session &&
          (next.status !== 'connecting' || (old.status === 'connecting' && old.resuming === next.resuming))))
    ) {
      return;
    }
    this.current = next;
    this.debug(`state ${old.status} -> ${next.status}${'reason' in next ? ` (${next.reason})` : ''}`);
    this.emit('stateChange', old, next);
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
