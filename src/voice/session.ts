/**
 * VoiceSession: one voice gateway v8 session (voice-gateway.md). Given credentials from the main
 * gateway it opens the voice websocket, identifies, sets up UDP media through the MediaEngine,
 * heartbeats, resumes after drops and sends audio. It never reconnects fresh on its own: when it
 * ends up 'disconnected' the state says what the owner should do ('rejoin' or 'final').
 */
import type { Readable } from 'node:stream';
import {
  CLIENT_MAX_TRACKED_USERS,
  DAVE_PROTOCOL_VERSION,
  SUPPORTED_MODES,
  TRANSPORT_KEY_BYTES,
  VOICE_HANDSHAKE_TIMEOUT_MS,
  VoiceOpcode,
} from '../protocol/constants.js';
import type { CloseAction, EncryptionMode } from '../protocol/constants.js';
import { VoxcordError, isVoxcordError, toError } from '../errors.js';
import {
  checkArg,
  checkDelay,
  checkMethods,
  checkNumber,
  checkOptions,
  invalidArgument,
  isIterable,
} from '../util/args.js';
import { redact } from '../util/redact.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type {
  FileFeedEnd,
  FileFeedOptions,
  MediaChannel,
  MediaEngine,
  ReceivedRtp,
  RtpDropReason,
  SendDropReason,
} from '../media/media-engine.js';
import { opusFrames } from '../audio/frame-source.js';
import type { OpusEncoder } from '../audio/opus.js';
import { HeartbeatTracker, clampHeartbeatInterval } from './heartbeat.js';
import { isSnowflake } from '../util/snowflake.js';
import { makeRoom } from '../util/bounded.js';
import type {
  ClientMessage,
  ReadyData,
  ServerMessage,
  SessionDescriptionData,
} from '../protocol/voice-messages.js';
import { isActive, nextState } from './session-state.js';
import type { VoiceSessionEvent, VoiceSessionState } from './session-state.js';
import { transmit } from './transmit.js';
import { feedTransmission } from './feed-transmission.js';
import type { FeedTransmission } from './feed-transmission.js';
import type { SessionTransmission, TransmitLink } from './transmit.js';
import { VoiceSocket } from './voice-socket.js';
import type { VoiceTlsOptions } from './voice-socket.js';
import { daveInboundOf } from '../dave/dave-endpoint.js';
import type { DaveEndpointFactory, DaveEpochInfo } from '../dave/dave-endpoint.js';
import { createDaveClient } from '../dave/dave-client.js';
import { SessionDave } from './session-dave.js';
import { SpeakingGate } from './speaking-gate.js';
import type { VoiceDave, VoiceSendStats } from './session-dave.js';
import { InboundStage } from './inbound.js';
import type { AudioFrame, DaveDecryptFailure } from './inbound.js';

export interface VoiceSessionOptions {
  /** host[:port], no scheme (VOICE_SERVER_UPDATE `endpoint`). */
  endpoint: string;
  /** Guild id (VOICE_SERVER_UPDATE `guild_id`). */
  serverId: string;
  userId: string;
  /** VOICE_STATE_UPDATE `session_id`. */
  sessionId: string;
  /** VOICE_SERVER_UPDATE `token`. */
  token: string;
  /** Voice channel id (the DAVE MLS group id); required for DAVE. */
  channelId?: string;
  /**
   * Highest DAVE version offered in Identify. Default 1 (DAVE end-to-end encryption) when
   * `channelId` is set, else 0; 0 = transport encryption only.
   */
  maxDaveProtocolVersion?: number;
  /** The DAVE implementation; default our own (DaveClient). Tests plug in others. */
  daveEndpoint?: DaveEndpointFactory;
  engine: MediaEngine;
  /** true (default) = wss like Discord; false = plain ws; an object = wss with these TLS options. */
  tls?: VoiceTlsOptions;
  /** Limit for each handshake step; default VOICE_HANDSHAKE_TIMEOUT_MS (15 s). */
  handshakeTimeoutMs?: number;
}

export interface SpeakingUpdate {
  userId: string;
  ssrc: number;
  /** Speaking flags bitmask (0 = stopped). */
  speaking: number;
}

