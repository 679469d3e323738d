import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { VoxcordError, isVoxcordError } from '../../src/errors.js';
import { entersState } from '../../src/util/enters-state.js';

type State = { status: 'ready' | 'connecting' | 'destroyed'; error?: VoxcordError };

class Machine extends EventEmitter {
  constructor(public state: State) {
    super();
  }
  set(next: State): void {
    const old = this.state;
    this.state = next;
    this.emit('stateChange', old, next);
  }
}

/** What `promise` settled with within `ms` ('pending' if it did not). */
async function settled(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([
    promise.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

describe('entersState', () => {
  it('rejects at once for a target already destroyed, with its error or DESTROYED', async () => {
    const error = new VoxcordError('JOIN_TIMEOUT', 'no voice server');
    const failed = await settled(
      entersState(new Machine({ status: 'destroyed', error }), 'ready', 10_000),
      50,
    );
    expect(failed).toBe(error);
    const plain = await settled(
      entersState(new Machine({ status: 'destroyed' }), 'ready', new AbortController().signal, 'the session'),
      50,
    );
    expect(isVoxcordError(plain, 'DESTROYED')).toBe(true);
    expect((plain as Error).message).toBe("the session was destroyed before reaching 'ready'");
    // Waiting for 'destroyed' itself is met.
    expect(await settled(entersState(new Machine({ status: 'destroyed' }), 'destroyed', 10_000), 50)).toBe(
      'resolved',
    );
  });

  it('resolves on the status, rejects when destroyed on the way or on the timeout', async () => {
    const m = new Machine({ status: 'connecting' });
    const reached = entersState(m, 'ready', 1_000);
    m.set({ status: 'ready' });
    expect(await reached).toBe(m);
    const n = new Machine({ status: 'connecting' });
    const lost = entersState(n, 'ready', 1_000);
    n.set({ status: 'destroyed' });
    expect(isVoxcordError(await settled(lost, 50), 'DESTROYED')).toBe(true);
    const late = await settled(entersState(new Machine({ status: 'connecting' }), 'ready', 10), 200);
    expect(isVoxcordError(late, 'STATE_TIMEOUT')).toBe(true);
  });
});
