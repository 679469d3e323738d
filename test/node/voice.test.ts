/**
 * The voice backend end to end on the local Discord (DAVE on): a "client bot" sends op 4 through
 * its own gateway shard and forwards the two voice events to the node with PATCH voice, as a
 * Lavalink client does; the node's player joins with those credentials (its adapter never sends
 * op 4) and a voxcord listener in the channel hears the track.
 */
import { describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { GUILD, until, hex } from '../cli/helpers.js';
import { cleanupAfterEach } from '../support/after-each.js';
import { api, connect, PASSWORD } from './helpers.js';
import { NODE_BOT, startVoiceHarness } from './voice-harness.js';

const cleanup = cleanupAfterEach();

describe('voice backend', () => {
  it('joins with PATCHed credentials, plays a local Ogg Opus file through untouched, then filtered', async () => {
    const { world, frames, node, client, path, voice, ...h } = await startVoiceHarness(cleanup);
    const listener = h.listener!;
    const joined = await api(node.url, path, { method: 'PATCH', body: { voice } });
    expect(joined.status).toBe(200);
    // The answer does not wait for the join; the playerUpdate at 'voice ready' says connected.
    await client.wait(
      (m) => m.op === 'playerUpdate' && (m.state as { connected: boolean }).connected,
      10_000,
    );

    await api(node.url, path, { method: 'PATCH', body: { track: { encoded: await h.load() } } });
    await client.wait((m) => m.type === 'TrackStartEvent', 5000);
    await until(() => (listener.heard.get(NODE_BOT)?.length ?? 0) >= 20, 10_000, 'audio at the listener');
    const heard = listener.heard.get(NODE_BOT) ?? [];
    const sent = new Set(frames.map(hex));
    // Passthrough: the listener gets the file's own Opus packets (after DAVE decryption).
    expect(heard.slice(0, 20).every((f) => sent.has(hex(f)))).toBe(true);

    await api(node.url, path, { method: 'PATCH', body: { filters: { lowPass: { smoothing: 20 } } } });
    const before = heard.length;
    await until(() => (listener.heard.get(NODE_BOT)?.length ?? 0) >= before + 80, 10_000, 'filtered audio');
    const after = (listener.heard.get(NODE_BOT) ?? []).slice(before + 40, before + 80);
    // (frames produced before the PATCH were already queued ahead of the clock)
    expect(after.every((f) => !sent.has(hex(f)))).toBe(true);
    // The listener hears the low-pass: the 3 kHz tone loses > 12 dB (one-pole smoothing 20: −17.7 dB).
    const opus = await loadOpus();
    const rmsOf = (list: readonly Uint8Array[]): number => {
      const decoder = opus.createDecoder();
      let sum = 0;
      let n = 0;
      for (const f of list) {
        const pcm = decoder.decode(f);
        for (const v of pcm) sum += (v / 32768) ** 2;
        n += pcm.length;
      }
      decoder.close();
      return Math.sqrt(sum / n);
    };
    const drop = 20 * Math.log10(rmsOf(after) / rmsOf(heard.slice(5, 20)));
    expect(drop).toBeLessThan(-12);

    const end = await client.wait((m) => m.type === 'TrackEndEvent', 10_000);
    expect(end.reason).toBe('finished');
    expect(listener.decryptFailures).toBe(0);

    // A 4014 (kicked): a WebSocketClosedEvent, then connected: false, and no rejoin.
    const from = client.messages.length;
    world.local.voice.closeClient(NODE_BOT, GUILD, 4014);
    const closed = await client.wait((m) => m.type === 'WebSocketClosedEvent', 5000, from);
    expect(closed).toMatchObject({ guildId: GUILD, code: 4014, byRemote: true });
    const update = await client.wait(
      (m) => m.op === 'playerUpdate',
      5000,
      client.messages.indexOf(closed) + 1,
    );
    expect(update.state).toMatchObject({ connected: false });
    await new Promise((r) => setTimeout(r, 1000));
    expect(client.events('WebSocketClosedEvent')).toHaveLength(1);
    const after4014 = (await api(node.url, path)).json() as {
      state: { connected: boolean };
      voice: { token: string };
    };
    expect(after4014.state.connected).toBe(false);
    expect(after4014.voice.token).toBe('');
  }, 40_000);
});

describe('voice backend: where a track ends', () => {
  it('through the AudioPlayer (volume 50): endTime is heard to the end time, and TrackEnd comes as the last frame is heard', async () => {
    const { node, client, path, ...h } = await startVoiceHarness(cleanup, { toneMs: 2000 });
    const listener = h.listener!;
    await h.join();
    const encoded = await h.load();
    const count = (): number => listener.heard.get(NODE_BOT)?.length ?? 0;
    // The AudioPlayer produces up to the engine's queue (500 ms) ahead of the wire: the end time
    // must not cut that off, and TrackEnd must not come that much before the end is heard.
    for (const endTime of [1000, undefined]) {
      const from = count();
      const start = client.messages.length;
      const body = { track: { encoded }, volume: 50, ...(endTime === undefined ? {} : { endTime }) };
      await api(node.url, path, { method: 'PATCH', body });
      const end = await client.wait((m) => m.type === 'TrackEndEvent', 10_000, start);
      expect(end.reason).toBe('finished');
      const atEnd = count() - from;
      await new Promise((r) => setTimeout(r, 600));
      const heard = count() - from;
      const frames = (endTime ?? 2000) / 20;
      expect(heard).toBeGreaterThanOrEqual(frames - 1);
      expect(heard).toBeLessThanOrEqual(frames);
      expect(atEnd).toBeGreaterThanOrEqual(heard - 3);
    }
    expect(listener.decryptFailures).toBe(0);
  }, 30_000);
});

describe('voice backend and session resume', () => {
  it('keeps playing while the client WebSocket is gone, and resumes with the events in order', async () => {
    const { node, client, path, voice, sessionId, ...h } = await startVoiceHarness(cleanup);
    const listener = h.listener!;
    await api(node.url, `/v4/sessions/${sessionId}`, {
      method: 'PATCH',
      body: { resuming: true, timeout: 30 },
    });
    await api(node.url, path, { method: 'PATCH', body: { voice } });
    await api(node.url, path, { method: 'PATCH', body: { track: { encoded: await h.load() } } });
    const count = (): number => listener.heard.get(NODE_BOT)?.length ?? 0;
    await until(() => count() >= 10, 10_000, 'audio at the listener');
    await client.close();
    // While nobody is connected: the listener keeps hearing, about one frame per 20 ms.
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      samples.push(count());
    }
    const steps = samples.slice(1).map((c, i) => c - (samples[i] ?? 0));
    expect(Math.min(...steps)).toBeGreaterThan(0); // no 100 ms without audio
    expect((samples.at(-1) ?? 0) - (samples[0] ?? 0)).toBeGreaterThanOrEqual(35); // 900 ms ≈ 45 frames
    const back = await connect(node.url, {
      Authorization: PASSWORD,
      'User-Id': NODE_BOT,
      'Client-Name': 'test/1',
      'Session-Id': sessionId,
    });
    expect(back.headers['session-resumed']).toBe('true');
    await back.wait((m) => m.op === 'playerUpdate' && m.guildId === GUILD);
    expect(back.messages[0]).toEqual({ op: 'ready', resumed: true, sessionId });
    const end = await back.wait((m) => m.type === 'TrackEndEvent', 10_000);
    expect(end.reason).toBe('finished');
    await back.close();
  }, 40_000);
});
