/**
 * VoiceConnection lifecycle with a fake adapter and fake sessions (no sockets): the policy layer
 * (what happens on each close code, timeouts, backoff, adapter failures, audio continuity).
 * The same cases run end to end against the local servers in e2e.test.ts.
 */
import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { VoxcordError, isVoxcordError } from '../../src/errors.js';
import { TypedEmitter } from '../../src/util/typed-emitter.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceSession, VoiceSessionEvents, VoiceSessionOptions } from '../../src/voice/session.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import type { Transmission } from '../../src/voice/transmit.js';
import type { CloseAction } from '../../src/protocol/constants.js';
import { VOICE_JOIN_TIMEOUT_MS } from '../../src/protocol/constants.js';
import { VoiceConnection } from '../../src/gateway/voice-connection.js';
import { AudioPlayer } from '../../src/player/audio-player.js';
import { opusFramesInput } from '../../src/player/inputs/opus-frames.js';
import type {
  ReconnectAttempt,
  VoiceConnectionOptions,
  VoiceConnectionState,
} from '../../src/gateway/voice-connection.js';
import type {
  VoiceAdapterCreator,
  VoiceAdapterLibraryMethods,
  VoiceStateUpdatePayload,
} from '../../src/gateway/adapter.js';
import { BOT as USER, GUILD } from '../support/ids.js';

class FakeSession extends TypedEmitter<VoiceSessionEvents> {
  state: VoiceSessionState = { status: 'idle' };
  connects = 0;
  private iterator: AsyncIterator<Uint8Array> | undefined;
  readonly sent: number[] = [];
  readonly payloads: Uint8Array[] = [];

  get playing(): boolean {
    return this.iterator !== undefined;
  }

  constructor(readonly options: VoiceSessionOptions) {
    super();
  }

  connect(): void {
    this.connects += 1;
    this.set({ status: 'signalling' });
  }

  destroy(): void {
    if (this.state.status === 'destroyed') return;
    this.set({ status: 'destroyed' });
    void this.iterator?.return?.();
    this.iterator = undefined;
  }

  playOpus(source: AsyncIterable<Uint8Array>): Transmission {
    this.iterator = source[Symbol.asyncIterator]();
    const sent = this.sent;
    return {
      finished: new Promise<void>(() => undefined),
      stop: () => undefined,
      get framesSent() {
        return sent.length;
      },
    };
  }

  /** Sends one frame from the attached source (what the pump does every 20 ms). */
  async pull(): Promise<void> {
    const result = await this.iterator?.next();
    if (result !== undefined && result.done !== true) {
      this.sent.push(result.value[0] ?? -1);
      this.payloads.push(result.value);
    }
  }

  ready(): void {
    this.set({ status: 'ready', ssrc: 1, mode: 'aead_aes256_gcm_rtpsize', daveProtocolVersion: 0 });
  }

  close(code: number, action: CloseAction): void {
    this.set({
      status: 'disconnected',
      closeCode: code,
      action,
      reason: `closed ${code}`,
      error: new VoxcordError('GATEWAY_CLOSED', `closed ${code}`, { details: { closeCode: code } }),
    });
  }

  private set(next: VoiceSessionState): void {
    const old = this.state;
    this.state = next;
    this.emit('stateChange', old, next);
  }
}

class FakeAdapter {
  readonly payloads: VoiceStateUpdatePayload['d'][] = [];
  methods: VoiceAdapterLibraryMethods | undefined;
  destroyed = 0;
  accept = true;
  throwOnSend = false;

  readonly creator: VoiceAdapterCreator = (methods) => {
    this.methods = methods;
    return {
      sendPayload: (payload) => {
        if (this.throwOnSend) throw new Error('shard exploded');
        if (this.accept) this.payloads.push(payload.d);
        return this.accept;
      },
      destroy: () => {
        this.destroyed += 1;
      },
    };
  };

  state(channelId: string | null, sessionId = 'sess-1'): void {
    this.methods?.onVoiceStateUpdate({
      guild_id: GUILD,
      channel_id: channelId,
      user_id: USER,
      session_id: sessionId,
    });
  }

  server(endpoint: string | null, token = 'tok'): void {
    this.methods?.onVoiceServerUpdate({ guild_id: GUILD, endpoint, token });
  }
}

const engine = {
  kind: 'inline',
  openChannel: () => Promise.reject(new Error('unused')),
  close: async () => {},
};

interface Harness {
  connection: VoiceConnection;
  adapter: FakeAdapter;
  sessions: FakeSession[];
  states: VoiceConnectionState[];
  attempts: ReconnectAttempt[];
  errors: VoxcordError[];
}

const live: VoiceConnection[] = [];

