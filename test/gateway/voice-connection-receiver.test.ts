/**
 * `connection.receiver` with a fake adapter and fake sessions: one receiver per connection, fed by
 * whichever session is current (join, region move, rejoin), closed with the connection.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypedEmitter } from '../../src/util/typed-emitter.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import type { VoiceSession, VoiceSessionEvents, VoiceSessionOptions } from '../../src/voice/session.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { VoiceAdapterCreator, VoiceAdapterLibraryMethods } from '../../src/gateway/adapter.js';
import type { ReceivedFrame } from '../../src/receive/user-stream.js';
import { BOT as USER, GUILD } from '../support/ids.js';

class FakeSession extends TypedEmitter<VoiceSessionEvents> {
  state: VoiceSessionState = { status: 'idle' };
  constructor(readonly options: VoiceSessionOptions) {
    super();
  }
  connect(): void {
    this.set({ status: 'signalling' });
  }
  ready(): void {
    this.set({ status: 'ready', ssrc: 1, mode: 'aead_aes256_gcm_rtpsize', daveProtocolVersion: 0 });
  }
  destroy(): void {
    if (this.state.status !== 'destroyed') this.set({ status: 'destroyed' });
  }
  private set(next: VoiceSessionState): void {
    const old = this.state;
    this.state = next;
    this.emit('stateChange', old, next);
  }
}

const engine: MediaEngine = {
  kind: 'inline',
  openChannel: () => Promise.reject(new Error('unused')),
  close: async () => {},
};

let now = 0;
let methods: VoiceAdapterLibraryMethods | undefined;
let sessions: FakeSession[] = [];
const live: VoiceConnection[] = [];

const adapterCreator: VoiceAdapterCreator = (m) => {
  methods = m;
  return { sendPayload: () => true, destroy: () => undefined };
};

function connect(): VoiceConnection {
  const connection = new VoiceConnection({
    guildId: GUILD,
    channelId: '300000000000000003',
    adapterCreator,
    engine,
    createSession: (o) => {
      const s = new FakeSession(o);
      sessions.push(s);
      return s as unknown as VoiceSession;
    },
    receiver: { now: () => now },
  });
  live.push(connection);
  methods?.onVoiceStateUpdate({
    guild_id: GUILD,
    channel_id: '300000000000000003',
    user_id: USER,
    session_id: 's1',
  });
  methods?.onVoiceServerUpdate({ guild_id: GUILD, endpoint: 'voice.local:1', token: 't1' });
  sessions.at(-1)?.ready();
  return connection;
}

function send(session: FakeSession, ssrc: number, sequence: number): void {
  session.emit('audioFrame', {
    userId: '42',
    ssrc,
    sequence,
    timestamp: sequence * 960,
    payload: Uint8Array.from([0xfc, ssrc & 0xff, sequence & 0xff]),
    receivedAt: now,
  });
}

function advance(ms: number): void {
  now += ms;
  vi.advanceTimersByTime(ms);
}

beforeEach(() => {
  vi.useFakeTimers();
  now = 1_000;
  sessions = [];
});

afterEach(() => {
  for (const c of live.splice(0)) c.destroy();
  vi.useRealTimers();
});

describe('VoiceConnection.receiver', () => {
  it('is one receiver that follows the connection to each new session', () => {
    const connection = connect();
    const receiver = connection.receiver;
    expect(connection.receiver).toBe(receiver);
    const stream = receiver.subscribe('42', { mode: 'opus' });

    const first = sessions[0]!;
    first.emit('speaking', { userId: '42', ssrc: 11, speaking: 1 });
    for (let i = 0; i < 3; i++) {
      send(first, 11, i);
      advance(20);
    }
    advance(100);

    // Region move: a new session (new SSRC space); the old one no longer feeds the receiver.
    methods?.onVoiceServerUpdate({ guild_id: GUILD, endpoint: 'frankfurt.local:3', token: 't2' });
    expect(sessions).toHaveLength(2);
    const second = sessions[1]!;
    expect(first.listenerCount('audioFrame')).toBe(0);
    expect(second.listenerCount('audioFrame')).toBe(1);
    second.ready();
    for (let i = 0; i < 3; i++) {
      send(second, 22, 500 + i);
      send(first, 11, 3 + i); // stale session: ignored
      advance(20);
    }
    advance(100);
    const got: ReceivedFrame[] = [];
    for (let f = stream.read() as ReceivedFrame | null; f !== null; f = stream.read() as ReceivedFrame | null)
      got.push(f);
    expect(got.filter((f) => !f.concealed).map((f) => f.sequence)).toEqual([0, 1, 2, 500, 501, 502]);
    expect(receiver.stats('42')?.received).toBe(6);
    expect(stream.isFinished).toBe(false);
  });

  it('closes with the connection: streams end, the clock stops, sessions are let go', async () => {
    const connection = connect();
    const stream = connection.receiver.subscribe('42', { mode: 'opus' });
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    stream.resume();
    connection.destroy();
    expect(connection.receiver.isClosed).toBe(true);
    expect(sessions[0]!.listenerCount('audioFrame')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await ended;
    expect(() => connection.receiver.subscribe('42')).toThrow(
      expect.objectContaining({ code: 'DESTROYED' }) as Error,
    );
  });

  it('created after destroy: already closed', () => {
    const connection = connect();
    connection.destroy();
    expect(connection.receiver.isClosed).toBe(true);
  });
});
