/**
 * The session feed without sockets: a fake session emits what a VoiceSession emits; the receiver
 * must route it, count what reaches no user, and tick only while it has work.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypedEmitter } from '../../src/util/typed-emitter.js';
import type { VoiceSession, VoiceSessionEvents } from '../../src/voice/session.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import type { OpusDecoder } from '../../src/audio/opus.js';
import { VoiceReceiver } from '../../src/receive/receiver.js';
import type { ReceivedFrame, UserAudioStream } from '../../src/receive/user-stream.js';
import {
  attachReceiver,
  createVoiceReceiver,
  isReceiverClockRunning,
  lazyDecoderFactory,
} from '../../src/receive/session-feed.js';
import type { CreateVoiceReceiverOptions } from '../../src/receive/session-feed.js';

class FakeSession extends TypedEmitter<VoiceSessionEvents> {
  state: VoiceSessionState = { status: 'idle' };
  destroy(): void {
    const old = this.state;
    this.state = { status: 'destroyed' };
    this.emit('stateChange', old, this.state);
  }
}

let now = 0;
const open: VoiceReceiver[] = [];

function receiver(extra: ConstructorParameters<typeof VoiceReceiver>[0] = {}): VoiceReceiver {
  const r = new VoiceReceiver({ now: () => now, ...extra });
  open.push(r);
  return r;
}

function frame(userId: string | undefined, sequence: number, payload = [0xfc, sequence & 0xff, 1, 2]) {
  return {
    userId,
    ssrc: 7,
    sequence,
    timestamp: sequence * 960,
    payload: Uint8Array.from(payload),
    receivedAt: now,
  };
}

/** Advances both the fake timers and the receiver clock. */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) {
    now += 1;
    vi.advanceTimersByTime(1);
  }
}

function drain(stream: UserAudioStream): ReceivedFrame[] {
  const out: ReceivedFrame[] = [];
  for (let f: unknown = stream.read(); f !== null; f = stream.read()) out.push(f as ReceivedFrame);
  return out;
}

beforeEach(() => {
  vi.useFakeTimers();
  now = 1_000;
});

afterEach(() => {
  for (const r of open.splice(0)) r.close();
  vi.useRealTimers();
});

