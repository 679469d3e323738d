/**
 * The connection's lifecycle policy as a pure reducer: every transition and effect, without
 * sockets, timers or sessions (a session is any value here; strings stand in for VoiceSessions).
 * voice-connection.test.ts drives the same policy through the shell with fakes, e2e.test.ts and
 * the close matrix against the local servers.
 */
import { describe, it, expect } from 'vitest';
import { VoxcordError } from '../../src/errors.js';
import { VoiceCloseCode } from '../../src/protocol/constants.js';
import type { CloseAction } from '../../src/protocol/constants.js';
import { initialConnection, reduceConnection } from '../../src/gateway/connection-state.js';
import type {
  ConnectionEffect,
  ConnectionEvent,
  ConnectionMachine,
  ConnectionPolicy,
  SessionReport,
} from '../../src/gateway/connection-state.js';

const GUILD = '41771983423143937';
const USER = '104694319306248192';
const CHANNEL = '127121515262115840';
const OTHER_CHANNEL = '127121515262115841';

type S = string;

const policy: ConnectionPolicy = {
  guildId: GUILD,
  backoff: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 2, jitter: 0.5 },
  joinTimeoutMs: 5_000,
  random: () => 0,
};

/** Runs events in order; the final machine and every effect. */
function run(
  events: ConnectionEvent<S>[],
  start: ConnectionMachine<S> = initialConnection<S>(GUILD, CHANNEL),
): { m: ConnectionMachine<S>; effects: ConnectionEffect<S>[] } {
  let m = start;
  const effects: ConnectionEffect<S>[] = [];
  for (const event of events) {
    const step = reduceConnection(m, event, policy);
    m = step.state;
    effects.push(...step.effects);
  }
  return { m, effects };
}

const types = (effects: ConnectionEffect<S>[]): string[] => effects.map((e) => e.type);
const states = (effects: ConnectionEffect<S>[]): unknown[] =>
  effects.flatMap((e) => (e.type === 'state' ? [e.state] : []));

const voiceState = (channelId: string | null): ConnectionEvent<S> => ({
  type: 'gateway',
  event: {
    type: 'voiceState',
    data: { guild_id: GUILD, channel_id: channelId, user_id: USER, session_id: 'sess-1' },
  },
});
const voiceServer = (endpoint: string | null, token = 'tok-1'): ConnectionEvent<S> => ({
  type: 'gateway',
  event: { type: 'voiceServer', data: { guild_id: GUILD, endpoint, token } },
});
const report = (session: S, state: SessionReport): ConnectionEvent<S> => ({
  type: 'sessionState',
  session,
  state,
});
const closed = (code: number | undefined, action: CloseAction): SessionReport => ({
  status: 'disconnected',
  closeCode: code,
  action,
  reason: `closed ${code}`,
  error: new VoxcordError('GATEWAY_CLOSED', `closed ${code}`),
});

/** start -> op 4 sent -> both dispatches -> session 'a' created -> ready. */
const JOINED: ConnectionEvent<S>[] = [
  { type: 'start' },
  { type: 'op4', purpose: 'join', sent: true },
  voiceState(CHANNEL),
  voiceServer('voice.example:443'),
  { type: 'sessionStarted', session: 'a' },
  report('a', { status: 'signalling' }),
  report('a', { status: 'ready' }),
];
const joined = (): ConnectionMachine<S> => run(JOINED).m;

