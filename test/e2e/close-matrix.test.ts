/**
 * Every voice close code × every handshake step, over real sockets: the local voice server closes
 * the bot's websocket with that code at that step (the `closeAt` fault hook, or closeClient() once
 * the bot is ready / audio flows), and the VoiceConnection must end in the documented state
 * (voice-gateway.md §8, closeCodeAction): 'resume' codes resume the same session once it was ready
 * and connect fresh before that; 'rejoin' codes rejoin with a reconnectAttempt carrying the code;
 * 'final' codes stop with the code's reason and no retry. Where it recovers, a listener in the
 * channel hears the bot's audio again. The codes of one step run in parallel, each on its own server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVoiceServer } from '../../src/server/index.js';
import type { HandshakeStep, VoiceServer } from '../../src/server/index.js';
import { HANDSHAKE_STEPS } from '../../src/server/faults.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { ReconnectAttempt, VoiceConnectionState } from '../../src/gateway/voice-connection.js';
import type { VoiceAdapterCreator } from '../../src/gateway/adapter.js';
import { VoiceCloseCode, closeCodeAction } from '../../src/protocol/constants.js';
import { bareSession } from '../support/call.js';
import { Cleanup } from '../support/cleanup.js';
import { BOT, CHANNEL, GUILD, LISTENER } from '../support/ids.js';
import { poll as waitFor } from '../support/wait.js';

type Step = HandshakeStep | 'steady';
const STEPS: readonly Step[] = [...HANDSHAKE_STEPS, 'steady'];
/** Every voice close code, and 1006: the connection dropped without a close frame (terminate()). */
const CODES: readonly number[] = [...Object.values(VoiceCloseCode), 1006];

/** What the connection must do, from the protocol table and the step (nothing to resume before op 4). */
function expected(code: number, step: Step): string {
  const action = closeCodeAction(code);
  const ready = step === 'after-session-description' || step === 'steady';
  if (action === 'resume') return ready ? 'resumed, audio' : `rejoined after ${code}, audio`;
  if (action === 'rejoin') return `rejoined after ${code}, audio`;
  const reasons: Record<number, string> = {
    [VoiceCloseCode.Disconnected]: 'kicked',
    [VoiceCloseCode.RateLimited]: 'rate-limited',
    [VoiceCloseCode.CallTerminated]: 'call-terminated',
    [VoiceCloseCode.DaveRequired]: 'dave-required',
  };
  return `final ${reasons[code] ?? 'session-failed'} ${code}`;
}

/** A main gateway stand-in: op 4 with a channel is answered by both dispatches, as Discord does. */
function adapterFor(server: VoiceServer): VoiceAdapterCreator {
  return (methods) => ({
    sendPayload(payload) {
      if (payload.d.channel_id === null) return true;
      const a = server.allocate({ guildId: GUILD, channelId: payload.d.channel_id, userId: BOT });
      setImmediate(() => {
        methods.onVoiceStateUpdate({
          guild_id: GUILD,
          channel_id: a.channelId,
          user_id: BOT,
          session_id: a.sessionId,
        });
        methods.onVoiceServerUpdate({ guild_id: GUILD, token: a.token, endpoint: a.endpoint });
      });
      return true;
    },
    destroy() {},
  });
}

