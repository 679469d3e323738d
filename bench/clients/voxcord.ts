/** voxcord under bench (the library as loaded by ./voxcord-lib.ts). */
import type { Worker } from 'node:worker_threads';
import type { MediaChannel, MediaEngine } from '../../src/media/index.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import type { VoiceSession } from '../../src/voice/session.js';
import type { Allocation } from '../../src/server/index.js';
import { createTestAdapter } from '../../test/interop/djs-adapter.js';
import type { EngineKind } from '../ipc.js';
import { loopFrames } from '../tone.js';
import { inBatches } from './types.js';
import type { BenchClient, EngineCounters, FirstAudioClient, ReceiveClient } from './types.js';
import type { Voxcord } from './voxcord-lib.js';

const CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_CONCURRENCY = 50;

/** The engine, with every channel it opens remembered (VoiceSession keeps its channel private). */
export function watchedEngine(engine: MediaEngine, channels: MediaChannel[]): MediaEngine {
  return {
    kind: engine.kind,
    async openChannel(options) {
      const channel = await engine.openChannel(options);
      channels.push(channel);
      return channel;
    },
    close: () => engine.close(),
  };
}

/** An endless async source over `frames` (what a bot's own audio source looks like to the library). */
async function* endless(frames: readonly Buffer[]): AsyncGenerator<Buffer> {
  yield* loopFrames(frames);
}

/** Scenarios 1-3: one VoiceSession per allocation, all on one media engine. */
export function createVoxcordClient(
  lib: Voxcord,
  options: { engine: EngineKind; dave: boolean },
): BenchClient {
  // VOXCORD_BENCH_TRANSPORT=node|js|sodium forces a transport cipher backend (A/B experiments).
  const forced = process.env.VOXCORD_BENCH_TRANSPORT;
  const transportBackend = forced === 'node' || forced === 'js' || forced === 'sodium' ? forced : undefined;
  const inner = lib.createMediaEngine({
    kind: options.engine,
    ...(transportBackend ? { channel: { transportBackend } } : {}),
  });
  const channels: MediaChannel[] = [];
  const engine = watchedEngine(inner, channels);
  const sessions: VoiceSession[] = [];
  const errors: string[] = [];
  let closing = false;

  const start = (play: (session: VoiceSession) => { finished: Promise<void> }): void => {
    for (const session of sessions) {
      play(session).finished.catch((err: unknown) => {
        if (!closing) errors.push(`playback: ${String(err)}`);
      });
    }
  };

  return {
    errors,
    async connect(allocations: readonly Allocation[], tlsCa: string) {
      await inBatches(allocations, CONNECT_CONCURRENCY, async (a) => {
        const session = new lib.VoiceSession({
          endpoint: a.endpoint,
          serverId: a.serverId,
          userId: a.userId,
          sessionId: a.sessionId,
          token: a.token,
          channelId: a.channelId,
          // Transport-only runs must not offer DAVE (both libraries identify with version 0).
          maxDaveProtocolVersion: options.dave ? undefined : 0,
          engine,
          tls: { ca: tlsCa },
          handshakeTimeoutMs: CONNECT_TIMEOUT_MS,
        });
        session.on('error', (error) => errors.push(`${error.code}: ${error.message}`));
        // VOXCORD_BENCH_DEBUG=1 (diagnostics): the session's debug events, timestamped, on stderr.
        if (process.env.VOXCORD_BENCH_DEBUG === '1')
          session.on('debug', (message, details) =>
            process.stderr.write(
              `[voxcord ${new Date().toISOString()} ${a.userId}] ${message}${details === undefined ? '' : ` ${JSON.stringify(details)}`}\n`,
            ),
          );
        sessions.push(session);
        session.connect();
        await lib.entersState(session, 'ready', CONNECT_TIMEOUT_MS);
      });
    },
    play(frames) {
      start((session) => session.playOpus(endless(frames)));
    },
    playPcm(frames) {
      start((session) => session.playPcm(endless(frames)));
    },
    async engineCounters(): Promise<EngineCounters> {
      if (process.env.VOXCORD_BENCH_DEBUG === '1')
        for (const s of sessions)
          process.stderr.write(
            `[voxcord ${new Date().toISOString()}] dave ${JSON.stringify({ v: s.dave.protocolVersion, epoch: String(s.dave.epoch), stats: s.dave.stats, send: s.sendStats })}\n`,
          );
      const all = await Promise.all(channels.map((c) => c.stats()));
      const engineStats = await inner.stats?.();
      return {
        ...(inner.kind === 'worker' && engineStats ? { workers: engineStats.workers } : {}),
        packetsSent: all.reduce((sum, s) => sum + s.packetsSent, 0),
        latePackets: all.reduce((sum, s) => sum + s.latePackets, 0),
        underruns: all.reduce((sum, s) => sum + (s.underruns ?? 0), 0),
        lateness: all.flatMap((s) => (s.sendLateness ? [s.sendLateness] : [])),
      };
    },
    workers() {
      return 'workers' in inner && typeof inner.workers === 'function'
        ? (inner.workers as () => readonly Worker[])()
        : [];
    },
    async close() {
      closing = true;
      for (const session of sessions) session.destroy();
      await inner.close();
    },
  };
}

/** The public join API with its defaults (shared worker engine, DAVE on), as a bot would use it. */
function join(lib: Voxcord, a: Allocation, tlsCa: string, errors: string[]): VoiceConnection {
  const connection = lib.joinVoiceChannel({
    guildId: a.guildId,
    channelId: a.channelId,
    adapterCreator: createTestAdapter(a).adapterCreator,
    selfDeaf: false,
    tls: { ca: tlsCa },
  });
  connection.on('error', (error) => errors.push(`connection: ${error.message}`));
  return connection;
}

/** Scenario 4. */
export function createVoxcordFirstAudioClient(lib: Voxcord): FirstAudioClient {
  const errors: string[] = [];
  let current: VoiceConnection | undefined;
  return {
    errors,
    joinAndPlay(allocation, tlsCa, frames) {
      current = join(lib, allocation, tlsCa, errors);
      current.playOpus(endless(frames));
    },
    async leave() {
      current?.destroy();
      current = undefined;
    },
    async close() {
      current?.destroy();
    },
  };
}

/** Scenario 5: connection.receiver, one PCM subscription per user. */
export function createVoxcordReceiveClient(lib: Voxcord): ReceiveClient {
  const errors: string[] = [];
  let connection: VoiceConnection | undefined;
  let userIds: readonly string[] | undefined;
  let bytes = 0;
  return {
    errors,
    async connect(allocation, tlsCa, users) {
      userIds = users;
      connection = join(lib, allocation, tlsCa, errors);
      await lib.entersState(connection, 'ready', CONNECT_TIMEOUT_MS);
      for (const userId of users) {
        const stream = connection.receiver.subscribe(userId, { mode: 'pcm' });
        stream.on('data', (frame: { pcm?: Int16Array }) => (bytes += frame.pcm?.byteLength ?? 0));
        stream.on('error', (error: Error) => errors.push(`stream: ${error.message}`));
      }
    },
    pcmBytes: () => bytes,
    concealedFrames() {
      const receiver = connection?.receiver;
      return (userIds ?? []).reduce((sum, id) => sum + (receiver?.stats(id)?.concealed ?? 0), 0);
    },
    async close() {
      connection?.destroy();
    },
  };
}