describe('connection state: joining', () => {
  it('op 4, both dispatches, a session, ready: each step and its effects in order', () => {
    const start = run([{ type: 'start' }]);
    expect(start.effects).toEqual([{ type: 'sendOp4', channelId: CHANNEL, purpose: 'join' }]);
    // Already 'signalling': op 4 sent is no state change.
    const sent = run([{ type: 'op4', purpose: 'join', sent: true }], start.m);
    expect(sent.effects).toEqual([]);
    expect(sent.m.join.phase).toBe('awaiting');

    const both = run([voiceState(CHANNEL), voiceServer('voice.example:443')], sent.m);
    expect(both.effects).toEqual([
      { type: 'cancelReconnect' },
      {
        type: 'startSession',
        cause: 'join',
        credentials: {
          endpoint: 'voice.example:443',
          token: 'tok-1',
          serverId: GUILD,
          sessionId: 'sess-1',
          userId: USER,
          channelId: CHANNEL,
        },
      },
    ]);
    const ready = run(
      [
        { type: 'sessionStarted', session: 'a' },
        report('a', { status: 'signalling' }),
        report('a', { status: 'connecting' }),
        report('a', { status: 'ready' }),
      ],
      both.m,
    );
    // 'signalling' and 'connecting' of the session are the connection's 'connecting' once.
    expect(states(ready.effects)).toEqual([
      { status: 'connecting', session: 'a', resuming: false },
      { status: 'ready', session: 'a' },
    ]);
    expect(ready.m.session).toBe('a');
  });

  it('a resume is connecting (resuming) and back to ready, on the same session; nothing else happens', () => {
    const { effects } = run(
      [
        report('a', { status: 'resuming' }),
        report('a', { status: 'resuming' }),
        report('a', { status: 'ready' }),
      ],
      joined(),
    );
    expect(effects).toEqual([
      { type: 'state', state: { status: 'connecting', session: 'a', resuming: true } },
      { type: 'state', state: { status: 'ready', session: 'a' } },
    ]);
  });

  it('reports from a session that is no longer the current one change nothing', () => {
    const { m, effects } = run([report('old', closed(4006, 'rejoin'))], joined());
    expect(effects).toEqual([]);
    expect(m.status).toEqual({ status: 'ready', session: 'a' });
  });

  it('a join timeout on the first join is final, with JOIN_TIMEOUT naming what is missing', () => {
    const { m, effects } = run([
      { type: 'start' },
      { type: 'op4', purpose: 'join', sent: true },
      voiceState(CHANNEL),
      { type: 'gateway', event: { type: 'timeout' } },
    ]);
    expect(types(effects)).toEqual(['sendOp4', 'state', 'error']);
    expect(m.status).toMatchObject({ status: 'disconnected', reason: 'join-timeout', willReconnect: false });
    const error = effects.find((e) => e.type === 'error');
    expect(error).toMatchObject({
      error: { code: 'JOIN_TIMEOUT', details: { channelId: CHANNEL, missing: ['VOICE_SERVER_UPDATE'] } },
    });
    expect(m.join.phase).toBe('idle');
  });
});