function setup(options: Partial<VoiceConnectionOptions> = {}, adapter = new FakeAdapter()): Harness {
  const sessions: FakeSession[] = [];
  const states: VoiceConnectionState[] = [];
  const attempts: ReconnectAttempt[] = [];
  const errors: VoxcordError[] = [];
  const connection = new VoiceConnection({
    guildId: GUILD,
    channelId: 'c1',
    adapterCreator: adapter.creator,
    engine: engine as unknown as MediaEngine,
    random: () => 0,
    reconnect: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 3, jitter: 0.5 },
    createSession: (o) => {
      const s = new FakeSession(o);
      sessions.push(s);
      return s as unknown as VoiceSession;
    },
    ...options,
  });
  connection.on('stateChange', (_old, next) => states.push(next));
  connection.on('reconnectAttempt', (a) => attempts.push(a));
  connection.on('error', (e) => errors.push(e));
  live.push(connection);
  return { connection, adapter, sessions, states, attempts, errors };
}

/** Join and reach 'ready'. */
function joined(options: Partial<VoiceConnectionOptions> = {}): Harness {
  const h = setup(options);
  h.adapter.state('c1');
  h.adapter.server('voice.local:1', 'tok-1');
  h.sessions.at(-1)?.ready();
  expect(h.connection.state.status).toBe('ready');
  return h;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const c of live.splice(0)) c.destroy();
  vi.useRealTimers();
});

describe('VoiceConnection: joining', () => {
  it('sends op 4, connects a session with the collected credentials, reaches ready', () => {
    const h = setup({ selfMute: true, selfDeaf: false });
    expect(h.adapter.payloads).toEqual([
      { guild_id: GUILD, channel_id: 'c1', self_mute: true, self_deaf: false },
    ]);
    expect(h.connection.state.status).toBe('signalling');
    h.adapter.server('voice.local:1', 'tok-1');
    expect(h.sessions).toHaveLength(0);
    h.adapter.state('c1');
    expect(h.sessions).toHaveLength(1);
    expect(h.sessions[0]?.options).toMatchObject({
      endpoint: 'voice.local:1',
      token: 'tok-1',
      serverId: GUILD,
      userId: USER,
      sessionId: 'sess-1',
      channelId: 'c1',
    });
    expect(h.sessions[0]?.connects).toBe(1);
    expect(h.connection.state.status).toBe('connecting');
    h.sessions[0]?.ready();
    expect(h.connection.state.status).toBe('ready');
  });

  it('times out with JOIN_TIMEOUT when nothing comes back (full channel) and stays put', () => {
    const h = setup();
    vi.advanceTimersByTime(VOICE_JOIN_TIMEOUT_MS - 1);
    expect(h.connection.state.status).toBe('signalling');
    vi.advanceTimersByTime(1);
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'join-timeout',
      willReconnect: false,
    });
    expect(h.errors.map((e) => e.code)).toEqual(['JOIN_TIMEOUT']);
    expect(h.errors[0]?.details).toMatchObject({ missing: ['VOICE_STATE_UPDATE', 'VOICE_SERVER_UPDATE'] });
    vi.advanceTimersByTime(120_000);
    expect(h.adapter.payloads).toHaveLength(1);
    expect(h.attempts).toEqual([]);
  });

  it('an adapterCreator that throws gives ADAPTER_ERROR and a destroyed connection', async () => {
    const c = new VoiceConnection({
      guildId: GUILD,
      channelId: 'c1',
      adapterCreator: () => {
        throw new Error('no shard');
      },
      engine: engine as unknown as MediaEngine,
    });
    const errors: VoxcordError[] = [];
    c.on('error', (e) => errors.push(e));
    expect(c.state.status).toBe('destroyed');
    const state = c.state as Extract<VoiceConnectionState, { status: 'destroyed' }>;
    expect(state.reason).toBe('adapter-error');
    expect(isVoxcordError(state.error, 'ADAPTER_ERROR')).toBe(true);
    expect(() => c.rejoin()).toThrow(VoxcordError);
    await Promise.resolve();
    expect(errors.map((e) => e.code)).toEqual(['ADAPTER_ERROR']);
  });

  it('a sendPayload that throws gives ADAPTER_ERROR, destroys the adapter, never crashes', () => {
    const adapter = new FakeAdapter();
    adapter.throwOnSend = true;
    const h = setup({}, adapter);
    expect(h.connection.state).toMatchObject({ status: 'destroyed', reason: 'adapter-error' });
    expect(adapter.destroyed).toBe(1);
    expect(h.connection.leave()).toBe(false);
  });

  it('an adapter that cannot send retries with backoff, then gives up (adapter-unavailable)', async () => {
    const adapter = new FakeAdapter();
    adapter.accept = false;
    const h = setup({}, adapter);
    expect(h.connection.state).toMatchObject({ status: 'disconnected', reason: 'reconnecting', attempt: 1 });
    await Promise.resolve(); // events raised inside the constructor are delivered right after it
    expect(h.attempts).toEqual([{ attempt: 1, maxAttempts: 3, delayMs: 100, reason: 'adapter-unavailable' }]);
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(200);
    vi.advanceTimersByTime(400);
    expect(h.attempts.map((a) => a.delayMs)).toEqual([100, 200, 400]);
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'adapter-unavailable',
      willReconnect: false,
    });
    expect(h.errors.map((e) => e.code)).toEqual(['RECONNECT_FAILED']);
  });
});

