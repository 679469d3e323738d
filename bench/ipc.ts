/**
 * Messages between the bench orchestrator (bench/run.ts) and its child processes: the local voice
 * server (bench/server-process.ts) and one client process per run (bench/client-process.ts).
 * Everything crosses `process.send`, so it must stay plain JSON.
 */
import type { ChildProcess } from 'node:child_process';
import type { Allocation } from '../src/server/index.js';
import type { LatenessData, LatenessSummary } from '../src/media/lateness-histogram.js';

export type Implementation = 'voxcord' | 'djs';
export type EngineKind = 'inline' | 'worker';

/**
 * One measured run: which scenario, at what size. 'send': play pre-encoded Opus. 'stall': the same,
 * while the client's main thread busy-waits `stall.blockMs` every `stall.everyMs` (issue 7
 * scenario 3). Later scenarios (issue 7) add kinds here.
 */
export interface ScenarioSpec {
  kind: 'send' | 'stall';
  /** 'stall' only. */
  stall?: { everyMs: number; blockMs: number };
  /** Connections, each in its own call. */
  n: number;
  /** DAVE E2EE on (not wired yet: always false for now). */
  dave: boolean;
  warmupMs: number;
  windowMs: number;
  /** voxcord only: where the media engine runs. */
  engine?: EngineKind;
}

// ---- server process ----

export type ServerRequest =
  | { type: 'allocate'; id: number; requests: Array<{ guildId: string; channelId: string; userId: string }> }
  | { type: 'mark'; id: number }
  | { type: 'stop'; id: number };

export interface ServerMark {
  /** process.cpuUsage() of the server process, µs. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** performance.now() of the server process. */
  at: number;
  /** Authenticated RTP packets received from all participants. */
  packetsReceived: number;
  /** SFU drops by reason. */
  dropped: Record<string, number>;
}

export type ServerMessage =
  | { type: 'ready'; endpoint: string; wsUrl: string; tlsCa: string | undefined }
  | { type: 'allocated'; id: number; allocations: Allocation[] }
  | { type: 'marked'; id: number; mark: ServerMark }
  | { type: 'stopped'; id: number }
  | { type: 'error'; id?: number; message: string };

// ---- client process ----

export interface ClientRunRequest {
  type: 'run';
  implementation: Implementation;
  scenario: ScenarioSpec;
  allocations: Allocation[];
  tlsCa: string;
}

export interface SendMeasurement {
  connections: number;
  windowMs: number;
  packets: number;
  packetsPerSecond: number;
  targetPacketsPerSecond: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  cpuUsPerPacket: number;
  /** Share of one core used by the client process during the window. */
  cpuCoreShare: number;
  /** Lateness of every RTP send against the best-fitting 20 ms grid of its socket (same method for both libraries). */
  gridLateness: LatenessSummary | null;
  /** voxcord only: the media engine's own histogram (send time minus the clock's due time). */
  engineLateness: LatenessSummary | null;
  /** voxcord only: packets the engine counted more than one frame late. */
  latePackets: number | null;
  /**
   * Packets sent more than 20 ms late in the window: by the grid probe where it sees the sends,
   * by the engine's own histogram for the worker engine.
   */
  lateOver20ms: number | null;
  /** voxcord only: times a send queue ran dry mid-stream (a gap the clock cannot see as lateness). */
  underruns: number | null;
  /** Main-thread stalls during the window ('stall' scenario). */
  stalls: number;
  rssBaselineBytes: number;
  rssLoadedBytes: number;
  rssPerConnectionBytes: number;
  heapUsedPerConnectionBytes: number;
  connectMs: number;
}

export type ClientMessage =
  | { type: 'window'; phase: 'start' | 'end' }
  | { type: 'result'; measurement: SendMeasurement }
  | { type: 'error'; message: string };

export type ClientReply = { type: 'window-ack' };

export type { Allocation, LatenessData, LatenessSummary };

/** Sends `message` to a child and resolves with the first reply that `match` accepts. */
export function request<T>(
  child: ChildProcess,
  message: object,
  match: (reply: unknown) => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    /** `match` may throw to reject (an error reply). */
    const onMessage = (reply: unknown): void => {
      let value: T | undefined;
      try {
        value = match(reply);
      } catch (err) {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${what}: child exited (code ${String(code)}) before replying`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
