/**
 * Track events end to end with the voice backend on the local Discord (DAVE on, a listener in the
 * channel), tracks served by a local HTTP server that can stall, cut or lose them:
 * TrackStuck with Lavalink's meaning (no frame at the audio clock for the threshold; the track
 * keeps its place and finishes), TrackException with lavaplayer's severities, and every TrackEnd
 * reason (finished, loadFailed, replaced, stopped, cleanup).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GUILD } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { serveHttp } from '../support/http-server.js';
import { api } from './helpers.js';
import type { Message } from './helpers.js';
import { NODE_BOT, startVoiceHarness } from './voice-harness.js';

const cleanup = cleanupAfterEach();

function pageBoundaryNear(bytes: Uint8Array, at: number): number {
  const text = Buffer.from(bytes).toString('latin1');
  let best = 0;
  for (let i = text.indexOf('OggS'); i >= 0; i = text.indexOf('OggS', i + 1))
    if (Math.abs(i - at) < Math.abs(best - at)) best = i;
  return best;
}

type Mode = 'ok' | 'stall' | 'cut' | 'gone';

/** Serves `bytes` at /track.ogg; Range requests (the length probe) always work. */
async function trackServer(bytes: Uint8Array, stallMs: number) {
  let mode: Mode = 'ok';
  const { base } = await serveHttp(cleanup, (req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range !== null) {
      const from = Number(range[1]);
      res.writeHead(206, {
        'Content-Length': bytes.length - from,
        'Content-Range': `bytes ${from}-${bytes.length - 1}/${bytes.length}`,
      });
      res.end(Buffer.from(bytes.subarray(from)));
      return;
    }
    if (mode === 'gone') {
      res.writeHead(404).end('gone');
      return;
    }
    res.writeHead(200, { 'Content-Length': bytes.length });
    if (mode === 'ok') {
      res.end(Buffer.from(bytes));
      return;
    }
    // At the Ogg page boundary nearest the middle: the first half plays, then the source stalls.
    const cut = pageBoundaryNear(bytes, bytes.length / 2);
    res.write(Buffer.from(bytes.subarray(0, cut)));
    if (mode === 'cut') {
      setTimeout(() => res.destroy(), 100);
      return;
    }
    setTimeout(() => res.end(Buffer.from(bytes.subarray(cut))), stallMs);
  });
  return {
    url: `${base}/track.ogg`,
    setMode: (m: Mode) => (mode = m),
  };
}

const STUCK_MS = 1000;

describe('track events with voice', () => {
  it('TrackStuck at the audio clock, exceptions with severity, and every TrackEnd reason', async () => {
    const h = await startVoiceHarness(cleanup, {
      toneMs: 3000,
      backend: { stuckThresholdMs: STUCK_MS, inputTimeoutMs: 4000, cleanupThresholdMs: 1500 },
    });
    const { node, client, path } = h;
    const track = await trackServer(await readFile(h.file), 2500);
    await h.join();
    const encoded = await h.load(track.url);
    const play = async (body: unknown): Promise<number> => {
      const from = client.messages.length;
      expect((await api(node.url, path, { method: 'PATCH', body })).status).toBe(200);
      return from;
    };
    const events = (from: number): Message[] =>
      client.messages.slice(from).filter((m) => m.op === 'event' && m.guildId === GUILD);

    // 1. The source stalls 2.5 s half-way: one TrackStuck (then a playerUpdate), no exception, and
    // the track goes on from where it was and finishes with every frame sent. The stall shows in
    // the node's counters as empty ticks at the audio clock (frameStats' "nulled").
    track.setMode('stall');
    const sentBefore = h.players[0]!.frames!.sent;
    let sentAtStuck = -1;
    const watch = setInterval(() => {
      if (sentAtStuck < 0 && client.messages.some((m) => m.type === 'TrackStuckEvent'))
        sentAtStuck = h.players[0]!.frames!.sent - sentBefore;
    }, 50);
    cleanup.add(() => clearInterval(watch));
    let from = await play({ track: { encoded } });
    const stuck = await client.wait((m) => m.type === 'TrackStuckEvent', 10_000, from);
    expect(stuck).toMatchObject({ guildId: GUILD, thresholdMs: STUCK_MS, track: { encoded } });
    const next = await client.wait((m) => m.guildId === GUILD, 5000, client.messages.indexOf(stuck) + 1);
    expect(next.op).toBe('playerUpdate');
    const finished = await client.wait((m) => m.type === 'TrackEndEvent', 15_000, from);
    // Stuck in the middle (frames had gone out before), not at the start.
    expect(sentAtStuck).toBeGreaterThan(20);
    expect(finished.reason).toBe('finished');
    expect(events(from).map((e) => e.type)).toEqual(['TrackStartEvent', 'TrackStuckEvent', 'TrackEndEvent']);
    // (TrackEnd comes when the last frame is handed over; the engine's queue then plays out.)
    await new Promise((r) => setTimeout(r, 1000));
    expect(h.players[0]!.frames!.sent - sentBefore).toBe(h.frames.length);
    const stuckAt = h.players[0]!.frames!;
    expect(stuckAt.nulled).toBeGreaterThanOrEqual(STUCK_MS / 20);

    // 2. The connection is cut mid-track: a 'suspicious' exception, then loadFailed.
    track.setMode('cut');
    from = await play({ track: { encoded } });
    const failed = await client.wait((m) => m.type === 'TrackEndEvent', 15_000, from);
    expect(failed.reason).toBe('loadFailed');
    const cutException = events(from).find((e) => e.type === 'TrackExceptionEvent');
    expect(cutException?.exception).toMatchObject({ severity: 'suspicious' });

    // 3. The URL is gone (404) at play time: a 'common' exception, then loadFailed.
    track.setMode('gone');
    from = await play({ track: { encoded } });
    const gone = await client.wait((m) => m.type === 'TrackEndEvent', 15_000, from);
    expect(gone.reason).toBe('loadFailed');
    const goneException = events(from).find((e) => e.type === 'TrackExceptionEvent');
    expect(goneException?.exception).toMatchObject({ severity: 'common' });
    expect((goneException?.exception as { cause: string }).cause).toMatch(/404/);

    // 4. replaced, then stopped.
    track.setMode('ok');
    from = await play({ track: { encoded } });
    await client.wait((m) => m.type === 'TrackStartEvent', 5000, from);
    const second = await h.load(h.file);
    await play({ track: { encoded: second } });
    await client.wait(
      (m) => m.type === 'TrackStartEvent' && (m.track as { encoded: string }).encoded === second,
      5000,
      from,
    );
    await play({ track: { encoded: null } });
    await client.wait((m) => m.type === 'TrackEndEvent' && m.reason === 'stopped', 5000, from);
    expect(
      events(from)
        .filter((e) => e.type === 'TrackEndEvent')
        .map((e) => e.reason),
    ).toEqual(['replaced', 'stopped']);

    // 5. cleanup: the voice connection is closed for good (4014) while a track plays; nobody takes
    // its frames, and after the cleanup threshold it ends as 'cleanup'.
    from = await play({ track: { encoded: second } });
    await client.wait((m) => m.type === 'TrackStartEvent', 5000, from);
    h.world.local.voice.closeClient(NODE_BOT, GUILD, 4014);
    await client.wait((m) => m.type === 'WebSocketClosedEvent', 5000, from);
    const cleaned = await client.wait((m) => m.type === 'TrackEndEvent', 5000, from);
    expect(cleaned.reason).toBe('cleanup');
  }, 60_000);
});
