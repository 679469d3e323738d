/**
 * startNode: a Lavalink v4-compatible node. One HTTP server carries the REST API and the
 * WebSocket `/v4/websocket` (the protocol reference, to the letter: handshake codes, error bodies,
 * sessions and resume). Players run on a NodePlayerBackend; track resolution, HTTP and JSON run on
 * this (main) thread, the audio clock in the media engine's worker.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { voxcordVersion } from '../util/installed-package.js';
import { toError, VoxcordError } from '../errors.js';
import { checkArg, checkDelay, checkMethods } from '../util/args.js';
import { SUPPORTED_FILTERS } from '../player/filters/chain.js';
import type { NodePlayerBackend } from './backend.js';
import { errorBody, HttpError } from './http-error.js';
import { playableFromEncoded } from './player.js';
import type { NodePlayerContext } from './player.js';
import { parsePlayerUpdate } from './player-update.js';
import { Session } from './session.js';
import type { SessionHost } from './session.js';
import { checkSourceOptions, loadTracks } from './sources.js';
import type { SourceName } from './sources.js';
import { LoadSampler } from './stats.js';
import { createTimelineBackend } from './timeline-backend.js';
import { requestUrl } from '../util/request-url.js';
import type { ApiTrack, Stats } from './types.js';

export const LAVALINK_API_VERSION = '4';
export const DEFAULT_NODE_PORT = 2333;
export const DEFAULT_PLAYER_UPDATE_INTERVAL_MS = 5_000;
export const DEFAULT_STATS_INTERVAL_MS = 60_000;
export const DEFAULT_CLIENT_PING_INTERVAL_MS = 30_000;
const MAX_BODY_BYTES = 1024 * 1024;
/** v4 clients send nothing on the WebSocket; a larger frame closes it (1009) instead of buffering (ws: 100 MiB). */
const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

export interface NodeOptions {
  /** Default 127.0.0.1 (loopback: expose it on purpose). */
  host?: string;
  /** Default 2333; 0 picks a free port. */
  port?: number;
  /** The `Authorization` every client must send. Required. */
  password: string;
  /** Plays the audio (default: the timeline backend, no audio). */
  backend?: NodePlayerBackend;
  /** Enabled sources (default http and local). */
  sources?: readonly SourceName[];
  playerUpdateIntervalMs?: number;
  statsIntervalMs?: number;
  /**
   * How often the node pings each client WebSocket (default 30 s). A client that answered neither
   * of the last two pings is gone (its host died, a half-open connection, a socket it stopped
   * reading): its socket is ended, so its session pauses for resume or ends, as on any close.
   */
  clientPingIntervalMs?: number;
  httpTimeoutMs?: number;
  /** ffprobe for loadtracks of what the node does not read itself (see SourceOptions; false: never). */
  ffprobePath?: string | false;
  /** One line per session, player and voice event (default: nothing). */
  log?: (line: string) => void;
}

export interface VoxcordNode {
  readonly host: string;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** Node-wide player counts. */
  readonly players: number;
  close(): Promise<void>;
}

/** The version string: API major 4 (what clients key on), voxcord's own version as build metadata. */
export function nodeVersion(): {
  semver: string;
  major: number;
  minor: number;
  patch: number;
  preRelease: null;
  build: string;
} {
  const build = `voxcord.${voxcordVersion()}`;
  return { semver: `4.0.0+${build}`, major: 4, minor: 0, patch: 0, preRelease: null, build };
}

/**
 * How long after its 101 response a cloudstorm socket gets its first message (`ready`). A message
 * written with the 101 reaches the client in the same read, and Node's http client hands those
 * bytes to the 'upgrade' listener as `head`: cloudstorm (lavacord 3's WebSocket) drops them, so
 * its `ready` (the session id, or a resume's answer) was lost and lavacord never became usable.
 * Every other client gets `ready` with the 101, as Lavalink sends it: lavalink-client uses the
 * session id as soon as its socket opens, and fails if `ready` is not in that read.
 */
