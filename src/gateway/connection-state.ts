/**
 * A VoiceConnection's lifecycle policy as a pure reducer: (state, event) -> next state + effects.
 * It wraps the join reducer (join-state.ts) and adds what the connection decides on top of it
 * (voice-gateway.md §2 and §8):
 *
 * - a session's 'rejoin' close or failure -> op 4 again after an exponential backoff with jitter
 *   and a cap (`reconnectAttempt` effect, then `armReconnect`); a join timeout during a reconnect
 *   is one more failed attempt; attempts reset on 'ready' and on rejoin();
 * - a 'final' close -> 'disconnected' with willReconnect false and a reason (4014 kicked, 4021
 *   rate-limited, 4022 call-terminated, 4017 dave-required, else session-failed); only failures
 *   raise an `error` effect, news (left, kicked, call ended) does not;
 * - endpoint null -> 'disconnected' (endpoint-lost) until a new endpoint; a channel move ->
 *   'signalling'; our voice state in no channel -> 'disconnected' (left-channel);
 * - leave(), destroy(), and an adapter that throws or goes away.
 *
 * The shell (voice-connection.ts) owns sockets, timers, sessions and listeners: it feeds events in
 * and carries the effects out in order. Effects that need an answer (op 4 sent or not, a session
 * created or not) come back as events. The public state changes only through `state` effects,
 * emitted only when it really changes: the stable statuses ('signalling', 'connecting', 'ready')
 * are the same state again when their session and resuming flag are; a 'disconnected' or
 * 'destroyed' state is always news. Once destroyed, every event is ignored.
 *
 * Deterministic given `policy.random` (the backoff jitter; tests pass a fixed one).
 */
import { VoiceCloseCode } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import type { VoiceSessionState, VoiceSessionStatus } from '../voice/session-state.js';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { initialJoinState, reduceJoin } from './join-state.js';
import type { ConnectCause, JoinEffect, JoinEvent, JoinState, VoiceCredentials } from './join-state.js';

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

/** The public connection state; `S` is the voice session (VoiceSession in the connection). */
export type ConnectionState<S> =
  /** Op 4 sent; waiting for VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE. */
  | { status: 'signalling' }
  /** A voice session is handshaking (or resuming, keeping its UDP socket and keys). */
  | { status: 'connecting'; session: S; resuming: boolean }
  /** Media may flow. */
  | { status: 'ready'; session: S }
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

/** What the reducer needs to know about a voice session's state (VoiceSessionState fits). */
export type SessionReport =
  | { status: Exclude<VoiceSessionStatus, 'disconnected'> }
  | Extract<VoiceSessionState, { status: 'disconnected' }>;

/** Why op 4 was sent: its answer continues that operation. */
export type Op4Purpose = 'join' | 'leave' | 'destroy';

export type ConnectionEvent<S> =
  /** The adapter is in place: send the first op 4. */
  | { type: 'start' }
  /** rejoin(): op 4 again, maybe for another channel. */
  | { type: 'rejoin'; channelId?: string }
  | { type: 'leave' }
  | { type: 'destroy' }
  /** The answer to a `sendOp4` effect (false: the adapter could not send). */
  | { type: 'op4'; purpose: Op4Purpose; sent: boolean }
  /** A dispatch or the join timer, for the join reducer. */
  | { type: 'gateway'; event: Extract<JoinEvent, { type: 'voiceState' | 'voiceServer' | 'timeout' }> }
  /** The answer to `startSession`: the session exists (it connects right after). */
  | { type: 'sessionStarted'; session: S }
  /** The answer to `startSession`: the session could not be created. */
  | { type: 'sessionFailed'; error: VoxcordError }
  /** A session changed state (reports of sessions other than the current one are ignored). */
  | { type: 'sessionState'; session: S; state: SessionReport }
  /** The reconnect timer fired. */
  | { type: 'reconnectDue' }
  /** The adapter threw, or did not return { sendPayload, destroy }. */
  | { type: 'adapterFailed'; error: VoxcordError }
  /** The adapter called destroy(). */
  | { type: 'adapterDestroyed' };

