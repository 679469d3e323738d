/**
 * Issue 12: "audio continues where it was" across a rejoin and a region move. A bot streams
 * numbered frames through its VoiceConnection while the local voice gateway closes its session
 * (4006: rejoin) or the main gateway moves it to another voice server; listeners on both sides
 * record every index they hear. The union must be every index exactly once, or the gap must be
 * what the connection counts as dropped ('session-ended'). Before, the frames queued in the old
 * session (about 25, 0.5 s) were cleared with it, counted as sent and in no counter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import type { FaultOptions } from '../../src/server/faults.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import { entersState } from '../../src/util/enters-state.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { VoiceCloseCode } from '../../src/protocol/constants.js';
import { AudioPlayer } from '../../src/player/audio-player.js';
import { opusFramesInput } from '../../src/player/inputs/opus-frames.js';
import { bareSession as openSession, botClient, joinWith, startCall } from '../support/call.js';
import type { Call } from '../support/call.js';
import { Cleanup } from '../support/cleanup.js';
import { BOT, GUILD, LISTENER } from '../support/ids.js';
import { until as waitFor } from '../support/wait.js';

const LISTENER_B = '80351110224678913';
const FRAMES = 200;

const failureLog = new Map<number[], unknown[]>();
const failuresOf = (got: number[]): unknown[] => failureLog.get(got) ?? [];
const cleanups = new Cleanup();
afterEach(() => cleanups.run());

interface World extends Call {
  client: GatewayClient;
}

async function startWorld(
  dave: boolean,
  engineKind: 'worker' | 'inline',
  faults?: FaultOptions,
): Promise<World> {
  const call = await startCall(cleanups, {
    dave,
    voice: { heartbeatIntervalMs: 1_000 },
    engine: { kind: engineKind },
    ...(faults === undefined ? {} : { faults }),
  });
  return { ...call, client: await botClient(call, cleanups, BOT) };
}

function join(w: World): VoiceConnection {
  return joinWith(w.client, w.engine, cleanups, {
    group: `continuity-${Math.random()}`,
    reconnect: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 4 },
  });
}

async function* numbered(count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield Uint8Array.of(0xfc, (i >> 8) & 0xff, i & 0xff, 0x5a);
}

/** numbered(count), and how many frames it has given so far (what the sender took from it). */
function counted(count: number): { source: AsyncGenerator<Uint8Array>; given: () => number } {
  let given = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    for await (const frame of numbered(count)) {
      given += 1;
      yield frame;
    }
  }
  return { source: source(), given: () => given };
}

const indexOf = (p: Uint8Array): number | undefined =>
  p.length === 4 && p[0] === 0xfc && p[3] === 0x5a ? (p[1]! << 8) | p[2]! : undefined;

/** A bare session (no main gateway) in the test channel of `voice`, connected and ready. */
function bareSession(w: World, voice: VoiceServer, userId: string): Promise<VoiceSession> {
  return openSession(voice, w.engine, cleanups, userId);
}

/** A listener that records the indices it hears from the bot (decrypted). */
async function listen(w: World, voice: VoiceServer, userId: string): Promise<number[]> {
  const session = await bareSession(w, voice, userId);
  const got: number[] = [];
  const failures: unknown[] = [];
  failureLog.set(got, failures);
  session.on('daveDecryptFailure', (f) => failures.push(f));
  session.on('audioFrame', (frame) => {
    const i = frame.userId === BOT ? indexOf(frame.payload) : undefined;
    if (i !== undefined) got.push(i);
  });
  return got;
}

const dropped = (stats: { framesDropped: Record<string, number> }): number =>
  Object.values(stats.framesDropped).reduce((a, b) => a + b, 0);

/** Indices missing from what was heard, and indices heard more than once. */
function accounting(heard: number[]): { missing: number[]; duplicates: number[] } {
  const seen = new Map<number, number>();
  for (const i of heard) seen.set(i, (seen.get(i) ?? 0) + 1);
  const missing: number[] = [];
  for (let i = 0; i < FRAMES; i++) if (!seen.has(i)) missing.push(i);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
  return { missing, duplicates };
}

/** Once audio flows, the voice server closes the bot's session with 4006; waits for the new one. */
async function rejoinMidway(w: World, heard: number[], connection: VoiceConnection): Promise<void> {
  await waitFor(() => heard.length >= 40, 5_000, 'audio before the rejoin');
  const first = connection.session;
  expect(w.voice.closeClient(BOT, GUILD, VoiceCloseCode.SessionNoLongerValid)).toBe(true);
  await waitFor(() => connection.session !== first && connection.state.status === 'ready', 5_000, 'rejoined');
}

