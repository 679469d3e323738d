/**
 * The node's http source against web servers that answer badly: anyone who may call `loadtracks`
 * chooses the URL, so any server's answer reaches the node. A raw TCP server answers request
 * `/i` with a mutation of a real answer (Ogg Opus, MP3 with a Xing header and with album art,
 * FLAC; whole, chunked, a 206 for a Range request, a redirect): its status line, headers and body
 * byte-mutated, cut short, or stalled. `loadTracks` must resolve every time, within its timeouts,
 * to a track whose `encoded` decodes to its info, an `error` or `empty`; never throw or hang.
 */
import { createServer } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTracks } from '../../src/node/sources.js';
import { decodeTrack } from '../../src/node/track-codec.js';
import type { LoadResult } from '../../src/node/types.js';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { ART_MP3, FLAC, VBR_MP3 } from '../audio/tagged-files.js';
import { oggOpusFile } from '../node/helpers.js';
import { int, mutateBytes, pick } from './engine.js';
import type { Rng } from './engine.js';

/** `FUZZ_LOADTRACKS_INPUTS=20000` for a long run. */
const INPUTS = Number(process.env.FUZZ_LOADTRACKS_INPUTS ?? 300);
const PARALLEL = 16;
/** The http probe's timeout here: a stalled answer costs this per request. */
const TIMEOUT_MS = 400;

const BODIES: ReadonlyArray<{ type: string; body: Buffer }> = [
  { type: 'audio/ogg', body: Buffer.from(oggOpusFile(2)) },
  { type: 'audio/mpeg', body: Buffer.from(VBR_MP3) },
  { type: 'audio/mpeg', body: Buffer.from(ART_MP3) },
  { type: 'audio/flac', body: Buffer.from(FLAC) },
];

/** The real answer to a request for `path` with `range` (from byte n), before mutation. */
function answer(rng: Rng, index: number, range: number | undefined): Buffer {
  const { type, body } = pick(rng, BODIES);
  const style = int(rng, 6);
  if (style === 0 && range === undefined) {
    return Buffer.from(`HTTP/1.1 302 Found\r\nLocation: /${index}\r\nContent-Length: 0\r\n\r\n`);
  }
  if (range !== undefined && style < 4) {
    const part = body.subarray(Math.min(range, body.length));
    return Buffer.concat([
      Buffer.from(
        `HTTP/1.1 206 Partial Content\r\nContent-Type: ${type}\r\nContent-Length: ${part.length}\r\n` +
          `Content-Range: bytes ${range}-${body.length - 1}/${body.length}\r\n\r\n`,
      ),
      part,
    ]);
  }
  if (style === 5) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 4096) {
      const piece = body.subarray(at, at + 4096);
      chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    return Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`),
      ...chunks,
      Buffer.from('0\r\n\r\n'),
    ]);
  }
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
}

/** Serves each request: the answer for its path's input, mutated in the head or body, cut or stalled. */
function serve(socket: Socket): void {
  let head = '';
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    head += d.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const index = Number(/^GET \/(\d+)/.exec(head)?.[1] ?? 0);
    const rangeHeader = /\r\nrange: bytes=(\d+)-/i.exec(head.slice(0, end));
    const range = rangeHeader === null ? undefined : Number(rangeHeader[1]);
    head = head.slice(end + 4);
    // The same input answers its Range request from the same draw as its first request.
    const rng = createRng(deriveSeed(4, index * 2 + (range === undefined ? 0 : 1)));
    const real = answer(rng, index, range);
    const how = int(rng, 10);
    if (how === 0) {
      // Stalled: the head, or part of it, and nothing more.
      socket.write(real.subarray(0, int(rng, real.length)));
      return;
    }
    const bodyAt = real.indexOf('\r\n\r\n') + 4;
    const bytes =
      how < 4
        ? Buffer.from(mutateBytes(real.subarray(0, bodyAt), rng, [real.subarray(0, bodyAt)]))
        : how < 7
          ? Buffer.concat([
              real.subarray(0, bodyAt),
              Buffer.from(mutateBytes(real.subarray(bodyAt), rng, [real.subarray(bodyAt)])),
            ])
          : how < 9
            ? real.subarray(0, int(rng, real.length))
            : real;
    socket.end(bytes);
  });
}

let server: Server;
const sockets = new Set<Socket>();
let base: string;

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

/** What is wrong with a result ('' when nothing is). */
function problem(result: LoadResult | 'hang' | Error): string {
  if (result === 'hang') return 'no result within its timeouts';
  if (result instanceof Error) return `threw ${result.message}`;
  if (result.loadType === 'empty' || result.loadType === 'error') return '';
  if (result.loadType !== 'track') return `loadType ${String(result.loadType)}`;
  const track = result.data as { encoded: string; info: object };
  try {
    const decoded = decodeTrack(track.encoded);
    return isDeepStrictEqual(decoded.info, track.info) ? '' : 'encoded does not decode to its info';
  } catch (err) {
    return `encoded does not decode: ${(err as Error).message}`;
  }
}

describe('loadtracks against web servers that answer badly (real sockets)', () => {
  it(
    `${INPUTS} mutated answers: a track, an error or empty, never a throw or a hang`,
    { timeout: Math.max(120_000, INPUTS * 20) }, // a long run gets 20 ms per input
    async () => {
      const problems: string[] = [];
      const seen = new Set<string>();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < INPUTS) {
          const i = next++;
          // A probe makes up to three requests (the head, a Range for an Ogg's end or a long tag).
          const limit = new Promise<'hang'>((r) =>
            setTimeout(() => r('hang'), TIMEOUT_MS * 4 + 1_000).unref(),
          );
          const result = await Promise.race([
            loadTracks(`${base}/${i}`, { httpTimeoutMs: TIMEOUT_MS, ffprobePath: false }).catch(
              (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
            ),
            limit,
          ]);
          if (typeof result === 'object' && !(result instanceof Error)) seen.add(result.loadType);
          const p = problem(result);
          if (p !== '') problems.push(`input ${i}: ${p}`);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, () => worker()));
      expect(problems).toEqual([]);
      // The answers reached both outcomes: tracks read from them, and refusals.
      expect([...seen].sort()).toEqual(['error', 'track']);
    },
  );
});
