/**
 * The voice session state machine as a pure function (voice-gateway.md §7-§9). The session feeds it
 * events and acts on the state it returns; sockets and timers live in session.ts.
 *
 *   idle ─connect→ signalling ─op 2→ connecting ─op 4→ ready ─drop (resumable)→ resuming ─op 9→ ready
 *   any active state ─close/failure→ disconnected ─connect→ signalling
 *   any ─destroy→ destroyed (terminal)
 */
import { closeCodeAction } from '../protocol/constants.js';
import type { CloseAction, EncryptionMode } from '../protocol/constants.js';
import type { VoxcordError } from '../errors.js';

export type VoiceSessionState =
  /** Created, connect() not called yet. */
  | { status: 'idle' }
  /** Websocket opening, waiting for Hello, Identify sent, waiting for Ready. */
  | { status: 'signalling' }
  /** Ready received: UDP channel, IP discovery, Select Protocol, waiting for Session Description. */
  | { status: 'connecting'; ssrc: number }
  /** Media may flow. */
  | { status: 'ready'; ssrc: number; mode: EncryptionMode; daveProtocolVersion: number }
  /** The websocket dropped while ready: new websocket + op 7; UDP channel and keys are kept. */
  | {
      status: 'resuming';
      ssrc: number;
      mode: EncryptionMode;
      daveProtocolVersion: number;
      closeCode: number | undefined;
    }
  /**
   * Stopped; every socket released. `action` says what the owner should do next: 'rejoin' = get
   * fresh credentials and connect() again, 'final' = give up. `closeCode` is set when a websocket
   * close caused it.
   */
  | {
      status: 'disconnected';
      closeCode: number | undefined;
      action: CloseAction;
      reason: string;
      error: VoxcordError;
    }
  | { status: 'destroyed' };

export type VoiceSessionStatus = VoiceSessionState['status'];

export type VoiceSessionEvent =
  | { type: 'connect' }
  /** op 2 Ready. */
  | { type: 'ready'; ssrc: number }
  /** op 4 Session Description applied to the media channel. */
  | { type: 'sessionDescription'; mode: EncryptionMode; daveProtocolVersion: number }
  /** The websocket closed with `code` (1006 when it never opened or dropped abnormally). */
  | { type: 'socketClosed'; code: number; reason: string; error: VoxcordError }
  /** We gave up on the websocket ourselves (missed heartbeat ACKs): treated like a network drop. */
  | { type: 'connectionLost'; reason: string; error: VoxcordError }
  /** op 9 Resumed. */
  | { type: 'resumed' }
  /** A failure not expressed by a close code (timeout, no usable mode, UDP failure). */
  | { type: 'failed'; action: CloseAction; reason: string; error: VoxcordError }
  | { type: 'destroy' };

function disconnected(
  closeCode: number | undefined,
  action: CloseAction,
  reason: string,
  error: VoxcordError,
): VoiceSessionState {
  return { status: 'disconnected', closeCode, action, reason, error };
}

/** Whether the session holds sockets (anything but idle, disconnected, destroyed). */
export function isActive(state: VoiceSessionState): boolean {
  return (
    state.status === 'signalling' ||
    state.status === 'connecting' ||
    state.status === 'ready' ||
    state.status === 'resuming'
  );
}

/**
 * Returns the next state, or the same object when the event does not apply in `state` (callers
 * compare by identity to know whether anything changed).
 */
export function nextState(state: VoiceSessionState, event: VoiceSessionEvent): VoiceSessionState {
  if (state.status === 'destroyed') return state;
  if (event.type === 'destroy') return { status: 'destroyed' };

  switch (event.type) {
    case 'connect':
      // connect() on an active session starts over fresh (the session tears the old sockets down).
      return { status: 'signalling' };

    case 'ready':
      return state.status === 'signalling' ? { status: 'connecting', ssrc: event.ssrc } : state;

    case 'sessionDescription':
      if (state.status === 'connecting' || state.status === 'ready') {
        return {
          status: 'ready',
          ssrc: state.ssrc,
          mode: event.mode,
          daveProtocolVersion: event.daveProtocolVersion,
        };
      }
      return state;

    case 'resumed':
      if (state.status !== 'resuming') return state;
      return {
        status: 'ready',
        ssrc: state.ssrc,
        mode: state.mode,
        daveProtocolVersion: state.daveProtocolVersion,
      };

    case 'socketClosed':
    case 'connectionLost': {
      const code = event.type === 'socketClosed' ? event.code : undefined;
      const action = code === undefined ? 'resume' : closeCodeAction(code);
      switch (state.status) {
        case 'ready':
          if (action === 'resume') {
            return {
              status: 'resuming',
              ssrc: state.ssrc,
              mode: state.mode,
              daveProtocolVersion: state.daveProtocolVersion,
              closeCode: code,
            };
          }
          return disconnected(code, action, event.reason, event.error);
        case 'signalling':
        case 'connecting':
        case 'resuming':
          // Nothing to resume before op 4, and a resume is tried once (voice-gateway.md §7.6): a
          // resumable drop here means "connect fresh".
          return disconnected(code, action === 'resume' ? 'rejoin' : action, event.reason, event.error);
        default:
          return state;
      }
    }

    case 'failed':
      return isActive(state) ? disconnected(undefined, event.action, event.reason, event.error) : state;
  }
}
