/**
 * The local voice server in its own process, so that its CPU does not count against the client
 * being measured. Driven over IPC by bench/run.ts (messages in bench/ipc.ts): it announces its
 * endpoint and CA, allocates credentials, takes CPU/packet marks around the measured window, and
 * hosts the other call members some scenarios need (the same for both libraries): senders for the
 * receive scenario, and the member already in the call for the first-audio scenario.
 * Run only through `fork` (it needs an IPC channel).
 */
import { performance } from 'node:perf_hooks';
import { createMediaEngine } from '../src/media/index.js';
import type { MediaEngine } from '../src/media/index.js';
import { startVoiceServer } from '../src/server/index.js';
import type { Allocation, ServerEvent, VoiceServer } from '../src/server/index.js';
import { entersState } from '../src/util/enters-state.js';
import { VoiceSession } from '../src/voice/session.js';
import { isRecord } from './ipc.js';
import type { ServerMark, ServerMessage, ServerRequest } from './ipc.js';
import { encodeToneFrames, loopFrames } from './tone.js';
import { udpSocketDrops } from './udp-socket-drops.js';

function send(message: ServerMessage): void {
  process.send?.(message);
}

function totalReceived(server: VoiceServer): number {
  let total = 0;
  for (const call of server.calls) {
    for (const p of server.participants(call.guildId, call.channelId)) total += p.packetsReceived;
  }
  return total;
}

function mark(server: VoiceServer): ServerMark {
  const cpu = process.cpuUsage();
  const stats = server.sfuStats;
  return {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    at: performance.now(),
    packetsReceived: totalReceived(server),
    dropped: stats.dropped,
    daveFrames: stats.daveFrames,
    socketDrops: udpSocketDrops(server.udpPort)?.drops,
  };
}

const CONNECT_TIMEOUT_MS = 60_000;

function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Call members hosted in this process, on their own media engine (worker: the SFU keeps its thread). */
class Members {
  private engine: MediaEngine | undefined;
  private readonly sessions: VoiceSession[] = [];
  /** first-audio: watched user id -> what was seen so far. */
  private readonly watched = new Map<string, { atServer?: number; atPeer?: number; reported: boolean }>();

  /** The server's CA, once it runs. */
  tlsCa: string | undefined;

  /** Server log hook: a watched user's first authenticated packet. */
  onServerEvent(event: ServerEvent): void {
    if (event.type !== 'first-media' || event.userId === undefined) return;
    const w = this.watched.get(event.userId);
    if (!w || w.atServer !== undefined) return;
    w.atServer = epochNow();
    this.report(event.userId);
  }