export type VoiceSessionEvents = {
  stateChange: [oldState: VoiceSessionState, newState: VoiceSessionState];
  /** Emitted when the session becomes 'disconnected' (the same error is in the state). Only when listened to. */
  error: [error: VoxcordError];
  /** Diagnostics; details are redacted (no tokens, session ids or keys). */
  debug: [message: string, details?: unknown];
  speaking: [update: SpeakingUpdate];
  clientConnect: [userIds: string[]];
  clientDisconnect: [userId: string];
  /** Raw transport-decrypted packets (a DAVE frame while E2EE is on). */
  rtp: [packet: ReceivedRtp & { userId?: string }];
  /** A received datagram the media channel dropped (not authentic, a replay, RTCP...); counted there too. */
  rtpDrop: [reason: RtpDropReason];
  /** A received Opus frame, DAVE-decrypted (or plain in a transport-only call). */
  audioFrame: [frame: AudioFrame];
  /** A received frame that could not be decrypted; counted in `dave.stats`, nothing is torn down. */
  daveDecryptFailure: [failure: DaveDecryptFailure];
  /** The DAVE epoch, protocol version or privacy code changed. */
  daveEpoch: [info: DaveEpochInfo];
  /** The call's privacy code changed (undefined: no group now). */
  davePrivacyCode: [code: string | undefined];
  /** DAVE gateway input was rejected (details.reason); recovery, if any, is already under way. */
  daveError: [error: VoxcordError];
  /**
   * Our audio frames started being dropped, not sent (once per run of drops; every frame is
   * counted in `sendStats.framesDropped`): 'alone' = nobody else is in the DAVE call, so there is
   * no group and no key, and the audio plays out at the real-time pace unheard; 'no-key' = the
   * DAVE group did not give us a send key in time; 'session-ended' = frames still queued when the
   * session ended were not taken over by a later session. (Frames dropped by your own stop(),
   * 'stopped', are counted but not announced.)
   */
  sendDrop: [reason: SendDropReason];
  ping: [ms: number];
};

/** Picks our preferred mode among those the server offers (media.md §3); undefined when none fits. */
export function chooseEncryptionMode(offered: readonly string[]): EncryptionMode | undefined {
  return SUPPORTED_MODES.find((mode) => offered.includes(mode));
}

function asSupportedMode(mode: string): EncryptionMode | undefined {
  return SUPPORTED_MODES.find((m) => m === mode);
}

/** A source to play, checked before the current transmission (or playback) stops for it. */
export function checkAudioSource(source: unknown): void {
  if (!isIterable(source)) throw invalidArgument('source', 'an async iterable or Readable of audio', source);
}

export class VoiceSession extends TypedEmitter<VoiceSessionEvents> {
  // An ES private field: credentials never show up when a state or session is logged or inspected.
  readonly #options: VoiceSessionOptions;
  private readonly handshakeTimeoutMs: number;
  private current: VoiceSessionState = { status: 'idle' };
  private socket: VoiceSocket | undefined;
  private channel: MediaChannel | undefined;
  private channelCleanup: (() => void) | undefined;
  private heartbeat: HeartbeatTracker | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Gives up the inbound stage's held packets when due (armHeldExpiry). */
  private heldTimer: NodeJS.Timeout | undefined;
  private lastPing: number | undefined;
  /** Bumped on every teardown; async steps started under an older value are stale. */
  private attempt = 0;
  /** Bumped each time the session enters 'ready' (Speaking must be sent again). */
  private readyCount = 0;
  /** Received packets -> 'audioFrame' / 'daveDecryptFailure'; owns the SSRC -> user map. */
  private readonly inbound: InboundStage;
  private readonly recognizedUsers = new Set<string>();
  private readonly changeListeners = new Set<() => void>();
  private transmission: SessionTransmission | undefined;
  /** Frames taken from the last channel when it closed, until a transmission claims them. */
  private stranded: Promise<Uint8Array[]> | undefined;
  private readonly link: TransmitLink;
  private readonly maxDave: number;
  private readonly daveState: SessionDave;
  /** Audio is held until the server has surely read our op 5 on this websocket (speaking-gate.ts). */
  private readonly speaking = new SpeakingGate();

