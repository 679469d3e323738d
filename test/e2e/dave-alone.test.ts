/**
 * Issue 12: a bot alone in a DAVE call has no group and so no send key. It must not hold its
 * audio for seconds and then drop it silently: nobody can hear it, so frames are dropped at the
 * real-time pace (the track advances and ends on time), each one counted with the reason
 * 'alone', and one 'sendDrop' event says so. Before, the pump held frames 5 s, then dropped them
 * one per 20 ms timer, counted only as "dropped before the DAVE group formed", with no event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AudioPlayer } from '../../src/player/audio-player.js';
import { toneInput } from '../../src/player/inputs/tone.js';
import type { SendDropReason } from '../../src/media/media-engine.js';
import { startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('a bot alone in a DAVE call', () => {
  it("plays a 3 s track out in about 3 s, every frame dropped as 'alone', one event", async () => {
    const h = (harness = await startHarness({ dave: true }));
    const bot = await h.join('6001');
    const events: SendDropReason[] = [];
    bot.on('sendDrop', (reason) => events.push(reason));
    const player = new AudioPlayer();
    const ends: string[] = [];
    player.on('trackEnd', (_track, reason) => ends.push(reason));
    const started = performance.now();
    player.play(toneInput({ notes: [{ frequency: 440, ms: 3_000 }] }));
    player.attach(bot);
    await player.drained();
    const elapsed = performance.now() - started;

    expect(ends).toEqual(['finished']);
    expect(player.stats.framesSent).toBe(150);
    const stats = bot.sendStats;
    expect(stats.framesDropped.alone).toBe(150);
    expect(stats.framesDropped['no-key']).toBe(0);
    expect(stats.framesSent).toBe(0);
    expect(bot.dave.stats.framesDropped).toBe(150);
    expect(events).toEqual(['alone']);
    // Real-time pace, not a 5 s hold first (3 s of audio, the queue and a short wait for op 11).
    expect(elapsed).toBeGreaterThan(2_500);
    expect(elapsed).toBeLessThan(4_500);
  });

  it('holds, not drops, once someone else is there: the newcomer hears the audio that follows', async () => {
    const h = (harness = await startHarness({ dave: true }));
    const bot = await h.join('6101');
    const events: SendDropReason[] = [];
    bot.on('sendDrop', (reason) => events.push(reason));
    const player = new AudioPlayer();
    player.play(toneInput({ notes: [{ frequency: 440, ms: 4_000 }] }));
    player.attach(bot);
    await until(() => bot.sendStats.framesDropped.alone >= 25, 3_000, 'drops while alone');
    const listener = await h.join('6102');
    let heard = 0;
    listener.on('audioFrame', (f) => {
      if (f.userId === '6101' && f.payload.length > 3) heard++;
    });
    await player.drained();
    await until(() => heard > 0, 3_000, 'audio at the newcomer');
    const stats = bot.sendStats;
    // Every frame is accounted for: sent, or dropped while alone (never 'no-key' here).
    expect(stats.framesSent + stats.framesDropped.alone).toBe(200);
    expect(stats.framesDropped['no-key']).toBe(0);
    expect(stats.framesSent).toBeGreaterThan(0);
    await until(() => heard >= stats.framesSent - 1, 3_000, 'every sent frame at the newcomer');
    expect(events).toEqual(['alone']);
  });
});
