/** Test helpers for the node: REST calls, a WebSocket client that records messages, fixtures. */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { ApiTrack, LoadResult, TrackInfo } from '../../src/node/types.js';
import { concatBytes, oggPage, oggStreamPages } from '../player/containers.js';

export const PASSWORD = 'youshallnotpass';
export const USER_ID = '123456789012345678';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

export async function api(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; auth?: string | null } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  const auth = init.auth === undefined ? PASSWORD : init.auth;
  if (auth !== null) headers['Authorization'] = auth;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

export type Message = Record<string, unknown> & { op: string };

/** A client socket that keeps every message and lets a test wait for one. */
export class Client {
  readonly messages: Message[] = [];
  private waiters: { test: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  closed: Promise<number>;

  constructor(
    readonly ws: WebSocket,
    readonly headers: IncomingHttpHeaders,
  ) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString('utf8')) as Message;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(m)) return true;
        w.resolve(m);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  /** The next message (from now, or already received after index `from`) that matches. */
  wait(test: (m: Message) => boolean, timeoutMs = 5000, from = 0): Promise<Message> {
    const found = this.messages.slice(from).find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching message within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  events(type?: string): Message[] {
    return this.messages.filter((m) => m.op === 'event' && (type === undefined || m.type === type));
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}

/** Opens /v4/websocket; resolves with the client, or rejects with the refused status code. */
export function connect(
  base: string,
  headers: Record<string, string>,
  /** `autoPong: false`: a client that answers no ping (a dead host, a socket nobody reads). */
  options: { autoPong?: boolean } = {},
): Promise<Client> {
  const ws = new WebSocket(base.replace('http', 'ws') + '/v4/websocket', { headers, ...options });
  return new Promise((resolve, reject) => {
    // The client is created at the upgrade, before 'open', so no early message is missed.
    let client: Client | undefined;
    ws.once('upgrade', (res) => (client = new Client(ws, res.headers)));
    ws.once('open', () => (client === undefined ? reject(new Error('no upgrade')) : resolve(client)));
    ws.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`refused ${res.statusCode}`), {
          status: res.statusCode,
          headers: res.headers,
        }),
      );
      res.resume();
    });
    ws.once('error', (err) => reject(err));
  });
}

export const clientHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  Authorization: PASSWORD,
  'User-Id': USER_ID,
  'Client-Name': 'voxcord-tests/1.0',
  ...extra,
});

/** A small Ogg Opus file whose last granule makes it `seconds` long. */
export function oggOpusFile(seconds: number): Uint8Array {
  const headers = oggStreamPages([], { eos: false });
  const last = oggPage({
    flags: 4,
    serial: 0x1234,
    sequence: headers.length,
    granule: BigInt(seconds * 48_000 + 312),
    laces: [3],
    body: Uint8Array.of(0xfc, 0xff, 0xfe),
  });
  return concatBytes([...headers, last]);
}

/**
 * A local HTTP server for fixtures: path → bytes, anything else 404. With Range support unless
 * `ranges: false` (a server that answers every request with the whole body).
 */
export async function fixtureServer(
  files: Record<string, Uint8Array>,
  { ranges = true }: { ranges?: boolean } = {},
): Promise<{ base: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range !== null && ranges) {
      const from = Number(range[1]);
      res.writeHead(206, {
        'Content-Length': body.length - from,
        'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`,
      });
      res.end(Buffer.from(body.subarray(from)));
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length, ...(ranges ? { 'Accept-Ranges': 'bytes' } : {}) });
    res.end(Buffer.from(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The track of a loadtracks result; throws (with the result) when it is not one. */
export function loadedTrack(result: LoadResult): ApiTrack {
  if (result.loadType !== 'track') throw new Error(`expected a track, got ${JSON.stringify(result)}`);
  return result.data;
}

/** Writes `bytes` to `dir/name`; returns the path. */
export function writeFixture(dir: string, name: string, bytes: Uint8Array): string {
  const path = `${dir}/${name}`;
  writeFileSync(path, bytes);
  return path;
}

/** The info of an http track (a title with NUL and a supplementary character), for the codec's tests. */
export const httpInfo = (over: Partial<TrackInfo> = {}): TrackInfo => ({
  identifier: 'http://127.0.0.1:8080/a.ogg',
  isSeekable: true,
  author: 'Unknown artist',
  length: 61_000,
  isStream: false,
  position: 1234,
  title: 'Tëst \u0000 🎵',
  uri: 'http://127.0.0.1:8080/a.ogg',
  artworkUrl: null,
  isrc: null,
  sourceName: 'http',
  ...over,
});