  constructor(options: VoiceSessionOptions) {
    super();
    checkArg(options, 'options', 'object');
    checkMethods(options.engine, 'engine', 'a MediaEngine', ['openChannel']);
    checkDelay(options.handshakeTimeoutMs, 'handshakeTimeoutMs', 'optional');
    for (const key of ['serverId', 'userId'] as const) {
      if (!isSnowflake(options[key]))
        throw new VoxcordError(
          'INVALID_ARGUMENT',
          `VoiceSession option ${key} must be a snowflake (a string of digits)`,
        );
    }
    for (const key of ['endpoint', 'sessionId', 'token'] as const) {
      if (typeof options[key] !== 'string' || options[key].length === 0)
        throw new VoxcordError('INVALID_ARGUMENT', `VoiceSession option ${key} must be a non-empty string`);
    }
    this.#options = options;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? VOICE_HANDSHAKE_TIMEOUT_MS;
    const maxDave =
      options.maxDaveProtocolVersion ?? (options.channelId === undefined ? 0 : DAVE_PROTOCOL_VERSION);
    if (!Number.isInteger(maxDave) || maxDave < 0)
      throw new VoxcordError('INVALID_ARGUMENT', 'maxDaveProtocolVersion must be a non-negative integer');
    if (maxDave >= 1 && (options.channelId === undefined || !/^\d{1,20}$/.test(options.channelId)))
      throw new VoxcordError('INVALID_ARGUMENT', 'DAVE needs channelId (the voice channel snowflake)');
    this.maxDave = maxDave;
    this.inbound = new InboundStage({
      frame: (frame) => this.emit('audioFrame', frame),
      failure: (failure) => this.emit('daveDecryptFailure', failure),
    });
    this.daveState = new SessionDave({
      inbound: this.inbound,
      send: (message) => this.sendDave(message),
      epoch: (info) => this.emit('daveEpoch', info),
      privacyCode: (code) => this.emit('davePrivacyCode', code),
      error: (error) => {
        this.debug(`DAVE error: ${error.message}`, error.details);
        this.emit('daveError', error);
      },
      debug: (message) => this.debug(message),
      // Held frames go out as soon as the send key exists, not at the transmit pump's next poll.
      sendKeyReady: () => this.notifyChange(),
      sendDrop: (reason) => {
        this.debug(`audio frames dropped: ${reason}`);
        this.emit('sendDrop', reason);
      },
    });
    this.link = {
      readyChannel: () => (this.current.status === 'ready' ? this.channel : undefined),
      readyEpoch: () => this.readyCount,
      isDestroyed: () => this.current.status === 'destroyed',
      sendSpeaking: (flags) => this.sendSpeaking(flags),
      prepareFrame: (frame) => this.daveState.prepareFrame(frame),
      holdFrames: () => this.daveState.holdFrames(),
      sendHeld: () => this.daveState.sendHeld,
      takeUnsent: () => this.takeUnsent(),
      discardQueued: (held, channel) => this.discardQueued(held, channel),
      countDropped: (frames, reason) => void frames.then((n) => this.daveState.countUnsent(n, reason)),
      onChange: (listener) => {
        this.changeListeners.add(listener);
        return () => this.changeListeners.delete(listener);
      },
    };
  }

  get state(): VoiceSessionState {
    return this.current;
  }

  /** Our SSRC from op 2 Ready (while connecting, ready or resuming). */
  get ssrc(): number | undefined {
    const s = this.current;
    return s.status === 'connecting' || s.status === 'ready' || s.status === 'resuming' ? s.ssrc : undefined;
  }

  /** The transport encryption mode from op 4 (while ready or resuming). */
  get mode(): EncryptionMode | undefined {
    const s = this.current;
    return s.status === 'ready' || s.status === 'resuming' ? s.mode : undefined;
  }

  /** Latest heartbeat round-trip time in ms. */
  get ping(): number | undefined {
    return this.lastPing;
  }

  /** SSRC -> user id, from the server's op 5; a user's entries go on op 13. */
  get users(): ReadonlyMap<number, string> {
    return this.inbound.users;
  }

  /** User ids connected to the media session (op 11 adds, op 13 removes); DAVE checks Adds against it. */
  get connectedUsers(): ReadonlySet<string> {
    return this.recognizedUsers;
  }

  get channelId(): string | undefined {
    return this.#options.channelId;
  }

  /** DAVE end-to-end encryption state: version, epoch, privacy code, verification codes, counters. */
  get dave(): VoiceDave {
    return this.daveState;
  }

  /** What became of the audio frames given to this session: sent, dropped (by reason), carried over. */
  get sendStats(): VoiceSendStats {
    return this.daveState.sendStats;
  }

