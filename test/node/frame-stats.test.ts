/**
 * frameStats with real audio: the node's voice backend counts the frames its players send (or
 * drop at their tick for want of a DAVE send key) and the empty ticks, and each session's `stats`
 * message reports them over the interval as Lavalink defines them. Checked against the node's own
 * counters (the values frameStats sampled) and against what a listener hears; and a bot alone in
 * a DAVE call keeps time: its track advances, ends on time as `finished` and counts in frameStats.
 */
import { describe, expect, it } from 'vitest';
import { hex, until } from '../cli/helpers.js';
import { FRAME_STATS_MAX_COUNTS_AGE_MS } from '../../src/node/stats.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { api } from './helpers.js';
import type { Message } from './helpers.js';
import { NODE_BOT, startVoiceHarness } from './voice-harness.js';

const cleanup = cleanupAfterEach();

type FrameStats = { sent: number; nulled: number; deficit: number };
const STATS_MS = 1000;

/** The non-null frameStats of the stats messages so far. */
function frameStatsOf(messages: readonly Message[]): FrameStats[] {
  return messages
    .filter((m) => m.op === 'stats' && m.frameStats !== null)
    .map((m) => m.frameStats as FrameStats);
}

/**
 * Each reported window is the difference of two consecutive samples of the node's counters (one
 * player: averages are the player's own numbers), in order.
 */
function expectMatchesCounters(
  reported: readonly FrameStats[],
  reads: readonly { sent: number; nulled: number; at?: number }[],
) {
  // Expected frames cover the span of the counts: from the tick time of one sample's counts to
  // the next's (the media engine's reports), not the stats timer's interval.
  const matches = (window: FrameStats, before: (typeof reads)[number], after: (typeof reads)[number]) =>
    after.sent - before.sent === window.sent &&
    after.nulled - before.nulled === window.nulled &&
    (before.at === undefined ||
      after.at === undefined ||
      window.sent + window.nulled + window.deficit === Math.round((after.at - before.at) / 20));
  let from = 1;
  const spans: number[] = [];
  for (const window of reported) {
    let i = from;
    while (i < reads.length && !matches(window, reads[i - 1]!, reads[i]!)) i++;
    expect(i, `window ${JSON.stringify(window)} among the node's samples`).toBeLessThan(reads.length);
    const [a, b] = [reads[i - 1]!.at, reads[i]!.at];
    if (a !== undefined && b !== undefined) spans.push(b - a);
    from = i + 1;
  }
  return spans;
}

describe('frameStats from the voice backend', () => {
  it('reports the frames the node sent, per stats interval, matching its counters and the listener', async () => {
    const h = await startVoiceHarness(cleanup, { statsIntervalMs: STATS_MS, toneMs: 4000 });
    await h.join();
    await api(h.node.url, h.path, { method: 'PATCH', body: { track: { encoded: await h.load() } } });
    await h.client.wait((m) => m.type === 'TrackEndEvent' && m.reason === 'finished', 15_000);
    // One more sample after the end (its window includes the end).
    const reads = h.frameReads.length;
    await until(() => h.frameReads.length > reads + 1, 5000, 'two more samples');
    await new Promise((r) => setTimeout(r, 100));

    // The node's own counter: every frame of the file was sent, once.
    const last = h.frameReads.at(-1)!;
    expect(last.sent).toBe(h.frames.length);
    // ... and the listener heard each of them (a steady tone repeats packets: compare in order).
    const heard = (h.listener!.heard.get(NODE_BOT) ?? []).map(hex);
    const start = heard.indexOf(hex(h.frames[0]));
    expect(heard.slice(start, start + h.frames.length)).toEqual(h.frames.map(hex));

    const windows = frameStatsOf(h.client.messages);
    // A 4 s track sampled every second: at least 2 whole windows (the start and end are partial).
    expect(windows.length).toBeGreaterThanOrEqual(2);
    const spans = expectMatchesCounters(windows, h.frameReads);
    expect(spans.length).toBeGreaterThanOrEqual(2);
    // The counts' span is the stats interval, give or take the reports' lag at its two ends. The
    // first window starts at the first report after the track started, which can be as old as
    // the node lets counts be (a file feed reports once a second).
    expect(spans[0]).toBeLessThanOrEqual(STATS_MS + FRAME_STATS_MAX_COUNTS_AGE_MS);
    for (const span of spans.slice(1)) {
      expect(span).toBeGreaterThanOrEqual(STATS_MS - 400);
      expect(span).toBeLessThanOrEqual(STATS_MS + 400);
    }
    for (const w of windows) expect(w.sent).toBeGreaterThanOrEqual(40);
    // No window but the last (partial: the track ends in it) lost a frame: deficit 0, unless the
    // engine's clock fell 200 ms behind and skipped cycles (real gaps, on a very loaded host). The
    // first counts from a report after the track started, not from before it.
    const skipped = (await h.world.engine.stats!()).clock.skippedCycles;
    for (const w of windows.slice(0, -1)) expect(w.deficit).toBeLessThanOrEqual(skipped);
    expect(windows.slice(0, -1).reduce((n, w) => n + w.deficit, 0)).toBeGreaterThanOrEqual(0);
    // GET /v4/stats never carries frameStats.
    expect((await api(h.node.url, '/v4/stats')).json()).not.toHaveProperty('frameStats');
  }, 40_000);

  it('a bot alone in a DAVE call: the track advances in real time, ends on time, and counts', async () => {
    const h = await startVoiceHarness(cleanup, { statsIntervalMs: STATS_MS, toneMs: 3000, listener: false });
    await h.join();
    await api(h.node.url, h.path, { method: 'PATCH', body: { track: { encoded: await h.load() } } });
    await h.client.wait((m) => m.type === 'TrackStartEvent', 5000);
    const startedAt = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const mid = (await api(h.node.url, h.path)).json() as { state: { position: number } };
    // Nobody hears it, but its position moves with the clock.
    expect(mid.state.position).toBeGreaterThan(1000);
    expect(mid.state.position).toBeLessThan(2200);
    const end = await h.client.wait((m) => m.type === 'TrackEndEvent', 10_000);
    const took = performance.now() - startedAt;
    expect(end.reason).toBe('finished');
    // On time: 3 s of audio ends after about 3 s (not at once, not stalled).
    expect(took).toBeGreaterThan(2700);
    expect(took).toBeLessThan(4500);
    const reads = h.frameReads.length;
    await until(() => h.frameReads.length > reads + 1, 5000, 'two more samples');
    // Its frames count as sent in frameStats (dropped at their tick: nobody holds the key).
    expect(h.frameReads.at(-1)!.sent).toBe(h.frames.length);
    const windows = frameStatsOf(h.client.messages);
    expect(windows.length).toBeGreaterThanOrEqual(1);
    expectMatchesCounters(windows, h.frameReads);
    expect(Math.max(...windows.map((w) => w.sent))).toBeGreaterThanOrEqual(40);
  }, 40_000);
});
