/**
 * The local Discord voice server: a voice gateway (websocket, optionally TLS) and an SFU (UDP)
 * that behave like Discord's, for offline tests and demos. DAVE plugs in through `options.dave`
 * (see dave/hooks.ts). This file checks the options and wires the parts, each with one job:
 * voice-gateway.ts (websocket, one connection per socket), sfu.ts (UDP), server-state.ts
 * (credentials, sessions, calls), client-session.ts, call.ts; main-gateway.ts is its twin.
 */
import { randomInt } from 'node:crypto';
import {
  SERVER_MAX_ALLOCATIONS,
  SUPPORTED_MODES,
  VOICE_GATEWAY_MAX_BUFFERED_BYTES,
  VOICE_GATEWAY_RATE_LIMIT_MESSAGES,
  VOICE_GATEWAY_RATE_WINDOW_MS,
  VoiceCloseCode,
} from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkArg, checkCloseCode, checkOptions } from '../util/args.js';
import type { AllocateRequest, Allocation } from './client-session.js';
import { checkFaults } from './faults.js';
import type { FaultOptions } from './faults.js';
import { ServerState, defaultSsrcStart } from './server-state.js';
import { Sfu } from './sfu.js';
import { generateSelfSignedCertificate } from './tls.js';
import { VoiceGateway } from './voice-gateway.js';
import { createDaveServiceFactory } from './dave/adapter.js';
import type { DaveServiceFactory } from './dave/hooks.js';
import type { VoiceFlags } from './forwarding.js';
import type { CallInfo, DaveCallState, ParticipantInfo, SfuStats, VoiceServerOptions } from './types.js';

export interface VoiceServer {
  /** `ws://host:port` or `wss://host:port` (clients append `/?v=8`). */
  readonly wsUrl: string;
  /** What VOICE_SERVER_UPDATE carries: "host:port", no scheme. */
  readonly endpoint: string;
  readonly port: number;
  readonly udpPort: number;
  /** PEM of the self-signed certificate when TLS is on: pass it as the client's trusted CA. */
  readonly tlsCa: string | undefined;
  /** Issues credentials for a user joining guild/channel (what a main gateway hands a bot). */
  allocate(request: AllocateRequest): Allocation;
  /** Active calls (guild/channel with at least one session). */
  readonly calls: CallInfo[];
  /** Sessions in a guild (optionally one channel), joined or still handshaking. */
  participants(guildId: string, channelId?: string): ParticipantInfo[];
  /**
   * Closes that user's websocket with `code`. Non-resumable codes (4014 kick, 4022 call terminated,
   * 4006, 4009...) end the session (op 13 to others); resumable ones (4015 crash, 1006 = abrupt drop
   * via terminate(), other < 4000) keep it for Resume during the grace period. Returns false if the
   * user has no attached websocket.
   */
  closeClient(userId: string, guildId: string, code: number): boolean;
  /**
   * Deafen/mute state of a user (the main gateway calls it on every voice state): nothing is
   * forwarded to a self- or server-deafened user, nothing from a server-muted one.
   */
  setVoiceFlags(guildId: string, userId: string, flags: VoiceFlags): void;
  /** Ends a user's session as if it left the channel on the main gateway (closes its socket 4014). */
  disconnect(userId: string, guildId: string): boolean;
  setFaults(faults: FaultOptions): void;
  readonly sfuStats: SfuStats;
  /**
   * DAVE state of a call (epoch, version, members, last transition), or undefined when there is no
   * such call or its DAVE service reports nothing (DAVE off, custom factory without `state()`).
   */
  daveState(guildId: string, channelId: string): DaveCallState | undefined;
  stop(): Promise<void>;
}