  /** Starts the session; on a session that already ran, starts over fresh (Identify, not Resume). */
  connect(): void {
    if (this.current.status === 'destroyed')
      throw new VoxcordError('DESTROYED', 'the voice session was destroyed');
    this.teardown();
    this.transition({ type: 'connect' });
    if (this.maxDave >= 1 && this.#options.channelId !== undefined) {
      this.daveState.start(
        this.#options.daveEndpoint ?? createDaveClient,
        this.#options.userId,
        this.#options.channelId,
      );
    }
    this.openSocket(-1);
  }

  /** Sends pre-encoded Opus frames (one per item; a Readable must be in object mode). */
  playOpus(source: AsyncIterable<Uint8Array> | Readable): SessionTransmission {
    checkAudioSource(source);
    return this.play(source);
  }

  /**
   * Encodes and sends s16le 48 kHz stereo PCM in chunks of any size. Without `encoder` one is
   * loaded with loadOpus() (OPUS_UNAVAILABLE rejects `finished` when no backend is installed).
   */
  playPcm(source: AsyncIterable<Uint8Array> | Readable, encoder?: OpusEncoder): SessionTransmission {
    checkAudioSource(source);
    return this.play(opusFrames(source, encoder === undefined ? { type: 'pcm' } : { type: 'pcm', encoder }));
  }

  /**
   * Plays a local Ogg Opus file from the media engine's own thread, with no frame on this one
   * (MediaChannel.feedOggOpusFile), as this session's transmission (feed-transmission.ts).
   * Undefined when this session cannot: not ready, an engine without file feeds (the inline
   * engine), or DAVE frames that the engine does not encrypt itself.
   */
  feedOggOpusFile(
    path: string,
    options: FileFeedOptions,
    onEnd: (end: FileFeedEnd) => void,
  ): FeedTransmission | undefined {
    // Checked here: what reaches the worker must be cloneable, and a bad value wedged its shard.
    checkArg(path, 'path', 'string');
    checkOptions(options);
    checkNumber(options.skipFrames, 'skipFrames', { integer: true, min: 0, optional: true });
    checkNumber(options.endFrame, 'endFrame', { integer: true, min: 0, optional: true });
    checkArg(onEnd, 'onEnd', 'function');
    if (this.current.status !== 'ready' || this.channel?.feedOggOpusFile === undefined) return undefined;
    if (!this.daveState.queueIsPlain) return undefined;
    const previous = this.transmission;
    previous?.stop();
    const next = feedTransmission(this.link, path, options, onEnd, previous?.finished, (frames) =>
      this.daveState.countUnsent(frames, 'stopped'),
    );
    this.transmission = next;
    return next;
  }

  /** One transmission at a time: a new one stops the current one and starts after its burst ended. */
  private play(frames: AsyncIterable<unknown>): SessionTransmission {
    if (this.current.status === 'destroyed')
      throw new VoxcordError('DESTROYED', 'the voice session was destroyed');
    const previous = this.transmission;
    previous?.stop();
    const next = transmit(this.link, frames, previous ? { after: previous.finished } : {});
    this.transmission = next;
    return next;
  }

  /** Releases every socket and timer; the state becomes 'destroyed' for good. */
  destroy(): void {
    if (this.current.status === 'destroyed') return;
    this.transition({ type: 'destroy' });
    this.changeListeners.clear();
  }

  // ---- state ----

  private transition(event: VoiceSessionEvent): void {
    const old = this.current;
    const next = nextState(old, event);
    if (next === old) return;
    this.current = next;
    if (next.status === 'ready') {
      this.readyCount += 1;
      this.clearHandshakeTimer();
    }
    if (next.status === 'disconnected' || next.status === 'destroyed') this.teardown();
    this.debug(`state ${old.status} -> ${next.status}`);
    this.emit('stateChange', old, next);
    this.notifyChange();
    if (next.status === 'disconnected') this.emitError(next.error);
  }

  /** Wakes the transmit pump (TransmitLink.onChange). */
  private notifyChange(): void {
    for (const listener of [...this.changeListeners]) listener();
  }

  private fail(action: CloseAction, error: VoxcordError): void {
    this.transition({ type: 'failed', action, reason: error.message, error });
  }

