/**
 * The Lavalink v4 protocol of `voxcord node` over real HTTP and WebSocket on 127.0.0.1, with the
 * timeline backend (no audio: players keep time). Voice and audio are not covered here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_FILTERS } from '../../src/player/filters/chain.js';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { decodeTrack, encodeTrack } from '../../src/node/track-codec.js';
import { isVoxcordError } from '../../src/errors.js';
import { api, clientHeaders, connect, fixtureServer, oggOpusFile, USER_ID } from './helpers.js';
import type { Client, Message } from './helpers.js';

let node: VoxcordNode;
let base: string;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;
let dir: string;
let localOgg: string;
const backend = createTimelineBackend();
const logLines: string[] = [];

beforeAll(async () => {
  fixtures = await fixtureServer({
    '/song.ogg': oggOpusFile(3),
    '/notes.txt': new TextEncoder().encode('these are not audio bytes, just text\n'.repeat(20)),
  });
  dir = mkdtempSync(join(tmpdir(), 'voxcord-node-'));
  localOgg = join(dir, 'local song.ogg');
  writeFileSync(localOgg, oggOpusFile(2));
  node = await startNode({
    port: 0,
    password: 'youshallnotpass',
    backend,
    playerUpdateIntervalMs: 200,
    statsIntervalMs: 400,
    log: (line) => logLines.push(line),
  });
  base = node.url;
});

afterAll(async () => {
  await node.close();
  await fixtures.close();
  rmSync(dir, { recursive: true, force: true });
});

async function loadOne(identifier: string): Promise<{ encoded: string; info: Record<string, unknown> }> {
  const r = await api(base, `/v4/loadtracks?identifier=${encodeURIComponent(identifier)}`);
  const body = r.json() as { loadType: string; data: { encoded: string; info: Record<string, unknown> } };
  expect(body.loadType).toBe('track');
  return body.data;
}

async function session(): Promise<{ client: Client; id: string }> {
  const client = await connect(base, clientHeaders());
  const ready = await client.wait((m) => m.op === 'ready');
  return { client, id: ready.sessionId as string };
}

describe('REST authentication and errors', () => {
  it('answers 401 without Authorization and 403 with a wrong one, with the error body, on every route', async () => {
    for (const path of ['/version', '/v4/info', '/v4/stats', '/v4/loadtracks?identifier=x']) {
      const missing = await api(base, path, { auth: null });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('lavalink-api-version')).toBe('4');
      const wrong = await api(base, path, { auth: 'nope' });
      expect(wrong.status).toBe(403);
      const body = wrong.json() as Record<string, unknown>;
      expect(body).toMatchObject({ status: 403, error: 'Forbidden', path: path.split('?')[0] });
      expect(typeof body.timestamp).toBe('number');
      expect(typeof body.message).toBe('string');
      expect(body).not.toHaveProperty('trace');
    }
  });

  it('adds trace only with ?trace=true', async () => {
    const plain = (await api(base, '/v4/sessions/nosuchsession/players')).json() as Record<string, unknown>;
    expect(plain).toMatchObject({ status: 404, error: 'Not Found', message: 'Session not found' });
    expect(plain).not.toHaveProperty('trace');
    const traced = (await api(base, '/v4/sessions/nosuchsession/players?trace=true')).json() as Record<
      string,
      unknown
    >;
    expect(typeof traced.trace).toBe('string');
    expect(traced.path).toBe('/v4/sessions/nosuchsession/players');
  });

  it('/version is plain text semver; /v4/info is truthful; /v4/stats has no frameStats', async () => {
    const v = await api(base, '/version');
    expect(v.status).toBe(200);
    expect(v.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(v.text).toMatch(/^4\.\d+\.\d+\+voxcord\./);
    const info = (await api(base, '/v4/info')).json() as Record<string, unknown>;
    expect(info.sourceManagers).toEqual(['http', 'local']);
    expect(info.filters).toEqual([...SUPPORTED_FILTERS]);
    expect(info).not.toHaveProperty('isNodelink');
    expect(info).toMatchObject({ version: { semver: v.text, major: 4 }, plugins: [] });
    for (const key of ['buildTime', 'git', 'jvm', 'lavaplayer']) expect(info).toHaveProperty(key);
    const stats = (await api(base, '/v4/stats')).json() as Record<string, unknown>;
    expect(stats).not.toHaveProperty('frameStats');
    expect(stats).toMatchObject({
      players: expect.any(Number) as number,
      playingPlayers: expect.any(Number) as number,
      uptime: expect.any(Number) as number,
      memory: {
        free: expect.any(Number) as number,
        used: expect.any(Number) as number,
        allocated: expect.any(Number) as number,
        reservable: expect.any(Number) as number,
      },
      cpu: {
        cores: expect.any(Number) as number,
        systemLoad: expect.any(Number) as number,
        lavalinkLoad: expect.any(Number) as number,
      },
    });
    const memory = stats.memory as { used: number; free: number; reservable: number };
    expect(memory.used).toBeGreaterThan(10 * 1024 * 1024);
    expect(memory.free).toBe(memory.reservable - memory.used);
  });

  it('routeplanner answers 204', async () => {
    expect((await api(base, '/v4/routeplanner/status')).status).toBe(204);
    expect((await api(base, '/v4/routeplanner/free/all', { method: 'POST' })).status).toBe(204);
    expect(
      (await api(base, '/v4/routeplanner/free/address', { method: 'POST', body: { address: '1.2.3.4' } }))
        .status,
    ).toBe(204);
  });
});

describe('WebSocket handshake', () => {
  const refused = async (headers: Record<string, string>): Promise<number> => {
    try {
      const c = await connect(base, headers);
      await c.close();
      return 101;
    } catch (err) {
      return (err as { status?: number }).status ?? -1;
    }
  };

  it('refuses a missing or wrong Authorization (401) and a missing, empty or 0 User-Id (400)', async () => {
    const h = clientHeaders();
    expect(await refused({ 'User-Id': USER_ID })).toBe(401);
    expect(await refused({ ...h, Authorization: 'wrong' })).toBe(401);
    expect(await refused({ Authorization: h.Authorization ?? '' })).toBe(400);
    expect(await refused({ ...h, 'User-Id': '' })).toBe(400);
    expect(await refused({ ...h, 'User-Id': '0' })).toBe(400);
  });

  it('sends ready, then stats at once (frameStats null), with the response headers; answers pings; ignores client messages', async () => {
    const client = await connect(base, clientHeaders());
    expect(client.headers['session-resumed']).toBe('false');
    expect(client.headers['lavalink-api-version']).toBe('4');
    const ready = await client.wait((m) => m.op === 'ready');
    expect(ready).toEqual({
      op: 'ready',
      resumed: false,
      sessionId: expect.stringMatching(/^[a-z0-9]{16}$/) as string,
    });
    const stats = await client.wait((m) => m.op === 'stats');
    expect(client.messages.indexOf(stats)).toBe(1);
    expect(stats.frameStats).toBeNull();
    const pong = new Promise<string>((resolve) =>
      client.ws.once('pong', (d: Buffer) => resolve(d.toString())),
    );
    client.ws.ping('hello');
    expect(await pong).toBe('hello');
    client.ws.send(JSON.stringify({ op: 'play', anything: 1 }));
    // stats keep coming every interval (400 ms here)
    await client.wait((m) => m.op === 'stats', 2000, 2);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    await client.close();
  });
});

/**
 * A raw upgrade, as a client with WebSocket code of its own makes it: the first `frames` text
 * frames after the 101, each with the read it came in (0: with the 101), or those that came in 5 s.
 */
