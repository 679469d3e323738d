/**
 * Micro-benchmark of the media engine's receive path alone (no receiver, no Opus decode): N
 * channels each receive one transport-encrypted RTP packet per 20 ms from a sender in another
 * process. The main thread keeps the last 3 payloads of each channel (about what a jitter buffer
 * holds), so payloads that pin larger buffers show up in RSS and GC. Prints CPU µs per received
 * packet of this process (all threads: the worker's decryption and the hop to the main thread)
 * and RSS per channel.
 *
 * Run: npx tsx bench/engine-receive.ts [N=100] [--workers 1|2|auto] [--json]
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { createMediaEngine } from '../src/media/index.js';
import type { MediaChannel } from '../src/media/index.js';
import { EncryptionMode } from '../src/protocol/constants.js';
import { buildIpDiscoveryResponse, parseIpDiscoveryRequest } from '../src/media/ip-discovery.js';
import { sealRtpPacket } from '../src/media/rtp-packet.js';
import { createTransportCipher } from '../src/media/transport-cipher.js';

const WARMUP_MS = 2_000;
const WINDOW_MS = 4_000;
const KEY = new Uint8Array(32).fill(9);
/** A typical Opus voice frame size. */
const PAYLOAD = new Uint8Array(90).fill(0x5a);

/** The sender: answers IP discovery, then sends each discovered peer one packet per 20 ms. */
function runSender(): void {
  const socket = createSocket('udp4');
  const peers: { port: number; address: string; ssrc: number; seq: number }[] = [];
  const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
  let counter = 1;
  socket.on('message', (msg, rinfo) => {
    const req = parseIpDiscoveryRequest(msg);
    if (req === null) return;
    socket.send(buildIpDiscoveryResponse(req.ssrc, rinfo.address, rinfo.port), rinfo.port, rinfo.address);
    if (!peers.some((p) => p.port === rinfo.port))
      peers.push({ port: rinfo.port, address: rinfo.address, ssrc: 1000 + req.ssrc, seq: 0 });
  });
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', (m) => {
    if (m !== 'go') process.exit(0);
    setInterval(() => {
      for (const p of peers) {
        const seq = p.seq++;
        const packet = sealRtpPacket(
          { sequence: seq & 0xffff, timestamp: (seq * 960) >>> 0, ssrc: p.ssrc },
          PAYLOAD,
          cipher,
          counter++,
        );
        socket.send(packet, p.port, p.address);
      }
    }, 20);
  });
}

export interface EngineReceiveResult {
  n: number;
  workers: number | 'auto';
  usPerPacket: number;
  corePercent: number;
  packetsPerSecond: number;
  rssKiBPerChannel: number;
  heapKiBPerChannel: number;
  arrayBuffersKiBPerChannel: number;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const at = argv.indexOf('--workers');
  const workersArg = at === -1 ? 'auto' : argv[at + 1];
  const workers = workersArg === undefined || workersArg === 'auto' ? 'auto' : Number(workersArg);
  const n = Number(argv.find((a, i) => !a.startsWith('--') && i !== at + 1) ?? 100);
  const sender = fork(fileURLToPath(import.meta.url), ['sender'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sender.once('message', (m) => resolve(Number(m))));
  const mem0 = process.memoryUsage();
  const engine = createMediaEngine({ workers });
  const channels: MediaChannel[] = [];
  let received = 0;
  for (let i = 0; i < n; i++) {
    const ch = await engine.openChannel({ ssrc: i + 1, serverHost: '127.0.0.1', serverPort: port });
    await ch.discoverAddress();
    ch.setTransport(EncryptionMode.AesGcm, KEY);
    const held: Uint8Array[] = [];
    ch.on('rtp', (p) => {
      received++;
      held.push(p.payload);
      if (held.length > 3) held.shift();
    });
    channels.push(ch);
  }
  sender.send('go');
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(WARMUP_MS);
  const r0 = received;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const packets = received - r0;
  const mem = process.memoryUsage();
  const perChannel = (a: number, b: number): number => (a - b) / n / 1024;
  const result: EngineReceiveResult = {
    n,
    workers,
    usPerPacket: (cpu.user + cpu.system) / packets,
    corePercent: (cpu.user + cpu.system) / 10 / elapsed,
    packetsPerSecond: (packets * 1000) / elapsed,
    rssKiBPerChannel: perChannel(mem.rss, mem0.rss),
    heapKiBPerChannel: perChannel(mem.heapUsed, mem0.heapUsed),
    arrayBuffersKiBPerChannel: perChannel(mem.arrayBuffers, mem0.arrayBuffers),
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `receive N=${n} workers=${workers}: ${result.usPerPacket.toFixed(2)} µs/packet, ` +
        `${result.packetsPerSecond.toFixed(0)}/${50 * n} packets/s, ${result.corePercent.toFixed(0)}% of a core, ` +
        `RSS ${result.rssKiBPerChannel.toFixed(1)} KiB/channel (main heap ${result.heapKiBPerChannel.toFixed(1)}, ` +
        `ArrayBuffers ${result.arrayBuffersKiBPerChannel.toFixed(1)})`,
    );
  await engine.close();
  sender.send('stop');
}

if (process.argv[2] === 'sender') runSender();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