describe('connection state: reconnects', () => {
  it("a 'rejoin' close: the session goes, backoff attempt 1, then op 4 again when the timer fires", () => {
    const closedStep = run([report('a', closed(VoiceCloseCode.SessionNoLongerValid, 'rejoin'))], joined());
    expect(closedStep.effects).toEqual([
      { type: 'dropSession' },
      { type: 'cancelReconnect' },
      {
        type: 'state',
        state: {
          status: 'disconnected',
          reason: 'reconnecting',
          willReconnect: true,
          attempt: 1,
          delayMs: 100,
          closeCode: 4006,
          error: expect.objectContaining({ code: 'GATEWAY_CLOSED' }) as unknown,
        },
      },
      {
        type: 'reconnectAttempt',
        attempt: { attempt: 1, maxAttempts: 2, delayMs: 100, reason: 'closed 4006', closeCode: 4006 },
      },
      { type: 'armReconnect', delayMs: 100 },
    ]);
    expect(closedStep.m.session).toBeUndefined();
    expect(closedStep.m.join.phase).toBe('idle');
    const due = run([{ type: 'reconnectDue' }], closedStep.m);
    expect(due.effects).toEqual([{ type: 'sendOp4', channelId: CHANNEL, purpose: 'join' }]);
    expect(due.m.reconnecting).toBe(true);
    // Sent: back to 'signalling', waiting for fresh credentials.
    const sent = run([{ type: 'op4', purpose: 'join', sent: true }], due.m);
    expect(states(sent.effects)).toEqual([{ status: 'signalling' }]);
    // Ready again: the attempt count starts over.
    const again = run(
      [
        voiceState(CHANNEL),
        voiceServer('voice.example:443', 'tok-2'),
        { type: 'sessionStarted', session: 'b' },
        report('b', { status: 'ready' }),
      ],
      sent.m,
    );
    expect(again.m).toMatchObject({ attempts: 0, reconnecting: false, session: 'b' });
  });

  it('the delay doubles per attempt; after maxAttempts the state is final with RECONNECT_FAILED', () => {
    const { m, effects } = run(
      [
        report('a', closed(4006, 'rejoin')),
        { type: 'reconnectDue' },
        { type: 'op4', purpose: 'join', sent: false }, // adapter unavailable: attempt 2
        { type: 'reconnectDue' },
        { type: 'op4', purpose: 'join', sent: false }, // no attempt left
      ],
      joined(),
    );
    expect(
      effects.flatMap((e) =>
        e.type === 'reconnectAttempt' ? [[e.attempt.attempt, e.attempt.delayMs, e.attempt.reason]] : [],
      ),
    ).toEqual([
      [1, 100, 'closed 4006'],
      [2, 200, 'adapter-unavailable'],
    ]);
    expect(m.status).toMatchObject({
      status: 'disconnected',
      reason: 'adapter-unavailable',
      willReconnect: false,
      error: { code: 'RECONNECT_FAILED' },
    });
    expect(effects.at(-1)).toMatchObject({ type: 'error', error: { code: 'RECONNECT_FAILED' } });
    expect(m.reconnecting).toBe(false);
  });

  it('a join timeout during a reconnect is one more failed attempt, not the end', () => {
    const { m, effects } = run(
      [
        report('a', closed(4006, 'rejoin')),
        { type: 'reconnectDue' },
        { type: 'op4', purpose: 'join', sent: true },
        { type: 'gateway', event: { type: 'timeout' } },
      ],
      joined(),
    );
    expect(m.status).toMatchObject({
      status: 'disconnected',
      reason: 'reconnecting',
      attempt: 2,
      delayMs: 200,
    });
    expect(effects.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('the timer firing after something else moved the state on does nothing', () => {
    const { effects } = run([{ type: 'reconnectDue' }], joined());
    expect(effects).toEqual([]);
  });

  it('a session that could not be created is a failed attempt', () => {
    const error = new VoxcordError('INVALID_ARGUMENT', 'bad endpoint');
    const { m, effects } = run([
      { type: 'start' },
      { type: 'op4', purpose: 'join', sent: true },
      voiceState(CHANNEL),
      voiceServer('x:1'),
      { type: 'sessionFailed', error },
    ]);
    expect(m.status).toMatchObject({ status: 'disconnected', reason: 'reconnecting', attempt: 1, error });
    expect(types(effects).slice(-3)).toEqual(['state', 'reconnectAttempt', 'armReconnect']);
  });

  it('rejoin() resets the attempts, drops a disconnected session state and sends op 4', () => {
    const failing = run([report('a', closed(4006, 'rejoin'))], joined()).m;
    expect(failing.attempts).toBe(1);
    const { m, effects } = run([{ type: 'rejoin' }], failing);
    expect(m).toMatchObject({ attempts: 0, reconnecting: false });
    expect(effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'sendOp4', channelId: CHANNEL, purpose: 'join' },
    ]);
  });

  it('rejoin() to another channel drops the running session at once', () => {
    const { m, effects } = run([{ type: 'rejoin', channelId: OTHER_CHANNEL }], joined());
    expect(effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'dropSession' },
      { type: 'sendOp4', channelId: OTHER_CHANNEL, purpose: 'join' },
    ]);
    expect(m.channelId).toBe(OTHER_CHANNEL);
  });

  it('rejoin() in the same channel while ready keeps the session', () => {
    const { effects } = run([{ type: 'rejoin' }, { type: 'op4', purpose: 'join', sent: true }], joined());
    expect(effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'sendOp4', channelId: CHANNEL, purpose: 'join' },
    ]);
  });
});

describe('connection state: final closes', () => {
  it.each([
    { code: VoiceCloseCode.Disconnected, reason: 'kicked', error: false },
    { code: VoiceCloseCode.CallTerminated, reason: 'call-terminated', error: false },
    { code: VoiceCloseCode.RateLimited, reason: 'rate-limited', error: true },
    { code: 4016, reason: 'session-failed', error: true },
  ])('close $code -> $reason, willReconnect false, error effect: $error', ({ code, reason, error }) => {
    const { m, effects } = run([report('a', closed(code, 'final'))], joined());
    expect(m.status).toMatchObject({ status: 'disconnected', reason, willReconnect: false, closeCode: code });
    expect(types(effects)).toEqual(['dropSession', 'state', ...(error ? ['error'] : [])]);
    expect(types(effects)).not.toContain('sendOp4');
  });

  it('close 4017 is dave-required with a DAVE_PROTOCOL_ERROR that says what to do', () => {
    const { m } = run([report('a', closed(VoiceCloseCode.DaveRequired, 'final'))], joined());
    expect(m.status).toMatchObject({
      status: 'disconnected',
      reason: 'dave-required',
      error: {
        code: 'DAVE_PROTOCOL_ERROR',
        message: expect.stringContaining('maxDaveProtocolVersion') as unknown,
      },
    });
  });

  it('a session destroyed under the connection is a failed session: reconnect', () => {
    const { m } = run([report('a', { status: 'destroyed' })], joined());
    expect(m.status).toMatchObject({ status: 'disconnected', reason: 'reconnecting', attempt: 1 });
  });
});

