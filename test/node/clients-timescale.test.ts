/**
 * An unmodified lavalink-client bot sets the timescale filter on a `voxcord node` player (voice
 * backend, DAVE on): the listener hears the tone an octave up (rate 2), and the track ends in
 * about half its length in wall time.
 */
import { describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { CHANNEL, GUILD, joinBot, until } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { clientWorld, lavalinkOnVoiceNode, toneFile } from './processes.js';

const BOT = '1500000000000000011';
const LISTENER = '1500000000000000012';
const cleanup = cleanupAfterEach();

/** Frequency of the decoded frames' left channel from its upward zero crossings. */
async function frequencyOf(frames: readonly Uint8Array[]): Promise<number> {
  const decoder = (await loadOpus()).createDecoder();
  const ups: number[] = [];
  let at = 0;
  let prev = 0;
  for (const f of frames) {
    const pcm = decoder.decode(f);
    for (let i = 0; i < pcm.length; i += 2, at++) {
      const v = pcm[i] ?? 0;
      if (prev < 0 && v >= 0) ups.push(at);
      prev = v;
    }
  }
  decoder.close();
  return ((ups.length - 1) * 48_000) / ((ups[ups.length - 1] ?? 0) - (ups[0] ?? 0));
}

describe('lavalink-client with the timescale filter', () => {
  it('rate 2 through filterManager: the listener hears 660 Hz become 1320 Hz, and the track ends early', async () => {
    const { local, engine } = await clientWorld(cleanup, [GUILD]);
    const listener = await joinBot({ local, engine }, cleanup, LISTENER);
    const { file } = await toneFile(cleanup, 660, 6000);
    const { manager, node } = await lavalinkOnVoiceNode(cleanup, { local, engine }, BOT);
    expect(node.info?.filters).toContain('timescale');

    const player = manager.createPlayer({
      guildId: GUILD,
      voiceChannelId: CHANNEL,
      selfDeaf: true,
      volume: 100,
    });
    await player.connect();
    const result = await player.search({ query: file }, 'tester');
    const track = result.tracks[0];
    if (track === undefined) throw new Error('no track');
    let endedAt = 0;
    manager.on('trackEnd', () => (endedAt = Date.now()));
    // (lavalink-client reports the end of the last track in the queue as queueEnd)
    manager.on('queueEnd', () => (endedAt ||= Date.now()));
    await player.play({ clientTrack: track });
    await until(() => (listener.heard.get(BOT)?.length ?? 0) >= 25, 15_000, 'audio at the listener');
    const heardBefore = (listener.heard.get(BOT) ?? []).slice(5, 25);
    expect(Math.abs((await frequencyOf(heardBefore)) / 660 - 1)).toBeLessThan(0.03);

    const changedAt = Date.now();
    await player.filterManager.setRate(2);
    const before = listener.heard.get(BOT)?.length ?? 0;
    await until(() => (listener.heard.get(BOT)?.length ?? 0) >= before + 60, 10_000, 'timescaled audio');
    // Frames produced before the PATCH were queued ahead of the clock: measure later ones.
    const after = (listener.heard.get(BOT) ?? []).slice(before + 30, before + 60);
    expect(Math.abs((await frequencyOf(after)) / 1320 - 1)).toBeLessThan(0.03);

    // 6 s of track: ~0.5 s at rate 1, the rest (≤ 5.5 s) at rate 2 is ≤ 2.75 s of wall time.
    await until(() => endedAt > 0, 10_000, 'the track end');
    expect(endedAt - changedAt).toBeLessThan(4000);
    expect(listener.decryptFailures).toBe(0);
  }, 60_000);
});