function rawUpgrade(
  url: string,
  headers: Record<string, string>,
  frames: number,
): Promise<{ op: string; read: number; message: Message }[]> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v4/websocket`, {
      headers: {
        ...headers,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      },
    });
    req.on('error', reject);
    req.on('upgrade', (_res, socket, head) => {
      const got: { op: string; read: number; message: Message }[] = [];
      let bytes = Buffer.alloc(0);
      let reads = 0;
      const done = (): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      };
      const timer = setTimeout(done, 5000);
      const take = (chunk: Buffer): void => {
        bytes = Buffer.concat([bytes, chunk]);
        for (;;) {
          const short = bytes.length >= 2 ? bytes[1]! & 0x7f : 0;
          const start = short === 126 ? 4 : 2; // the server's messages are under 64 KiB
          if (bytes.length < start) break;
          const size = short === 126 ? bytes.readUInt16BE(2) : short;
          if (bytes.length < start + size) break;
          const message = JSON.parse(bytes.subarray(start, start + size).toString()) as Message;
          got.push({ op: message.op, read: reads, message });
          bytes = bytes.subarray(start + size);
        }
        reads++;
        if (got.length >= frames) done();
      };
      socket.on('data', take);
      take(head);
    });
    req.end();
  });
}

describe('the messages after the handshake', () => {
  it('come in reads of their own after ready, for a client that parses nothing that came with the 101 (moonlink.js 5)', async () => {
    // The default intervals: nothing else would come for 5 s (playerUpdate) or 60 s (stats).
    const plain = await startNode({ port: 0, password: 'youshallnotpass', backend: createTimelineBackend() });
    try {
      const got = await rawUpgrade(plain.url, clientHeaders(), 4);
      expect(got.map((m) => m.op)).toEqual(['ready', 'stats', 'stats', 'stats']);
      // Whatever came with the 101, later reads bring more messages (the two follow-up stats).
      expect(got.at(-1)!.read).toBeGreaterThan(got[0]!.read);
    } finally {
      await plain.close();
    }
  });

  it("cloudstorm (lavacord 3's WebSocket) gets ready in a read after the 101's, new or resumed; other clients in the 101's", async () => {
    // Node's http client hands what came in the 101's read to 'upgrade' as `head`, which
    // cloudstorm ignores: a ready sent with the 101 was lost, and lavacord never got a session id.
    const cloudstorm = {
      'User-Agent': 'Discordbot (https://github.com/DasWolke/CloudStorm, 0.17.0) Node.js/v22.23.5',
    };
    const fresh = await rawUpgrade(base, clientHeaders(cloudstorm), 1);
    expect([fresh[0]?.op, fresh[0]?.message.resumed]).toEqual(['ready', false]);
    expect(fresh[0]!.read).toBeGreaterThan(0);

    const { client, id } = await session();
    await api(base, `/v4/sessions/${id}`, { method: 'PATCH', body: { resuming: true, timeout: 10 } });
    await client.close();
    const resumed = await rawUpgrade(base, clientHeaders({ ...cloudstorm, 'Session-Id': id }), 1);
    expect([resumed[0]?.op, resumed[0]?.message.resumed, resumed[0]?.message.sessionId]).toEqual([
      'ready',
      true,
      id,
    ]);
    expect(resumed[0]!.read).toBeGreaterThan(0);

    // lavalink-client uses the session id as soon as its socket opens: ready comes with the 101.
    const other = await rawUpgrade(base, clientHeaders(), 1);
    expect([other[0]?.op, other[0]?.read]).toEqual(['ready', 0]);
  });
});

describe('loadtracks and decodetrack(s)', () => {
  it('loads an http Ogg Opus URL as an http track with its length and probe info', async () => {
    const url = `${fixtures.base}/song.ogg`;
    const track = await loadOne(url);
    expect(track.info).toMatchObject({
      identifier: url,
      uri: url,
      sourceName: 'http',
      length: 3000,
      isStream: false,
      isSeekable: true,
      position: 0,
    });
    expect(decodeTrack(track.encoded)).toMatchObject({ version: 3, probeInfo: 'ogg', info: track.info });
  });

  it('loads a local file as a local track', async () => {
    const track = await loadOne(localOgg);
    expect(track.info).toMatchObject({ identifier: localOgg, sourceName: 'local', length: 2000 });
    expect(decodeTrack(track.encoded).probeInfo).toBe('ogg');
  });

  it('gives empty for what no source claims, error (HTTP 200) for unreachable or undecodable', async () => {
    for (const id of ['ytsearch:never gonna', join(dir, 'missing.ogg'), 'spotify:track:123']) {
      const r = await api(base, `/v4/loadtracks?identifier=${encodeURIComponent(id)}`);
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ loadType: 'empty', data: {} });
    }
    const cases: [string, string, string][] = [
      [`${fixtures.base}/nothing-here.ogg`, 'common', 'That URL is not playable.'],
      [`${fixtures.base}/notes.txt`, 'common', 'Unknown file format.'],
      ['http://127.0.0.1:9/closed-port.ogg', 'suspicious', 'Connecting to the URL failed.'],
    ];
    for (const [id, severity, message] of cases) {
      const r = await api(base, `/v4/loadtracks?identifier=${encodeURIComponent(id)}`);
      expect(r.status).toBe(200);
      const body = r.json() as { loadType: string; data: Record<string, unknown> };
      expect(body.loadType).toBe('error');
      expect(body.data).toMatchObject({
        message,
        severity,
        cause: expect.any(String) as string,
        causeStackTrace: expect.any(String) as string,
      });
    }
    expect((await api(base, '/v4/loadtracks')).status).toBe(400);
  });

  it('decodes with encodedTrack= and track=, and in bulk; 400 for none, empty or malformed', async () => {
    const track = await loadOne(localOgg);
    for (const param of ['encodedTrack', 'track']) {
      const r = await api(base, `/v4/decodetrack?${param}=${encodeURIComponent(track.encoded)}`);
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ encoded: track.encoded, info: track.info, pluginInfo: {}, userData: {} });
    }
    const bulk = await api(base, '/v4/decodetracks', {
      method: 'POST',
      body: [track.encoded, track.encoded],
    });
    expect(bulk.status).toBe(200);
    expect((bulk.json() as unknown[]).length).toBe(2);
    expect((await api(base, '/v4/decodetrack')).status).toBe(400);
    expect((await api(base, '/v4/decodetrack?encodedTrack=QUJD')).status).toBe(400);
    expect((await api(base, '/v4/decodetracks', { method: 'POST', body: [] })).status).toBe(400);
    expect((await api(base, '/v4/decodetracks', { method: 'POST', body: '{not json' })).status).toBe(400);
  });
});

const VOICE = { token: 'tok', endpoint: 'voice.example:443', sessionId: 'vsid', channelId: '42' };

describe('players', () => {
  it('404s for an unknown session or player', async () => {
    const { client, id } = await session();
    const missing = await api(base, `/v4/sessions/${id}/players/1`);
    expect(missing.status).toBe(404);
    expect((missing.json() as Record<string, unknown>).message).toBe('Player not found');
    expect(
      (await api(base, '/v4/sessions/aaaaaaaaaaaaaaaa/players/1', { method: 'PATCH', body: {} })).status,
    ).toBe(404);
    expect(
      (await api(base, '/v4/sessions/aaaaaaaaaaaaaaaa', { method: 'PATCH', body: { resuming: true } }))
        .status,
    ).toBe(404);
    await client.close();
  });

  it('rejects invalid PATCH bodies with 400 and ignores unknown keys', async () => {
    const { client, id } = await session();
    const track = await loadOne(localOgg);
    const path = `/v4/sessions/${id}/players/77`;
    const bad: [unknown, RegExp][] = [
      [{ track: { encoded: track.encoded }, encodedTrack: track.encoded }, /both track and encodedTrack/],
      [
        { track: { encoded: track.encoded, identifier: localOgg } },
        /both track.encoded and track.identifier/,
      ],
      [{ voice: { ...VOICE, endpoint: '' } }, /voice.endpoint/],
      [{ voice: { token: 't', endpoint: 'e', sessionId: 's' } }, /voice.channelId/],
      [{ endTime: 0 }, /End time/],
      [{ filters: { timescale: { speed: 0 } } }, /timescale.speed/],
      [{ filters: { timescale: { pitch: -1 } } }, /timescale.pitch/],
      // Near 0 a time stretch would make windows forever from one input frame (a node hang).
      [{ filters: { timescale: { rate: 1e-7 } } }, /timescale.rate must be ≥ 0.1/],
      [{ filters: { karaoke: { level: 1e39 } } }, /karaoke.level/],
      [{ filters: { distortion: { scale: 'x' } } }, /distortion.scale/],
      [{ filters: { pluginFilters: { echo: {} } } }, /echo/],
      [{ filters: { equalizer: [{ band: 20, gain: 0.1 }] } }, /band/],
      [{ volume: 1001 }, /Volume/],
      [{ track: { encoded: 'garbage!!' } }, /Invalid encoded track/],
      [{ track: { identifier: 'ytsearch:something' } }, /single track/],
    ];
    for (const [body, message] of bad) {
      const r = await api(base, path, { method: 'PATCH', body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json() as { message: string }).message).toMatch(message);
    }
    // lavalink-client's failover body: a whole client track with extra keys.
    const r = await api(base, path, {
      method: 'PATCH',
      body: {
        track: { encoded: track.encoded, info: track.info, pluginInfo: {}, requester: '[Circular]' },
        futureKey: 1,
      },
    });
    expect(r.status).toBe(200);
    await client.close();
  });

  it('plays, replaces, honours noReplace, stops, ends at endTime, and reports volume, filters, pause', async () => {
    const { client, id } = await session();
    const a = await loadOne(localOgg);
    const b = await loadOne(`${fixtures.base}/song.ogg`);
    const path = `/v4/sessions/${id}/players/555`;

    const created = await api(base, path, { method: 'PATCH', body: { voice: VOICE, volume: 80 } });
    expect(created.status).toBe(200);
    expect(created.json()).toMatchObject({
      guildId: '555',
      track: null,
      volume: 80,
      paused: false,
      voice: VOICE,
      filters: {},
    });

    const play = await api(base, path, {
      method: 'PATCH',
      body: { track: { encoded: a.encoded, userData: { by: 'me' } }, position: 500 },
    });
    expect(play.json()).toMatchObject({
      track: { encoded: a.encoded, userData: { by: 'me' } },
      paused: false,
    });
    const start = await client.wait((m) => m.type === 'TrackStartEvent');
    expect(start).toMatchObject({ guildId: '555', track: { encoded: a.encoded, userData: { by: 'me' } } });
    const update = await client.wait(
      (m) => m.op === 'playerUpdate' && (m.state as { position: number }).position >= 500,
    );
    expect(update.state).toMatchObject({ connected: false, ping: -1, time: expect.any(Number) as number });

    // noReplace with a track playing: nothing changes.
    const kept = await api(base, `${path}?noReplace=true`, {
      method: 'PATCH',
      body: { track: { encoded: b.encoded } },
    });
    expect((kept.json() as { track: { encoded: string } }).track.encoded).toBe(a.encoded);
    expect(client.events('TrackEndEvent')).toHaveLength(0);

    // Replace: 'replaced' for a, then a start for b.
    await api(base, path, { method: 'PATCH', body: { track: { encoded: b.encoded } } });
    const replaced = await client.wait((m) => m.type === 'TrackEndEvent');
    expect(replaced).toMatchObject({ reason: 'replaced', track: { encoded: a.encoded } });
    await client.wait(
      (m) => m.type === 'TrackStartEvent' && (m.track as { encoded: string }).encoded === b.encoded,
    );

    // Live filters, pause, seek.
    const filtered = await api(base, path, {
      method: 'PATCH',
      body: { filters: { lowPass: { smoothing: 30 }, timescale: null }, paused: true, position: 1000 },
    });
    expect(filtered.json()).toMatchObject({ paused: true, filters: { lowPass: { smoothing: 30 } } });
    const timeline = [...backend.players.values()].find((p) => p.voice?.channelId === '42');
    expect(timeline?.filters).toEqual({ lowPass: { smoothing: 30 } });
    expect(timeline?.volume).toBe(80);
    const position = (filtered.json() as { state: { position: number } }).state.position;
    expect(position).toBe(1000);
    const scaled = await api(base, path, {
      method: 'PATCH',
      body: { filters: { timescale: { speed: 2, rate: 1.5 } } },
    });
    expect(scaled.status).toBe(200);
    expect(scaled.json()).toMatchObject({ filters: { timescale: { speed: 2, rate: 1.5 } } });
    expect(timeline?.filters).toEqual({ timescale: { speed: 2, rate: 1.5 } });
    await api(base, path, { method: 'PATCH', body: { filters: {} } });

    // Stop.
    await api(base, path, { method: 'PATCH', body: { track: { encoded: null } } });
    const stopped = await client.wait((m) => m.type === 'TrackEndEvent' && m.reason === 'stopped');
    expect((stopped.track as { encoded: string }).encoded).toBe(b.encoded);

    // endTime: 'finished' when the marker is reached (300 ms in).
    const t0 = Date.now();
    await api(base, path, { method: 'PATCH', body: { track: { encoded: a.encoded }, endTime: 300 } });
    const finished = await client.wait((m) => m.type === 'TrackEndEvent' && m.reason === 'finished', 3000);
    expect((finished.track as { encoded: string }).encoded).toBe(a.encoded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);

    // A track plays to its end on its own (the local file is 2 s; start at 1.7 s).
    await api(base, path, { method: 'PATCH', body: { track: { encoded: a.encoded }, position: 1700 } });
    await client.wait(
      (m) => m.type === 'TrackEndEvent' && m.reason === 'finished',
      3000,
      client.messages.indexOf(finished) + 1,
    );

    const list = (await api(base, `/v4/sessions/${id}/players`)).json() as unknown[];
    expect(list).toHaveLength(1);
    expect((await api(base, path, { method: 'DELETE' })).status).toBe(204);
    expect((await api(base, path)).status).toBe(404);
    await client.close();
  });

  it('DELETE of a player with a track sends TrackEndEvent stopped (as Lavalink), without one nothing', async () => {
    const { client, id } = await session();
    const a = await loadOne(localOgg);
    const path = `/v4/sessions/${id}/players/777`;
    await api(base, path, { method: 'PATCH', body: { track: { encoded: a.encoded, userData: { n: 1 } } } });
    await client.wait((m) => m.type === 'TrackStartEvent');
    expect((await api(base, path, { method: 'DELETE' })).status).toBe(204);
    const ended = await client.wait((m) => m.type === 'TrackEndEvent');
    expect(ended).toMatchObject({
      guildId: '777',
      reason: 'stopped',
      track: { encoded: a.encoded, userData: { n: 1 } },
    });
    expect((await api(base, path)).status).toBe(404);
    // A player without a track: 204 and no event; nothing more after the player is gone.
    const idle = `/v4/sessions/${id}/players/778`;
    await api(base, idle, { method: 'PATCH', body: { volume: 50 } });
    expect((await api(base, idle, { method: 'DELETE' })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 300));
    expect(client.events('TrackEndEvent')).toHaveLength(1);
    expect(
      client.messages.filter(
        (m) => m.guildId === '777' && client.messages.indexOf(m) > client.messages.indexOf(ended),
      ),
    ).toEqual([]);
    await client.close();
  });

  it('plays an identifier given in the PATCH (a single track)', async () => {
    const { client, id } = await session();
    const r = await api(base, `/v4/sessions/${id}/players/9`, {
      method: 'PATCH',
      body: { track: { identifier: localOgg } },
    });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ track: { info: { sourceName: 'local', identifier: localOgg } } });
    await client.wait((m) => m.type === 'TrackStartEvent');
    await client.close();
  });

  it('sends playerUpdate every configured interval while a track is loaded', async () => {
    const { client, id } = await session();
    const a = await loadOne(localOgg);
    await api(base, `/v4/sessions/${id}/players/3`, {
      method: 'PATCH',
      body: { track: { encoded: a.encoded } },
    });
    const from = client.messages.length;
    await new Promise((r) => setTimeout(r, 700));
    const updates = client.messages.slice(from).filter((m) => m.op === 'playerUpdate');
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.length).toBeLessThanOrEqual(5);
    await client.close();
  });
});

describe('sessions', () => {
  it('destroys the players when a non-resuming session closes', async () => {
    const { client, id } = await session();
    const a = await loadOne(localOgg);
    await api(base, `/v4/sessions/${id}/players/5`, {
      method: 'PATCH',
      body: { track: { encoded: a.encoded } },
    });
    expect([...backend.players.keys()].some((k) => k.startsWith(id))).toBe(true);
    await client.close();
    await new Promise((r) => setTimeout(r, 100));
    expect([...backend.players.keys()].some((k) => k.startsWith(id))).toBe(false);
    expect((await api(base, `/v4/sessions/${id}/players`)).status).toBe(404);
  });

  it('resumes: 404 while paused, then ready(resumed) and the queued messages in order, then a playerUpdate per player', async () => {
    const { client, id } = await session();
    const patched = await api(base, `/v4/sessions/${id}`, {
      method: 'PATCH',
      body: { resuming: true, timeout: 10 },
    });
    expect(patched.json()).toEqual({ resuming: true, timeout: 10 });
    const a = await loadOne(localOgg);
    await api(base, `/v4/sessions/${id}/players/11`, {
      method: 'PATCH',
      body: { track: { encoded: a.encoded } },
    });
    await api(base, `/v4/sessions/${id}/players/12`, {
      method: 'PATCH',
      body: { track: { encoded: a.encoded }, endTime: 250 },
    });
    await client.wait((m) => m.type === 'TrackStartEvent' && m.guildId === '12');
    await client.close();

    // Paused: REST says 404, players keep going (player 12 ends while nobody listens).
    expect((await api(base, `/v4/sessions/${id}/players`)).status).toBe(404);
    await new Promise((r) => setTimeout(r, 900));

    const back = await connect(base, clientHeaders({ 'Session-Id': id }));
    expect(back.headers['session-resumed']).toBe('true');
    await back.wait((m) => m.op === 'playerUpdate' && m.guildId === '11');
    await new Promise((r) => setTimeout(r, 50));
    // The stats that follow a socket's ready (session.ts FOLLOW_UP_STATS_MS) come after the replay.
    const msgs = withoutTrailingStats(back.messages);
    expect(msgs[0]).toEqual({ op: 'ready', resumed: true, sessionId: id });
    const end = msgs.findIndex(
      (m) => m.type === 'TrackEndEvent' && m.guildId === '12' && m.reason === 'finished',
    );
    expect(end).toBeGreaterThan(0);
    // Queued: stats (every 400 ms) and playerUpdates (every 200 ms), in the order they were produced.
    const queued = msgs.slice(
      1,
      msgs.findIndex((m, i) => i > end && m.op === 'playerUpdate' && m.guildId === '11' && isTail(msgs, i)),
    );
    expect(queued.filter((m) => m.op === 'stats').length).toBeGreaterThanOrEqual(1);
    const times = queued
      .filter((m): m is Message & { state: { time: number } } => m.op === 'playerUpdate')
      .map((m) => m.state.time);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    // The tail: one playerUpdate per player still there (11 and 12).
    const tail = msgs.slice(-2).map((m) => `${m.op}:${String(m.guildId)}`);
    expect(tail.sort()).toEqual(['playerUpdate:11', 'playerUpdate:12']);
    expect((await api(base, `/v4/sessions/${id}/players`)).status).toBe(200);

    // An unknown Session-Id opens a new session.
    const other = await connect(base, clientHeaders({ 'Session-Id': 'zzzzzzzzzzzzzzzz' }));
    expect(other.headers['session-resumed']).toBe('false');
    const ready = await other.wait((m) => m.op === 'ready');
    expect(ready.resumed).toBe(false);
    expect(ready.sessionId).not.toBe('zzzzzzzzzzzzzzzz');
    await other.close();
    await back.close();
  });

  it('shuts a paused session down after its timeout', async () => {
    const { client, id } = await session();
    await api(base, `/v4/sessions/${id}`, { method: 'PATCH', body: { resuming: true, timeout: 1 } });
    await client.close();
    await new Promise((r) => setTimeout(r, 1300));
    const back = await connect(base, clientHeaders({ 'Session-Id': id }));
    expect(back.headers['session-resumed']).toBe('false');
    await back.close();
    expect(logLines.some((l) => l.includes(`session ${id}: resume timeout`))).toBe(true);
  });
});

describe('requests anyone can send', () => {
  /** One raw request (the target as sent: it need not be a URL); the status line and the body. */
  function raw(target: string, headers = ''): Promise<{ status: string; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp(node.port, '127.0.0.1', () =>
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: youshallnotpass\r\n${headers}\r\n`),
      );
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        // The head of a refused upgrade, or a whole answer: enough.
        if (/\r\n\r\n[\s\S]*\}$/.test(text)) socket.destroy();
      });
      socket.on('close', () =>
        resolve({ status: text.split('\r\n')[0] ?? '', body: text.slice(text.indexOf('\r\n\r\n') + 4) }),
      );
      socket.on('error', reject);
    });
  }

  it('answers 400 to a target that is no URL or a path that is no percent-encoding, and keeps serving', async () => {
    // `new URL('//[', base)` throws: in a request listener that ended the node's process.
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n';
    for (const [target, headers] of [
      ['//[', ''],
      ['http://[::1', ''],
      ['//[', `${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Id: ${USER_ID}\r\n`],
    ] as const) {
      const r = await raw(target, headers);
      expect(r.status, target).toBe('HTTP/1.1 400 Bad Request');
      expect(JSON.parse(r.body)).toMatchObject({
        status: 400,
        message: 'The request target is not a valid URL',
      });
    }
    const r = await raw('/v4/sessions/%E0%A4%A/players');
    expect(r.status).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(r.body)).toMatchObject({ message: 'The request path is not valid percent-encoding' });
    expect((await api(base, '/v4/info')).status).toBe(200);
  });

  it('closes a client WebSocket frame over 64 KiB with 1009, and logs ignored client messages once', async () => {
    const { client, id } = await session();
    for (let i = 0; i < 50; i++) client.ws.send(JSON.stringify({ op: 'play', guildId: '1', track: 'x' }));
    client.ws.send(Buffer.alloc(100 * 1024, 0x20));
    expect(await client.closed).toBe(1009);
    const lines = logLines.filter((l) => l.startsWith(`session ${id}: ignored client messages`));
    expect(lines).toHaveLength(1);
  });

  it('plays a client track whose length is past setTimeout range without ending it at once', async () => {
    const { client, id } = await session();
    const track = await loadOne(localOgg);
    const decoded = decodeTrack(track.encoded);
    const long = encodeTrack({ ...decoded, info: { ...decoded.info, length: 2 ** 40 } });
    await api(base, `/v4/sessions/${id}/players/31`, { method: 'PATCH', body: { track: { encoded: long } } });
    await client.wait((m) => m.type === 'TrackStartEvent' && m.guildId === '31');
    await new Promise((r) => setTimeout(r, 300));
    expect(client.events('TrackEndEvent')).toEqual([]);
    await client.close();
  });

  it('keeps a paused session for a resume timeout past setTimeout range (2^31 ms)', async () => {
    const { client, id } = await session();
    // 2^40 s: setTimeout(2^40 * 1000) would fire after 1 ms and shut the session down at once.
    await api(base, `/v4/sessions/${id}`, { method: 'PATCH', body: { resuming: true, timeout: 2 ** 40 } });
    await client.close();
    await new Promise((r) => setTimeout(r, 200));
    const back = await connect(base, clientHeaders({ 'Session-Id': id }));
    expect(back.headers['session-resumed']).toBe('true');
    await back.close();
  });
});