describe('connection state: what Discord does to the call', () => {
  it('endpoint null: endpoint-lost and waiting; a new endpoint: a fresh session (server-update)', () => {
    const lost = run([voiceServer(null)], joined());
    expect(lost.effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'dropSession' },
      { type: 'state', state: { status: 'disconnected', reason: 'endpoint-lost', willReconnect: true } },
    ]);
    const back = run([voiceServer('voice2.example:443', 'tok-2')], lost.m);
    expect(back.effects).toMatchObject([
      { type: 'cancelReconnect' },
      {
        type: 'startSession',
        cause: 'server-update',
        credentials: { endpoint: 'voice2.example:443', token: 'tok-2' },
      },
    ]);
  });

  it('a channel move: the session goes, signalling until the server update, then a session in the new channel', () => {
    const moved = run([voiceState(OTHER_CHANNEL)], joined());
    expect(types(moved.effects)).toEqual(['debug', 'cancelReconnect', 'dropSession', 'state']);
    expect(moved.m).toMatchObject({ channelId: OTHER_CHANNEL, status: { status: 'signalling' } });
    const next = run([voiceServer('voice.example:443', 'tok-2')], moved.m);
    expect(next.effects).toMatchObject([
      { type: 'cancelReconnect' },
      { type: 'startSession', cause: 'join', credentials: { channelId: OTHER_CHANNEL } },
    ]);
  });

  it('our voice state in no channel: left-channel, final, no error', () => {
    const { m, effects } = run([voiceState(null)], joined());
    expect(types(effects)).toEqual(['cancelReconnect', 'dropSession', 'state']);
    expect(m.status).toEqual({ status: 'disconnected', reason: 'left-channel', willReconnect: false });
  });
});

describe('connection state: leave, destroy, adapter', () => {
  it('leave(): playback stopped, session dropped, op 4 null; then left (whether sent or not)', () => {
    const leaving = run([{ type: 'leave' }], joined());
    expect(leaving.effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'stopPlayback' },
      { type: 'dropSession' },
      { type: 'sendOp4', channelId: null, purpose: 'leave' },
    ]);
    const left = run([{ type: 'op4', purpose: 'leave', sent: false }], leaving.m);
    expect(states(left.effects)).toEqual([{ status: 'disconnected', reason: 'left', willReconnect: false }]);
    expect(left.m.join.requestedChannelId).toBeNull();
  });

  it('destroy(): op 4 null, then the adapter, subscribers, state and engine in that order; then nothing', () => {
    const { m, effects } = run(
      [{ type: 'destroy' }, { type: 'op4', purpose: 'destroy', sent: true }],
      joined(),
    );
    expect(effects).toEqual([
      { type: 'cancelReconnect' },
      { type: 'stopPlayback' },
      { type: 'dropSession' },
      { type: 'sendOp4', channelId: null, purpose: 'destroy' },
      { type: 'cancelReconnect' },
      { type: 'releaseAdapter', destroy: true },
      { type: 'close' },
      { type: 'state', state: { status: 'destroyed', reason: 'destroyed' } },
      { type: 'closeEngine' },
    ]);
    for (const event of [...JOINED, { type: 'rejoin' }, { type: 'destroy' }] as ConnectionEvent<S>[]) {
      const step = reduceConnection(m, event, policy);
      expect(step).toEqual({ state: m, effects: [] });
    }
  });

  it('an adapter that throws: destroyed (adapter-error), its own destroy() called, the error last', () => {
    const error = new VoxcordError('ADAPTER_ERROR', 'the gateway adapter failed: sendPayload threw');
    const { m, effects } = run([{ type: 'adapterFailed', error }], joined());
    expect(types(effects)).toEqual([
      'releaseAdapter',
      'cancelReconnect',
      'stopPlayback',
      'dropSession',
      'cancelReconnect',
      'releaseAdapter',
      'close',
      'state',
      'closeEngine',
      'error',
    ]);
    expect(effects[0]).toEqual({ type: 'releaseAdapter', destroy: true });
    expect(m.status).toEqual({ status: 'destroyed', reason: 'adapter-error', error });
  });

  it('the adapter going away: destroyed (adapter-destroyed), its destroy() not called back', () => {
    const { m, effects } = run([{ type: 'adapterDestroyed' }], joined());
    expect(effects.filter((e) => e.type === 'releaseAdapter')).toEqual([
      { type: 'releaseAdapter', destroy: false },
      { type: 'releaseAdapter', destroy: false },
    ]);
    expect(m.status).toEqual({ status: 'destroyed', reason: 'adapter-destroyed' });
    expect(types(effects)).not.toContain('error');
  });
});