describe.each([
  { dave: false, engine: 'worker' as const },
  { dave: true, engine: 'worker' as const },
  { dave: true, engine: 'inline' as const },
])('numbered frames across session changes (DAVE $dave, $engine engine)', ({ dave, engine }) => {
  it('a rejoin (4006) loses no frame silently: every index is heard once', async () => {
    const w = await startWorld(dave, engine);
    const heard = await listen(w, w.voice, LISTENER);
    const connection = join(w);
    await entersState(connection, 'ready', 5_000);
    const playback = connection.playOpus(numbered(FRAMES));
    await rejoinMidway(w, heard, connection);
    await playback.finished;
    await waitFor(() => heard.includes(FRAMES - 1), 5_000, 'the last frame');
    await new Promise((r) => setTimeout(r, 100));

    const { missing, duplicates } = accounting(heard);
    const stats = connection.sendStats;
    expect(duplicates).toEqual([]);
    expect(failuresOf(heard)).toEqual([]);
    // No gap, or a gap that is counted: by the connection (never as sent), or by the server for
    // the frame or two already in flight when it cut the session (from an SSRC it no longer knows).
    const inFlight = w.voice.sfuStats.dropped['unknown-ssrc'] ?? 0;
    expect(stats.framesDropped['session-ended']).toBe(0);
    expect(missing.length).toBeLessThanOrEqual(inFlight);
    expect(stats.framesCarried).toBeGreaterThan(0);
    // Every frame is counted once: sent (on the old session or, carried, on the new one) or dropped.
    expect(stats.framesSent + dropped(stats)).toBe(FRAMES);
    expect(playback.sessions).toBe(2);
  });

  it('a region move loses no frame silently: every index is heard once, on one server or the other', async () => {
    const w = await startWorld(dave, engine);
    const other = await startVoiceServer({ heartbeatIntervalMs: 1_000, dave });
    cleanups.push(() => other.stop());
    const heardOld = await listen(w, w.voice, LISTENER);
    const heardNew = await listen(w, other, LISTENER_B);
    const connection = join(w);
    await entersState(connection, 'ready', 5_000);
    const playback = connection.playOpus(numbered(FRAMES));
    await waitFor(() => heardOld.length >= 40, 5_000, 'audio before the move');
    await w.gw.changeEndpoint(GUILD, { withNull: false, voiceServer: other });
    await playback.finished;
    await waitFor(() => heardNew.includes(FRAMES - 1), 5_000, 'the last frame after the move');
    await new Promise((r) => setTimeout(r, 100));

    const { missing, duplicates } = accounting([...heardOld, ...heardNew]);
    const stats = connection.sendStats;
    expect(duplicates).toEqual([]);
    expect([...failuresOf(heardOld), ...failuresOf(heardNew)]).toEqual([]);
    expect(stats.framesDropped['session-ended']).toBe(0);
    // As for the rejoin: a datagram in flight while the old session closes is counted by that server.
    expect(missing.length).toBeLessThanOrEqual(w.voice.sfuStats.dropped['unknown-ssrc'] ?? 0);
    expect(heardNew.length).toBeGreaterThan(0);
    expect(stats.framesCarried).toBeGreaterThan(0);
    // Every frame is counted once: sent (on the old session or, carried, on the new one) or dropped.
    expect(stats.framesSent + dropped(stats)).toBe(FRAMES);
    expect(playback.sessions).toBe(2);
  });
});

/** A DAVE call (worker engine) with a listener, the bot ready, an audio player and the numbered frames. */
async function playerCall(): Promise<{
  w: World;
  heard: number[];
  connection: VoiceConnection;
  frames: Uint8Array[];
  player: AudioPlayer;
}> {
  const w = await startWorld(true, 'worker');
  const heard = await listen(w, w.voice, LISTENER);
  const connection = join(w);
  await entersState(connection, 'ready', 5_000);
  const frames: Uint8Array[] = [];
  for await (const f of numbered(FRAMES)) frames.push(f);
  const player = new AudioPlayer();
  cleanups.push(() => player.destroy());
  return { w, heard, connection, frames, player };
}