export async function startVoiceServer(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  checkOptions(options);
  if (options.faults !== undefined) checkFaults(options.faults);
  const host = options.host ?? '127.0.0.1';
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 2 * heartbeatIntervalMs;
  const sessionGraceMs = options.sessionGraceMs ?? 30_000;
  const replayBufferSize = options.replayBufferSize ?? 256;
  const modes = options.modes ?? [...SUPPORTED_MODES];
  const seed = options.seed ?? randomInt(0, 2 ** 31);
  const log = options.log ?? ((): void => {});
  for (const [name, value] of [
    ['heartbeatIntervalMs', heartbeatIntervalMs],
    ['heartbeatTimeoutMs', heartbeatTimeoutMs],
    ['sessionGraceMs', sessionGraceMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0)
      throw new VoxcordError('INVALID_ARGUMENT', `${name} must be positive`);
  }
  const rateLimit = options.rateLimit ?? {
    messages: VOICE_GATEWAY_RATE_LIMIT_MESSAGES,
    windowMs: VOICE_GATEWAY_RATE_WINDOW_MS,
  };
  const maxBufferedBytes = options.maxBufferedBytes ?? VOICE_GATEWAY_MAX_BUFFERED_BYTES;
  const maxAllocations = options.maxAllocations ?? SERVER_MAX_ALLOCATIONS;
  for (const [name, value] of [
    ['rateLimit.messages', rateLimit.messages],
    ['rateLimit.windowMs', rateLimit.windowMs],
    ['maxBufferedBytes', maxBufferedBytes],
    ['maxAllocations', maxAllocations],
    ['udpReceiveBufferBytes', options.udpReceiveBufferBytes ?? 1],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0)
      throw new VoxcordError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  }
  if (!Number.isInteger(replayBufferSize) || replayBufferSize < 1 || replayBufferSize > 0x8000) {
    throw new VoxcordError('INVALID_ARGUMENT', 'replayBufferSize must be an integer in [1, 32768]');
  }
  const daveTransitionTimeoutMs = options.daveTransitionTimeoutMs;
  if (
    daveTransitionTimeoutMs !== undefined &&
    (!Number.isFinite(daveTransitionTimeoutMs) || daveTransitionTimeoutMs <= 0)
  ) {
    throw new VoxcordError('INVALID_ARGUMENT', 'daveTransitionTimeoutMs must be positive');
  }
  // DAVE is on unless turned off, like Discord's voice servers.
  const dave: DaveServiceFactory | undefined =
    options.dave === false
      ? undefined
      : typeof options.dave === 'function'
        ? options.dave
        : createDaveServiceFactory({
            log,
            ...(daveTransitionTimeoutMs !== undefined
              ? { transitionTimeoutMs: daveTransitionTimeoutMs }
              : {}),
          });
  const daveRequired = options.daveRequired ?? false;
  if (daveRequired && dave === undefined) {
    throw new VoxcordError('INVALID_ARGUMENT', 'daveRequired needs DAVE (dave must not be false)');
  }
  const tls = options.tls === true ? generateSelfSignedCertificate([host]) : options.tls ? options.tls : null;
  // Ready's `ip` must be something a client can send to.
  const advertisedHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  const state = new ServerState({
    endpoint: '', // set once the port is known
    sessionGraceMs,
    replayBufferSize,
    seed,
    ssrcStart: options.ssrcStart ?? defaultSsrcStart(seed),
    faults: options.faults ?? {},
    dave,
    maxAllocations,
    log,
  });

  let sfu: Sfu | null = null;
  let gateway: VoiceGateway | null = null;
  try {
    sfu = await Sfu.bind(host, options.udpPort ?? 0, state, {
      rtpExtension: options.rtpExtension ?? false,
      receiveBufferBytes: options.udpReceiveBufferBytes,
      log,
    });
    gateway = await VoiceGateway.listen(
      {
        host,
        port: options.port ?? 0,
        tls,
        heartbeatIntervalMs,
        heartbeatTimeoutMs,
        modes,
        udpHost: advertisedHost,
        udpPort: sfu.port,
        keyFor: options.keyFor,
        daveRequired,
        rateLimit,
        maxBufferedBytes,
        log,
      },
      state,
    );
  } catch (error) {
    await sfu?.close();
    throw new VoxcordError('SERVER_ERROR', 'could not start the voice server', { cause: error });
  }
  const udp = sfu;
  const ws = gateway;
  const hostForUrl = advertisedHost.includes(':') ? `[${advertisedHost}]` : advertisedHost;
  const endpoint = `${hostForUrl}:${ws.port}`;
  state.options.endpoint = endpoint;
  const wsUrl = `${tls ? 'wss' : 'ws'}://${endpoint}`;
  log({ type: 'listening', detail: `${wsUrl} udp ${udp.port}` });

  let stopped: Promise<void> | null = null;

  const info = (guildId: string, channelId?: string): ParticipantInfo[] =>
    state
      .sessions()
      .filter((s) => s.guildId === guildId && (channelId === undefined || s.channelId === channelId))
      .map((s) => ({
        userId: s.userId,
        guildId: s.guildId,
        channelId: s.channelId,
        ssrc: s.ssrc,
        mode: s.mode,
        maxDaveProtocolVersion: s.maxDaveProtocolVersion,
        connected: s.attached,
        joined: s.joined,
        speaking: s.speaking,
        udpAddress: s.udpAddress ? { ...s.udpAddress } : null,
        packetsReceived: s.stats.rtpReceived,
        packetsForwarded: s.stats.rtpForwarded,
        packetsDelivered: s.stats.rtpDelivered,
        packetsDropped: s.stats.rtpDropped,
        packetsReplayed: s.stats.rtpReplayed,
        daveFramesWithheld: s.stats.daveFramesWithheld,
      }));

  return {
    wsUrl,
    endpoint,
    port: ws.port,
    udpPort: udp.port,
    tlsCa: tls?.cert,
    allocate: (request) => state.allocate(request),
    get calls(): CallInfo[] {
      return [...state.calls.values()].map((call) => ({
        guildId: call.guildId,
        channelId: call.channelId,
        userIds: call.sessions().map((s) => s.userId),
      }));
    },
    participants: info,
    closeClient(userId, guildId, code) {
      checkCloseCode(code, 'code');
      const session = state.sessionOfUser(guildId, userId);
      const connection = session && state.connectionOf(session);
      if (!connection) return false;
      connection.closeWith(code, 'closed by test hook');
      return true;
    },
    setVoiceFlags(guildId, userId, flags) {
      checkArg(flags, 'flags', 'object');
      for (const key of ['selfDeaf', 'deaf', 'mute'] as const)
        checkArg(flags[key], `flags.${key}`, 'boolean');
      state.setVoiceFlags(guildId, userId, flags);
    },
    disconnect(userId, guildId) {
      const session = state.sessionOfUser(guildId, userId);
      if (!session) return false;
      state.endSession(session, 'disconnected', VoiceCloseCode.Disconnected);
      return true;
    },
    setFaults(faults) {
      checkFaults(faults);
      state.faults = faults;
    },
    get sfuStats(): SfuStats {
      return { ...udp.stats, dropped: { ...udp.stats.dropped } };
    },
    daveState(guildId, channelId) {
      return state.callFor(guildId, channelId)?.daveState();
    },
    stop() {
      stopped ??= (async () => {
        await ws.close();
        state.clear();
        await udp.close();
        log({ type: 'stopped' });
      })();
      return stopped;
    },
  };
}
