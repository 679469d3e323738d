/**
 * Waiting for a state machine to reach a status: one implementation for sessions, connections and
 * anything else that emits `stateChange(old, new)` and ends in 'destroyed'.
 */
import { VoxcordError, toError } from '../errors.js';
import { checkArg, checkMethods, invalidArgument, MAX_TIMER_MS } from './args.js';

export interface Stateful<S extends { status: string }> {
  readonly state: S;
  on(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
  off(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
}

/**
 * Resolves with `target` when it is in (or reaches) `status`; rejects with STATE_TIMEOUT after
 * `timeoutMs` or when the AbortSignal given instead aborts (the signal's reason as `cause`), or
 * with the destroyed state's error (else DESTROYED) if it is destroyed first (at once if it
 * already is). `subject` names the target in those errors' messages ("the voice session").
 */
export function entersState<S extends { status: string; error?: VoxcordError }, T extends Stateful<S>>(
  target: T,
  status: S['status'],
  timeoutOrSignal: number | AbortSignal,
  subject?: string,
): Promise<T> {
  try {
    checkMethods(target, 'target', 'a connection, a session or another state machine', ['on', 'off']);
    checkArg(target.state, 'target.state', 'object');
    const ms = typeof timeoutOrSignal === 'number' && timeoutOrSignal >= 0 && timeoutOrSignal <= MAX_TIMER_MS;
    if (!ms && !(timeoutOrSignal instanceof AbortSignal))
      throw invalidArgument(
        'timeoutOrSignal',
        `a number of ms (0 to ${MAX_TIMER_MS}) or an AbortSignal`,
        timeoutOrSignal,
      );
  } catch (err) {
    return Promise.reject(toError(err));
  }
  const who = subject === undefined ? '' : `${subject} `;
  if (target.state.status === status) return Promise.resolve(target);
  const signal = typeof timeoutOrSignal === 'number' ? undefined : timeoutOrSignal;
  const timeoutMs = typeof timeoutOrSignal === 'number' ? timeoutOrSignal : undefined;
  const destroyed = (state: S): VoxcordError =>
    state.error ??
    new VoxcordError(
      'DESTROYED',
      `${subject === undefined ? '' : `${subject} was `}destroyed before reaching '${status}'`,
    );
  // Destroyed is final: nothing would ever come.
  if (target.state.status === 'destroyed') return Promise.reject(destroyed(target.state));
  return new Promise<T>((resolve, reject) => {
    const onChange = (_old: S, next: S): void => {
      if (next.status === status) {
        cleanup();
        resolve(target);
      } else if (next.status === 'destroyed') {
        cleanup();
        reject(destroyed(next));
      }
    };
    const giveUp = (): void => {
      cleanup();
      const why = timeoutMs === undefined ? 'before the signal aborted' : `within ${timeoutMs} ms`;
      reject(
        new VoxcordError('STATE_TIMEOUT', `${who}did not reach '${status}' ${why}`, {
          details: {
            status,
            current: target.state.status,
            ...(timeoutMs === undefined ? { aborted: true } : { timeoutMs }),
          },
          ...(signal === undefined ? {} : { cause: signal.reason }),
        }),
      );
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(giveUp, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', giveUp);
      target.off('stateChange', onChange);
    }
    if (signal?.aborted === true) {
      giveUp();
      return;
    }
    signal?.addEventListener('abort', giveUp, { once: true });
    target.on('stateChange', onChange);
  });
}
