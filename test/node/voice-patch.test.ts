/**
 * PATCH voice semantics: the answer does not wait for the connect; a failure is a
 * WebSocketClosedEvent; a newer PATCH supersedes one still connecting; a 4004 for credentials that
 * superseded others still connecting falls back to those (out-of-order PATCHes of a node move).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodePlayerBackend, VoiceCredentials } from '../../src/node/backend.js';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { VoxcordError } from '../../src/errors.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import { Cleanup } from '../cli/helpers.js';
import { api, clientHeaders, connect } from './helpers.js';
import type { Message } from './helpers.js';
import { startVoiceHarness } from './voice-harness.js';

/** The timeline backend, but each connect() waits until the test settles it. */
function controlledBackend(): NodePlayerBackend & {
  pending: { voice: VoiceCredentials; resolve: () => void; reject: (e: Error) => void }[];
} {
  const inner = createTimelineBackend();
  const pending: { voice: VoiceCredentials; resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    name: 'controlled',
    pending,
    createPlayer(context, listener) {
      const player = inner.createPlayer(context, listener);
      player.connect = (voice) =>
        new Promise<void>((resolve, reject) => pending.push({ voice, resolve, reject }));
      return player;
    },
  };
}

let node: VoxcordNode | undefined;
let cleanup = new Cleanup();
afterEach(async () => {
  await node?.close();
  node = undefined;
  await cleanup.run();
  cleanup = new Cleanup();
});

const isConnected = (m: Message): boolean =>
  (m.state as { connected?: boolean } | undefined)?.connected === true;

const voice = (token: string): VoiceCredentials => ({
  token,
  endpoint: 'e:443',
  sessionId: 's',
  channelId: '1',
});

/** A node on the controlled backend, a client session, and PATCH voice with a token for player 1. */
async function controlledNode(): Promise<{
  backend: ReturnType<typeof controlledBackend>;
  patch: (token: string) => ReturnType<typeof api>;
  close: () => Promise<void>;
}> {
  const backend = controlledBackend();
  const n = await startNode({ port: 0, password: 'youshallnotpass', backend });
  node = n;
  const client = await connect(n.url, clientHeaders());
  const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
  const path = `/v4/sessions/${id}/players/1`;
  return {
    backend,
    patch: (token) => api(n.url, path, { method: 'PATCH', body: { voice: voice(token) } }),
    close: async () => {
      await client.close();
    },
  };
}

