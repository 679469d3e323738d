/**
 * The compat player's `missedFrames` is real: consecutive 20 ms frames the player could not send
 * because its resource had no audio ready (as @discordjs/voice counts them), back to 0 once the
 * audio flows again (it was a constant 0); and `maxMissedFrames` stops a stalled resource as
 * @discordjs/voice does (it was accepted and ignored).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  AudioPlayerStatus,
  NoSubscriberBehavior,
  StreamType,
  createAudioPlayer,
  createAudioResource,
  entersState,
} from '../../../src/compat/discordjs-voice/index.js';
import { sinePcm } from '../../e2e/harness.js';

describe('voxcord/discordjs-voice missedFrames', () => {
  it('counts the frames a stalled resource owes while Playing, and returns to 0 when it delivers', async () => {
    const player = createAudioPlayer({
      behaviors: { noSubscriber: NoSubscriberBehavior.Play, maxMissedFrames: Infinity },
    });
    const pcm = sinePcm(400, 440);
    const input = new Readable({ read() {} });
    input.push(pcm.subarray(0, 3840 * 5)); // 100 ms, then nothing for a while
    player.play(createAudioResource(input, { inputType: StreamType.Raw }));
    await entersState(player, AudioPlayerStatus.Playing, 2_000);
    const missed = (): number =>
      player.state.status === AudioPlayerStatus.Playing ? player.state.missedFrames : -1;
    let most = 0;
    const started = performance.now();
    while (performance.now() - started < 400) {
      most = Math.max(most, missed());
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // ~300 ms of the 400 passed without audio: about 15 frames owed (timers on a busy VM are coarse).
    expect(most).toBeGreaterThanOrEqual(8);
    expect(most).toBeLessThanOrEqual(25);
    input.push(pcm.subarray(3840 * 5));
    input.push(null);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(missed()).toBe(0);
    await entersState(player, AudioPlayerStatus.Idle, 5_000);
    player.voxcord.destroy();
  });

  it('maxMissedFrames (default 5): a resource stalled that long is stopped, the player goes Idle without an error', async () => {
    const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
    expect(player.behaviors.maxMissedFrames).toBe(5);
    const errors: unknown[] = [];
    player.on('error', (e) => errors.push(e));
    const debug: string[] = [];
    player.on('debug', (m) => debug.push(m));
    const input = new Readable({ read() {} });
    input.push(sinePcm(100, 440)); // 100 ms of audio, then a stream that never ends nor delivers
    const resource = createAudioResource(input, { inputType: StreamType.Raw });
    player.play(resource);
    await entersState(player, AudioPlayerStatus.Playing, 2_000);
    const playingAt = performance.now();
    let most = 0;
    const watch = setInterval(() => {
      if (player.state.status === AudioPlayerStatus.Playing) most = Math.max(most, player.state.missedFrames);
    }, 5);
    await entersState(player, AudioPlayerStatus.Idle, 3_000);
    clearInterval(watch);
    // Stopped once ~5 frames were owed: well before voxcord's own 10 s stall timeout.
    expect(performance.now() - playingAt).toBeLessThan(2_000);
    expect(most).toBeLessThanOrEqual(8);
    expect(resource.ended).toBe(true);
    expect(errors).toEqual([]);
    expect(debug.some((m) => /maxMissedFrames 5/.test(m))).toBe(true);
    expect(player.voxcord.stats.framesSent).toBeGreaterThanOrEqual(5); // the 100 ms that came were played
    input.destroy();
    player.voxcord.destroy();
  });
});
