/**
 * The local main gateway's sockets: one HTTP server carrying the REST API (rest-http.ts) and the
 * gateway websocket (v10, JSON). One MainGatewayConnection per websocket: Hello, heartbeats and
 * their timeout, and the ops a client sends, handed to the shared state (main-state.ts), which
 * decides. Sessions outlive connections (Resume).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { GatewayCloseCode, GatewayOpcode, MAIN_GATEWAY_MAX_PAYLOAD_BYTES } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import type { BotSession, BotSessionLink } from './bot-session.js';
import { isObject } from './main-state.js';
import type { MainGatewayState } from './main-state.js';
import type { MainGatewayLogEvent } from './main-types.js';
import { closeHttp, listenHttp } from './http-listener.js';
import { serveRestRequest } from './rest-http.js';
import { requestUrl } from '../util/request-url.js';
import type { RestHandler } from './rest-http.js';

const Op = GatewayOpcode;
const Close = GatewayCloseCode;

export interface MainGatewayServerOptions {
  host: string;
  port: number;
  heartbeatIntervalMs: number;
  /** No heartbeat for this long closes with 4009. */
  heartbeatTimeoutMs: number;
  /** How long a dropped session stays resumable. */
  sessionGraceMs: number;
  log: (event: MainGatewayLogEvent) => void;
}

export class MainGatewayServer {
  /** ws://host:port */
  readonly url: string;
  /** http://host:port/api */
  readonly apiUrl: string;
  readonly port: number;
  private readonly connections = new Set<MainGatewayConnection>();
  private served: { state: MainGatewayState; rest: RestHandler } | null = null;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly options: MainGatewayServerOptions,
  ) {
    this.port = (http.address() as AddressInfo).port;
    const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.url = `ws://${hostForUrl}:${this.port}`;
    this.apiUrl = `http://${hostForUrl}:${this.port}/api`;
  }

  /** Listens; requests get 404 and sockets are refused until serve(). */
  static async listen(options: MainGatewayServerOptions): Promise<MainGatewayServer> {
    let server: MainGatewayServer | null = null;
    const http = createServer((req, res) =>
      serveRestRequest(req, res, server?.served?.rest ?? null, options.log),
    );
    const wss = new WebSocketServer({ server: http, maxPayload: MAIN_GATEWAY_MAX_PAYLOAD_BYTES });
    await listenHttp(http, wss, options.port, options.host).catch((error: NodeJS.ErrnoException) => {
      throw new VoxcordError(
        'SERVER_ERROR',
        error.code === 'EADDRINUSE'
          ? `main gateway port ${options.port} on ${options.host} is already in use`
          : `main gateway could not listen on ${options.host}:${options.port}: ${error.message}`,
        { cause: error, details: { errno: error.code } },
      );
    });
    server = new MainGatewayServer(http, wss, options);
    return server;
  }

  /** Starts answering: websockets act on `state`, REST requests go to `rest`. */
  serve(state: MainGatewayState, rest: RestHandler): void {
    this.served = { state, rest };
    this.wss.on('connection', (socket, request) => {
      const connection = new MainGatewayConnection(socket, state, this.options, () =>
        this.connections.delete(connection),
      );
      this.connections.add(connection);
      // A target that is no URL (`//[`) gets the defaults, as a target without a query does.
      connection.start(requestUrl(request.url)?.searchParams ?? new URLSearchParams());
    });
  }

  /** Closes every websocket with `code` (sessions stay resumable). Returns how many. */
  dropConnections(code: number): number {
    let n = 0;
    for (const connection of [...this.connections]) {
      connection.close(code, 'dropped by operator');
      n += 1;
    }
    return n;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    await closeHttp(this.http, this.wss);
  }
}

