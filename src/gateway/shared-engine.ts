/**
 * The media engine joinVoiceChannel() shares between the connections that bring none. It is
 * started on the first join and kept for `idleMs` after its last connection is destroyed, so a bot
 * that leaves and joins again does not pay the worker start (tens of ms before its first packet)
 * each time. The idle timer is unref'd and an idle worker engine unrefs its thread, so a kept
 * engine never keeps the process alive.
 */
import type { MediaEngine } from '../media/media-engine.js';

/** How long the shared engine outlives its last connection (ms). */
export const SHARED_ENGINE_IDLE_MS = 30_000;

export interface TimerHandle {
  unref?(): unknown;
}

export interface SharedEngineOptions {
  create(): MediaEngine;
  /** Default SHARED_ENGINE_IDLE_MS; 0 closes the engine with its last connection. */
  idleMs?: number;
  /** False when an engine can no longer be used (closed, or its worker died). Default: always usable. */
  usable?(engine: MediaEngine): boolean;
  /** Timer functions (tests). */
  setTimer?: (fire: () => void, ms: number) => TimerHandle;
  clearTimer?: (handle: TimerHandle) => void;
}

export interface AcquiredEngine {
  engine: MediaEngine;
  /** True when an engine that was already running is handed out again. */
  reused: boolean;
}

export class SharedEngine {
  private current: { engine: MediaEngine; users: number; idle?: TimerHandle } | undefined;
  private readonly idleMs: number;
  private readonly setTimer: (fire: () => void, ms: number) => TimerHandle;
  private readonly clearTimer: (handle: TimerHandle) => void;

  constructor(private readonly options: SharedEngineOptions) {
    this.idleMs = Math.max(0, options.idleMs ?? SHARED_ENGINE_IDLE_MS);
    this.setTimer = options.setTimer ?? ((fire, ms) => setTimeout(fire, ms));
    this.clearTimer =
      options.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  }

  /** The engine if one is running (in use or idle). */
  get engine(): MediaEngine | undefined {
    return this.current?.engine;
  }

  acquire(): AcquiredEngine {
    const current = this.current;
    if (current !== undefined && (this.options.usable?.(current.engine) ?? true)) {
      if (current.idle !== undefined) this.clearTimer(current.idle);
      current.idle = undefined;
      current.users += 1;
      return { engine: current.engine, reused: true };
    }
    if (current !== undefined) this.drop(current.engine);
    const engine = this.options.create();
    this.current = { engine, users: 1 };
    return { engine, reused: false };
  }

  /** One connection is done with `engine`; the last one starts the idle timer. */
  release(engine: MediaEngine): void {
    const current = this.current;
    if (current?.engine !== engine || current.users === 0) return;
    current.users -= 1;
    if (current.users > 0) return;
    if (this.idleMs === 0) {
      this.drop(engine);
      return;
    }
    const idle = this.setTimer(() => {
      if (this.current === current && current.users === 0) this.drop(engine);
    }, this.idleMs);
    idle.unref?.();
    current.idle = idle;
  }

  /** Closes the engine now if no connection uses it (e.g. at shutdown); resolves when it is closed. */
  async closeIdle(): Promise<void> {
    const current = this.current;
    if (current === undefined || current.users > 0) return;
    if (current.idle !== undefined) this.clearTimer(current.idle);
    this.current = undefined;
    await current.engine.close();
  }

  private drop(engine: MediaEngine): void {
    const current = this.current;
    if (current?.engine === engine) {
      if (current.idle !== undefined) this.clearTimer(current.idle);
      this.current = undefined;
    }
    engine.close().catch(() => undefined);
  }
}
