/**
 * The voice backend under a client that does everything at once: a seeded sequence of PATCHes
 * (voice with good and stale tokens, play, stop, pause, seek, filters, volume), DELETEs and GETs,
 * a third of them not awaited, with no pause or a short one between them, on the local Discord
 * with DAVE on. Whatever the order: every answer is a 2xx or a 4xx with Lavalink's error body
 * (never a 500), and afterwards the player plays again when asked
 * (the listener hears it) and, once deleted, leaves neither a voice connection nor a media channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRng, deriveSeed } from '../../src/server/faults.js';
import { Cleanup, CHANNEL, GUILD, until } from '../cli/helpers.js';
import { api } from './helpers.js';
import type { ApiResponse } from './helpers.js';
import { NODE_BOT, startVoiceHarness } from './voice-harness.js';

const OPS = Number(process.env.NODE_CHAOS_OPS ?? 60);
const SEEDS = (process.env.NODE_CHAOS_SEEDS ?? '1').split(',').map(Number);

let cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  cleanup = new Cleanup();
});

describe('voice backend under a chaotic client', () => {
  for (const seed of SEEDS)
    it(
      `seed ${seed}: ${OPS} operations in any order, then plays again and leaves nothing behind`,
      { timeout: 120_000 },
      async () => {
        const h = await startVoiceHarness(cleanup, { toneMs: 20_000 });
        const listener = h.listener!;
        const engine = h.world.engine;
        const baseline = (await engine.stats!()).channels;
        const encoded = await h.load();
        const rng = createRng(deriveSeed(seed, 77));
        const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
        const stale = { ...h.voice, token: 'stale-token' };
        const bodies: (() => unknown)[] = [
          () => ({ voice: h.voice }),
          () => ({ voice: stale }),
          () => ({ voice: h.voice, track: { encoded } }),
          () => ({ track: { encoded } }),
          () => ({ track: { encoded: null } }),
          () => ({ paused: rng() < 0.5 }),
          () => ({ position: Math.floor(rng() * 15_000) }),
          () => ({ filters: pick([{}, { lowPass: { smoothing: 20 } }, { timescale: { speed: 1.5 } }]) }),
          () => ({ volume: Math.floor(rng() * 200) }),
          () => ({ track: { encoded }, endTime: 500 + Math.floor(rng() * 2000) }),
        ];
        const answers: Promise<ApiResponse>[] = [];
        for (let i = 0; i < OPS; i++) {
          const roll = rng();
          const answer =
            roll < 0.08
              ? api(h.node.url, h.path, { method: 'DELETE' })
              : roll < 0.12
                ? api(h.node.url, h.path)
                : api(h.node.url, `${h.path}${rng() < 0.2 ? '?noReplace=true' : ''}`, {
                    method: 'PATCH',
                    body: pick(bodies)(),
                  });
          answers.push(answer);
          if (rng() < 0.65) await answer;
          const wait = rng() < 0.4 ? 0 : Math.floor(rng() * 150);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const settled = await Promise.all(answers);
        const problems = settled.flatMap((r, i) => {
          if (r.status < 400) return [];
          if (r.status >= 500) return [`op ${i}: ${r.status} ${r.text.slice(0, 200)}`];
          // A GET of a deleted player is 404: fine, with Lavalink's error body.
          const body = r.json() as { status?: number; message?: unknown };
          return body.status === r.status && typeof body.message === 'string' ? [] : [`op ${i}: ${r.text}`];
        });
        expect(problems).toEqual([]);
        // The chaos reached the voice server and the player: joins, 4004s for the stale token, tracks.
        const seen = (type: string): number => h.client.events(type).length;
        expect(seen('TrackStartEvent')).toBeGreaterThan(0);
        expect(seen('WebSocketClosedEvent')).toBeGreaterThan(0);
        expect(
          h.client.messages.some(
            (m) => m.op === 'playerUpdate' && (m.state as { connected?: boolean }).connected === true,
          ),
        ).toBe(true);

        // Asked to play with the good credentials, it plays: connected, and heard.
        const from = h.client.messages.length;
        const play = await api(h.node.url, h.path, {
          method: 'PATCH',
          body: { voice: h.voice, track: { encoded }, paused: false, filters: {}, volume: 100, position: 0 },
        });
        expect(play.status).toBe(200);
        await h.client.wait(
          (m) => m.op === 'playerUpdate' && (m.state as { connected?: boolean }).connected === true,
          15_000,
          from,
        );
        const before = listener.heard.get(NODE_BOT)?.length ?? 0;
        await until(
          () => (listener.heard.get(NODE_BOT)?.length ?? 0) >= before + 25,
          15_000,
          'audio after the chaos',
        );

        // Deleted, it leaves no voice connection and no media channel.
        expect((await api(h.node.url, h.path, { method: 'DELETE' })).status).toBe(204);
        const connected = (): boolean =>
          h.world.local.voice.participants(GUILD, CHANNEL).some((p) => p.userId === NODE_BOT && p.connected);
        await until(() => !connected(), 10_000, 'the node bot leaving the voice server');
        // Channels close asynchronously (a worker's answer): poll the engine's count.
        let channels = -1;
        for (let t = 0; t < 200 && channels !== baseline; t++) {
          channels = (await engine.stats!()).channels;
          if (channels !== baseline) await new Promise((r) => setTimeout(r, 50));
        }
        expect(channels).toBe(baseline);
      },
    );
});
