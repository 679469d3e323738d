/**
 * RSS of N idle TLS client sockets in one Node process, per socket: what every player of a node
 * (voxcord or the djs node alike) pays for its voice WebSocket's TLS before any audio. The server
 * runs in a child process, so only the client side is counted. Each socket handshakes, then writes
 * 100 bytes and reads their echo (a heartbeat's worth of traffic); `--no-write` leaves it at the
 * handshake, `--tls12` caps the version at TLS 1.2, `--shared` gives every socket one SecureContext
 * (as voxcord's voice socket does, src/voice/tls-context.ts) instead of one each.
 *
 *   node --expose-gc --import tsx bench/tls-socket-memory.ts [N=500] [--no-write] [--tls12] [--shared]
 */
import tls from 'node:tls';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateSelfSignedCertificate } from '../src/server/tls.js';
import type { TlsCertificate } from '../src/server/tls.js';

const args = process.argv.slice(2);
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 500);

function serve(cert: TlsCertificate): void {
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (socket) => {
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as { port: number }).port));
}

const collect = (): void => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(): Promise<void> {
  const cert = generateSelfSignedCertificate(['127.0.0.1']);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    env: { ...process.env, TLS_BENCH_CERT: JSON.stringify(cert) },
    execArgv: ['--import', 'tsx'],
  });
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
    const shared = args.includes('--shared') ? tls.createSecureContext({ ca: cert.cert }) : undefined;
    collect();
    const before = process.memoryUsage().rss;
    const sockets: tls.TLSSocket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ...(shared === undefined ? { ca: cert.cert } : { secureContext: shared }),
        checkServerIdentity: () => undefined,
        ...(args.includes('--tls12') ? { maxVersion: 'TLSv1.2' as const } : {}),
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      socket.on('data', () => undefined);
      sockets.push(socket);
    }
    if (!args.includes('--no-write')) for (const s of sockets) s.write('x'.repeat(100));
    await sleep(1000);
    collect();
    await sleep(500);
    const perSocket = (process.memoryUsage().rss - before) / 1024 / count;
    console.log(
      `${count} idle TLS client sockets (${args.includes('--no-write') ? 'handshake only' : 'one 100-byte echo each'}` +
        `${args.includes('--tls12') ? ', TLS 1.2' : ''}${shared === undefined ? '' : ', one shared context'}): RSS ${perSocket.toFixed(1)} KiB per socket` +
        `${(globalThis as { gc?: unknown }).gc === undefined ? ' (no --expose-gc: garbage included)' : ''}`,
    );
    for (const s of sockets) s.destroy();
  } finally {
    child.kill();
  }
}

if (args.includes('--serve')) serve(JSON.parse(process.env['TLS_BENCH_CERT'] ?? '{}') as TlsCertificate);
else await measure();