describe('VoiceConnection: close codes', () => {
  it.each([
    [4014, 'kicked'],
    [4021, 'rate-limited'],
    [4022, 'call-terminated'],
  ])('%i -> final %s, no op 4 re-sent', (code, reason) => {
    const h = joined();
    h.sessions[0]?.close(code, 'final');
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason,
      willReconnect: false,
      closeCode: code,
    });
    expect(h.sessions[0]?.state.status).toBe('destroyed');
    vi.advanceTimersByTime(120_000);
    expect(h.adapter.payloads).toHaveLength(1);
    expect(h.attempts).toEqual([]);
  });

  it('4017 (DAVE required) is final with a clear reason and never loops', () => {
    const h = joined({ maxDaveProtocolVersion: 0 });
    h.sessions[0]?.close(4017, 'final');
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'dave-required',
      willReconnect: false,
    });
    expect(h.errors.map((e) => e.code)).toEqual(['DAVE_PROTOCOL_ERROR']);
    vi.advanceTimersByTime(120_000);
    expect(h.adapter.payloads).toHaveLength(1);
    expect(h.sessions).toHaveLength(1);
  });

  it.each([4006, 4009, 4004, 4011])('%i -> fresh join: backoff, op 4 again, new session', (code) => {
    const h = joined();
    h.sessions[0]?.close(code, 'rejoin');
    expect(h.attempts).toEqual([
      { attempt: 1, maxAttempts: 3, delayMs: 100, reason: `closed ${code}`, closeCode: code },
    ]);
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'reconnecting',
      willReconnect: true,
    });
    vi.advanceTimersByTime(99);
    expect(h.adapter.payloads).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(h.adapter.payloads).toHaveLength(2);
    expect(h.adapter.payloads[1]?.channel_id).toBe('c1');
    expect(h.connection.state.status).toBe('signalling');
    h.adapter.server('voice.local:1', 'tok-2');
    expect(h.sessions).toHaveLength(2);
    expect(h.sessions[1]?.options.token).toBe('tok-2');
    h.sessions[1]?.ready();
    expect(h.connection.state.status).toBe('ready');
  });

  it('backoff grows with each failed attempt, is reset by ready, and ends in reconnect-failed', () => {
    const h = joined();
    for (let i = 0; i < 3; i++) {
      h.sessions.at(-1)?.close(4006, 'rejoin');
      vi.advanceTimersByTime(10_000);
      h.adapter.server('voice.local:1', `tok-${i}`);
    }
    expect(h.attempts.map((a) => a.delayMs)).toEqual([100, 200, 400]);
    h.sessions.at(-1)?.close(4006, 'rejoin');
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'reconnect-failed',
      willReconnect: false,
    });
    expect(h.errors.map((e) => e.code)).toEqual(['RECONNECT_FAILED']);

    // A user rejoin starts counting again, and ready resets it.
    const again = joined();
    again.sessions[0]?.close(4006, 'rejoin');
    vi.advanceTimersByTime(100);
    again.adapter.server('voice.local:1', 'tok-x');
    again.sessions.at(-1)?.ready();
    again.sessions.at(-1)?.close(4006, 'rejoin');
    expect(again.attempts.map((a) => a.attempt)).toEqual([1, 1]);
  });

  it('a rejoin whose op 4 gets no answer counts as a failed attempt, not a final timeout', () => {
    const h = joined();
    h.sessions[0]?.close(4006, 'rejoin');
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(VOICE_JOIN_TIMEOUT_MS);
    expect(h.attempts).toHaveLength(2);
    expect(h.attempts[1]?.reason).toBe('join-timeout');
  });
});