describe('an audio player given to connection.subscribe() (the @discordjs/voice idiom)', () => {
  it('follows the connection the one way senders do: a rejoin (4006) carries its queued frames, none is dropped', async () => {
    const { w, heard, connection, frames, player } = await playerCall();
    connection.subscribe(player);
    player.play(opusFramesInput(frames));
    await rejoinMidway(w, heard, connection);
    await waitFor(() => heard.includes(FRAMES - 1), 5_000, 'the last frame');
    await player.drained();
    await new Promise((r) => setTimeout(r, 100));

    const { missing, duplicates } = accounting(heard);
    const stats = connection.sendStats;
    expect(duplicates).toEqual([]);
    expect(failuresOf(heard)).toEqual([]);
    // Before, the player was attached to each session: the frames queued on the old one were
    // dropped with it ('stopped'), and the new session started from the player's live position.
    expect(stats.framesDropped).toEqual({ alone: 0, 'no-key': 0, 'session-ended': 0, stopped: 0 });
    expect(stats.framesCarried).toBeGreaterThan(0);
    expect(missing.length).toBeLessThanOrEqual(w.voice.sfuStats.dropped['unknown-ssrc'] ?? 0);
    expect(stats.framesSent).toBe(FRAMES);
  });
});

describe('a stop or a cut while the connection is between two sessions (the frames carried from the old one wait for the new one)', () => {
  /** Runs `act` as the connection's next session starts: the old one's frames are carried, none sent yet. */
  function onNextSession(connection: VoiceConnection, act: () => void): void {
    connection.once('session', act);
  }

  it("a stop drops the carried frames and counts them ('stopped'): sent + dropped = taken from the source", async () => {
    const w = await startWorld(true, 'worker');
    const heard = await listen(w, w.voice, LISTENER);
    const connection = join(w);
    await entersState(connection, 'ready', 5_000);
    const source = counted(FRAMES);
    const playback = connection.playOpus(source.source);
    onNextSession(connection, () => playback.stop());
    await rejoinMidway(w, heard, connection);
    await playback.finished;
    await new Promise((r) => setTimeout(r, 200));
    const stats = connection.sendStats;
    expect(stats.framesCarried).toBeGreaterThan(0);
    // Before, they were counted as carried and then dropped with the relay, in no counter.
    expect(stats.framesDropped.stopped).toBeGreaterThanOrEqual(stats.framesCarried);
    expect(stats.framesSent + dropped(stats)).toBe(source.given());
    expect(heard.length).toBeLessThanOrEqual(stats.framesSent);
  });

  it('a skip drops the carried frames of the old track: the next one is heard at once, whole', async () => {
    const { w, heard, connection, frames, player } = await playerCall();
    const next = Array.from({ length: 50 }, (_, i) =>
      Uint8Array.of(0xfc, (1000 + i) >> 8, (1000 + i) & 0xff, 0x5a),
    );
    connection.subscribe(player);
    player.play(opusFramesInput(frames));
    player.enqueue(opusFramesInput(next));
    let heardAtSkip = -1;
    onNextSession(connection, () => {
      heardAtSkip = heard.length;
      player.skip();
    });
    await rejoinMidway(w, heard, connection);
    await waitFor(() => heard.includes(1049), 5_000, 'the last frame of the next track');
    await player.drained();
    const stats = connection.sendStats;
    expect(stats.framesCarried).toBeGreaterThan(0);
    expect(stats.framesDropped.stopped).toBeGreaterThan(0);
    // Before, the frames carried from the old session (about 0.5 s of the skipped track) were
    // sent first on the new one.
    const afterSkip = heard.slice(heardAtSkip);
    expect(afterSkip.filter((i) => i < FRAMES)).toEqual([]);
    expect(afterSkip).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
  });
});

describe('leaving right after the player is drained (the quick start)', () => {
  it('the listener has every frame, the last one included, when connection.destroy() runs', async () => {
    const { heard, connection, frames, player } = await playerCall();
    player.attach(connection);
    player.play(opusFramesInput(frames));
    await player.drained();
    connection.destroy();
    // Every frame left before the leave (nothing can be sent after it); the last datagrams may
    // still be in flight on loopback, so the listener is given a moment to read them.
    expect(connection.sendStats).toMatchObject({
      framesSent: FRAMES,
      framesDropped: { alone: 0, 'no-key': 0, 'session-ended': 0, stopped: 0 },
    });
    await waitFor(() => heard.length >= FRAMES, 2_000, 'the frames in flight').catch(() => undefined);
    expect(heard).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
  });
});