export type ConnectionEffect<S> =
  /** The public state changes: emit 'stateChange'. */
  | { type: 'state'; state: ConnectionState<S> }
  /** Send op 4 for this channel (null = leave) and answer with an 'op4' event. */
  | { type: 'sendOp4'; channelId: string | null; purpose: Op4Purpose }
  /** Create and connect a session with these credentials; answer 'sessionStarted' or 'sessionFailed'. */
  | { type: 'startSession'; credentials: VoiceCredentials; cause: ConnectCause }
  /** Detach the subscribers from the current session and destroy it. */
  | { type: 'dropSession' }
  /** Stop the connection's playback (leave, destroy). */
  | { type: 'stopPlayback' }
  /** (Re)start the reconnect timer; it answers with 'reconnectDue'. */
  | { type: 'armReconnect'; delayMs: number }
  | { type: 'cancelReconnect' }
  | { type: 'reconnectAttempt'; attempt: ReconnectAttempt }
  | { type: 'error'; error: VoxcordError }
  | { type: 'debug'; message: string }
  /** Forget the adapter; `destroy`: call its destroy() too. */
  | { type: 'releaseAdapter'; destroy: boolean }
  /** Final: drop the subscribers and close the receiver (before the 'destroyed' state). */
  | { type: 'close' }
  /** After the 'destroyed' state: close the media engine if the connection owns it. */
  | { type: 'closeEngine' };

export interface ConnectionMachine<S> {
  readonly status: ConnectionState<S>;
  readonly join: JoinState;
  /** Channel of the next op 4 (the configured one, or where Discord moved us). */
  readonly channelId: string;
  /** The current voice session, from 'sessionStarted' to 'dropSession'. */
  readonly session: S | undefined;
  /** Reconnect attempts since the last 'ready' (or rejoin()). */
  readonly attempts: number;
  /** The current op 4 was sent by a reconnect attempt (a join timeout then counts as a failure). */
  readonly reconnecting: boolean;
}

export interface ConnectionPolicy {
  readonly guildId: string;
  readonly backoff: BackoffOptions;
  readonly joinTimeoutMs: number;
  /** Jitter source, [0, 1). */
  readonly random: () => number;
}

export interface ConnectionStep<S> {
  state: ConnectionMachine<S>;
  effects: ConnectionEffect<S>[];
}

