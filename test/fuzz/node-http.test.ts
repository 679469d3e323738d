/**
 * The voxcord node's HTTP and WebSocket front (src/node/server.ts), fuzzed over raw TCP: anyone who
 * can reach the port sends these. Each input is one request made from a real route's: its method
 * sometimes swapped, its target byte-mutated (a target need not be a URL), the password right,
 * wrong or missing, its JSON body shape-mutated; a fifth are WebSocket upgrades with mutated
 * User-Id and Session-Id. Any 4xx is fine. What must never happen: a 500 (a handler threw), a
 * node error that is not Lavalink's error body, no answer, or the node going away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { encodeTrack } from '../../src/node/track-codec.js';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { api, clientHeaders, connect, PASSWORD, USER_ID } from '../node/helpers.js';
import type { Client } from '../node/helpers.js';
import { int, mutateJson, pick } from './engine.js';
import { exchangeAll, METHODS, mutateText } from './raw-http.js';
import type { Answer } from './raw-http.js';

/** `FUZZ_NODE_INPUTS=100000` for a long run. */
const INPUTS = Number(process.env.FUZZ_NODE_INPUTS ?? 1500);

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
    // cloudstorm's sockets get their first message later (src/node/server.ts): that path too.
    if (rng() < 0.3) headers.push('User-Agent: Discordbot (https://github.com/DasWolke/CloudStorm, 0.17.0)');
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
    { timeout: Math.max(90_000, INPUTS * 3) }, // a long run gets 3 ms per input
    async () => {
      const all = seeds();
      const answers = await exchangeAll(INPUTS, (i) => ({ port: node.port, ...request(i, all) }));

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
