/**
 * The whole receive path of one connection, without a voice gateway: one media channel (worker
 * engine by default) receives N streams (SSRCs) of real Opus, 20 ms frames, from a sender in
 * another process that spreads its packets over each 20 ms; the main thread runs the session's
 * inbound stage and a VoiceReceiver with one PCM subscriber per user ('data' listener), fed and
 * ticked through attachReceiver (session-feed.ts) as a connection feeds and ticks it. Prints CPU
 * µs per decoded 20 ms frame of this process (all threads: UDP, transport decryption, the worker
 * hop, jitter buffer, Opus decode, streams), which is bench scenario 5 (`receive`) without the
 * server in the same run, so an A/B of two trees on a busy machine is less noisy.
 *
 * Run: npx tsx bench/receive-path.ts [N=100] [--inline] [--opus] [--json] [--seconds=4] [--spread=10]
 *   [--tick=20] (the receiver's tick interval, ms: what the main thread's timer wake-ups cost)
 * (--opus: Opus subscribers, no decoding: the path's own cost.)
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { loadOpus } from '../src/audio/opus.js';
import { createMediaEngine } from '../src/media/index.js';
import { buildIpDiscoveryResponse, parseIpDiscoveryRequest } from '../src/media/ip-discovery.js';
import { sealRtpPacket } from '../src/media/rtp-packet.js';
import { createTransportCipher } from '../src/media/transport-cipher.js';
import { EncryptionMode, SAMPLES_PER_FRAME } from '../src/protocol/constants.js';
import { VoiceReceiver } from '../src/receive/receiver.js';
import { RECEIVER_TICK_MS, attachReceiver } from '../src/receive/session-feed.js';
import { TypedEmitter } from '../src/util/typed-emitter.js';
import type { VoiceSessionEvents } from '../src/voice/session.js';
import { InboundStage } from '../src/voice/inbound.js';
import { threadSwitches } from './thread-times.js';
import { encodeToneFrames } from './tone.js';

const WARMUP_MS = 2_000;
const KEY = new Uint8Array(32).fill(7);
/**
 * The sender's sub-ticks per 20 ms: streams are spread over them, as an SFU forwards them
 * (--spread=N; 2 is what bench scenario 5's senders do: fill-first clock buckets of 50 streams,
 * each sent in one burst per 20 ms).
 */
const DEFAULT_SPREAD = 10;

async function runSender(streams: number, spread: number): Promise<void> {
  const SPREAD = spread;
  const frames = await encodeToneFrames(3, 440);
  const socket = createSocket('udp4');
  const cipher = createTransportCipher(EncryptionMode.AesGcm, KEY);
  let peer: { port: number; address: string } | undefined;
  let counter = 1;
  socket.on('message', (msg, rinfo) => {
    const req = parseIpDiscoveryRequest(msg);
    if (req === null) return;
    socket.send(buildIpDiscoveryResponse(req.ssrc, rinfo.address, rinfo.port), rinfo.port, rinfo.address);
    peer = { port: rinfo.port, address: rinfo.address };
  });
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', (m) => {
    if (m !== 'go') process.exit(0);
    const t0 = performance.now();
    let sent = 0; // sub-ticks done
    const tick = (): void => {
      const due = Math.floor((performance.now() - t0) / (20 / SPREAD));
      for (; sent <= due; sent++) {
        const frame = Math.floor(sent / SPREAD);
        const part = sent % SPREAD;
        for (let s = part; s < streams; s += SPREAD) {
          if (peer === undefined) continue;
          const packet = sealRtpPacket(
            { sequence: frame & 0xffff, timestamp: (frame * SAMPLES_PER_FRAME) >>> 0, ssrc: 1000 + s },
            frames[frame % frames.length]!,
            cipher,
            counter++,
          );
          socket.send(packet, peer.port, peer.address);
        }
      }
    };
    setInterval(tick, 20 / SPREAD);
  });
}

export interface ReceivePathResult {
  n: number;
  engine: 'worker' | 'inline';
  usPerFrame: number;
  /** CPU per packet that arrived (not inflated or deflated by concealed frames when packets are lost). */
  usPerPacket: number;
  corePercent: number;
  framesPerSecond: number;
  concealed: number;
  /** Packets that came after their slot was played (concealed, then dropped). */
  late: number;
  /** CPU per decoded frame of the main thread and of all other threads (Linux schedstat only). */
  mainUsPerFrame?: number;
  otherUsPerFrame?: number;
  /** Voluntary context switches (wake-ups) per second of the main thread and of all others. */
  mainWakeups?: number;
  otherWakeups?: number;
  /** The busiest other thread (the media worker with the worker engine): CPU per frame, wake-ups/s. */
  workerUsPerFrame?: number;
  workerWakeups?: number;
}

/**
 * Where the CPU went, per decoded frame: the main thread (inbound, receiver, decode) or the others
 * (media worker, libuv, V8's helpers); and how often each side woke (voluntary context switches).
 */
function threadSplit(
  before: ReturnType<typeof threadSwitches>,
  after: ReturnType<typeof threadSwitches>,
  frames: number,
  ms: number,
): Pick<
  ReceivePathResult,
  'mainUsPerFrame' | 'otherUsPerFrame' | 'mainWakeups' | 'otherWakeups' | 'workerUsPerFrame' | 'workerWakeups'