describe('PATCH voice', () => {
  it('answers at once; a connect that fails later is a WebSocketClosedEvent, and the player reports no voice', async () => {
    const backend = controlledBackend();
    node = await startNode({ port: 0, password: 'youshallnotpass', backend });
    const client = await connect(node.url, clientHeaders());
    const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
    const path = `/v4/sessions/${id}/players/1`;
    // Answered while the connect is still pending (it never settles by itself here).
    const r = await api(node.url, path, { method: 'PATCH', body: { voice: voice('a') } });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ voice: { token: 'a' }, state: { connected: false } });
    expect(backend.pending).toHaveLength(1);
    backend.pending[0]?.reject(new Error('voice handshake timed out'));
    const closed = await client.wait((m) => m.type === 'WebSocketClosedEvent');
    expect(closed).toMatchObject({ guildId: '1', code: 4000, byRemote: false });
    expect(String(closed.reason)).toMatch(/timed out/);
    await client.wait((m) => m.op === 'playerUpdate', 5000, client.messages.indexOf(closed) + 1);
    expect(((await api(node.url, path)).json() as { voice: { token: string } }).voice.token).toBe('');
    await client.close();
  });

  it('lets a newer PATCH supersede one still connecting (no event for the older one)', async () => {
    const backend = controlledBackend();
    node = await startNode({ port: 0, password: 'youshallnotpass', backend });
    const client = await connect(node.url, clientHeaders());
    const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
    const path = `/v4/sessions/${id}/players/1`;
    const r1 = await api(node.url, path, { method: 'PATCH', body: { voice: voice('a') } });
    const r2 = await api(node.url, path, { method: 'PATCH', body: { voice: voice('b') } });
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(backend.pending.map((p) => p.voice.token)).toEqual(['a', 'b']);
    backend.pending[0]?.reject(new Error('superseded'));
    backend.pending[1]?.resolve();
    await new Promise((r) => setTimeout(r, 100));
    expect(client.events('WebSocketClosedEvent')).toEqual([]);
    expect(((await api(node.url, path)).json() as { voice: { token: string } }).voice.token).toBe('b');
    await client.close();
  });

  it('joins a connect still in progress for identical credentials instead of restarting it', async () => {
    const { backend, patch, close } = await controlledNode();
    const [r1, r2] = [await patch('a'), await patch('a')];
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(backend.pending.map((p) => p.voice.token)).toEqual(['a']);
    backend.pending[0]?.resolve();
    await close();
  });

  it('reports a refused token (4004) as a WebSocketClosedEvent; the good credentials connect afterwards', async () => {
    const { node: n, path, voice: good, client } = await startVoiceHarness(cleanup, { listener: false });
    const r = await api(n.url, path, { method: 'PATCH', body: { voice: { ...good, token: 'stale0000' } } });
    expect(r.status).toBe(200);
    const closed = await client.wait((m) => m.type === 'WebSocketClosedEvent', 10_000);
    expect(closed).toMatchObject({ code: 4004, byRemote: true });
    expect(((await api(n.url, path)).json() as { voice: { token: string } }).voice.token).toBe('');
    const from = client.messages.length;
    expect((await api(n.url, path, { method: 'PATCH', body: { voice: good } })).status).toBe(200);
    await client.wait((m) => m.op === 'playerUpdate' && isConnected(m), 10_000, from);
  }, 30_000);

  it('a stale token arriving after the fresh one (4004) connects with the fresh one, without an event', async () => {
    // A node move by lavalink-client: changeNode PATCHes the token its op 4 has just replaced
    // (T0), then the fresh one (T1) from the new VOICE_SERVER_UPDATE. On separate HTTP
    // connections T0 can arrive last (the 60-player soak saw it); newer-supersedes-older then
    // connects with T0, which the voice server refuses (4004). The node connects with T1 instead.
    const { node: n, path, voice: fresh, client } = await startVoiceHarness(cleanup, { listener: false });
    const stale = { ...fresh, token: 'stale0000' };
    const [r1, r2] = [
      await api(n.url, path, { method: 'PATCH', body: { voice: fresh } }),
      await api(n.url, path, { method: 'PATCH', body: { voice: stale } }),
    ];
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await client.wait((m) => m.op === 'playerUpdate' && isConnected(m), 10_000);
    const player = (await api(n.url, path)).json() as {
      voice: { token: string };
      state: { connected: boolean };
    };
    expect(player.state.connected).toBe(true);
    expect(player.voice.token).toBe(fresh.token);
    await new Promise((r) => setTimeout(r, 200));
    expect(client.events('WebSocketClosedEvent')).toEqual([]);
  }, 30_000);

  it('reports a 4004 when the superseded credentials are for another channel (no fallback)', async () => {
    const { node: n, path, voice: fresh, client } = await startVoiceHarness(cleanup, { listener: false });
    await api(n.url, path, {
      method: 'PATCH',
      body: { voice: { ...fresh, channelId: '1400000000000000999' } },
    });
    await api(n.url, path, { method: 'PATCH', body: { voice: { ...fresh, token: 'stale0000' } } });
    const closed = await client.wait((m) => m.type === 'WebSocketClosedEvent', 10_000);
    expect(closed).toMatchObject({ code: 4004 });
    await new Promise((r) => setTimeout(r, 300));
    expect(((await api(n.url, path)).json() as { state: { connected: boolean } }).state.connected).toBe(
      false,
    );
  }, 30_000);

  it('tries the voice connect again when IP discovery fails (a lost UDP answer), without a close event', async () => {
    let discoveries = 0;
    const flaky = (engine: MediaEngine): MediaEngine => ({
      kind: engine.kind,
      close: () => engine.close(),
      async openChannel(options) {
        const channel = await engine.openChannel(options);
        return new Proxy(channel, {
          get(target, prop) {
            if (prop === 'discoverAddress')
              return () =>
                ++discoveries === 1
                  ? Promise.reject(new VoxcordError('IP_DISCOVERY_FAILED', 'no IP discovery response (test)'))
                  : target.discoverAddress();
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      },
    });
    const {
      node: n,
      path,
      voice: good,
      client,
    } = await startVoiceHarness(cleanup, {
      listener: false,
      wrapEngine: flaky,
    });
    const r = await api(n.url, path, { method: 'PATCH', body: { voice: good } });
    expect(r.status).toBe(200);
    await client.wait((m) => m.op === 'playerUpdate' && isConnected(m), 10_000);
    expect(discoveries).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(client.events('WebSocketClosedEvent')).toEqual([]);
  }, 30_000);
});