describe('VoiceConnection: gateway changes', () => {
  it('endpoint null -> disconnected and waiting; a new endpoint -> a fresh session', () => {
    const h = joined();
    h.adapter.server(null);
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'endpoint-lost',
      willReconnect: true,
    });
    expect(h.sessions[0]?.state.status).toBe('destroyed');
    vi.advanceTimersByTime(120_000); // no timeout, no op 4 while Discord reallocates
    expect(h.adapter.payloads).toHaveLength(1);
    h.adapter.server('voice2.local:2', 'tok-2');
    expect(h.sessions).toHaveLength(2);
    expect(h.sessions[1]?.options).toMatchObject({
      endpoint: 'voice2.local:2',
      token: 'tok-2',
      sessionId: 'sess-1',
    });
  });

  it('a region move replaces the session and the playback continues where it was', async () => {
    const h = joined();
    async function* frames(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) yield Uint8Array.of(i);
    }
    const playback = h.connection.playOpus(frames());
    const first = h.sessions[0] as FakeSession;
    await first.pull();
    await first.pull();
    await first.pull();
    h.adapter.server('frankfurt.local:3', 'tok-2');
    expect(first.state.status).toBe('destroyed');
    const second = h.sessions[1] as FakeSession;
    expect(second.options.endpoint).toBe('frankfurt.local:3');
    second.ready();
    await second.pull();
    await second.pull();
    expect(first.sent).toEqual([0, 1, 2]);
    expect(second.sent).toEqual([3, 4]);
    expect(playback.sessions).toBe(2);
  });

  it('an audio player given to subscribe() sends through the connection: it continues where it was on the next session', async () => {
    const h = joined();
    const player = new AudioPlayer();
    const unsubscribe = h.connection.subscribe(player);
    // Attached to the connection, not to its session: one way for every sender.
    expect(player.attached).toEqual([h.connection]);
    player.play(opusFramesInput(Array.from({ length: 100 }, (_, i) => Uint8Array.of(0xfc, i))));
    const first = h.sessions[0] as FakeSession;
    await vi.waitFor(() => expect(first.playing).toBe(true));
    await first.pull();
    await first.pull();
    await first.pull();
    h.adapter.server('frankfurt.local:3', 'tok-2');
    const second = h.sessions[1] as FakeSession;
    second.ready();
    await second.pull();
    await second.pull();
    expect(first.sent).toEqual([0xfc, 0xfc, 0xfc]);
    expect([...first.payloads, ...second.payloads].map((p) => p[1])).toEqual([0, 1, 2, 3, 4]);
    unsubscribe();
    expect(player.attached).toEqual([]);
    player.destroy();
  });

  it('a channel move (state first) waits for the server update, then connects to the new channel', () => {
    const h = joined();
    h.adapter.state('c2');
    expect(h.connection.state.status).toBe('signalling');
    expect(h.sessions[0]?.state.status).toBe('destroyed');
    h.adapter.server('voice.local:1', 'tok-2');
    expect(h.sessions[1]?.options.channelId).toBe('c2');
    expect(h.connection.joinConfig.channelId).toBe('c2');
  });

  it('rejoin({ channelId }) sends op 4 for the new channel and reconnects there', () => {
    const h = joined();
    expect(h.connection.rejoin({ channelId: 'c5' })).toBe(true);
    expect(h.adapter.payloads.at(-1)).toMatchObject({ channel_id: 'c5' });
    expect(h.connection.state.status).toBe('signalling');
    h.adapter.state('c5');
    h.adapter.server('voice.local:1', 'tok-5');
    expect(h.sessions[1]?.options).toMatchObject({ channelId: 'c5', token: 'tok-5' });
  });

  it('our voice state going to channel null (kick by a moderator) is final', () => {
    const h = joined();
    h.adapter.state(null);
    expect(h.connection.state).toMatchObject({
      status: 'disconnected',
      reason: 'left-channel',
      willReconnect: false,
    });
    vi.advanceTimersByTime(120_000);
    expect(h.adapter.payloads).toHaveLength(1);
  });

  it('leave() sends op 4 with channel null; destroy() too, and releases the adapter', () => {
    const h = joined();
    expect(h.connection.leave()).toBe(true);
    expect(h.adapter.payloads.at(-1)).toEqual({
      guild_id: GUILD,
      channel_id: null,
      self_mute: false,
      self_deaf: true,
    });
    expect(h.connection.state).toMatchObject({ status: 'disconnected', reason: 'left' });
    h.adapter.state(null);
    expect(h.connection.state).toMatchObject({ reason: 'left' });
    h.connection.destroy();
    expect(h.adapter.payloads).toHaveLength(3);
    expect(h.adapter.payloads.at(-1)?.channel_id).toBeNull();
    expect(h.adapter.destroyed).toBe(1);
    expect(h.connection.state).toMatchObject({ status: 'destroyed', reason: 'destroyed' });
  });

  it('an adapter that destroys itself destroys the connection without sending', () => {
    const h = joined();
    h.adapter.methods?.destroy();
    expect(h.connection.state).toMatchObject({ status: 'destroyed', reason: 'adapter-destroyed' });
    expect(h.sessions[0]?.state.status).toBe('destroyed');
    expect(h.adapter.payloads).toHaveLength(1);
  });
});