  /** Closes the websocket and media channel and stops timers; user maps are cleared. */
  private teardown(): void {
    this.attempt += 1;
    this.clearHandshakeTimer();
    this.stopHeartbeat();
    if (this.socket) {
      this.socket.destroy(1000);
      this.socket = undefined;
    }
    if (this.channel) {
      const channel = this.channel;
      this.channelCleanup?.();
      this.channelCleanup = undefined;
      // Taken before the close (the worker runs commands in order): plain frames can go out on a
      // later session; frames already DAVE-encrypted for this one cannot, and are counted.
      const taken = channel.takeQueued?.();
      const plain = this.daveState.queueIsPlain;
      this.daveState.bindChannel(undefined);
      channel.close();
      this.channel = undefined;
      if (taken !== undefined) {
        this.dropStranded();
        if (plain) this.stranded = taken;
        else void taken.then((frames) => this.daveState.countUnsent(frames.length, 'session-ended'));
      }
    }
    if (this.current.status === 'destroyed') this.dropStranded();
    this.inbound.reset();
    if (this.heldTimer !== undefined) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.recognizedUsers.clear();
    this.daveState.stop();
  }

  /** Frames left by a closed channel that no transmission claimed: counted as dropped. */
  private dropStranded(): void {
    const stranded = this.stranded;
    this.stranded = undefined;
    void stranded?.then((frames) => this.daveState.countUnsent(frames.length, 'session-ended'));
  }

  /** A stopped transmission: its queued frames are dropped, and counted ('stopped'). */
  private discardQueued(held: number, channel: MediaChannel | undefined): void {
    // A channel the session left had its queue counted when it closed it (or nothing was queued).
    if (channel !== this.channel || channel?.takeQueued === undefined) {
      channel?.clearQueue();
      this.daveState.countUnsent(held, 'stopped');
      return;
    }
    void channel.takeQueued().then((frames) => this.daveState.countUnsent(frames.length + held, 'stopped'));
  }

  /**
   * The frames queued and not sent (plain Opus), taken off the channel, or those the channel
   * held when it closed; counted as carried (the caller sends them on another session).
   */
  private takeUnsent(): Promise<Uint8Array[]> {
    let taken: Promise<Uint8Array[]>;
    const channel = this.channel;
    if (channel !== undefined && this.daveState.queueIsPlain && channel.takeQueued !== undefined) {
      taken = channel.takeQueued();
    } else {
      taken = this.stranded ?? Promise.resolve([]);
      this.stranded = undefined;
    }
    return taken.then(
      (frames) => {
        this.daveState.countUnsent(frames.length, 'carried');
        return frames;
      },
      () => [],
    );
  }

  private emitError(error: VoxcordError): void {
    // An 'error' event without a listener would throw; the state already carries the error.
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.debug(`error: ${error.code}: ${error.message}`);
  }

  private debug(message: string, details?: unknown): void {
    if (this.listenerCount('debug') === 0) return;
    if (details === undefined) this.emit('debug', message);
    else this.emit('debug', message, redact(details));
  }

  // ---- websocket ----

