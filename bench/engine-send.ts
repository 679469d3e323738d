/**
 * Micro-benchmark of the media engine alone (no voice session, no transmit pump): N channels fed
 * synchronously on 'drain' with pre-encoded Opus, sending to a UDP sink in another process.
 * Prints CPU µs per packet (user and system) of this process, all threads, and RSS per channel.
 *
 * Run: npx tsx bench/engine-send.ts [inline|worker] [N] [auto|js|node|sodium] [dave]
 * With `dave`, every channel DAVE-encrypts each frame as it sends it (the engine's send-time
 * encryption, as in a DAVE call), so the cost of that encryption is in the figures.
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { createMediaEngine } from '../src/media/index.js';
import type { MediaChannel } from '../src/media/index.js';
import { EncryptionMode } from '../src/protocol/constants.js';
import { DaveSendKey } from '../src/dave/send-key.js';
import { encodeToneFrames } from './tone.js';

const WARMUP_MS = 2_000;
const WINDOW_MS = 4_000;

/** The sink: binds, reports its port, drains datagrams until told to stop. */
function runSink(): void {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', () => process.exit(0));
}

async function main(): Promise<void> {
  const kind = process.argv[2] === 'inline' ? 'inline' : 'worker';
  const n = Number(process.argv[3] ?? 100);
  const arg = process.argv[4];
  const backend = arg === 'js' || arg === 'node' || arg === 'sodium' ? arg : 'auto';
  const dave = process.argv[5] === 'dave';
  const sink = fork(fileURLToPath(import.meta.url), ['sink'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sink.once('message', (m) => resolve(Number(m))));
  const frames = await encodeToneFrames(3);
  const rss0 = process.memoryUsage().rss;
  const engine = createMediaEngine({ kind, channel: { transportBackend: backend } });
  const key = new Uint8Array(32).fill(7);
  const channels: MediaChannel[] = [];
  for (let i = 0; i < n; i++) {
    const ch = await engine.openChannel({ ssrc: i + 1, serverHost: '127.0.0.1', serverPort: port });
    ch.setTransport(EncryptionMode.AesGcm, key);
    if (dave)
      ch.setFrameProtection?.({ mode: 'encrypt', key: DaveSendKey.encrypt(new Uint8Array(16).fill(i)) });
    let k = i;
    const feed = (): void => {
      while (ch.enqueue(frames[k++ % frames.length]!)) {
        // fill to the high-water mark
      }
    };
    ch.on('drain', feed);
    feed();
    channels.push(ch);
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const sent = async (): Promise<{ packets: number; late: number }> => {
    const all = await Promise.all(channels.map((c) => c.stats()));
    return {
      packets: all.reduce((a, s) => a + s.packetsSent, 0),
      late: all.reduce((a, s) => a + s.latePackets, 0),
    };
  };
  await sleep(WARMUP_MS);
  const rssPerChannel = (process.memoryUsage().rss - rss0) / n / 1024;
  const s0 = await sent();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const s1 = await sent();
  const packets = s1.packets - s0.packets;
  const per = (us: number): string => (us / packets).toFixed(2);
  console.log(
    `${kind} N=${n} ${backend}${dave ? ' +DAVE' : ''}: ${per(cpu.user + cpu.system)} µs/packet (user ${per(cpu.user)}, ` +
      `system ${per(cpu.system)}), ${((packets * 1000) / elapsed).toFixed(0)}/${50 * n} packets/s, ` +
      `${((cpu.user + cpu.system) / 10 / elapsed).toFixed(0)}% of a core, ${s1.late - s0.late} late > 20 ms, ` +
      `RSS ${rssPerChannel.toFixed(1)} KiB/channel after warm-up`,
  );
  await engine.close();
  sink.send('stop');
}

if (process.argv[2] === 'sink') runSink();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