const CLOUDSTORM_FIRST_MESSAGE_DELAY_MS = 50;
const CLOUDSTORM_USER_AGENT = /\(https:\/\/github\.com\/DasWolke\/CloudStorm\b/i;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newSessionId(): string {
  let id = '';
  for (let i = 0; i < 16; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** 'missing' | 'wrong' | 'ok', compared in constant time. */
function checkAuth(header: string | undefined, password: string): 'missing' | 'wrong' | 'ok' {
  if (header === undefined) return 'missing';
  return timingSafeEqual(digest(header), digest(password)) ? 'ok' : 'wrong';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'The request body is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim().length === 0) throw new HttpError(400, 'The request body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `The request body is not valid JSON: ${toError(err).message}`);
  }
}

/** A percent-decoded path segment; `%E0%A4%A` decodes to nothing (URIError): 400. */
function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'The request path is not valid percent-encoding');
  }
}

function decodeApiTrack(encoded: string): ApiTrack {
  const playable = playableFromEncoded(encoded);
  return { encoded, info: playable.info, pluginInfo: {}, userData: {} };
}

export async function startNode(options: NodeOptions): Promise<VoxcordNode> {
  checkArg(options, 'options', 'object');
  if (typeof options.password !== 'string' || options.password.length === 0)
    throw new VoxcordError('INVALID_ARGUMENT', 'a password is required (clients send it as Authorization)');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_NODE_PORT;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new VoxcordError('INVALID_ARGUMENT', 'port must be an integer 0-65535 (0: any free port)');
  checkArg(options.host, 'host', 'string', 'optional');
  checkMethods(options.backend, 'backend', 'a player backend', ['createPlayer'], 'optional');
  checkSourceOptions(options);
  for (const key of ['playerUpdateIntervalMs', 'statsIntervalMs', 'clientPingIntervalMs'] as const)
    checkDelay(options[key], key, 'optional');
  checkArg(options.log, 'log', 'function', 'optional');
  const password = options.password;
  const backend = options.backend ?? createTimelineBackend();
  const sources = options.sources ?? (['http', 'local'] as const);
  const timers = {
    playerUpdateIntervalMs: options.playerUpdateIntervalMs ?? DEFAULT_PLAYER_UPDATE_INTERVAL_MS,
    statsIntervalMs: options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS,
    clientPingIntervalMs: options.clientPingIntervalMs ?? DEFAULT_CLIENT_PING_INTERVAL_MS,
  };
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const load = new LoadSampler();
  const active = new Map<string, Session>();
  const pausedSessions = new Map<string, Session>();
  const resolve = (identifier: string): ReturnType<typeof loadTracks> =>
    loadTracks(identifier, {
      sources,
      ...(options.httpTimeoutMs === undefined ? {} : { httpTimeoutMs: options.httpTimeoutMs }),
      ...(options.ffprobePath === undefined ? {} : { ffprobePath: options.ffprobePath }),
    });

  const allSessions = (): Session[] => [...active.values(), ...pausedSessions.values()];
  const stats = (): Stats => {
    let players = 0;
    let playing = 0;
    for (const s of allSessions())
      for (const p of s.players.values()) {
        players++;
        if (p.playing) playing++;
      }
    return {
      players,
      playingPlayers: playing,
      uptime: Date.now() - started,
      memory: load.memory(),
      cpu: load.cpu(),
    };
  };

  const host_: SessionHost = {
    playerContext: (session, guildId): NodePlayerContext => ({
      guildId,
      userId: session.userId,
      sessionId: session.id,
      backend,
      send: (m) => session.send(m),
      resolve,
      log: (line) => log(`session ${session.id}: ${line}`),
    }),
    stats,
    socketClosed: (session, code) => {
      active.delete(session.id);
      if (session.resuming) {
        const older = pausedSessions.get(session.id);
        if (older !== undefined && older !== session) older.close();
        pausedSessions.set(session.id, session);
        session.pause();
        log(
          `session ${session.id}: socket closed (${code}), paused for resume (${session.timeoutSeconds} s)`,
        );
      } else {
        session.close();
        log(`session ${session.id}: socket closed (${code}), session destroyed`);
      }
    },
    expired: (session) => {
      if (pausedSessions.get(session.id) === session) pausedSessions.delete(session.id);
      session.close();
      log(`session ${session.id}: resume timeout, session destroyed`);
    },
    log,
  };

  const info = (): unknown => ({
    version: nodeVersion(),
    buildTime: 0,
    git: { branch: 'unknown', commit: 'unknown', commitTime: 0 },
    jvm: `Node.js ${process.version}`,
    lavaplayer: 'none (voxcord)',
    sourceManagers: [...sources],
    filters: [...SUPPORTED_FILTERS],
    plugins: [],
  });

  const sessionOf = (id: string): Session => {
    const session = active.get(id);
    if (session === undefined) throw new HttpError(404, 'Session not found');
    return session;
  };

  async function route(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const json = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const noContent = (): void => {
      res.writeHead(204);
      res.end();
    };
    const only = (...methods: string[]): void => {
      if (!methods.includes(method)) throw new HttpError(405, `Request method '${method}' is not supported`);
    };
    if (path === '/version') {
      only('GET');
      const text = nodeVersion().semver;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path === '/v4/info') return (only('GET'), json(200, info()));
    if (path === '/v4/stats') return (only('GET'), json(200, stats()));
    if (path === '/v4/loadtracks') {
      only('GET');
      const identifier = url.searchParams.get('identifier');
      if (identifier === null) throw new HttpError(400, "Required parameter 'identifier' is not present");
      json(200, await resolve(identifier));
      return;
    }
    if (path === '/v4/decodetrack') {
      only('GET');
      const encoded = url.searchParams.get('encodedTrack') ?? url.searchParams.get('track');
      if (encoded === null || encoded.length === 0)
        throw new HttpError(400, "Required parameter 'encodedTrack' is not present");
      json(200, decodeApiTrack(encoded));
      return;
    }
    if (path === '/v4/decodetracks') {
      only('POST');
      const body = await readJson(req);
      if (!Array.isArray(body) || body.some((t) => typeof t !== 'string'))
        throw new HttpError(400, 'The body must be a JSON array of encoded tracks');
      if (body.length === 0) throw new HttpError(400, 'No tracks to decode provided');
      json(200, (body as string[]).map(decodeApiTrack));
      return;
    }
    if (path === '/v4/routeplanner/status') return (only('GET'), noContent());
    if (path === '/v4/routeplanner/free/address' || path === '/v4/routeplanner/free/all')
      return (only('POST'), noContent());
    const m = /^\/v4\/sessions\/([^/]+)(?:\/players(?:\/([^/]+))?)?$/.exec(path);
    if (m !== null) {
      const sessionId = pathSegment(m[1] ?? '');
      const guildId = m[2] === undefined ? undefined : pathSegment(m[2]);
      const isPlayers = path.includes('/players');
      if (!isPlayers) {
        only('PATCH');
        const session = sessionOf(sessionId);
        const body = await readJson(req);
        if (typeof body !== 'object' || body === null || Array.isArray(body))
          throw new HttpError(400, 'The request body must be a JSON object');
        const b = body as Record<string, unknown>;
        if (b.resuming !== undefined && b.resuming !== null) {
          if (typeof b.resuming !== 'boolean') throw new HttpError(400, 'resuming must be a boolean');
          session.resuming = b.resuming;
        }
        if (b.timeout !== undefined && b.timeout !== null) {
          if (typeof b.timeout !== 'number' || !Number.isInteger(b.timeout) || b.timeout <= 0)
            throw new HttpError(400, 'timeout must be a positive integer (seconds)');
          session.timeoutSeconds = b.timeout;
        }
        log(`session ${session.id}: resuming ${session.resuming}, timeout ${session.timeoutSeconds} s`);
        json(200, { resuming: session.resuming, timeout: session.timeoutSeconds });
        return;
      }
      const session = sessionOf(sessionId);
      if (guildId === undefined) {
        only('GET');
        json(
          200,
          [...session.players.values()].map((p) => p.toJSON()),
        );
        return;
      }
      only('GET', 'PATCH', 'DELETE');
      if (method === 'GET') {
        const player = session.player(guildId);
        if (player === undefined) throw new HttpError(404, 'Player not found');
        json(200, player.toJSON());
        return;
      }
      if (method === 'DELETE') {
        session.destroyPlayer(guildId, true);
        noContent();
        return;
      }
      const update = parsePlayerUpdate(await readJson(req));
      const noReplace = url.searchParams.get('noReplace') === 'true';
      const player = session.getOrCreatePlayer(guildId);
      await player.update(update, noReplace);
      json(200, player.toJSON());
      return;
    }
    throw new HttpError(404, 'Not Found');
  }

  const server: Server = createServer((req, res) => {
    res.setHeader('Lavalink-Api-Version', LAVALINK_API_VERSION);
    const url = requestUrl(req.url);
    const path = url?.pathname ?? '';
    const trace = url?.searchParams.get('trace') === 'true';
    const fail = (err: unknown): void => {
      const e = err instanceof HttpError ? err : undefined;
      const status = e?.status ?? 500;
      const message = e?.message ?? 'Internal Server Error';
      if (e === undefined) log(`request ${req.method ?? ''} ${path} failed: ${toError(err).message}`);
      const body = errorBody(status, message, path, trace ? (toError(err).stack ?? message) : undefined);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const auth = checkAuth(header(req, 'authorization'), password);
    if (auth !== 'ok') {
      fail(new HttpError(auth === 'missing' ? 401 : 403, auth === 'missing' ? 'Unauthorized' : 'Forbidden'));
      return;
    }
    if (url === undefined) fail(new HttpError(400, 'The request target is not a valid URL'));
    else route(req, url, res).catch(fail);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES });
  const resumedFor = new WeakMap<IncomingMessage, boolean>();
  wss.on('headers', (headers, req) => {
    headers.push(`Session-Resumed: ${resumedFor.get(req) === true ? 'true' : 'false'}`);
    headers.push(`Lavalink-Api-Version: ${LAVALINK_API_VERSION}`);
  });

  const refuse = (socket: Socket, status: number, reason: string, message: string, path: string): void => {
    const body = JSON.stringify(errorBody(status, message, path, undefined));
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nLavalink-Api-Version: ${LAVALINK_API_VERSION}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = requestUrl(req.url);
    if (url === undefined)
      return refuse(socket, 400, 'Bad Request', 'The request target is not a valid URL', '');
    if (url.pathname !== '/v4/websocket') return refuse(socket, 404, 'Not Found', 'Not Found', url.pathname);
    if (checkAuth(header(req, 'authorization'), password) !== 'ok')
      return refuse(socket, 401, 'Unauthorized', 'Unauthorized', url.pathname);
    const userId = header(req, 'user-id')?.trim() ?? '';
    if (userId === '' || userId === '0' || !/^\d+$/.test(userId))
      return refuse(socket, 400, 'Bad Request', 'User-Id must be the bot user id', url.pathname);
    const clientName = header(req, 'client-name') ?? '';
    const wanted = header(req, 'session-id');
    const resumable = wanted === undefined ? undefined : pausedSessions.get(wanted);
    resumedFor.set(req, resumable !== undefined);
    const admit = (ws: WebSocket): void => {
      if (clientName === '') log('a client connected without Client-Name');
      if (resumable !== undefined && pausedSessions.get(resumable.id) === resumable) {
        pausedSessions.delete(resumable.id);
        active.set(resumable.id, resumable);
        resumable.resume(ws);
        log(`session ${resumable.id}: resumed by ${clientName || 'an unnamed client'}`);
        return;
      }
      let id = newSessionId();
      while (active.has(id) || pausedSessions.has(id)) id = newSessionId();
      const session = new Session(id, userId, clientName, host_, timers);
      active.set(id, session);
      log(`session ${id}: opened by ${clientName || 'an unnamed client'} (user ${userId})`);
      session.open(ws);
    };
    const cloudstorm = CLOUDSTORM_USER_AGENT.test(header(req, 'user-agent') ?? '');
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (!cloudstorm) return admit(ws);
      // Until then a resumed session stays paused (its messages queued); a socket closed (or
      // terminated by close()) meanwhile gets nothing. A bad frame meanwhile closes the socket
      // (ws emits 'error' first, which must have a listener).
      ws.on('error', () => undefined);
      setTimeout(() => {
        if (ws.readyState === ws.OPEN) admit(ws);
      }, CLOUDSTORM_FIRST_MESSAGE_DELAY_MS).unref();
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE')
        reject(
          new VoxcordError(
            'SERVER_ERROR',
            `port ${port} on ${host} is already in use (is another node running?)`,
            { cause: err, details: { host, port } },
          ),
        );
      else
        reject(
          new VoxcordError('SERVER_ERROR', `cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
            details: { host, port },
          }),
        );
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolveListen();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
  server.on('error', (err) => log(`server error: ${err.message}`));
  const address = server.address() as AddressInfo;
  log(`voxcord node listening on http://${host}:${address.port} (backend: ${backend.name})`);

  let closing: Promise<void> | undefined;
  return {
    host,
    port: address.port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    get players() {
      return stats().players;
    },
    close() {
      closing ??= (async () => {
        for (const s of allSessions()) s.close(1001, 'node shutting down');
        active.clear();
        pausedSessions.clear();
        for (const client of wss.clients) client.terminate();
        wss.close();
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
        await closed;
        await backend.close?.();
      })();
      return closing;
    },
  };
}
