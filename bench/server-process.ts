/**
 * The local voice server in its own process, so that its CPU does not count against the client
 * being measured. Driven over IPC by bench/run.ts (messages in bench/ipc.ts): it announces its
 * endpoint and CA, allocates credentials, and takes CPU/packet marks around the measured window.
 * Run only through `fork` (it needs an IPC channel).
 */
import { performance } from 'node:perf_hooks';
import { startVoiceServer } from '../src/server/index.js';
import type { VoiceServer } from '../src/server/index.js';
import { isRecord } from './ipc.js';
import type { ServerMark, ServerMessage, ServerRequest } from './ipc.js';

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
  };
}

function parseRequest(value: unknown): ServerRequest | undefined {
  if (!isRecord(value) || typeof value.id !== 'number') return undefined;
  if (value.type === 'allocate' && Array.isArray(value.requests)) return value as unknown as ServerRequest;
  if (value.type === 'mark' || value.type === 'stop') return value as unknown as ServerRequest;
  return undefined;
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/server-process.ts must be started with fork()');
  // argv[2]: JSON { dave: boolean } from bench/run.ts. Transport-only scenarios turn DAVE off.
  const config = JSON.parse(process.argv[2] ?? '{}') as { dave?: boolean };
  const server = await startVoiceServer({ tls: true, dave: config.dave === true });
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
        case 'stop':
          server
            .stop()
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
    void server.stop().finally(() => process.exit(0));
  });
  send({ type: 'ready', endpoint: server.endpoint, wsUrl: server.wsUrl, tlsCa: server.tlsCa });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
});