  private connect(a: Allocation, dave: boolean): Promise<VoiceSession> {
    this.engine ??= createMediaEngine({ kind: 'worker' });
    const session = new VoiceSession({
      ...a,
      maxDaveProtocolVersion: dave ? undefined : 0,
      engine: this.engine,
      tls: this.tlsCa ? { ca: this.tlsCa } : false,
      handshakeTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    this.sessions.push(session);
    session.connect();
    return entersState(session, 'ready', CONNECT_TIMEOUT_MS).then(() => session);
  }

  /** Members for `allocations`, 50 connecting at a time; with `play`, each loops a tone. */
  async members(
    allocations: readonly Allocation[],
    options: { play: boolean; dave: boolean },
  ): Promise<void> {
    const frames = options.play ? await encodeToneFrames(3) : [];
    for (let i = 0; i < allocations.length; i += 50) {
      const batch = await Promise.all(allocations.slice(i, i + 50).map((a) => this.connect(a, options.dave)));
      if (!options.play) continue;
      for (const session of batch) {
        session
          .playOpus(
            (async function* () {
              yield* loopFrames(frames);
            })(),
          )
          .finished.catch(() => undefined); // ends when the process stops
      }
    }
  }

  /** First-audio scenario: one idle member (DAVE on) per pair, watching the bot that will join. */
  async peers(pairs: ReadonlyArray<{ peer: Allocation; watchUserId: string }>): Promise<void> {
    for (const { peer, watchUserId } of pairs) {
      this.watched.set(watchUserId, { reported: false });
      const session = await this.connect(peer, true);
      session.on('audioFrame', (frame) => {
        const w = frame.userId === undefined ? undefined : this.watched.get(frame.userId);
        if (!w || w.atPeer !== undefined) return;
        w.atPeer = epochNow();
        this.report(watchUserId);
      });
    }
  }

  /** Reports once both are known, or with atPeer null when the member never decrypts within 10 s. */
  private report(userId: string): void {
    const w = this.watched.get(userId);
    if (!w || w.reported || w.atServer === undefined) return;
    const send1 = (atPeer: number | null): void => {
      if (w.reported || w.atServer === undefined) return;
      w.reported = true;
      send({ type: 'first-audio', userId, atServer: w.atServer, atPeer });
    };
    if (w.atPeer !== undefined) send1(w.atPeer);
    else setTimeout(() => send1(w.atPeer ?? null), 10_000).unref();
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    await this.engine?.close();
  }
}

function parseRequest(value: unknown): ServerRequest | undefined {
  if (!isRecord(value) || typeof value.id !== 'number') return undefined;
  if (value.type === 'allocate' && Array.isArray(value.requests)) return value as unknown as ServerRequest;
  if (value.type === 'mark' || value.type === 'stop') return value as unknown as ServerRequest;
  if (value.type === 'members' && Array.isArray(value.allocations)) return value as unknown as ServerRequest;
  if (value.type === 'peers' && Array.isArray(value.pairs)) return value as unknown as ServerRequest;
  return undefined;
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/server-process.ts must be started with fork()');
  // argv[2]: JSON { dave: boolean } from bench/run.ts. Transport-only scenarios turn DAVE off.
  const config = JSON.parse(process.argv[2] ?? '{}') as { dave?: boolean };
  const hosted = new Members();
  // VOXCORD_BENCH_SERVER_RCVBUF=bytes: the SFU socket's SO_RCVBUF; unset or 0: the OS's (Linux 208
  // KiB: 5 ms of P = 1000). The node scenario (bench/node.ts) sets 4 MiB: @discordjs/voice's one
  // IP discovery datagram, dropped at a full socket, is never resent.
  const receiveBuffer = Number(process.env.VOXCORD_BENCH_SERVER_RCVBUF ?? 0);
  const server = await startVoiceServer({
    tls: true,
    dave: config.dave === true,
    ...(receiveBuffer > 0 ? { udpReceiveBufferBytes: receiveBuffer } : {}),
    log: (event) => {
      // VOXCORD_BENCH_DEBUG=1 (diagnostics): the server's log events, timestamped, on stderr.
      if (process.env.VOXCORD_BENCH_DEBUG === '1')
        process.stderr.write(`[server ${new Date().toISOString()}] ${JSON.stringify(event)}\n`);
      hosted.onServerEvent(event);
    },
  });
  hosted.tlsCa = server.tlsCa;
  process.on('message', (raw: unknown) => {
    const req = parseRequest(raw);
    if (!req) return;
    try {
      switch (req.type) {
        case 'allocate':
          send({ type: 'allocated', id: req.id, allocations: req.requests.map((r) => server.allocate(r)) });
          return;
        case 'mark':
          send({ type: 'marked', id: req.id, mark: mark(server) });
          return;
        case 'members':
          hosted.members(req.allocations, { play: req.play, dave: req.dave }).then(
            () => send({ type: 'members-ready', id: req.id }),
            (err: unknown) => send({ type: 'error', id: req.id, message: String(err) }),
          );
          return;
        case 'peers':
          hosted.peers(req.pairs).then(
            () => send({ type: 'peers-ready', id: req.id }),
            (err: unknown) => send({ type: 'error', id: req.id, message: String(err) }),
          );
          return;
        case 'stop':
          hosted
            .close()
            .then(() => server.stop())
            .then(() => {
              send({ type: 'stopped', id: req.id });
              process.disconnect();
            })
            .catch((err: unknown) => send({ type: 'error', id: req.id, message: String(err) }));
          return;
      }
    } catch (err) {
      send({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) });
    }
  });
  // The orchestrator went away: do not linger.
  process.on('disconnect', () => {
    void hosted
      .close()
      .then(() => server.stop())
      .finally(() => process.exit(0));
  });
  send({ type: 'ready', endpoint: server.endpoint, wsUrl: server.wsUrl, tlsCa: server.tlsCa });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
});