/** One gateway websocket: Hello, heartbeats, and the client's ops until it closes. */
class MainGatewayConnection implements BotSessionLink {
  private session: BotSession | null = null;
  /** The server closed the socket (a drop to test resume, a timeout): the session stays resumable. */
  private closedByServer = false;
  private lastHeartbeat = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly state: MainGatewayState,
    private readonly options: MainGatewayServerOptions,
    private readonly onGone: () => void,
  ) {}

  start(query: URLSearchParams): void {
    const { socket, options } = this;
    const encoding = query.get('encoding') ?? 'json';
    options.log({ type: 'connection', detail: `v=${query.get('v') ?? '?'} encoding=${encoding}` });
    this.timer = setInterval(
      () => {
        if (Date.now() - this.lastHeartbeat > options.heartbeatTimeoutMs)
          this.close(Close.SessionTimedOut, 'Session timed out.');
      },
      Math.min(options.heartbeatTimeoutMs, 1_000),
    );
    socket.on('message', (data, isBinary) => {
      try {
        this.onMessage(data, isBinary);
      } catch {
        // Never let one bad frame take the server down.
        this.close(Close.UnknownError, 'internal error');
      }
    });
    socket.on('close', (code) => {
      this.clearTimer();
      this.onGone();
      const session = this.session;
      if (session !== null) {
        session.detach(this);
        // A client's clean close ends its session, as on Discord; after any other the session
        // waits for a resume, for a while (kept for ever, every bot that ever came would stay).
        if (!this.closedByServer && (code === 1000 || code === 1001)) this.state.release(session);
        else {
          const detachment = session.detachments;
          setTimeout(() => this.state.release(session, detachment), options.sessionGraceMs).unref();
        }
      }
      options.log({ type: 'close', userId: session?.userId, code });
    });
    socket.on('error', () => undefined);
    if (encoding !== 'json') {
      this.close(Close.DecodeError, 'only encoding=json is supported');
      return;
    }
    this.sendRaw({ op: Op.Hello, d: { heartbeat_interval: options.heartbeatIntervalMs } });
  }

  // ---- BotSessionLink ----

  send(frame: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(frame);
  }

  close(code: number, reason = ''): void {
    this.closedByServer = true;
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING)
      this.socket.close(code, reason);
  }

  /** Server stop: drop the socket now. */
  destroy(): void {
    this.clearTimer();
    this.socket.terminate();
  }

  // ---- inbound ----

  private sendRaw(payload: unknown): void {
    this.send(JSON.stringify(payload));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.close(Close.DecodeError, 'binary frames are not supported (encoding=json)');
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'),
      );
    } catch {
      this.close(Close.DecodeError, 'Error while decoding payload.');
      return;
    }
    if (!isObject(message) || typeof message.op !== 'number') {
      this.close(Close.DecodeError, 'Error while decoding payload.');
      return;
    }
    switch (message.op) {
      case Op.Heartbeat:
        this.lastHeartbeat = Date.now();
        this.sendRaw({ op: Op.HeartbeatAck });
        return;
      case Op.Identify:
      case Op.Resume:
        if (this.session !== null) {
          this.close(Close.AlreadyAuthenticated, 'already authenticated');
          return;
        }
        if (message.op === Op.Identify) this.onIdentify(message.d);
        else this.onResume(message.d);
        return;
      case Op.VoiceStateUpdate:
      case Op.PresenceUpdate:
      case Op.RequestGuildMembers:
        if (this.session === null) {
          this.close(Close.NotAuthenticated, 'Not authenticated.');
          return;
        }
        if (message.op === Op.VoiceStateUpdate && !this.state.voiceStateUpdate(this.session, message.d))
          this.close(Close.DecodeError, 'invalid voice state update');
        return;
      default:
        this.close(Close.UnknownOpcode, 'Unknown opcode.');
    }
  }

  private onIdentify(d: unknown): void {
    const result = this.state.identify(d, this);
    if ('code' in result) this.close(result.code, result.reason);
    else this.session = result;
  }

  private onResume(d: unknown): void {
    const session = this.state.resume(d, this);
    if (session === null) this.sendRaw({ op: Op.InvalidSession, d: false });
    else this.session = session;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
