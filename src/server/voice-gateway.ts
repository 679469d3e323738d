/**
 * The local voice gateway: a websocket server (ws:// or wss://) speaking voice gateway v8
 * (voice-gateway.md §5-§10). One GatewayConnection per websocket; sessions outlive connections
 * (Resume). Frames are parsed and built only by src/protocol/voice-messages.ts.
 *
 * Choices where Discord is silent or vague (documented for tests and clients):
 * - Hello is sent immediately on connect; Identify/Resume may arrive before or after it.
 * - Heartbeats (op 3) are accepted and ACKed before Identify; every other op before Identify or
 *   Resume closes 4003.
 * - Undecodable frames (not JSON, bad fields) close 4002. Ops that only a server sends (2, 4, 6,
 *   8, 9, 11, 13, 21, 22, 24, 25, 27, 29, 30) close 4001; any other unknown op (12, 15, 18, 20,
 *   video ops, future ops) is ignored, as first-party clients send some of them.
 * - A second Identify or a Resume on an authenticated connection closes 4005.
 * - No heartbeat for `heartbeatTimeoutMs` (default 2 × interval) closes 4009 and ends the session;
 *   one already in the socket when the timer fires (this process was busy) counts as in time.
 * - More than `rateLimit.messages` messages in `rateLimit.windowMs` closes 4021 (not resumable).
 *   A client whose unsent frames pass `maxBufferedBytes` is dropped (1006, resumable).
 * - Close code 1000 from the client is a clean leave (op 13 now); any other client close or drop
 *   detaches the session for the grace period, waiting for Resume.
 * - A server-initiated close ends the session if the code is not resumable for clients
 *   (closeCodeAction != 'resume'), else detaches it like a drop.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { VoiceCloseCode, VoiceOpcode, closeCodeAction } from '../protocol/constants.js';
import type { EncryptionMode } from '../protocol/constants.js';
import { decodeClientFrame, encodeServerJson } from '../protocol/voice-messages.js';
import type {
  ClientMessage,
  IdentifyData,
  ResumeData,
  SelectProtocolData,
} from '../protocol/voice-messages.js';
import { createTransportCipher } from '../media/transport-cipher.js';
import {
  TRANSPORT_KEY_BYTES,
  VOICE_GATEWAY_CLOSE_GRACE_MS,
  VOICE_WS_MAX_PAYLOAD_BYTES,
} from '../protocol/constants.js';
import type { ClientSession, FrameSink } from './client-session.js';
import { takeCloseAt } from './faults.js';
import type { HandshakeStep } from './faults.js';
import type { Frame } from './replay-buffer.js';
import { closeHttp, listenHttp } from './http-listener.js';
import { MessageRateLimit } from './rate-limit.js';
import type { ServerState, SessionConnection } from './server-state.js';
import type { ServerEvent } from './types.js';

/** Opcodes only a server sends: a client sending one is broken (4001). */
const SERVER_ONLY_OPS: ReadonlySet<number> = new Set([2, 4, 6, 8, 9, 11, 13, 21, 22, 24, 25, 27, 29, 30]);

export interface GatewayOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string } | null;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  modes: readonly string[];
  /** `ip`/`port` advertised in Ready. */
  udpHost: string;
  udpPort: number;
  keyFor: ((userId: string) => Uint8Array) | undefined;
  /** Close 4017 on op 1 from a client that offered no DAVE (voice-gateway.md §8, §10 step 3). */
  daveRequired: boolean;
  /** More than `messages` client messages in `windowMs` closes the socket with 4021. */
  rateLimit: { messages: number; windowMs: number };
  /** Unsent bytes past which a client that does not read is dropped (session kept for Resume). */
  maxBufferedBytes: number;
  log: (event: ServerEvent) => void;
}

/** Codes `ws` refuses to put in a close frame: the closest thing is dropping the TCP connection. */
function isSendableCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

export class VoiceGateway {
  private readonly connections = new Set<GatewayConnection>();
  private nextConnectionId = 1;

  private constructor(
    private readonly http: HttpServer,
    private readonly wss: WebSocketServer,
    readonly options: GatewayOptions,
    private readonly state: ServerState,
  ) {
    wss.on('connection', (ws, request) => this.accept(ws, request));
    wss.on('error', (error) => options.log({ type: 'error', reason: 'ws-server', detail: error.message }));
  }