describe('a leave whose op 13 overtakes the last datagrams (the SFU forwards them 300 ms late)', () => {
  it.each([true, false])("the listener still hears every frame as the bot's (DAVE %s)", async (dave) => {
    const w = await startWorld(dave, 'worker', { udp: { delayMs: 300 } });
    const heard = await listen(w, w.voice, LISTENER);
    const connection = join(w);
    await entersState(connection, 'ready', 5_000);
    await connection.playOpus(numbered(50)).finished;
    connection.destroy();
    const heardAtLeave = heard.length;
    await waitFor(() => heard.length >= 50, 2_000, 'the frames in flight').catch(() => undefined);
    // Before, the frames read after the op 13 had no user: with DAVE held for an op 5 that never
    // came (lost, in no counter), without it passed on as nobody's.
    expect(heardAtLeave).toBeLessThan(50);
    expect(heard).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(failuresOf(heard)).toEqual([]);
  });
});

describe('a stop while the session resumes (4015: its channel is kept and sends on)', () => {
  it("counts what it drops ('stopped'): heard + counted = what the source gave", async () => {
    const w = await startWorld(true, 'worker');
    const heard = await listen(w, w.voice, LISTENER);
    const bot = await bareSession(w, w.voice, BOT);
    const source = counted(FRAMES);
    const t = bot.playOpus(source.source);
    t.finished.catch(() => undefined);
    await waitFor(() => heard.length >= 40, 5_000, 'audio');
    let stoppedWhile: string | undefined;
    bot.on('stateChange', (_old, next) => {
      if (stoppedWhile !== undefined || next.status !== 'resuming') return;
      stoppedWhile = next.status;
      t.stop();
    });
    expect(w.voice.closeClient(BOT, GUILD, 4015)).toBe(true);
    await t.finished;
    await waitFor(() => bot.state.status === 'ready', 5_000, 'resumed');
    await new Promise((r) => setTimeout(r, 200));
    expect(stoppedWhile).toBe('resuming');
    const s = bot.sendStats;
    // Before, the queue was cleared uncounted (the session was not 'ready'), with the held frame.
    expect(s.framesDropped.stopped).toBeGreaterThan(0);
    expect(heard.length + s.framesDropped.stopped).toBe(source.given());
    expect(t.framesSent).toBe(source.given());
  });
});

describe('a session destroyed with audio queued, and nobody to take it over', () => {
  it.each([
    { engine: 'worker' as const, stop: false },
    { engine: 'inline' as const, stop: false },
    { engine: 'worker' as const, stop: true },
  ])(
    "counts the frames it could not send as 'session-ended' (or 'stopped'): heard + counted = handed over ($engine, stop $stop)",
    async ({ engine, stop }) => {
      const w = await startWorld(true, engine);
      const heard = await listen(w, w.voice, LISTENER);
      const reasons: string[] = [];
      const bot = await bareSession(w, w.voice, BOT);
      bot.on('sendDrop', (reason) => reasons.push(reason));
      // What the source gave: the pump reads an async generator ahead (up to 32 frames).
      const source = counted(FRAMES);
      const t = bot.playOpus(source.source);
      t.finished.catch(() => undefined);
      await waitFor(() => heard.length >= 40, 5_000, 'audio');
      if (stop) {
        // stop() drops what is queued: counted as 'stopped' (the user's doing: no event).
        t.stop();
        await t.finished;
        await new Promise((r) => setTimeout(r, 100));
        const s = bot.sendStats;
        expect(s.framesDropped.stopped).toBeGreaterThan(0);
        expect(heard.length + s.framesDropped.stopped).toBe(t.framesSent);
        // Before, the frames read ahead were dropped in no counter.
        expect(t.framesSent).toBe(source.given());
        expect(reasons).toEqual([]);
        return;
      }
      bot.destroy();
      await waitFor(() => bot.sendStats.framesDropped['session-ended'] > 0, 2_000, 'the count');
      await new Promise((r) => setTimeout(r, 100));
      const stats = bot.sendStats;
      expect(heard).toEqual(Array.from({ length: heard.length }, (_, i) => i));
      expect(heard.length + stats.framesDropped['session-ended']).toBe(t.framesSent);
      expect(t.framesSent).toBe(source.given());
      expect(stats.framesSent).toBe(heard.length);
      expect(reasons).toEqual(['session-ended']);
    },
  );
});
