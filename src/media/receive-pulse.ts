/**
 * The receive pulse: while packets come, a media worker hands its received RTP to the main thread
 * on one steady cadence, one message per RECEIVE_PULSE_MS (engine-worker.ts), and keeps that
 * cadence (empty messages) for a few periods after the last packet. The receive side's clock ticks
 * on these messages instead of on a timer of its own, so the main thread wakes once per 20 ms, not
 * once per batch and again per tick. Process-wide (per thread): every worker shard is a source;
 * listeners run their own timers only while no source keeps a cadence, which changes when packets
 * start or stop, never per batch (a cleared Node timer still wakes the thread at its old expiry).
 */

/** The cadence of a worker's received-RTP messages, ms (one jitter-buffer slot). */
export const RECEIVE_PULSE_MS = 20;

/** Empty cadence messages a worker sends after its last packet before it stops (concealment, then its own timer). */
export const RECEIVE_PULSE_IDLE_PERIODS = 3;

export interface ReceivePulseListener {
  /** A cadence message was handled (its packets already delivered). */
  pulse(): void;
  /** Some source keeps a cadence (`active`), or none does any more. */
  cadenceChanged(active: boolean): void;
}

const sources = new Set<object>();
const listeners = new Set<ReceivePulseListener>();

export function receivePulseActive(): boolean {
  return sources.size > 0;
}

export function onReceivePulse(listener: ReceivePulseListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function setSource(source: object, on: boolean): void {
  const was = sources.size > 0;
  if (on) sources.add(source);
  else sources.delete(source);
  const now = sources.size > 0;
  if (now !== was) for (const l of [...listeners]) l.cadenceChanged(now);
}

/**
 * A source's cadence message: `running` false on its last one (the cadence stopped). Every
 * listener is pulsed even if one throws (the first error is rethrown after), and the source's
 * state is updated either way.
 */
export function receivePulse(source: object, running: boolean): void {
  if (running) setSource(source, true);
  let failure: { error: unknown } | undefined;
  for (const l of [...listeners]) {
    try {
      l.pulse();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (!running) setSource(source, false);
  if (failure !== undefined) throw failure.error;
}

/** A source that went away (worker closed or died) keeps no cadence. */
export function endReceivePulse(source: object): void {
  setSource(source, false);
}