  private openSocket(lastSeq: number): void {
    let socket: VoiceSocket;
    try {
      socket = new VoiceSocket({ endpoint: this.#options.endpoint, tls: this.#options.tls ?? true, lastSeq });
    } catch (err) {
      this.fail(
        'final',
        new VoxcordError('INVALID_ARGUMENT', 'the voice endpoint is not a valid host', {
          cause: toError(err),
        }),
      );
      return;
    }
    this.socket = socket;
    this.closeSpeakingGate();
    socket.on('message', (message) => {
      if (socket !== this.socket) return;
      try {
        this.onMessage(socket, message);
      } catch (err) {
        // A bug in a handler must not escape into ws and crash the process.
        this.debug(`internal error handling op ${String(message.op)}: ${toError(err).message}`);
      }
    });
    socket.on('close', (code, reason) => {
      if (socket === this.socket) this.onSocketClosed(socket, code, reason);
    });
    socket.on('malformed', (error, count) =>
      this.debug(`malformed frame dropped (${count} so far): ${error.message}`),
    );
    socket.on('debug', (message) => this.debug(message));
    this.debug(`connecting to ${socket.url}`);
    this.armHandshakeTimer('websocket open and Hello');
  }

  private send(message: ClientMessage): boolean {
    if (!this.socket?.send(message)) return false;
    this.debug(`sent op ${message.op}`, 'd' in message ? message.d : undefined);
    return true;
  }

  /** DAVE replies go out only on a live, identified connection (held otherwise until op 9). */
  private sendDave(message: ClientMessage): boolean {
    const status = this.current.status;
    if (status !== 'connecting' && status !== 'ready') return false;
    return this.send(message);
  }

  private onSocketClosed(socket: VoiceSocket, code: number, reason: string): void {
    this.socket = undefined;
    this.closeSpeakingGate();
    this.stopHeartbeat();
    this.clearHandshakeTimer();
    const error = new VoxcordError('GATEWAY_CLOSED', `the voice websocket closed with code ${code}`, {
      details: { closeCode: code, reason },
    });
    this.transition({
      type: 'socketClosed',
      code,
      reason: `websocket closed with code ${code}${reason ? `: ${reason}` : ''}`,
      error,
    });
    this.resumeIfNeeded(socket);
  }

  /** After a transition to 'resuming': a new websocket that sends op 7 after Hello. */
  private resumeIfNeeded(previous: VoiceSocket): void {
    if (this.current.status !== 'resuming') return;
    this.debug(`resuming after seq ${previous.lastSeq}`);
    this.openSocket(previous.lastSeq);
  }

  private onMessage(socket: VoiceSocket, message: ServerMessage): void {
    switch (message.op) {
      case VoiceOpcode.Hello:
        this.startHeartbeat(message.d.heartbeat_interval);
        if (this.current.status === 'signalling') {
          this.send({
            op: VoiceOpcode.Identify,
            d: {
              server_id: this.#options.serverId,
              user_id: this.#options.userId,
              session_id: this.#options.sessionId,
              token: this.#options.token,
              max_dave_protocol_version: this.maxDave,
            },
          });
          this.armHandshakeTimer('Ready after Identify');
        } else if (this.current.status === 'resuming') {
          this.send({
            op: VoiceOpcode.Resume,
            d: {
              server_id: this.#options.serverId,
              session_id: this.#options.sessionId,
              token: this.#options.token,
              seq_ack: socket.lastSeq,
            },
          });
          this.armHandshakeTimer('Resumed after Resume');
        }
        return;
      case VoiceOpcode.Ready:
        this.onReady(message.d);
        return;
      case VoiceOpcode.SessionDescription:
        this.onSessionDescription(message.d);
        return;
      case VoiceOpcode.HeartbeatAck: {
        const ms = this.heartbeat?.ack(message.d.t, Date.now());
        if (ms !== undefined) {
          if (this.speaking.acked(message.d.t)) this.daveState.gateSend(false);
          this.lastPing = ms;
          this.emit('ping', ms);
        }
        return;
      }
      case VoiceOpcode.Resumed:
        this.debug('resumed');
        this.transition({ type: 'resumed' });
        this.daveState.flush();
        // Mid-burst: op 5 again before the held frames go on (voice-gateway.md §7.5).
        if (this.speaking.flags !== 0) this.sendSpeaking(this.speaking.flags);
        return;
      case VoiceOpcode.Speaking: {
        const { user_id: userId, ssrc, speaking } = message.d;
        this.inbound.map(ssrc, userId);
        this.emit('speaking', { userId, ssrc, speaking });
        this.inbound.releaseHeld(ssrc);
        return;
      }
      case VoiceOpcode.ClientsConnect:
        for (const id of message.d.user_ids) {
          makeRoom(this.recognizedUsers, id, CLIENT_MAX_TRACKED_USERS);
          this.recognizedUsers.add(id);
        }
        this.handleDave(message);
        this.daveState.othersInCall(this.recognizedUsers.size > 0);
        this.emit('clientConnect', [...message.d.user_ids]);
        return;
      case VoiceOpcode.ClientDisconnect: {
        const userId = message.d.user_id;
        this.recognizedUsers.delete(userId);
        this.inbound.forget(userId, performance.now());
        this.handleDave(message);
        this.daveState.othersInCall(this.recognizedUsers.size > 0);
        this.emit('clientDisconnect', userId);
        return;
      }
      case 'unknown':
        this.debug(`ignored unknown op ${message.rawOp}`);
        return;
      default:
        // DAVE opcodes 21, 22, 24, 25, 27, 29, 30.
        if (this.daveState.enabled) this.handleDave(message);
        else this.debug(`ignored op ${message.op} (DAVE not offered)`);
    }
  }

  private handleDave(message: ServerMessage): void {
    const inbound = daveInboundOf(message);
    if (inbound !== undefined) this.daveState.handle(inbound);
  }

  // ---- handshake steps ----

  private onReady(d: ReadyData): void {
    if (this.current.status !== 'signalling') {
      this.debug('ignored op 2 outside signalling');
      return;
    }
    const mode = chooseEncryptionMode(d.modes);
    if (mode === undefined) {
      this.fail(
        'final',
        new VoxcordError(
          'NO_SUPPORTED_ENCRYPTION_MODE',
          'the voice server offers no encryption mode we support',
          {
            details: { offered: d.modes, supported: SUPPORTED_MODES },
          },
        ),
      );
      return;
    }
    this.transition({ type: 'ready', ssrc: d.ssrc });
    this.armHandshakeTimer('UDP channel and IP discovery');
    this.setUpMedia(this.attempt, d, mode).catch((err: unknown) =>
      this.debug(`internal error during media set-up: ${toError(err).message}`),
    );
  }

  private stale(attempt: number): boolean {
    return attempt !== this.attempt || this.current.status !== 'connecting';
  }

  private async setUpMedia(attempt: number, d: ReadyData, mode: EncryptionMode): Promise<void> {
    let channel: MediaChannel;
    try {
      channel = await this.#options.engine.openChannel({
        ssrc: d.ssrc,
        serverHost: d.ip,
        serverPort: d.port,
      });
    } catch (err) {
      if (!this.stale(attempt))
        this.fail(
          'rejoin',
          isVoxcordError(err)
            ? err
            : new VoxcordError('UDP_ERROR', 'could not open the UDP channel', { cause: toError(err) }),
        );
      return;
    }
    if (this.stale(attempt)) {
      channel.close();
      return;
    }
    this.attachChannel(channel);
    let address: { address: string; port: number };
    try {
      address = await channel.discoverAddress();
    } catch (err) {
      if (!this.stale(attempt))
        this.fail(
          'rejoin',
          isVoxcordError(err)
            ? err
            : new VoxcordError('IP_DISCOVERY_FAILED', 'IP discovery failed', { cause: toError(err) }),
        );
      return;
    }
    if (this.stale(attempt)) return;
    this.send({
      op: VoiceOpcode.SelectProtocol,
      d: { protocol: 'udp', data: { address: address.address, port: address.port, mode } },
    });
    this.armHandshakeTimer('Session Description after Select Protocol');
  }

