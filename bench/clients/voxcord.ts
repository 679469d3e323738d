/** voxcord under bench: one VoiceSession per allocation, all on one media engine. */
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaChannel, MediaEngine } from '../../src/media/index.js';
import { VoiceSession, entersState } from '../../src/voice/session.js';
import type { Allocation } from '../../src/server/index.js';
import type { EngineKind } from '../ipc.js';
import { loopFrames } from '../tone.js';
import { inBatches } from './types.js';
import type { BenchClient, EngineCounters } from './types.js';

const CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_CONCURRENCY = 50;

/** The engine, with every channel it opens remembered (VoiceSession keeps its channel private). */
function watchedEngine(engine: MediaEngine, channels: MediaChannel[]): MediaEngine {
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

export function createVoxcordClient(options: { engine: EngineKind; dave: boolean }): BenchClient {
  // VOXCORD_BENCH_TRANSPORT=node|js|sodium forces a transport cipher backend (A/B experiments).
  const forced = process.env.VOXCORD_BENCH_TRANSPORT;
  const transportBackend = forced === 'node' || forced === 'js' || forced === 'sodium' ? forced : undefined;
  const inner = createMediaEngine({
    kind: options.engine,
    ...(transportBackend ? { channel: { transportBackend } } : {}),
  });
  const channels: MediaChannel[] = [];
  const engine = watchedEngine(inner, channels);
  const sessions: VoiceSession[] = [];
  const errors: string[] = [];
  let closing = false;

  return {
    errors,
    async connect(allocations: readonly Allocation[], tlsCa: string) {
      await inBatches(allocations, CONNECT_CONCURRENCY, async (a) => {
        const session = new VoiceSession({
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
        sessions.push(session);
        session.connect();
        await entersState(session, 'ready', CONNECT_TIMEOUT_MS);
      });
    },
    play(frames) {
      for (const session of sessions) {
        const transmission = session.playOpus(
          (async function* () {
            yield* loopFrames(frames);
          })(),
        );
        transmission.finished.catch((err: unknown) => {
          if (!closing) errors.push(`playback: ${String(err)}`);
        });
      }
    },
    async engineCounters(): Promise<EngineCounters> {
      const all = await Promise.all(channels.map((c) => c.stats()));
      return {
        packetsSent: all.reduce((sum, s) => sum + s.packetsSent, 0),
        latePackets: all.reduce((sum, s) => sum + s.latePackets, 0),
        underruns: all.reduce((sum, s) => sum + (s.underruns ?? 0), 0),
        lateness: all.flatMap((s) => (s.sendLateness ? [s.sendLateness] : [])),
      };
    },
    async close() {
      closing = true;
      for (const session of sessions) session.destroy();
      await inner.close();
    },
  };
}