describe('connection state: invariants over seeded random runs', () => {
  /** Small deterministic generator (the runs are the same every time). */
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  const STABLE = new Set(['signalling', 'connecting', 'ready']);

  it('answers effects like the shell does; the state moves only when it changes, destroyed absorbs, attempts stay bounded', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const r = rng(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
      let m = initialConnection<S>(GUILD, CHANNEL);
      let announced = m.status;
      let sessions = 0;
      const queue: ConnectionEvent<S>[] = [{ type: 'start' }];
      for (let i = 0; i < 60; i++) {
        const external: ConnectionEvent<S>[] = [
          voiceState(pick([CHANNEL, OTHER_CHANNEL, null])),
          voiceServer(pick(['voice.example:443', 'voice2.example:443', null]), `tok-${i}`),
          { type: 'gateway', event: { type: 'timeout' } },
          { type: 'reconnectDue' },
          { type: 'rejoin', ...(r() < 0.5 ? { channelId: OTHER_CHANNEL } : {}) },
          report(
            m.session ?? 'stale',
            pick<SessionReport>([
              { status: 'connecting' },
              { status: 'resuming' },
              { status: 'ready' },
              closed(4006, 'rejoin'),
              closed(4014, 'final'),
              { status: 'destroyed' },
            ]),
          ),
          ...(r() < 0.05
            ? [
                pick<ConnectionEvent<S>>([
                  { type: 'leave' },
                  { type: 'destroy' },
                  { type: 'adapterDestroyed' },
                ]),
              ]
            : []),
        ];
        const event = queue.shift() ?? pick(external);
        const before = m;
        const step = reduceConnection(m, event, policy);
        m = step.state;
        if (before.status.status === 'destroyed') {
          expect(step).toEqual({ state: before, effects: [] });
          continue;
        }
        for (const effect of step.effects) {
          if (effect.type === 'state') {
            const same =
              STABLE.has(effect.state.status) &&
              effect.state.status === announced.status &&
              (effect.state as { session?: S }).session === (announced as { session?: S }).session &&
              (effect.state as { resuming?: boolean }).resuming ===
                (announced as { resuming?: boolean }).resuming;
            expect(same, `seed ${seed}: a 'state' effect without a change`).toBe(false);
            announced = effect.state;
          }
          // The shell's answers.
          if (effect.type === 'sendOp4')
            queue.push({ type: 'op4', purpose: effect.purpose, sent: r() < 0.8 });
          if (effect.type === 'startSession') {
            expect(m.session, `seed ${seed}: a session started over a running one`).toBeUndefined();
            queue.push(
              r() < 0.9
                ? { type: 'sessionStarted', session: `s${++sessions}` }
                : { type: 'sessionFailed', error: new VoxcordError('INVALID_ARGUMENT', 'no') },
            );
          }
          if (effect.type === 'armReconnect')
            expect(m.status).toMatchObject({ status: 'disconnected', reason: 'reconnecting' });
        }
        expect(announced).toBe(m.status);
        expect(m.attempts).toBeLessThanOrEqual(policy.backoff.maxAttempts);
        if (m.status.status === 'destroyed') expect(step.effects.at(-1)?.type).toMatch(/closeEngine|error/);
      }
    }
  });
});