> {
  if (after.size === 0 || frames <= 0) return {};
  const ns = { main: 0, other: 0 };
  const wakeups = { main: 0, other: 0 };
  const busiest = { ns: -1, wakeups: 0 };
  for (const [tid, a] of after) {
    const side = tid === process.pid ? 'main' : 'other';
    const run = a.run - (before.get(tid)?.run ?? 0);
    const woke = a.voluntary - (before.get(tid)?.voluntary ?? 0);
    ns[side] += run;
    wakeups[side] += woke;
    if (side === 'other' && run > busiest.ns) Object.assign(busiest, { ns: run, wakeups: woke });
  }
  return {
    mainUsPerFrame: ns.main / 1000 / frames,
    otherUsPerFrame: ns.other / 1000 / frames,
    mainWakeups: (wakeups.main * 1000) / ms,
    otherWakeups: (wakeups.other * 1000) / ms,
    ...(busiest.ns < 0
      ? {}
      : { workerUsPerFrame: busiest.ns / 1000 / frames, workerWakeups: (busiest.wakeups * 1000) / ms }),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const inline = argv.includes('--inline');
  // --opus: Opus subscribers (no decoding), to see the path's own cost without the decoder's.
  const mode = argv.includes('--opus') ? 'opus' : 'pcm';
  const seconds = Number(argv.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 4);
  const n = Number(argv.find((a) => !a.startsWith('--')) ?? 100);
  const spread = Number(argv.find((a) => a.startsWith('--spread='))?.slice(9) ?? DEFAULT_SPREAD);
  const tickMs = Number(argv.find((a) => a.startsWith('--tick='))?.slice(7) ?? RECEIVER_TICK_MS);
  const sender = fork(fileURLToPath(import.meta.url), ['sender', String(n), String(spread)], {
    execArgv: ['--import', 'tsx'],
  });
  const port = await new Promise<number>((resolve) => sender.once('message', (m) => resolve(Number(m))));
  const opus = await loadOpus();
  const engine = createMediaEngine({ kind: inline ? 'inline' : 'worker', workers: 1 });
  const channel = await engine.openChannel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: port });
  await channel.discoverAddress();
  channel.setTransport(EncryptionMode.AesGcm, KEY);
  const receiver = new VoiceReceiver({ createDecoder: () => opus.createDecoder() });
  // What a VoiceSession emits, fed to the receiver by the connection's own wiring.
  const session = new TypedEmitter<VoiceSessionEvents>();
  const inbound = new InboundStage({
    frame: (f) => session.emit('audioFrame', f),
    failure: (f) => session.emit('daveDecryptFailure', f),
  });
  channel.on('rtp', (p) => inbound.receive(p));
  let frames = 0;
  for (let s = 0; s < n; s++) {
    inbound.map(1000 + s, `${1000 + s}`);
    receiver
      .subscribe(`${1000 + s}`, { mode })
      .on('data', (f: { pcm?: Int16Array; payload?: Uint8Array }) => {
        if (f.pcm !== undefined || f.payload !== undefined) frames++;
      });
  }
  attachReceiver(receiver, session, { tickIntervalMs: tickMs }); // as a connection ticks it
  sender.send('go');
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(WARMUP_MS);
  const concealed0 = concealedOf(receiver, n);
  const late0 = concealedOf(receiver, n, 'late');
  const f0 = frames;
  const received0 = (await channel.stats()).packetsReceived;
  const threads0 = threadSwitches();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const threads1 = threadSwitches();
  const elapsed = performance.now() - t0;
  const decoded = frames - f0;
  const packets = (await channel.stats()).packetsReceived - received0;
  const result: ReceivePathResult = {
    n,
    engine: inline ? 'inline' : 'worker',
    usPerFrame: (cpu.user + cpu.system) / decoded,
    usPerPacket: (cpu.user + cpu.system) / packets,
    corePercent: (cpu.user + cpu.system) / 10 / elapsed,
    framesPerSecond: (decoded * 1000) / elapsed,
    concealed: concealedOf(receiver, n) - concealed0,
    late: concealedOf(receiver, n, 'late') - late0,
    ...threadSplit(threads0, threads1, decoded, elapsed),
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `receive path N=${n} ${result.engine}: ${result.usPerFrame.toFixed(2)} µs/frame, ` +
        `${result.usPerPacket.toFixed(2)} µs/packet received, ` +
        `${result.framesPerSecond.toFixed(0)}/${50 * n} frames/s, ${result.corePercent.toFixed(0)}% of a core, ` +
        `${result.concealed} concealed (${result.late} late packets)` +
        (result.mainUsPerFrame === undefined
          ? ''
          : ` (main thread ${result.mainUsPerFrame.toFixed(2)}, other threads ${result.otherUsPerFrame!.toFixed(2)}` +
            ` (busiest ${result.workerUsPerFrame?.toFixed(2)}) µs/frame; wake-ups/s main ${result.mainWakeups?.toFixed(0)},` +
            ` others ${result.otherWakeups?.toFixed(0)} (busiest ${result.workerWakeups?.toFixed(0)}))`),
    );
  receiver.close();
  await engine.close();
  sender.send('stop');
}

function concealedOf(receiver: VoiceReceiver, n: number, field: 'concealed' | 'late' = 'concealed'): number {
  let sum = 0;
  for (let s = 0; s < n; s++) sum += receiver.stats(`${1000 + s}`)?.[field] ?? 0;
  return sum;
}

if (process.argv[2] === 'sender')
  void runSender(Number(process.argv[3] ?? 100), Number(process.argv[4] ?? DEFAULT_SPREAD));
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