  static async listen(options: GatewayOptions, state: ServerState): Promise<VoiceGateway> {
    const http = options.tls
      ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, upgradeRequired)
      : createHttpServer(upgradeRequired);
    const wss = new WebSocketServer({ server: http, maxPayload: VOICE_WS_MAX_PAYLOAD_BYTES });
    await listenHttp(http, wss, options.port, options.host);
    return new VoiceGateway(http, wss, options, state);
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const connection = new GatewayConnection(this.nextConnectionId++, ws, this.options, this.state, () =>
      this.connections.delete(connection),
    );
    this.connections.add(connection);
    this.options.log({
      type: 'connection',
      connectionId: connection.id,
      detail: `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? 0} ${request.url ?? ''}`,
    });
    connection.start();
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    await closeHttp(this.http, this.wss);
  }
}

/** A request that is no WebSocket upgrade: answered, not left open until the server's timeout. */
function upgradeRequired(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
  res.end('426 Upgrade Required: the voice gateway speaks WebSocket\n');
}

/** One websocket. Handshake state lives here until it is bound to a ClientSession. */
class GatewayConnection implements SessionConnection {
  private session: ClientSession | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<NodeJS.Timeout>();
  private closing = false;
  private readonly sink: FrameSink = (frame) => this.sendFrame(frame, true);
  private readonly rate: MessageRateLimit;

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly options: GatewayOptions,
    private readonly state: ServerState,
    private readonly onGone: () => void,
  ) {
    this.rate = new MessageRateLimit(options.rateLimit.messages, options.rateLimit.windowMs);
  }

  start(): void {
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('close', (code) => this.onClose(code));
    this.ws.on('error', (error) =>
      this.options.log({ type: 'error', connectionId: this.id, reason: 'ws', detail: error.message }),
    );
    if (this.faultClose('before-hello')) return;
    this.sendFrame(
      encodeServerJson({
        op: VoiceOpcode.Hello,
        d: { heartbeat_interval: this.options.heartbeatIntervalMs },
      }),
      false,
    );
    this.armHeartbeatTimeout();
    this.faultClose('after-hello');
  }

  /** Applies a `closeAt` fault for this handshake step; true if the socket was closed. */
  private faultClose(step: HandshakeStep): boolean {
    const code = takeCloseAt(this.state.faults.ws, step);
    if (code === undefined) return false;
    this.closeWith(code, `fault: close ${step}`);
    return true;
  }

  // ---- outbound ----

  /** Sends a frame now or after the configured websocket delay; duplicates on a seeded fault. */
  private sendFrame(frame: Frame, stamped: boolean): void {
    const faults = this.state.faults.ws;
    const copies = stamped && this.session ? this.session.wsFaults.copies(faults) : 1;
    const delay = faults?.delayMs ?? 0;
    for (let i = 0; i < copies; i++) {
      if (delay > 0) {
        const timer = setTimeout(() => {
          this.pending.delete(timer);
          this.rawSend(frame);
        }, delay);
        this.pending.add(timer);
      } else {
        this.rawSend(frame);
      }
    }
  }

  private rawSend(frame: Frame): void {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.options.maxBufferedBytes) {
      // The client does not read: buffering more would grow without bound. Drop the connection
      // (1006, resumable: the session waits for a Resume; the stamped frame is in its replay buffer).
      this.log({ type: 'error', reason: 'backpressure', detail: `${this.ws.bufferedAmount} bytes unsent` });
      return this.closeWith(1006, 'send buffer full');
    }
    this.ws.send(frame, (error) => {
      if (error && !this.closing)
        this.options.log({ type: 'error', connectionId: this.id, reason: 'ws-send', detail: error.message });
    });
  }

  // ---- inbound ----

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    if (!this.rate.take(performance.now())) {
      this.closeWith(VoiceCloseCode.RateLimited, 'rate limited');
      // Stop reading a flooding client, and drop it once the close frame had time to leave.
      this.ws.pause();
      setTimeout(() => this.ws.terminate(), VOICE_GATEWAY_CLOSE_GRACE_MS).unref();
      return;
    }
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    let message: ClientMessage | { op: 'unknown'; rawOp: number };
    try {
      message = decodeClientFrame(isBinary ? bytes : bytes.toString('utf8'));
    } catch (error) {
      this.log({ type: 'error', reason: 'decode', detail: (error as Error).message });
      return this.closeWith(VoiceCloseCode.FailedToDecode, 'failed to decode payload');
    }
    if (message.op === 'unknown') {
      if (SERVER_ONLY_OPS.has(message.rawOp))
        return this.closeWith(VoiceCloseCode.UnknownOpcode, 'invalid opcode');
      this.log({ type: 'ignored-op', op: message.rawOp });
      return;
    }
    try {
      this.dispatch(message);
    } catch (error) {
      // A handler that threw is this server's bug: close as Discord does when a voice server fails
      // (clients resume), rather than let the exception end the process hosting it.
      this.log({ type: 'error', reason: 'handler', detail: (error as Error).message });
      this.closeWith(VoiceCloseCode.VoiceServerCrashed, 'voice server crashed');
    }
  }

  private dispatch(message: ClientMessage): void {
    if (message.op === VoiceOpcode.Heartbeat) return this.onHeartbeat(message.d.t);
    const session = this.session;
    if (!session) {
      if (message.op === VoiceOpcode.Identify) return this.onIdentify(message.d);
      if (message.op === VoiceOpcode.Resume) return this.onResume(message.d);
      return this.closeWith(VoiceCloseCode.NotAuthenticated, 'not authenticated');
    }
    switch (message.op) {
      case VoiceOpcode.Identify:
      case VoiceOpcode.Resume:
        return this.closeWith(VoiceCloseCode.AlreadyAuthenticated, 'already authenticated');
      case VoiceOpcode.SelectProtocol:
        return this.onSelectProtocol(session, message.d);
      case VoiceOpcode.Speaking:
        if (message.d.ssrc !== session.ssrc) this.log({ type: 'ignored-op', op: 5, reason: 'ssrc-mismatch' });
        this.state.callOf(session)?.speaking(session, message.d.speaking);
        return;
      case VoiceOpcode.DaveTransitionReady:
        this.state.callOf(session)?.transitionReady(session, message.d.transition_id);
        return;
      case VoiceOpcode.DaveMlsInvalidCommitWelcome:
        this.state.callOf(session)?.invalidCommitWelcome(session, message.d.transition_id);
        return;
      case VoiceOpcode.DaveMlsKeyPackage:
      case VoiceOpcode.DaveMlsCommitWelcome:
        this.state.callOf(session)?.binary(session, message.op, message.payload);
        return;
    }
  }

  private onHeartbeat(t: number): void {
    this.armHeartbeatTimeout();
    this.sendFrame(encodeServerJson({ op: VoiceOpcode.HeartbeatAck, d: { t } }), false);
  }

  private onIdentify(d: IdentifyData): void {
    const session = this.state.identify(d);
    if (!session) return this.closeWith(VoiceCloseCode.AuthenticationFailed, 'authentication failed');
    this.bindSession(session);
    this.log({ type: 'identify', channelId: session.channelId, ssrc: session.ssrc });
    if (this.faultClose('after-identify')) return;
    session.sendJson({
      op: VoiceOpcode.Ready,
      d: {
        ssrc: session.ssrc,
        ip: this.options.udpHost,
        port: this.options.udpPort,
        modes: [...this.options.modes],
      },
    });
    this.faultClose('after-ready');
  }

  private onResume(d: ResumeData): void {
    const session = this.state.sessionById(d.session_id);
    if (!session || session.ended || session.token !== d.token || session.guildId !== d.server_id) {
      this.log({ type: 'resume-failed', reason: 'unknown-session' });
      return this.closeWith(VoiceCloseCode.SessionNoLongerValid, 'session no longer valid');
    }
    const frames = session.replayAfter(d.seq_ack);
    if (frames === null) {
      this.log({
        type: 'resume-failed',
        guildId: session.guildId,
        userId: session.userId,
        reason: 'not-buffered',
      });
      // The client cannot catch up: the session is over for everyone (op 13 to the others).
      this.state.endSession(session, 'resume-failed');
      return this.closeWith(VoiceCloseCode.SessionNoLongerValid, 'session no longer valid');
    }
    this.session = session;
    this.state.bind(session, this);
    this.sendFrame(encodeServerJson({ op: VoiceOpcode.Resumed, d: null }), false);
    for (const { frame } of frames) this.sendFrame(frame, true);
    session.attach(this.sink);
    this.log({ type: 'resume', detail: `seq_ack ${d.seq_ack}, replayed ${frames.length}` });
  }

  private onSelectProtocol(session: ClientSession, d: SelectProtocolData): void {
    if (this.faultClose('after-select-protocol')) return;
    if (d.protocol !== 'udp') return this.closeWith(VoiceCloseCode.UnknownProtocol, 'unknown protocol');
    const mode = d.data.mode;
    if (!this.options.modes.includes(mode)) {
      return this.closeWith(VoiceCloseCode.UnknownEncryptionMode, 'unknown encryption mode');
    }
    if (this.options.daveRequired && session.maxDaveProtocolVersion < 1) {
      return this.closeWith(VoiceCloseCode.DaveRequired, 'E2EE/DAVE protocol required');
    }
    const key = session.key ?? this.keyFor(session.userId);
    try {
      session.cipher = createTransportCipher(mode as EncryptionMode, key);
    } catch (error) {
      // An offered mode we cannot run (e.g. a deprecated name offered to test clients).
      this.log({ type: 'error', reason: 'cipher', detail: (error as Error).message });
      return this.closeWith(VoiceCloseCode.UnknownEncryptionMode, 'unknown encryption mode');
    }
    session.key = key;
    session.mode = mode as EncryptionMode;
    // A new op 1 is a new transport set-up (socket, counters): the SFU starts over from it.
    session.declaredAddress = { address: d.data.address, port: d.data.port };
    session.observedAddress = null;
    session.inboundNonces.reset();
    const call = this.state.callOf(session);
    session.sendJson({
      op: VoiceOpcode.SessionDescription,
      d: { mode, secret_key: [...key], dave_protocol_version: call?.daveVersionFor(session) ?? 0 },
    });
    this.log({ type: 'select-protocol', detail: mode });
    if (call && !session.joined) {
      call.join(session);
      this.log({ type: 'join', channelId: session.channelId, ssrc: session.ssrc });
    }
    this.faultClose('after-session-description');
  }

  private keyFor(userId: string): Uint8Array {
    const key = this.options.keyFor?.(userId);
    if (key === undefined) return randomBytes(TRANSPORT_KEY_BYTES);
    return Uint8Array.from(key);
  }

  private bindSession(session: ClientSession): void {
    this.session = session;
    this.state.bind(session, this);
    session.attach(this.sink);
  }

  // ---- heartbeat ----

  private armHeartbeatTimeout(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = null;
      // Timers run before socket reads: when this process was busy, the heartbeat that arrived in
      // time may still sit unread. Read pending input first (poll phase, then this immediate); a
      // heartbeat found there re-armed the timer.
      setImmediate(() => {
        if (this.heartbeatTimer === null) this.closeWith(VoiceCloseCode.SessionTimeout, 'heartbeat timeout');
      });
    }, this.options.heartbeatTimeoutMs);
  }

  // ---- closing ----

  /** Server-initiated close (SessionConnection). */
  closeWith(code: number, reason = ''): void {
    if (this.closing) return;
    this.closing = true;
    this.clearTimers();
    const session = this.session;
    this.session = null;
    this.log({
      type: 'close',
      code,
      reason: 'server',
      detail: reason,
      ...(session ? { userId: session.userId } : {}),
    });
    if (session) {
      session.detach(this.sink);
      if (closeCodeAction(code) === 'resume') this.state.unbind(session, this);
      else this.state.endSession(session, `closed ${code}`);
    }
    if (isSendableCloseCode(code)) this.ws.close(code, reason);
    else this.ws.terminate();
  }

  /** The session moved to another connection (or ended): drop this socket quietly. */
  abandon(): void {
    if (this.closing) return;
    this.closing = true;
    this.clearTimers();
    this.session?.detach(this.sink);
    this.session = null;
    this.ws.terminate();
  }

  /** Server stop: drop the socket without touching session state. */
  destroy(): void {
    this.closing = true;
    this.clearTimers();
    this.session?.detach(this.sink);
    this.session = null;
    this.ws.terminate();
  }

  private onClose(code: number): void {
    const session = this.session;
    this.session = null;
    this.clearTimers();
    this.onGone();
    if (this.closing) return; // we initiated it; already handled
    this.closing = true;
    this.log({ type: 'close', code, reason: 'client', ...(session ? { userId: session.userId } : {}) });
    if (!session) return;
    session.detach(this.sink);
    if (code === 1000) this.state.endSession(session, 'client-closed');
    else this.state.unbind(session, this);
  }

  private clearTimers(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  private log(event: ServerEvent): void {
    const session = this.session;
    this.options.log({
      connectionId: this.id,
      ...(session ? { guildId: session.guildId, userId: session.userId } : {}),
      ...event,
    });
  }
}