  private attachChannel(channel: MediaChannel): void {
    const onRtp = (packet: ReceivedRtp): void => {
      if (this.listenerCount('rtp') > 0) {
        const userId = this.inbound.users.get(packet.ssrc);
        this.emit('rtp', userId === undefined ? packet : { ...packet, userId });
      }
      this.inbound.receive(packet);
      if (this.heldTimer === undefined) this.armHeldExpiry();
    };
    const onError = (error: VoxcordError): void => {
      if (this.channel !== channel) return;
      // Without its UDP socket the session cannot resume (keys and socket go together): start over.
      this.fail('rejoin', error);
    };
    const onDrop = (reason: RtpDropReason): void => void this.emit('rtpDrop', reason);
    channel.on('rtp', onRtp);
    channel.on('drop', onDrop);
    channel.on('error', onError);
    this.channel = channel;
    this.daveState.bindChannel(channel);
    this.channelCleanup = () => {
      channel.off('rtp', onRtp);
      channel.off('drop', onDrop);
      channel.off('error', onError);
    };
  }

  private onSessionDescription(d: SessionDescriptionData): void {
    const status = this.current.status;
    if (
      this.channel === undefined ||
      (status !== 'connecting' && status !== 'ready' && status !== 'resuming')
    ) {
      this.debug('ignored op 4 before the media channel exists');
      return;
    }
    const mode = asSupportedMode(d.mode);
    if (mode === undefined) {
      this.fail(
        'final',
        new VoxcordError(
          'NO_SUPPORTED_ENCRYPTION_MODE',
          'the voice server confirmed a mode we do not support',
          {
            details: { mode: d.mode },
          },
        ),
      );
      return;
    }
    if (d.secret_key.length !== TRANSPORT_KEY_BYTES) {
      this.fail(
        'final',
        new VoxcordError('GATEWAY_MALFORMED_FRAME', 'op 4 secret_key has the wrong length', {
          details: { length: d.secret_key.length },
        }),
      );
      return;
    }
    try {
      this.channel.setTransport(mode, Uint8Array.from(d.secret_key));
    } catch (err) {
      this.fail(
        'final',
        isVoxcordError(err)
          ? err
          : new VoxcordError('UDP_ERROR', 'could not install the transport cipher', { cause: toError(err) }),
      );
      return;
    }
    const firstDescription = status === 'connecting';
    this.transition({ type: 'sessionDescription', mode, daveProtocolVersion: d.dave_protocol_version });
    // The DAVE session starts with the first op 4 of a connection (dave.md §6.1).
    if (firstDescription)
      this.daveState.handle({ op: VoiceOpcode.SessionDescription, protocolVersion: d.dave_protocol_version });
  }

