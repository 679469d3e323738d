/**
 * The voxcord node's HTTP and WebSocket front (src/node/server.ts), fuzzed over raw TCP: anyone who
 * can reach the port sends these. Each input is one request made from a real route's: its method
 * sometimes swapped, its target byte-mutated (a target need not be a URL), the password right,
 * wrong or missing, its JSON body shape-mutated; a fifth are WebSocket upgrades with mutated
 * User-Id and Session-Id. Any 4xx is fine. What must never happen: a 500 (a handler threw), a
 * node error that is not Lavalink's error body, no answer, or the node going away.
 */
import { connect as connectTcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { encodeTrack } from '../../src/node/track-codec.js';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { api, clientHeaders, connect, PASSWORD, USER_ID } from '../node/helpers.js';
import type { Client } from '../node/helpers.js';
import { int, mutateBytes, mutateJson, pick } from './engine.js';
import type { Rng } from './engine.js';

/** `FUZZ_NODE_INPUTS=100000` for a long run. */
const INPUTS = Number(process.env.FUZZ_NODE_INPUTS ?? 1500);
const PARALLEL = 16;
const ANSWER_MS = 5_000;

let node: VoxcordNode;
let client: Client;
let sessionId: string;
const failures: string[] = [];

beforeAll(async () => {
  // No sources: loadtracks parses, and reaches neither the network nor the disk.
  node = await startNode({
    port: 0,
    password: PASSWORD,
    backend: createTimelineBackend(),
    sources: [],
    log: (line) => {
      if (line.includes(' failed: ')) failures.push(line);
    },
  });
  client = await connect(node.url, clientHeaders());
  sessionId = (await client.wait((m) => m.op === 'ready')).sessionId as string;
});
afterAll(async () => {
  await client.close();
  await node.close();
});

interface Seed {
  method: string;
  target: string;
  body?: unknown;
}

function seeds(): Seed[] {
  const encoded = encodeTrack({
    info: {
      identifier: 'http://127.0.0.1:1/a.ogg',
      author: 'a',
      length: 60_000,
      isStream: false,
      position: 0,
      title: 't',
      uri: 'http://127.0.0.1:1/a.ogg',
      artworkUrl: null,
      isrc: null,
      sourceName: 'http',
    },
    probeInfo: 'ogg',
  });
  const players = `/v4/sessions/${sessionId}/players`;
  const voice = { token: 't', endpoint: 'voice.example:443', sessionId: 's', channelId: '42' };
  return [
    { method: 'GET', target: '/version' },
    { method: 'GET', target: '/v4/info' },
    { method: 'GET', target: '/v4/stats?trace=true' },
    { method: 'GET', target: '/v4/loadtracks?identifier=ytsearch%3Anever%20gonna' },
    { method: 'GET', target: `/v4/decodetrack?encodedTrack=${encodeURIComponent(encoded)}` },
    { method: 'POST', target: '/v4/decodetracks', body: [encoded, encoded] },
    { method: 'GET', target: '/v4/routeplanner/status' },
    { method: 'POST', target: '/v4/routeplanner/free/address', body: { address: '10.0.0.1' } },
    { method: 'PATCH', target: `/v4/sessions/${sessionId}`, body: { resuming: false, timeout: 60 } },
    { method: 'GET', target: players },
    { method: 'GET', target: `${players}/123` },
    {
      method: 'PATCH',
      target: `${players}/123?noReplace=true`,
      body: { track: { encoded, userData: { a: 1 } }, position: 100, volume: 80, voice },
    },
    {
      method: 'PATCH',
      target: `${players}/124`,
      body: { filters: { timescale: { speed: 1.5 } }, paused: true },
    },
    { method: 'DELETE', target: `${players}/124` },
  ];
}

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends raw request bytes; the answer once the node closes or its body is complete. */
function exchange(request: Buffer, upgrade: boolean): Promise<Answer | 'no answer'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    /** `closed`: the node closed the socket, so what came is all (Node's own 400 has no length). */
    const parse = (closed = false): Answer | undefined => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [line = '', ...lines] = text.slice(0, end).split('\r\n');
      const headers = new Map(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      const body = text.slice(end + 4);
      const length = Number(headers.get('content-length') ?? Number.NaN);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? 0);
      // A 101 has no body; an answer with a length is done when it is all here.
      if (!closed && !(upgrade && status === 101) && !(body.length >= length)) return undefined;
      return { status, headers, body };
    };
    const done = (answer: Answer | 'no answer'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(parse() ?? 'no answer'), ANSWER_MS);
    const socket = connectTcp(node.port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const answer = parse();
      if (answer !== undefined) done(answer);
    });
    socket.on('close', () => done(parse(true) ?? 'no answer'));
    socket.on('error', () => undefined);
  });
}

const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'];

