/**
 * Unmodified Lavalink clients against `voxcord node` on 127.0.0.1: lavalink-client 2.11 and
 * shoukaku 4.3 connect, get `ready`, read /v4/info (lavalink-client requires it), load a track
 * and decode it. Voice is not involved here (see voice.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LavalinkManager } from 'lavalink-client';
import type { LavalinkNode } from 'lavalink-client';
import { Connector, Shoukaku } from 'shoukaku';
import type { NodeOption } from 'shoukaku';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { until } from '../cli/helpers.js';
import { fixtureServer, oggOpusFile, PASSWORD, USER_ID } from './helpers.js';

let node: VoxcordNode;
let fixtures: Awaited<ReturnType<typeof fixtureServer>>;
const lines: string[] = [];

beforeAll(async () => {
  fixtures = await fixtureServer({ '/song.ogg': oggOpusFile(3) });
  node = await startNode({
    port: 0,
    password: PASSWORD,
    backend: createTimelineBackend(),
    log: (l) => lines.push(l),
  });
});

afterAll(async () => {
  await node.close();
  await fixtures.close();
});

describe('lavalink-client 2.11', () => {
  it('connects, gets ready and /v4/info, and loads an http track', async () => {
    const manager = new LavalinkManager({
      nodes: [{ host: '127.0.0.1', port: node.port, authorization: PASSWORD, id: 'voxcord', retryAmount: 1 }],
      sendToShard: () => undefined,
      client: { id: USER_ID, username: 'voxcord-test' },
      playerOptions: { defaultSearchPlatform: 'http' },
    });
    let connected: LavalinkNode | undefined;
    manager.nodeManager.on('connect', (n) => (connected = n));
    await manager.init({ id: USER_ID, username: 'voxcord-test' });
    await until(
      () => connected !== undefined && connected.info !== null && connected.sessionId !== null,
      5000,
      'the client',
    );
    const lavalink = connected as LavalinkNode;
    expect(lavalink.sessionId).toMatch(/^[a-z0-9]{16}$/);
    expect(lavalink.info?.sourceManagers).toEqual(['http', 'local']);
    const url = `${fixtures.base}/song.ogg`;
    const result = await lavalink.search({ query: url }, 'tester');
    expect(result.loadType).toBe('track');
    expect(result.tracks[0]?.info).toMatchObject({ uri: url, sourceName: 'http', duration: 3000 });
    const decoded = await lavalink.decode.singleTrack(result.tracks[0]?.encoded ?? '', 'tester');
    expect(decoded.info.uri).toBe(url);
    await manager.nodeManager.disconnectAll(true, true);
  });
});

class TestConnector extends Connector {
  getId(): string {
    return USER_ID;
  }
  sendPacket(): void {}
  listen(nodes: NodeOption[]): void {
    queueMicrotask(() => this.ready(nodes));
  }
}

describe('shoukaku 4.3', () => {
  it('connects with resume on, gets ready, loads and decodes an http track', async () => {
    const shoukaku = new Shoukaku(
      new TestConnector({}),
      [{ name: 'voxcord', url: `127.0.0.1:${node.port}`, auth: PASSWORD }],
      { resume: true, resumeTimeout: 30, reconnectTries: 1 },
    );
    shoukaku.on('error', () => undefined);
    let ready = false;
    shoukaku.on('ready', () => (ready = true));
    await until(() => ready, 5000, 'the client');
    const n = shoukaku.nodes.get('voxcord');
    expect(n?.sessionId).toMatch(/^[a-z0-9]{16}$/);
    const url = `${fixtures.base}/song.ogg`;
    const result = await n?.rest.resolve(url);
    expect(result?.loadType).toBe('track');
    const encoded = (result as { data: { encoded: string } }).data.encoded;
    const decoded = await n?.rest.decode(encoded);
    expect(decoded?.info.uri).toBe(url);
    // shoukaku PATCHes the session to resume after ready.
    await until(
      () => lines.some((l) => l.includes(`session ${n?.sessionId ?? ''}: resuming true`)),
      5000,
      'the client',
    );
    n?.disconnect(1000);
  });
});