export function initialConnection<S>(guildId: string, channelId: string): ConnectionMachine<S> {
  return {
    status: { status: 'signalling' },
    join: initialJoinState(guildId),
    channelId,
    session: undefined,
    attempts: 0,
    reconnecting: false,
  };
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

/** Final reasons that are news, not failures: no 'error' effect for them. */
const QUIET_REASONS: ReadonlySet<DisconnectReason> = new Set([
  'left',
  'left-channel',
  'kicked',
  'call-terminated',
]);

/** Why a reconnect is scheduled, and what the state says if no attempt is left. */
interface ReconnectCause {
  reason: string;
  failReason: DisconnectReason;
  closeCode?: number;
  error?: VoxcordError;
}

/** One step under construction: the machine so far and the effects in order. */
class Step<S> {
  effects: ConnectionEffect<S>[] = [];
  constructor(
    public m: ConnectionMachine<S>,
    private readonly policy: ConnectionPolicy,
  ) {}

  set(patch: Partial<ConnectionMachine<S>>): void {
    this.m = { ...this.m, ...patch };
  }

  emit(effect: ConnectionEffect<S>): void {
    this.effects.push(effect);
  }

  /** Moves the public state; a stable status with the same session and flags is no change. */
  moveTo(next: ConnectionState<S>): void {
    const old = this.m.status;
    if (old.status === 'destroyed') return;
    if (sameStable(old, next)) return;
    this.set({ status: next });
    this.emit({ type: 'state', state: next });
  }

  dropSession(): void {
    if (this.m.session === undefined) return;
    this.set({ session: undefined });
    this.emit({ type: 'dropSession' });
  }

  joinEvent(event: JoinEvent): void {
    const result = reduceJoin(this.m.join, event);
    this.set({ join: result.state });
    for (const effect of result.effects) this.onJoinEffect(effect);
  }

  sendJoin(): void {
    this.emit({ type: 'sendOp4', channelId: this.m.channelId, purpose: 'join' });
  }

  private onJoinEffect(effect: JoinEffect): void {
    switch (effect.type) {
      case 'connect':
        this.emit({ type: 'cancelReconnect' });
        this.set({ channelId: effect.credentials.channelId });
        this.dropSession();
        this.emit({ type: 'startSession', credentials: effect.credentials, cause: effect.cause });
        return;
      case 'moving':
        this.emit({
          type: 'debug',
          message: `moved to channel ${effect.channelId}; waiting for VOICE_SERVER_UPDATE`,
        });
        this.set({ channelId: effect.channelId });
        this.emit({ type: 'cancelReconnect' });
        this.dropSession();
        this.moveTo({ status: 'signalling' });
        return;
      case 'serverLost':
        this.emit({ type: 'cancelReconnect' });
        this.dropSession();
        this.moveTo({ status: 'disconnected', reason: 'endpoint-lost', willReconnect: true });
        return;
      case 'left':
        this.emit({ type: 'cancelReconnect' });
        this.dropSession();
        this.moveTo({ status: 'disconnected', reason: 'left-channel', willReconnect: false });
        return;
      case 'timeout': {
        this.dropSession();
        const error = new VoxcordError(
          'JOIN_TIMEOUT',
          `no ${effect.missing.join(' / ')} within ${this.policy.joinTimeoutMs} ms after op 4 (full channel, missing permission, no GUILD_VOICE_STATES intent, or op 4 held in the shard's send queue: Discord takes 120 gateway sends a minute)`,
          {
            details: {
              guildId: this.policy.guildId,
              channelId: this.m.channelId,
              missing: effect.missing,
            },
          },
        );
        if (this.m.reconnecting && this.m.attempts < this.policy.backoff.maxAttempts) {
          this.scheduleReconnect({ reason: 'join-timeout', failReason: 'join-timeout', error });
          return;
        }
        this.set({ reconnecting: false });
        this.moveTo({ status: 'disconnected', reason: 'join-timeout', willReconnect: false, error });
        this.emit({ type: 'error', error });
        return;
      }
    }
  }

  scheduleReconnect(cause: ReconnectCause): void {
    this.emit({ type: 'cancelReconnect' });
    const { backoff } = this.policy;
    if (this.m.attempts >= backoff.maxAttempts) {
      this.set({ reconnecting: false });
      const error = new VoxcordError(
        'RECONNECT_FAILED',
        `gave up after ${this.m.attempts} reconnect attempt(s); last failure: ${cause.reason}`,
        { cause: cause.error, details: { attempts: this.m.attempts, closeCode: cause.closeCode } },
      );
      const state: ConnectionState<S> = {
        status: 'disconnected',
        reason: cause.failReason,
        willReconnect: false,
        error,
      };
      if (cause.closeCode !== undefined) state.closeCode = cause.closeCode;
      this.moveTo(state);
      this.emit({ type: 'error', error });
      return;
    }
    const attempts = this.m.attempts + 1;
    this.set({ attempts });
    const delayMs = backoffDelay(attempts, backoff, this.policy.random);
    const attempt: ReconnectAttempt = {
      attempt: attempts,
      maxAttempts: backoff.maxAttempts,
      delayMs,
      reason: cause.reason,
    };
    if (cause.closeCode !== undefined) attempt.closeCode = cause.closeCode;
    const state: ConnectionState<S> = {
      status: 'disconnected',
      reason: 'reconnecting',
      willReconnect: true,
      attempt: attempts,
      delayMs,
    };
    if (cause.closeCode !== undefined) state.closeCode = cause.closeCode;
    if (cause.error !== undefined) state.error = cause.error;
    this.moveTo(state);
    this.emit({ type: 'reconnectAttempt', attempt });
    this.emit({ type: 'armReconnect', delayMs });
  }

  /** The last steps of every way to 'destroyed'. */
  finish(state: ConnectionState<S> & { status: 'destroyed' }, destroyAdapter: boolean): void {
    this.emit({ type: 'cancelReconnect' });
    this.emit({ type: 'releaseAdapter', destroy: destroyAdapter });
    this.emit({ type: 'close' });
    this.moveTo(state);
    this.emit({ type: 'closeEngine' });
  }

  /** stopPlayback + dropSession, the start of leave, destroy and the adapter's end. */
  quiesce(): void {
    this.emit({ type: 'cancelReconnect' });
    this.emit({ type: 'stopPlayback' });
    this.dropSession();
  }
}

/** Same status, session and resuming flag, for the statuses that are states rather than news. */
function sameStable<S>(a: ConnectionState<S>, b: ConnectionState<S>): boolean {
  switch (b.status) {
    case 'signalling':
      return a.status === 'signalling';
    case 'connecting':
      return a.status === 'connecting' && a.session === b.session && a.resuming === b.resuming;
    case 'ready':
      return a.status === 'ready' && a.session === b.session;
    default:
      return false;
  }
}

function onOp4<S>(step: Step<S>, purpose: Op4Purpose, sent: boolean): void {
  switch (purpose) {
    case 'join':
      if (!sent) {
        step.scheduleReconnect({ reason: 'adapter-unavailable', failReason: 'adapter-unavailable' });
        return;
      }
      if (step.m.session === undefined) step.moveTo({ status: 'signalling' });
      step.joinEvent({ type: 'request', channelId: step.m.channelId });
      return;
    case 'leave':
      step.joinEvent({ type: 'request', channelId: null });
      step.moveTo({ status: 'disconnected', reason: 'left', willReconnect: false });
      return;
    case 'destroy':
      step.finish({ status: 'destroyed', reason: 'destroyed' }, true);
      return;
  }
}

function onSessionState<S>(step: Step<S>, session: S, state: SessionReport): void {
  switch (state.status) {
    case 'idle':
      return;
    case 'signalling':
    case 'connecting':
      step.moveTo({ status: 'connecting', session, resuming: false });
      return;
    case 'resuming':
      step.moveTo({ status: 'connecting', session, resuming: true });
      return;
    case 'ready':
      step.set({ attempts: 0, reconnecting: false });
      step.moveTo({ status: 'ready', session });
      return;
    case 'disconnected': {
      step.dropSession();
      step.joinEvent({ type: 'sessionEnded' });
      if (state.action === 'final') {
        const reason = finalReason(state.closeCode);
        const error =
          reason === 'dave-required'
            ? new VoxcordError(
                'DAVE_PROTOCOL_ERROR',
                'the channel requires DAVE end-to-end encryption (close 4017); offer maxDaveProtocolVersion >= 1',
                { cause: state.error, details: { closeCode: state.closeCode } },
              )
            : state.error;
        step.moveTo({
          status: 'disconnected',
          reason,
          willReconnect: false,
          closeCode: state.closeCode,
          error,
        });
        if (!QUIET_REASONS.has(reason)) step.emit({ type: 'error', error });
        return;
      }
      // 'rejoin' (and a 'resume' the session could not do itself): fresh credentials.
      step.scheduleReconnect({
        reason: state.reason,
        failReason: 'reconnect-failed',
        closeCode: state.closeCode,
        error: state.error,
      });
      return;
    }
    case 'destroyed':
      // Not destroyed by the connection (it stops listening first): a failed session.
      step.dropSession();
      step.joinEvent({ type: 'sessionEnded' });
      step.scheduleReconnect({ reason: 'the voice session was destroyed', failReason: 'reconnect-failed' });
      return;
  }
}

export function reduceConnection<S>(
  machine: ConnectionMachine<S>,
  event: ConnectionEvent<S>,
  policy: ConnectionPolicy,
): ConnectionStep<S> {
  if (machine.status.status === 'destroyed') return { state: machine, effects: [] };
  const step = new Step(machine, policy);
  switch (event.type) {
    case 'start':
      step.sendJoin();
      break;
    case 'rejoin': {
      const channelId = event.channelId ?? machine.channelId;
      step.set({ channelId, attempts: 0, reconnecting: false });
      step.emit({ type: 'cancelReconnect' });
      const moving = machine.join.channelId !== null && machine.join.channelId !== channelId;
      if (moving || machine.session === undefined || machine.status.status === 'disconnected') {
        step.dropSession();
        step.joinEvent({ type: 'sessionEnded' });
      }
      step.sendJoin();
      break;
    }
    case 'leave':
      step.quiesce();
      step.emit({ type: 'sendOp4', channelId: null, purpose: 'leave' });
      break;
    case 'destroy':
      step.quiesce();
      step.emit({ type: 'sendOp4', channelId: null, purpose: 'destroy' });
      break;
    case 'op4':
      onOp4(step, event.purpose, event.sent);
      break;
    case 'gateway':
      step.joinEvent(event.event);
      break;
    case 'sessionStarted':
      step.set({ session: event.session });
      step.moveTo({ status: 'connecting', session: event.session, resuming: false });
      break;
    case 'sessionFailed':
      step.joinEvent({ type: 'sessionEnded' });
      step.scheduleReconnect({
        reason: event.error.message,
        failReason: 'session-failed',
        error: event.error,
      });
      break;
    case 'sessionState':
      if (event.session === machine.session) onSessionState(step, event.session, event.state);
      break;
    case 'reconnectDue':
      if (machine.status.status !== 'disconnected' || machine.status.reason !== 'reconnecting') break;
      step.set({ reconnecting: true });
      step.sendJoin();
      break;
    case 'adapterFailed':
      step.emit({ type: 'releaseAdapter', destroy: true });
      step.quiesce();
      step.finish({ status: 'destroyed', reason: 'adapter-error', error: event.error }, false);
      step.emit({ type: 'error', error: event.error });
      break;
    case 'adapterDestroyed':
      step.emit({ type: 'releaseAdapter', destroy: false });
      step.quiesce();
      step.finish({ status: 'destroyed', reason: 'adapter-destroyed' }, false);
      break;
  }
  return { state: step.m, effects: step.effects };
}