/** Pieces that URL and path parsers trip on. */
const URL_PIECES = [
  '//',
  '[',
  ']',
  '%',
  '%E0%A4%A',
  '%00',
  '%2F',
  '..',
  '?',
  '#',
  '\\',
  '@',
  ':',
  ' ',
  'é',
  '*',
];

/** Byte mutations, or pieces of URL syntax put in at random places. */
function mutateText(text: string, rng: Rng): string {
  const bytes = Buffer.from(text, 'latin1');
  if (rng() < 0.5) return Buffer.from(mutateBytes(bytes, rng, [bytes])).toString('latin1');
  let out = text;
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const at = int(rng, out.length + 1);
    out = out.slice(0, at) + pick(rng, URL_PIECES) + out.slice(at);
  }
  return out;
}

/** Input `i`: request bytes, and whether it asks for a WebSocket. */
function request(i: number, all: readonly Seed[]): { bytes: Buffer; upgrade: boolean } {
  const rng = createRng(deriveSeed(1, i));
  const seed = pick(rng, all);
  const upgrade = rng() < 0.2;
  const method = upgrade ? 'GET' : rng() < 0.2 ? pick(rng, METHODS) : seed.method;
  let target = upgrade ? '/v4/websocket' : seed.target;
  if (rng() < 0.5) target = mutateText(target, rng);
  const auth = rng() < 0.85 ? PASSWORD : rng() < 0.5 ? 'wrong' : undefined;
  const headers = ['Host: 127.0.0.1'];
  if (auth !== undefined) headers.push(`Authorization: ${auth}`);
  let body = '';
  if (upgrade) {
    headers.push('Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13');
    headers.push('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Client-Name: fuzz/1.0');
    const userId = rng() < 0.7 ? USER_ID : pick(rng, ['', '0', 'abc', '1e308', ' 12 ', '١٢٣']);
    if (rng() < 0.9) headers.push(`User-Id: ${userId}`);
    if (rng() < 0.5) headers.push(`Session-Id: ${rng() < 0.5 ? sessionId : mutateText(sessionId, rng)}`);
  } else if (seed.body !== undefined) {
    const json = Buffer.from(JSON.stringify(seed.body));
    body = Buffer.from(rng() < 0.7 ? mutateJson(json, rng, [json]) : json).toString('latin1');
    headers.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  }
  if (!upgrade && int(rng, 10) === 0) headers.push(`X-Fuzz: ${mutateText('v', rng)}`);
  const head = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`;
  return { bytes: Buffer.from(head + body, 'latin1'), upgrade };
}

/** What is wrong with an answer ('' when nothing is). */
function problem(answer: Answer | 'no answer'): string {
  if (answer === 'no answer') return 'no answer';
  if (answer.status >= 500) return `status ${answer.status}: ${answer.body.slice(0, 200)}`;
  // Answers without the node's header come from Node's HTTP parser (a malformed request: 400).
  if (answer.status < 400 || !answer.headers.has('lavalink-api-version') || answer.body === '') return '';
  try {
    const e = JSON.parse(answer.body) as Record<string, unknown>;
    const shaped =
      typeof e.timestamp === 'number' &&
      e.status === answer.status &&
      typeof e.error === 'string' &&
      typeof e.message === 'string' &&
      typeof e.path === 'string';
    return shaped ? '' : `not Lavalink's error body: ${answer.body.slice(0, 200)}`;
  } catch {
    return `not JSON: ${answer.body.slice(0, 200)}`;
  }
}

describe('voxcord node HTTP and WebSocket fuzz (real sockets)', () => {
  it(
    `${INPUTS} mutated requests: refused with a 4xx and Lavalink's error body, never a 500`,
    { timeout: 90_000 },
    async () => {
      const all = seeds();
      const answers = new Array<Answer | 'no answer'>(INPUTS);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < INPUTS) {
          const i = next++;
          const { bytes, upgrade } = request(i, all);
          answers[i] = await exchange(bytes, upgrade);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, () => worker()));

      const problems = answers.flatMap((a, i) => {
        const p = problem(a);
        return p === '' ? [] : [`input ${i}: ${p}`];
      });
      expect(problems).toEqual([]);
      expect(failures).toEqual([]);
      // The mutations reached the routes (2xx), the node's refusals (4xx) and new sessions (101).
      const statuses = answers.map((a) => (a === 'no answer' ? 0 : a.status));
      expect(statuses.some((s) => s >= 200 && s < 300)).toBe(true);
      expect(statuses.some((s) => s >= 400 && s < 500)).toBe(true);
      expect(statuses).toContain(101);
      // The node still serves, and the session the fuzz ran in is still open.
      expect((await api(node.url, '/v4/info')).status).toBe(200);
      expect((await api(node.url, `/v4/sessions/${sessionId}/players`)).status).toBe(200);
    },
  );
});
