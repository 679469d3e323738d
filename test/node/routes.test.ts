/**
 * Every REST route of the protocol reference (§1, §3) and its status codes, route by route: the
 * authentication on each, the session PATCH's defaults and validation, an unknown path (404) and a
 * wrong method (405) with Lavalink's error body. (protocol.test.ts covers each route's behaviour.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { SUPPORTED_FILTERS } from '../../src/player/filters/chain.js';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { api, clientHeaders, connect } from './helpers.js';
import type { Client } from './helpers.js';

let node: VoxcordNode;
let client: Client;
let sid: string;

beforeAll(async () => {
  node = await startNode({ port: 0, password: 'youshallnotpass', backend: createTimelineBackend() });
  client = await connect(node.url, clientHeaders());
  sid = (await client.wait((m) => m.op === 'ready')).sessionId as string;
});

afterAll(async () => {
  await client.close();
  await node.close();
});

/** Every route: method, path, body, and the status it answers an authorized call with. */
const routes = (): [string, string, unknown, number][] => [
  ['GET', '/version', undefined, 200],
  ['GET', '/v4/info', undefined, 200],
  ['GET', '/v4/stats', undefined, 200],
  ['GET', '/v4/loadtracks?identifier=nothing-claims-this', undefined, 200],
  ['GET', '/v4/decodetrack', undefined, 400],
  ['POST', '/v4/decodetracks', [], 400],
  ['GET', `/v4/sessions/${sid}/players`, undefined, 200],
  ['GET', `/v4/sessions/${sid}/players/1`, undefined, 404],
  ['PATCH', `/v4/sessions/${sid}/players/1?noReplace=true`, {}, 200],
  ['DELETE', `/v4/sessions/${sid}/players/1`, undefined, 204],
  ['PATCH', `/v4/sessions/${sid}`, {}, 200],
  ['GET', '/v4/routeplanner/status', undefined, 204],
  ['POST', '/v4/routeplanner/free/address', { address: '127.0.0.1' }, 204],
  ['POST', '/v4/routeplanner/free/all', undefined, 204],
];

describe('every REST route', () => {
  it('401 without Authorization, 403 with a wrong one, else its own status; Lavalink-Api-Version on all', async () => {
    for (const [method, path, body, status] of routes()) {
      const init = { method, ...(body === undefined ? {} : { body }) };
      const missing = await api(node.url, path, { ...init, auth: null });
      expect(missing.status, `${method} ${path}`).toBe(401);
      expect(missing.json()).toMatchObject({ status: 401, error: 'Unauthorized', path: path.split('?')[0] });
      const wrong = await api(node.url, path, { ...init, auth: 'wrong' });
      expect(wrong.status, `${method} ${path}`).toBe(403);
      const ok = await api(node.url, path, init);
      expect(ok.status, `${method} ${path}`).toBe(status);
      for (const r of [missing, wrong, ok]) expect(r.headers.get('lavalink-api-version')).toBe('4');
    }
  });

  it('PATCH /v4/sessions/{id}: defaults {resuming:false, timeout:60}; 400 for a bad value; 404 for no session', async () => {
    const path = `/v4/sessions/${sid}`;
    expect((await api(node.url, path, { method: 'PATCH', body: {} })).json()).toEqual({
      resuming: false,
      timeout: 60,
    });
    const bad = await api(node.url, path, { method: 'PATCH', body: { resuming: 'yes' } });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ status: 400, error: 'Bad Request', path });
    expect((await api(node.url, path, { method: 'PATCH', body: { timeout: -1 } })).status).toBe(400);
    expect((await api(node.url, path, { method: 'PATCH', body: [] })).status).toBe(400);
    expect((await api(node.url, '/v4/sessions/nosuchsession', { method: 'PATCH', body: {} })).status).toBe(
      404,
    );
  });

  it('404 for an unknown path, 405 for a wrong method, with the error body', async () => {
    const unknown = await api(node.url, '/v4/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ status: 404, error: 'Not Found', path: '/v4/nothing-here' });
    for (const [method, path] of [
      ['POST', '/v4/info'],
      ['DELETE', '/version'],
      ['GET', '/v4/decodetracks'],
      ['POST', `/v4/sessions/${sid}/players/1`],
      ['GET', `/v4/sessions/${sid}`],
    ] as const) {
      const r = await api(node.url, path, { method });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.json()).toMatchObject({ status: 405, error: 'Method Not Allowed' });
    }
  });

  it('a WebSocket upgrade on another path is refused with 404', async () => {
    const ws = new WebSocket(node.url.replace('http', 'ws') + '/v4/other', { headers: clientHeaders() });
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? -1);
      });
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    ws.terminate();
    expect(status).toBe(404);
  });
});

describe('/v4/info with fewer sources', () => {
  it('a node without `local` lists only http, and a local path is then claimed by nothing (empty)', async () => {
    const httpOnly = await startNode({
      port: 0,
      password: 'youshallnotpass',
      backend: createTimelineBackend(),
      sources: ['http'],
    });
    try {
      const info = (await api(httpOnly.url, '/v4/info')).json() as Record<string, unknown>;
      expect(info.sourceManagers).toEqual(['http']);
      expect(info.filters).toEqual([...SUPPORTED_FILTERS]);
      const r = await api(
        httpOnly.url,
        `/v4/loadtracks?identifier=${encodeURIComponent(fileURLToPath(import.meta.url))}`,
      );
      expect(r.json()).toEqual({ loadType: 'empty', data: {} });
    } finally {
      await httpOnly.close();
    }
  });
});

describe('secrets', () => {
  it('the voice token of a PATCH never reaches the log lines', async () => {
    const lines: string[] = [];
    const logged = await startNode({
      port: 0,
      password: 'youshallnotpass',
      backend: createTimelineBackend(),
      log: (line) => lines.push(line),
    });
    const c = await connect(logged.url, clientHeaders());
    try {
      const id = (await c.wait((m) => m.op === 'ready')).sessionId as string;
      const token = 'voice-token-d41d8cd98f00b204';
      const voice = { token, endpoint: 'voice.example:443', sessionId: 'vsid-1234', channelId: '42' };
      const path = `/v4/sessions/${id}/players/9`;
      expect((await api(logged.url, path, { method: 'PATCH', body: { voice } })).status).toBe(200);
      const bad = await api(logged.url, path, {
        method: 'PATCH',
        body: { voice: { ...voice, channelId: 5 } },
      });
      expect(bad.status).toBe(400);
      expect(bad.text).not.toContain(token);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.includes(token))).toEqual([]);
    } finally {
      await c.close();
      await logged.close();
    }
  });
});
