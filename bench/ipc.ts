/**
 * Messages between the bench orchestrator (bench/run.ts) and its child processes: the local voice
 * server (bench/server-process.ts) and one client process per run (bench/client-process.ts).
 * Everything crosses `process.send`, so it must stay plain JSON.
 */
import type { ChildProcess } from 'node:child_process';
import type { AllocateRequest, Allocation } from '../src/server/index.js';
import type { LatenessData, LatenessSummary } from '../src/media/lateness-histogram.js';

export type Implementation = 'voxcord' | 'djs';
export type EngineKind = 'inline' | 'worker';

/**
 * What a run does (issue 7's scenarios):
 * - 'send': N connections, each alone in its call, play pre-encoded Opus (scenario 1);
 * - 'encode': the same with 48 kHz stereo PCM, so each connection runs an Opus encoder (scenario 2);
 * - 'stall': 'send' while the client's main thread busy-waits `stall.blockMs` every
 *   `stall.everyMs` (scenario 3);
 * - 'first-audio': N joins one after another, each into a call where one member already is, DAVE
 *   on; time from join to the first audio at the server and at that member (scenario 4);
 * - 'receive': one connection in a call with N deaf members that send Opus; the client decodes
 *   every stream to PCM (scenario 5).
 */
export type ScenarioKind = 'send' | 'encode' | 'stall' | 'first-audio' | 'receive';

export interface ScenarioSpec {
  kind: ScenarioKind;
  /** 'stall' only. */
  stall?: { everyMs: number; blockMs: number };
  /** Connections ('send', 'encode', 'stall'), joins ('first-audio') or incoming streams ('receive'). */
  n: number;
  /** DAVE E2EE on: the server runs its DAVE service and both libraries negotiate it. */
  dave: boolean;
  warmupMs: number;
  windowMs: number;
  /** voxcord only: where the media engine runs. */
  engine?: EngineKind;
}

// ---- server process ----

export type ServerRequest =
  | { type: 'allocate'; id: number; requests: AllocateRequest[] }
  | { type: 'mark'; id: number }
  /**
   * Connect voxcord sessions for `allocations` inside the server process: senders that loop a tone
   * (receive scenario, transport only) or idle DAVE members (so that each bot of a DAVE send run
   * has a group to encrypt for: a member alone in a call has no DAVE group, dave.md §6.11).
   */
  | { type: 'members'; id: number; allocations: Allocation[]; play: boolean; dave: boolean }
  /**
   * Connect one idle voxcord member per pair (DAVE on) and report when `watchUserId` first reaches
   * the server and first decrypts at that member ('first-audio' messages).
   */
  | { type: 'peers'; id: number; pairs: Array<{ peer: Allocation; watchUserId: string }> }
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
  /** Authenticated payloads that were DAVE frames. */
  daveFrames: number;
  /**
   * Datagrams the kernel dropped at the SFU's socket, its receive buffer full (Linux; since it
   * opened): sent by the client but never read by the server.
   */
  socketDrops?: number;
}

export type ServerMessage =
  | { type: 'ready'; endpoint: string; wsUrl: string; tlsCa: string | undefined }
  | { type: 'allocated'; id: number; allocations: Allocation[] }
  | { type: 'marked'; id: number; mark: ServerMark }
  | { type: 'members-ready'; id: number }
  | { type: 'peers-ready'; id: number }
  /** Epoch milliseconds (performance.timeOrigin + performance.now()), comparable across processes. */
  | { type: 'first-audio'; userId: string; atServer: number; atPeer: number | null }
  | { type: 'stopped'; id: number }
  | { type: 'error'; id?: number; message: string };

// ---- client process ----

export interface ClientRunRequest {
  type: 'run';
  implementation: Implementation;
  scenario: ScenarioSpec;
  /** One per connection ('send', 'encode', 'stall'), per join ('first-audio'), or the listener ('receive'). */
  allocations: Allocation[];
  /** 'receive': the users whose streams to decode. */
  receiveFrom?: string[];
  tlsCa: string;
}

export interface SendMeasurement {
  type: 'send';
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
  /** voxcord's worker engine only: media worker threads running at the end of the window. */
  workers?: number | null;
  /**
   * Linux: run-queue wait of the client's busy threads (5%+ of the window on a core), summed, ms
   * per second of window: how long they were ready to run but had no core (bench/thread-times.ts).
   */
  threadWaitMsPerSecond?: number | null;
}

/** Scenario 4, per join: filled in by the orchestrator from the server's 'first-audio' reports. */
export interface FirstAudioMeasurement {
  type: 'first-audio';
  /** Epoch ms at which each join was called, in order. */
  joinedAt: number[];
}

/** Scenario 5. */
export interface ReceiveMeasurement {
  type: 'receive';
  streams: number;
  windowMs: number;
  /** 20 ms PCM frames (per stream, 3840 bytes of 48 kHz stereo s16le) handed to the application. */
  pcmFrames: number;
  /** 50 per stream per second. */
  expectedFrames: number;
  /** Of pcmFrames, those synthesised for lost, late or undecodable packets (voxcord counts them). */
  concealedFrames: number | null;
  cpuUserUs: number;
  cpuSystemUs: number;
  cpuUsPerFrame: number;
  cpuCoreShare: number;
  rssPerStreamBytes: number;
  connectMs: number;
}

export type Measurement = SendMeasurement | FirstAudioMeasurement | ReceiveMeasurement;

export type ClientMessage =
  | { type: 'window'; phase: 'start' | 'end' }
  /** 'first-audio': the client is about to call join for `allocations[index]`. */
  | { type: 'joining'; index: number; at: number }
  | { type: 'result'; measurement: Measurement }
  | { type: 'error'; message: string };

export type ClientReply = { type: 'window-ack' };

export type { AllocateRequest, Allocation, LatenessData, LatenessSummary };

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
    // A child already gone (e.g. killed at a run's deadline) fails this request, not the process.
    child.send(message, (err) => {
      if (err === null) return;
      cleanup();
      reject(new Error(`${what}: ${err.message}`));
    });
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
