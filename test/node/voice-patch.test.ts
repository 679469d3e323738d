/** PATCH voice semantics with a controllable backend: 500 on a failed connect, a newer PATCH supersedes. */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodePlayerBackend, VoiceCredentials } from '../../src/node/backend.js';
import { startNode } from '../../src/node/server.js';
import type { VoxcordNode } from '../../src/node/server.js';
import { createTimelineBackend } from '../../src/node/timeline-backend.js';
import { VoxcordError } from '../../src/errors.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import { Cleanup } from '../cli/helpers.js';
import { api, clientHeaders, connect } from './helpers.js';
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
  it('answers 500 when the voice connection fails, and the player reports no voice', async () => {
    const backend = controlledBackend();
    node = await startNode({ port: 0, password: 'youshallnotpass', backend });
    const client = await connect(node.url, clientHeaders());
    const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
    const path = `/v4/sessions/${id}/players/1`;
    const patch = api(node.url, path, { method: 'PATCH', body: { voice: voice('a') } });
    await new Promise((r) => setTimeout(r, 100));
    backend.pending[0]?.reject(new Error('voice handshake timed out'));
    const r = await patch;
    expect(r.status).toBe(500);
    expect((r.json() as { message: string }).message).toMatch(/Voice connection failed/);
    expect(((await api(node.url, path)).json() as { voice: { token: string } }).voice.token).toBe('');
    await client.close();
  });

  it('lets a newer PATCH supersede one still connecting (the older answers 200, not 500)', async () => {
    const backend = controlledBackend();
    node = await startNode({ port: 0, password: 'youshallnotpass', backend });
    const client = await connect(node.url, clientHeaders());
    const id = (await client.wait((m) => m.op === 'ready')).sessionId as string;
    const path = `/v4/sessions/${id}/players/1`;
    const first = api(node.url, path, { method: 'PATCH', body: { voice: voice('a') } });
    await new Promise((r) => setTimeout(r, 100));
    const second = api(node.url, path, { method: 'PATCH', body: { voice: voice('b') } });
    await new Promise((r) => setTimeout(r, 100));
    expect(backend.pending.map((p) => p.voice.token)).toEqual(['a', 'b']);
    backend.pending[0]?.reject(new Error('superseded'));
    backend.pending[1]?.resolve();
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.status).toBe(200);
    expect(r2.status).toBe(200);
    expect((r2.json() as { voice: { token: string } }).voice.token).toBe('b');
    await client.close();
  });

  it('joins a connect still in progress for identical credentials instead of restarting it', async () => {
    const { backend, patch, close } = await controlledNode();
    const first = patch('a');
    await new Promise((r) => setTimeout(r, 100));
    const again = patch('a');
    await new Promise((r) => setTimeout(r, 100));
    expect(backend.pending.map((p) => p.voice.token)).toEqual(['a']);
    backend.pending[0]?.resolve();
    const [r1, r2] = await Promise.all([first, again]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await close();
  });

  it('answers 500 as soon as the voice server refuses the credentials (4004), not at the timeout', async () => {
    // A stale token (lavalink-client's changeNode can PATCH the token an op 4 just replaced):
    // the voice server closes with 4004 at once; the PATCH must not hang until the connect
    // timeout (60 s here), past a client's own request timeout (10 s in lavalink-client).
    const {
      node: n,
      path,
      voice: good,
    } = await startVoiceHarness(cleanup, {
      listener: false,
      backend: { connectTimeoutMs: 60_000 },
    });
    const t0 = Date.now();
    const r = await api(n.url, path, { method: 'PATCH', body: { voice: { ...good, token: 'stale0000' } } });
    expect(r.status).toBe(500);
    expect((r.json() as { message: string }).message).toMatch(
      /Voice connection failed.*4004|authentication/i,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The good credentials still connect afterwards.
    const ok = await api(n.url, path, { method: 'PATCH', body: { voice: good } });
    expect(ok.json()).toMatchObject({ state: { connected: true } });
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
    expect(r.json()).toMatchObject({ state: { connected: true } });
    expect(discoveries).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(client.events('WebSocketClosedEvent')).toEqual([]);
  }, 30_000);
});