describe('attachReceiver', () => {
  it('routes decrypted frames to the user in sequence order and counts what reaches no user', () => {
    const session = new FakeSession();
    const r = receiver();
    attachReceiver(r, session);
    const stream = r.subscribe('42', { mode: 'opus' });
    session.emit('speaking', { userId: '42', ssrc: 7, speaking: 1 });
    // Arrival order 0, 2, 1, 3: the jitter buffer puts them back in order.
    for (const seq of [0, 2, 1, 3]) {
      session.emit('audioFrame', frame('42', seq));
      advance(5);
    }
    session.emit('audioFrame', frame(undefined, 9));
    session.emit('daveDecryptFailure', { userId: '42', ssrc: 7, sequence: 4, reason: 'auth-failed' });
    session.emit('daveDecryptFailure', { userId: '42', ssrc: 7, sequence: 5, reason: 'auth-failed' });
    session.emit('daveDecryptFailure', { userId: '42', ssrc: 7, sequence: 6, reason: 'no-key' });
    session.emit('daveDecryptFailure', { userId: undefined, ssrc: 99, sequence: 1, reason: 'unknown-user' });
    advance(200);
    const frames = drain(stream);
    expect(frames.filter((f) => !f.concealed).map((f) => f.sequence)).toEqual([0, 1, 2, 3]);
    expect(frames.map((f) => f.payload?.[1])).toEqual([0, 1, 2, 3]);
    expect(r.stats('42')?.daveFailures).toEqual({ 'auth-failed': 2, 'no-key': 1 });
    expect(r.stats('42')?.received).toBe(4);
    expect(r.totals().unknownSsrc).toBe(2);
    expect(stream.isFinished).toBe(false);
  });

  it('passes op 5 and op 13 on: speaking ends, the user is released, the stream stays open', () => {
    const session = new FakeSession();
    const r = receiver();
    attachReceiver(r, session);
    const events: string[] = [];
    r.on('speakingStart', (id) => events.push(`start ${id}`));
    r.on('speakingEnd', (id) => events.push(`end ${id}`));
    const stream = r.subscribe('42', { mode: 'opus' });
    session.emit('speaking', { userId: '42', ssrc: 7, speaking: 1 });
    for (let seq = 0; seq < 5; seq++) {
      session.emit('audioFrame', frame('42', seq));
      advance(20);
    }
    session.emit('speaking', { userId: '42', ssrc: 7, speaking: 0 });
    expect(events).toEqual(['start 42', 'end 42']);
    session.emit('audioFrame', frame('42', 5));
    session.emit('clientDisconnect', '42');
    // Everything buffered was delivered at the disconnect.
    expect(
      drain(stream)
        .filter((f) => !f.concealed)
        .map((f) => f.sequence),
    ).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stream.isFinished).toBe(false);
    // A frame from the now unmapped SSRC with no user is counted, not delivered.
    session.emit('audioFrame', frame(undefined, 6));
    expect(r.totals().unknownSsrc).toBe(1);
  });

  it('ticks only while there is work: a subscription, a burst, buffered packets', () => {
    const session = new FakeSession();
    const r = receiver({ decoderIdleMs: 100 });
    attachReceiver(r, session);
    expect(isReceiverClockRunning(r)).toBe(false);

    const stream = r.subscribe('42', { mode: 'opus' });
    expect(isReceiverClockRunning(r)).toBe(true);
    advance(50);
    expect(isReceiverClockRunning(r)).toBe(true);
    stream.destroy();
    advance(20);
    expect(isReceiverClockRunning(r)).toBe(false);

    // Packets with nobody subscribed: the burst is tracked (speaking events), then the clock stops.
    const ends: string[] = [];
    r.on('speakingEnd', (id) => ends.push(id));
    session.emit('speaking', { userId: '42', ssrc: 7, speaking: 1 });
    expect(isReceiverClockRunning(r)).toBe(false); // op 5 with flags is not a burst
    for (let seq = 0; seq < 3; seq++) {
      session.emit('audioFrame', frame('42', seq));
      expect(isReceiverClockRunning(r)).toBe(true);
      advance(20);
    }
    advance(150);
    expect(isReceiverClockRunning(r)).toBe(true);
    advance(100);
    expect(ends).toEqual(['42']);
    expect(isReceiverClockRunning(r)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops routing when detached and when the receiver closes', () => {
    const session = new FakeSession();
    const r = receiver();
    const detach = attachReceiver(r, session);
    expect(session.listenerCount('audioFrame')).toBe(1);
    detach();
    detach();
    for (const e of ['audioFrame', 'daveDecryptFailure', 'speaking', 'clientDisconnect'] as const)
      expect(session.listenerCount(e)).toBe(0);

    attachReceiver(r, session);
    r.subscribe('42', { mode: 'opus' });
    expect(vi.getTimerCount()).toBe(1);
    r.close();
    expect(session.listenerCount('audioFrame')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(() => attachReceiver(r, session)).toThrow(expect.objectContaining({ code: 'DESTROYED' }) as Error);
  });

  it('uses one clock for a receiver attached to successive sessions', () => {
    const first = new FakeSession();
    const second = new FakeSession();
    const r = receiver();
    const detachFirst = attachReceiver(r, first);
    const stream = r.subscribe('42', { mode: 'opus' });
    detachFirst();
    attachReceiver(r, second);
    expect(vi.getTimerCount()).toBe(1);
    second.emit('audioFrame', frame('42', 0));
    first.emit('audioFrame', frame('42', 1)); // detached: ignored
    advance(100);
    expect(
      drain(stream)
        .filter((f) => !f.concealed)
        .map((f) => f.sequence),
    ).toEqual([0]);
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('the feed clock after a main-thread stall', () => {
  it('takes in the packets that came during the stall before it ends a burst', async () => {
    vi.useRealTimers();
    const session = new FakeSession();
    const r = new VoiceReceiver();
    open.push(r);
    attachReceiver(r, session);
    const events: string[] = [];
    r.on('speakingStart', () => events.push('start'));
    r.on('speakingEnd', () => events.push('end'));
    // Packets come through a MessagePort, as the media worker's do, stamped when they "arrive".
    const { port1, port2 } = new MessageChannel();
    port2.on('message', (m: { sequence: number; receivedAt: number }) =>
      session.emit('audioFrame', { ...frame('42', m.sequence), receivedAt: m.receivedAt }),
    );
    let sequence = 0;
    const send = (): void => port1.postMessage({ sequence: sequence++, receivedAt: performance.now() });
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      for (let i = 0; i < 5; i++, await pause(20)) send();
      // The main thread is busy for 300 ms while a packet comes every 20 ms: when it is free again,
      // the overdue tick and the queued packets are both ready.
      const busyUntil = performance.now() + 300;
      for (let next = performance.now(); performance.now() < busyUntil;) {
        if (performance.now() >= next) {
          send();
          next += 20;
        }
      }
      for (let i = 0; i < 5; i++, await pause(20)) send();
      await pause(400); // the burst ends 200 ms after its last packet
      expect(events).toEqual(['start', 'end']);
    } finally {
      port1.close();
    }
  });
});

describe('createVoiceReceiver', () => {
  it('follows the session: closes (ending streams) when the session is destroyed', () => {
    const session = new FakeSession();
    const r = createVoiceReceiver(session as unknown as VoiceSession, { now: () => now });
    open.push(r);
    const stream = r.subscribe('42'); // PCM: a decoder factory is provided by default
    let ended = false;
    stream.on('end', () => (ended = true));
    stream.resume();
    session.destroy();
    expect(r.isClosed).toBe(true);
    expect(session.listenerCount('audioFrame')).toBe(0);
    expect(session.listenerCount('stateChange')).toBe(0);
    return vi.waitFor(() => expect(ended).toBe(true));
  });

  it('refuses a decrypt hook (the session decrypts)', () => {
    // The option is gone from the types; a JavaScript caller may still pass it.
    const old = {
      decrypt: () => ({ ok: true, frame: new Uint8Array(1) }),
    } as unknown as CreateVoiceReceiverOptions;
    expect(() => createVoiceReceiver(new FakeSession() as unknown as VoiceSession, old)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });
});

describe('lazyDecoderFactory', () => {
  it('throws OPUS_UNAVAILABLE until loaded, then creates decoders', async () => {
    const decoder = { close: () => undefined } as unknown as OpusDecoder;
    let resolve!: () => void;
    const gate = new Promise<void>((r) => (resolve = r));
    const lazy = lazyDecoderFactory(async () => {
      await gate;
      return { backend: 'opusscript', createEncoder: () => undefined as never, createDecoder: () => decoder };
    });
    expect(() => lazy.createDecoder()).toThrow(
      expect.objectContaining({ code: 'OPUS_UNAVAILABLE' }) as Error,
    );
    resolve();
    await lazy.ready;
    expect(lazy.createDecoder()).toBe(decoder);
  });

  it('reports a failed load as OPUS_UNAVAILABLE without an unhandled rejection', async () => {
    const lazy = lazyDecoderFactory(() => Promise.reject(new Error('nope')));
    expect(await lazy.ready).toBeUndefined();
    expect(() => lazy.createDecoder()).toThrow(
      expect.objectContaining({ code: 'OPUS_UNAVAILABLE' }) as Error,
    );
  });
});
