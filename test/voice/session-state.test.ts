import { describe, it, expect } from 'vitest';
import { nextState, isActive } from '../../src/voice/session-state.js';
import type { VoiceSessionState } from '../../src/voice/session-state.js';
import { VoxcordError } from '../../src/errors.js';

const err = new VoxcordError('GATEWAY_CLOSED', 'closed');
const ready: VoiceSessionState = {
  status: 'ready',
  ssrc: 7,
  mode: 'aead_aes256_gcm_rtpsize',
  daveProtocolVersion: 0,
};
const resuming: VoiceSessionState = { ...ready, status: 'resuming', closeCode: 1006 };

describe('nextState', () => {
  it('walks the handshake: idle -> signalling -> connecting -> ready', () => {
    let s: VoiceSessionState = { status: 'idle' };
    s = nextState(s, { type: 'connect' });
    expect(s).toEqual({ status: 'signalling' });
    s = nextState(s, { type: 'ready', ssrc: 7 });
    expect(s).toEqual({ status: 'connecting', ssrc: 7 });
    s = nextState(s, { type: 'sessionDescription', mode: 'aead_aes256_gcm_rtpsize', daveProtocolVersion: 0 });
    expect(s).toEqual(ready);
  });

  it('returns the same object for events that do not apply', () => {
    const idle: VoiceSessionState = { status: 'idle' };
    expect(nextState(idle, { type: 'ready', ssrc: 1 })).toBe(idle);
    expect(nextState(idle, { type: 'resumed' })).toBe(idle);
    expect(nextState(idle, { type: 'socketClosed', code: 1006, reason: '', error: err })).toBe(idle);
    expect(nextState(ready, { type: 'ready', ssrc: 9 })).toBe(ready);
    expect(nextState(ready, { type: 'resumed' })).toBe(ready);
    const signalling: VoiceSessionState = { status: 'signalling' };
    expect(
      nextState(signalling, {
        type: 'sessionDescription',
        mode: 'aead_aes256_gcm_rtpsize',
        daveProtocolVersion: 0,
      }),
    ).toBe(signalling);
  });

  it.each([
    [1000, 'resuming'],
    [1001, 'resuming'],
    [1006, 'resuming'],
    [4015, 'resuming'],
  ])('close %i while ready resumes', (code, status) => {
    const s = nextState(ready, { type: 'socketClosed', code, reason: 'x', error: err });
    expect(s).toEqual({ ...ready, status, closeCode: code });
  });

  it.each([
    [4001, 'final'],
    [4002, 'final'],
    [4003, 'final'],
    [4004, 'rejoin'],
    [4005, 'final'],
    [4006, 'rejoin'],
    [4009, 'rejoin'],
    [4011, 'rejoin'],
    [4012, 'final'],
    [4014, 'final'],
    [4016, 'final'],
    [4017, 'final'],
    [4020, 'final'],
    [4021, 'final'],
    [4022, 'final'],
    [4999, 'final'],
  ])('close %i while ready -> disconnected with action %s', (code, action) => {
    const s = nextState(ready, { type: 'socketClosed', code, reason: 'why', error: err });
    expect(s).toEqual({ status: 'disconnected', closeCode: code, action, reason: 'why', error: err });
  });

  it('a resumable drop during the handshake or a resume means rejoin; final codes stay final', () => {
    for (const from of [
      { status: 'signalling' } as const,
      { status: 'connecting', ssrc: 1 } as const,
      resuming,
    ]) {
      expect(nextState(from, { type: 'socketClosed', code: 1006, reason: 'r', error: err })).toMatchObject({
        status: 'disconnected',
        action: 'rejoin',
        closeCode: 1006,
      });
      expect(nextState(from, { type: 'socketClosed', code: 4014, reason: 'r', error: err })).toMatchObject({
        status: 'disconnected',
        action: 'final',
      });
      expect(nextState(from, { type: 'socketClosed', code: 4006, reason: 'r', error: err })).toMatchObject({
        status: 'disconnected',
        action: 'rejoin',
      });
    }
  });

  it('connectionLost resumes when ready and rejoins otherwise', () => {
    expect(nextState(ready, { type: 'connectionLost', reason: 'acks', error: err })).toEqual({
      ...ready,
      status: 'resuming',
      closeCode: undefined,
    });
    expect(nextState(resuming, { type: 'connectionLost', reason: 'acks', error: err })).toMatchObject({
      status: 'disconnected',
      action: 'rejoin',
      closeCode: undefined,
    });
  });

  it('resumed returns to ready keeping ssrc and mode', () => {
    expect(nextState(resuming, { type: 'resumed' })).toEqual(ready);
  });

  it('failed disconnects active states only', () => {
    const e = new VoxcordError('NO_SUPPORTED_ENCRYPTION_MODE', 'none');
    expect(
      nextState({ status: 'signalling' }, { type: 'failed', action: 'final', reason: 'none', error: e }),
    ).toEqual({
      status: 'disconnected',
      closeCode: undefined,
      action: 'final',
      reason: 'none',
      error: e,
    });
    const idle: VoiceSessionState = { status: 'idle' };
    expect(nextState(idle, { type: 'failed', action: 'final', reason: 'none', error: e })).toBe(idle);
  });

  it('destroyed is terminal and reachable from anywhere', () => {
    const destroyed = nextState(ready, { type: 'destroy' });
    expect(destroyed).toEqual({ status: 'destroyed' });
    expect(nextState(destroyed, { type: 'connect' })).toBe(destroyed);
    expect(nextState({ status: 'idle' }, { type: 'destroy' })).toEqual({ status: 'destroyed' });
  });

  it('connect from disconnected starts over', () => {
    const d = nextState(ready, { type: 'socketClosed', code: 4006, reason: 'r', error: err });
    expect(nextState(d, { type: 'connect' })).toEqual({ status: 'signalling' });
  });

  it('isActive', () => {
    expect(isActive(ready)).toBe(true);
    expect(isActive(resuming)).toBe(true);
    expect(isActive({ status: 'idle' })).toBe(false);
    expect(isActive({ status: 'destroyed' })).toBe(false);
  });
});