function withoutTrailingStats(msgs: readonly Message[]): Message[] {
  let end = msgs.length;
  while (end > 0 && msgs[end - 1]!.op === 'stats') end--;
  return msgs.slice(0, end);
}

/** True when message i is in the final block of post-resume playerUpdates. */
function isTail(msgs: readonly Message[], i: number): boolean {
  return msgs.slice(i).every((m) => m.op === 'playerUpdate');
}

describe('startNode', () => {
  it('refuses a missing password, a port in use and a port that is not one with clear errors', async () => {
    await expect(startNode({ port: 0, password: '' })).rejects.toThrow(/password is required/);
    let caught: unknown;
    try {
      await startNode({ port: node.port, password: 'x' });
    } catch (err) {
      caught = err;
    }
    expect(isVoxcordError(caught, 'SERVER_ERROR')).toBe(true);
    expect((caught as Error).message).toMatch(new RegExp(`port ${node.port} .*already in use`));
    for (const port of [Number.NaN, -1, 65536, 1.5]) {
      const refused: unknown = await startNode({ port, password: 'x' }).catch((e: unknown) => e);
      expect(isVoxcordError(refused, 'INVALID_ARGUMENT'), String(port)).toBe(true);
    }
  });

  it('re-encodes tracks a Lavalink node wrote (version 2, youtube) without loss of info', async () => {
    const encoded = encodeTrack({
      info: {
        identifier: 'x',
        author: 'a',
        length: 1,
        isStream: false,
        position: 0,
        title: 't',
        uri: null,
        artworkUrl: null,
        isrc: null,
        sourceName: 'youtube',
      },
    });
    const r = await api(base, `/v4/decodetrack?encodedTrack=${encodeURIComponent(encoded)}`);
    expect((r.json() as { info: { sourceName: string } }).info.sourceName).toBe('youtube');
  });
});
