/**
 * Waiting for a state machine to reach a status: one implementation for sessions, connections and
 * anything else that emits `stateChange(old, new)` and ends in 'destroyed'.
 */
import { VoxcordError } from '../errors.js';

interface Stateful<S extends { status: string }> {
  readonly state: S;
  on(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
  off(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
}

/**
 * Resolves with `target` when it is in (or reaches) `status`; rejects with STATE_TIMEOUT after
 * `timeoutMs`, or with the destroyed state's error (else DESTROYED) if it is destroyed first.
 * `subject` names the target in those errors' messages ("the voice session").
 */
export function entersState<S extends { status: string; error?: VoxcordError }, T extends Stateful<S>>(
  target: T,
  status: S['status'],
  timeoutMs: number,
  subject?: string,
): Promise<T> {
  const who = subject === undefined ? '' : `${subject} `;
  if (target.state.status === status) return Promise.resolve(target);
  return new Promise<T>((resolve, reject) => {
    const onChange = (_old: S, next: S): void => {
      if (next.status === status) {
        cleanup();
        resolve(target);
      } else if (next.status === 'destroyed') {
        cleanup();
        reject(
          next.error ??
            new VoxcordError(
              'DESTROYED',
              `${subject === undefined ? '' : `${subject} was `}destroyed before reaching '${status}'`,
            ),
        );
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new VoxcordError('STATE_TIMEOUT', `${who}did not reach '${status}' within ${timeoutMs} ms`, {
          details: { status, current: target.state.status, timeoutMs },
        }),
      );
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      target.off('stateChange', onChange);
    }
    target.on('stateChange', onChange);
  });
}