async function* numberedFrames(): AsyncGenerator<Uint8Array> {
  for (let i = 0; ; i++) yield Uint8Array.of(0xfc, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
}

interface Outcome {
  description: string;
  /** Close → first frame heard again, when it recovered. */
  recoveryMs?: number;
}

async function runCase(engine: MediaEngine, code: number, step: Step): Promise<Outcome> {
  let closedAt = 0;
  const server = await startVoiceServer({
    dave: false,
    heartbeatIntervalMs: 1_000,
    log: (e) => {
      if (e.type === 'close' && e.reason === 'server' && e.userId !== LISTENER) closedAt = performance.now();
    },
  });
  const cleanups = new Cleanup();
  cleanups.add(() => server.stop());
  try {
    // The listener joins before the fault is armed: only the bot's connection reaches it.
    const heard: number[] = [];
    const listener = await bareSession(server, engine, cleanups, LISTENER, {
      ready: false,
      beforeConnect: (s) =>
        s.on('rtp', (p) => {
          if (p.payload.length === 4 && p.payload[0] === 0xfc) heard.push(performance.now());
        }),
    });
    if (!(await waitFor(() => listener.state.status === 'ready', 5_000)))
      return { description: 'listener not ready' };
    if (step !== 'steady' && step !== 'after-session-description') {
      server.setFaults({ ws: { closeAt: { step, code } } });
    }

    const connection = new VoiceConnection({
      guildId: GUILD,
      channelId: CHANNEL,
      adapterCreator: adapterFor(server),
      engine,
      tls: false,
      handshakeTimeoutMs: 3_000,
      reconnect: { baseDelayMs: 20, maxDelayMs: 100, maxAttempts: 3, jitter: 0 },
    });
    cleanups.add(() => connection.destroy());
    connection.on('error', () => undefined); // failures are asserted through the state
    const attempts: ReconnectAttempt[] = [];
    const states: VoiceConnectionState[] = [];
    connection.on('reconnectAttempt', (a) => attempts.push(a));
    connection.on('stateChange', (_old, next) => states.push(next));

    if (step === 'after-session-description' || step === 'steady') {
      if (!(await waitFor(() => connection.state.status === 'ready', 5_000)))
        return { description: 'never ready' };
    }
    connection.playOpus(numberedFrames());
    if (step === 'steady' && !(await waitFor(() => heard.length >= 5, 3_000)))
      return { description: 'no audio' };
    const firstSession = connection.state.status === 'ready' ? connection.state.session : undefined;
    // States from the close on (hook steps close before the first ready).
    const mark = states.length;
    if (step === 'after-session-description' || step === 'steady') {
      if (!server.closeClient(BOT, GUILD, code)) return { description: 'closeClient found no socket' };
    }

    // Wait for the outcome: a final disconnect, or ready after the close.
    const settled = await waitFor(
      () =>
        closedAt > 0 &&
        ((connection.state.status === 'disconnected' && !connection.state.willReconnect) ||
          (connection.state.status === 'ready' && states.slice(mark).some((s) => s.status !== 'ready'))),
      8_000,
    );
    const state = connection.state;
    if (!settled)
      return { description: `stuck in ${state.status} (${'reason' in state ? state.reason : ''})` };
    if (state.status === 'disconnected') {
      // Final: it stays there, without retrying.
      await new Promise((r) => setTimeout(r, 200));
      const still = connection.state.status === 'disconnected' && attempts.length === 0;
      return {
        description: `final ${state.reason} ${state.closeCode ?? '-'}${still ? '' : ' then retried'}`,
      };
    }
    const heardBefore = heard.filter((t) => t < closedAt).length;
    const audio = await waitFor(() => heard.length >= heardBefore + 5, 3_000);
    const back = heard.find((t) => t > closedAt);
    const resumed =
      attempts.length === 0 &&
      firstSession !== undefined &&
      connection.state.status === 'ready' &&
      connection.state.session === firstSession &&
      states.slice(mark).some((s) => s.status === 'connecting' && s.resuming);
    const path = resumed
      ? 'resumed'
      : attempts.length === 1 && attempts[0]?.closeCode === code
        ? `rejoined after ${code}`
        : `recovered (${attempts.length} attempts, codes ${attempts.map((a) => a.closeCode).join('/')})`;
    const outcome: Outcome = { description: `${path}, ${audio ? 'audio' : 'no audio'}` };
    if (back !== undefined) outcome.recoveryMs = back - closedAt;
    return outcome;
  } finally {
    await cleanups.run();
  }
}

describe('close code × handshake step matrix (real sockets)', () => {
  let engine: MediaEngine;
  const recoveries: number[] = [];

  beforeAll(() => {
    engine = createMediaEngine();
  });
  afterAll(async () => {
    await engine.close();
    recoveries.sort((a, b) => a - b);
    if (recoveries.length > 0) {
      const median = recoveries[Math.floor(recoveries.length / 2)]!;
      console.log(
        `close matrix: ${recoveries.length} recoveries, close → audio again median ${median.toFixed(0)} ms, ` +
          `max ${recoveries.at(-1)!.toFixed(0)} ms`,
      );
    }
  });

  for (const step of STEPS) {
    it(`closed ${step}: every code ends in its documented state`, { timeout: 30_000 }, async () => {
      const outcomes = await Promise.all(CODES.map((code) => runCase(engine, code, step)));
      for (const o of outcomes) if (o.recoveryMs !== undefined) recoveries.push(o.recoveryMs);
      const got = Object.fromEntries(CODES.map((code, i) => [code, outcomes[i]!.description]));
      const want = Object.fromEntries(CODES.map((code) => [code, expected(code, step)]));
      expect(got).toEqual(want);
    });
  }
});