  /** Op 5, once per flags change on a websocket; the first non-zero one is probed (speaking-gate.ts). */
  private sendSpeaking(flags: number): void {
    const ssrc = this.ssrc;
    if (!this.speaking.want(flags) || ssrc === undefined) return;
    if (!this.send({ op: VoiceOpcode.Speaking, d: { speaking: flags, delay: 0, ssrc } })) return;
    if (!this.speaking.sent(flags)) return;
    const tracker = this.heartbeat;
    const nonce = tracker === undefined ? undefined : this.onHeartbeatTick(tracker);
    if (nonce !== undefined) this.speaking.probing(nonce);
    else if (this.socket !== undefined) {
      this.speaking.unprobed();
      this.daveState.gateSend(false);
    }
  }

  /** A new or lost websocket: frames wait until op 5 is confirmed on the next one. */
  private closeSpeakingGate(): void {
    this.speaking.reset();
    this.daveState.gateSend(true);
  }

  // ---- timers ----

  private armHandshakeTimer(step: string): void {
    this.clearHandshakeTimer();
    const attempt = this.attempt;
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      if (attempt !== this.attempt || !isActive(this.current)) return;
      this.fail(
        'rejoin',
        new VoxcordError('GATEWAY_HANDSHAKE_TIMEOUT', `voice handshake timed out waiting for ${step}`, {
          details: { step, timeoutMs: this.handshakeTimeoutMs },
        }),
      );
    }, this.handshakeTimeoutMs);
  }

  /** Packets held for an SSRC without op 5 come out (counted) when due, even if no later packet comes. */
  private armHeldExpiry(): void {
    const due = this.inbound.heldUntil;
    if (due === undefined) return;
    this.heldTimer = setTimeout(
      () => {
        this.heldTimer = undefined;
        this.inbound.expireHeld(performance.now());
        this.armHeldExpiry();
      },
      Math.max(1, due - performance.now() + 1),
    );
    this.heldTimer.unref();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private startHeartbeat(helloIntervalMs: number): void {
    this.stopHeartbeat();
    const intervalMs = clampHeartbeatInterval(helloIntervalMs);
    if (intervalMs !== helloIntervalMs)
      this.debug(
        `heartbeat_interval ${helloIntervalMs} ms out of range: heartbeating every ${intervalMs} ms`,
      );
    const tracker = new HeartbeatTracker(intervalMs);
    this.heartbeat = tracker;
    this.heartbeatTimer = setInterval(() => this.onHeartbeatTick(tracker), intervalMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeat = undefined;
  }

  /** Sends op 3 (returns its nonce) or, after too many missed ACKs, drops the websocket. */
  private onHeartbeatTick(tracker: HeartbeatTracker): number | undefined {
    const socket = this.socket;
    if (tracker !== this.heartbeat || socket === undefined) return undefined;
    const tick = tracker.beat(Date.now(), socket.lastSeq);
    if (tick.action === 'send') {
      return this.send({ op: VoiceOpcode.Heartbeat, d: tick.data }) ? tick.data.t : undefined;
    }
    // The connection is dead: drop it ourselves and resume (or fail during the handshake).
    this.debug(`${tick.missed} heartbeats without ACK: dropping the websocket`);
    socket.destroy();
    this.socket = undefined;
    this.closeSpeakingGate();
    this.stopHeartbeat();
    this.clearHandshakeTimer();
    const error = new VoxcordError('GATEWAY_CLOSED', 'the voice server stopped acknowledging heartbeats', {
      details: { missedAcks: tick.missed },
    });
    this.transition({ type: 'connectionLost', reason: error.message, error });
    this.resumeIfNeeded(socket);
    return undefined;
  }
}
