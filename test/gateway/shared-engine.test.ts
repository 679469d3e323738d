import { describe, it, expect } from 'vitest';
import { SharedEngine, SHARED_ENGINE_IDLE_MS } from '../../src/gateway/shared-engine.js';
import type { TimerHandle } from '../../src/gateway/shared-engine.js';
import type { MediaEngine } from '../../src/media/media-engine.js';

class CountingEngine implements MediaEngine {
  readonly kind = 'inline' as const;
  closes = 0;
  usable = true;
  constructor(readonly id: number) {}
  openChannel(): never {
    throw new Error('unused');
  }
  async close(): Promise<void> {
    this.closes += 1;
  }
}

/** Manual timers: nothing fires until `fire()`; records unref() and clears. */
function manualTimers(): {
  setTimer: (fire: () => void, ms: number) => { unref(): void };
  clearTimer: (handle: TimerHandle) => void;
  pending: () => Array<{ ms: number; unrefed: boolean }>;
  fireAll: () => void;
} {
  const timers = new Map<object, { fire: () => void; ms: number; unrefed: boolean }>();
  return {
    setTimer: (fire, ms) => {
      const entry = { fire, ms, unrefed: false };
      const handle = {
        unref: () => {
          entry.unrefed = true;
        },
      };
      timers.set(handle, entry);
      return handle;
    },
    clearTimer: (handle) => {
      timers.delete(handle);
    },
    pending: () => [...timers.values()].map(({ ms, unrefed }) => ({ ms, unrefed })),
    fireAll: () => {
      const all = [...timers.values()];
      timers.clear();
      for (const t of all) t.fire();
    },
  };
}

function setup(idleMs?: number): {
  shared: SharedEngine;
  made: CountingEngine[];
  timers: ReturnType<typeof manualTimers>;
} {
  const made: CountingEngine[] = [];
  const timers = manualTimers();
  const shared = new SharedEngine({
    create: () => {
      const engine = new CountingEngine(made.length + 1);
      made.push(engine);
      return engine;
    },
    usable: (engine) => (engine as CountingEngine).usable,
    ...(idleMs === undefined ? {} : { idleMs }),
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
  });
  return { shared, made, timers };
}

describe('SharedEngine', () => {
  it('hands the running engine to a join within the idle period, without closing it', () => {
    const { shared, made, timers } = setup();
    const first = shared.acquire();
    expect(first.reused).toBe(false);
    shared.release(first.engine);
    // Idle: one unref'd timer of the default length, engine still open.
    expect(timers.pending()).toEqual([{ ms: SHARED_ENGINE_IDLE_MS, unrefed: true }]);
    expect(made[0]!.closes).toBe(0);

    const second = shared.acquire();
    expect(second).toEqual({ engine: first.engine, reused: true });
    expect(timers.pending()).toEqual([]); // the idle timer was cancelled
    expect(made).toHaveLength(1);
    shared.release(second.engine);
    timers.fireAll();
    expect(made[0]!.closes).toBe(1);
    expect(shared.engine).toBeUndefined();
  });

  it('closes the engine when the idle period ends; the next join starts a new one', () => {
    const { shared, made, timers } = setup(5_000);
    const a = shared.acquire();
    shared.release(a.engine);
    expect(timers.pending()).toEqual([{ ms: 5_000, unrefed: true }]);
    timers.fireAll();
    expect(made[0]!.closes).toBe(1);
    const b = shared.acquire();
    expect(b.reused).toBe(false);
    expect(b.engine).not.toBe(a.engine);
  });

  it('keeps the engine while any connection uses it, and counts each release once per acquire', () => {
    const { shared, made, timers } = setup();
    const a = shared.acquire();
    const b = shared.acquire();
    shared.release(a.engine);
    expect(timers.pending()).toEqual([]);
    shared.release(b.engine);
    shared.release(b.engine); // one release too many: ignored
    expect(timers.pending()).toHaveLength(1);
    const c = shared.acquire();
    expect(c.engine).toBe(a.engine);
    shared.release(c.engine);
    timers.fireAll();
    expect(made[0]!.closes).toBe(1);
  });

  it('with idleMs 0 closes the engine with its last connection', () => {
    const { shared, made, timers } = setup(0);
    const a = shared.acquire();
    shared.release(a.engine);
    expect(timers.pending()).toEqual([]);
    expect(made[0]!.closes).toBe(1);
    expect(shared.acquire().reused).toBe(false);
  });

  it('replaces an engine that is no longer usable (its worker died) instead of handing it out', () => {
    const { shared, made } = setup();
    const a = shared.acquire();
    shared.release(a.engine);
    made[0]!.usable = false;
    const b = shared.acquire();
    expect(b.reused).toBe(false);
    expect(b.engine).not.toBe(a.engine);
    expect(made[0]!.closes).toBe(1);
    // A late release of the old engine does not touch the new one.
    shared.release(a.engine);
    expect(shared.engine).toBe(b.engine);
  });

  it('closeIdle() closes an idle engine at once but never one in use', async () => {
    const { shared, made, timers } = setup();
    const a = shared.acquire();
    await shared.closeIdle();
    expect(made[0]!.closes).toBe(0);
    shared.release(a.engine);
    await shared.closeIdle();
    expect(made[0]!.closes).toBe(1);
    expect(timers.pending()).toEqual([]);
    expect(shared.engine).toBeUndefined();
  });
});
