/**
 * Micro-benchmark of the per-packet send work of media channels, on one thread, without the
 * pacing clock's timers: N channels (DAVE on with `dave`) are ticked back to back as fast as they
 * go, each tick taking a queued Opus frame, encrypting it, building the RTP packet and sending it
 * to a UDP sink in another process. Prints CPU µs per packet (user, system) and the garbage
 * collections per 100k packets, so that two builds can be compared in alternating runs with less
 * noise than a paced run on a busy machine.
 *
 * Run: npx tsx bench/send-path.ts [N] [dave] [--packets P] [--xchacha] [--json]
 * `--alloc`: also samples what the measured run allocates (inspector heap sampling, collected
 * objects included) and prints the top allocation sites in bytes per packet.
 * `--xchacha`: the XChaCha20-Poly1305 transport mode (sodium-native when loaded) instead of AES-256-GCM.
 * `dgram`: instead, socket.send of a 200-byte datagram on a connected socket in each argument form
 * (buffer, buffer with offset and length, list, with a callback), and the same through the socket's
 * native handle (dgram's JavaScript layer is the difference); 5 alternating rounds, medians.
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ClockSlot, ClockTick, PacingClock } from '../src/media/clock.js';
import { openUdpChannel } from '../src/media/udp-channel.js';
import type { UdpMediaChannel } from '../src/media/udp-channel.js';
import { EncryptionMode } from '../src/protocol/constants.js';
import { DaveSendKey } from '../src/dave/send-key.js';
import { startAllocationSampling } from './alloc-sampling.js';
import { encodeToneFrames } from './tone.js';

function runSink(): void {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  socket.bind(0, '127.0.0.1', () => process.send?.(socket.address().port));
  process.on('message', () => process.exit(0));
}

/** A clock that ticks only when told to (the bench drives it). */
class ManualClock {
  readonly periodMs = 20;
  readonly listeners: ((tick: ClockTick) => void)[] = [];
  now(): number {
    return performance.now();
  }
  register(listener: (tick: ClockTick) => void): ClockSlot {
    this.listeners.push(listener);
    const none = (): void => undefined; // the ticks come whether the channel sleeps or not
    return { phaseMs: 0, firstCycle: 0, release: none, sleepUntil: none, wake: none };
  }
}

interface GcCounts {
  minor: number;
  major: number;
  ms: number;
}

function watchGc(): { counts: GcCounts; stop(): void } {
  const counts: GcCounts = { minor: 0, major: 0, ms: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
      counts.ms += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { counts, stop: () => observer.disconnect() };
}

async function sinkPort(): Promise<{ port: number; stop(): void }> {
  const sink = fork(fileURLToPath(import.meta.url), ['sink'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sink.once('message', (m) => resolve(Number(m))));
  return { port, stop: () => sink.send('stop') };
}

async function channels(
  n: number,
  dave: boolean,
  packets: number,
  json: boolean,
  mode: EncryptionMode,
  alloc: boolean,
): Promise<void> {
  const sink = await sinkPort();
  const frames = await encodeToneFrames(3);
  const clock = new ManualClock();
  const key = new Uint8Array(32).fill(7);
  const open: UdpMediaChannel[] = [];
  for (let i = 0; i < n; i++) {
    const ch = await openUdpChannel(
      { ssrc: i + 1, serverHost: '127.0.0.1', serverPort: sink.port },
      clock as unknown as PacingClock,
    );
    ch.setTransport(mode, key);
    if (dave)
      ch.setFrameProtection({ mode: 'encrypt', key: DaveSendKey.encrypt(new Uint8Array(16).fill(i)) });
    let k = i;
    const feed = (): void => {
      while (ch.enqueue(frames[k++ % frames.length]!)) {
        // to the high-water mark
      }
    };
    ch.on('drain', feed);
    feed();
    open.push(ch);
  }
  let cycle = 0;
  const tick: ClockTick = { cycle: 0, due: 0, now: 0 } as ClockTick;
  const run = async (count: number): Promise<number> => {
    let sent = 0;
    while (sent < count) {
      tick.cycle = ++cycle;
      tick.due = tick.now = performance.now();
      for (const listener of clock.listeners) listener(tick);
      sent += clock.listeners.length;
      // Let the sink and the drain events breathe every cycle (as the real clock does).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return sent;
  };
  await run(Math.min(packets, 20_000));
  const gc = watchGc();
  const sampler = alloc ? await startAllocationSampling() : null;
  const cpu0 = process.cpuUsage();
  const sent = await run(packets);
  const cpu = process.cpuUsage(cpu0);
  if (sampler) await sampler.stop(sent);
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc.stop();
  const result = {
    n,
    mode,
    dave,
    packets: sent,
    usPerPacket: (cpu.user + cpu.system) / sent,
    userUs: cpu.user / sent,
    systemUs: cpu.system / sent,
    minorGcPer100k: (gc.counts.minor * 100_000) / sent,
    majorGcPer100k: (gc.counts.major * 100_000) / sent,
    gcUsPerPacket: (gc.counts.ms * 1000) / sent,
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `send path N=${n} ${mode}${dave ? ' +DAVE' : ''}: ${result.usPerPacket.toFixed(2)} µs/packet ` +
        `(user ${result.userUs.toFixed(2)}, system ${result.systemUs.toFixed(2)}), GC per 100k packets: ` +
        `${result.minorGcPer100k.toFixed(1)} minor, ${result.majorGcPer100k.toFixed(2)} major, ` +
        `${result.gcUsPerPacket.toFixed(2)} µs/packet in GC`,
    );
  for (const ch of open) ch.close();
  sink.stop();
}

interface UdpHandle {
  send(req: object, list: Uint8Array[], count: number, hasCallback: boolean): number;
}

/** dgram's JavaScript layer per send: socket.send against the handle's send (measurement only). */
async function dgramShare(packets: number): Promise<void> {
  const sink = await sinkPort();
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.connect(sink.port, '127.0.0.1', resolve));
  const datagram = Buffer.alloc(200, 1);
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const handle = state && (socket as unknown as Record<symbol, { handle?: UdpHandle }>)[state]?.handle;
  const { SendWrap } = (
    process as unknown as { binding(name: string): { SendWrap: new () => object } }
  ).binding('udp_wrap');
  const measure = async (send: () => void): Promise<number> => {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < packets; i += 1000) {
      for (let j = 0; j < 1000; j++) send();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / packets;
  };
  const viaSocket = (): void => socket.send(datagram);
  const viaHandle = (): void => void handle!.send(new SendWrap(), [datagram], 1, false);
  // The argument forms a media send could use (voxcord's is send(view), no callback: a view per
  // datagram length is made once, udp-channel.ts datagramViews).
  const list = [datagram];
  const done = (): void => undefined;
  const forms: [string, () => void][] = [
    ['send(buf)', viaSocket],
    ['send(buf, 0, len)', () => socket.send(datagram, 0, datagram.length)],
    ['send([buf])', () => socket.send(list)],
    ['send(buf, callback)', () => socket.send(datagram, done)],
    ['handle.send', handle ? viaHandle : () => undefined],
  ];
  const times = new Map<string, number[]>(forms.map(([name]) => [name, []]));
  for (let r = 0; r < 5; r++)
    for (const [name, send] of r % 2 === 0 ? forms : [...forms].reverse())
      times.get(name)!.push(await measure(send));
  for (const [name, us] of times) {
    const sorted = [...us].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(20)} median ${sorted[2]!.toFixed(2)} µs (${sorted.map((u) => u.toFixed(2)).join(', ')})`,
    );
  }
  socket.close();
  sink.stop();
}

function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const at = argv.indexOf('--packets');
  const packets = at >= 0 ? Number(argv[at + 1]) : 200_000;
  const positional = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--packets');
  if (positional[0] === 'dgram') return dgramShare(packets);
  const mode = argv.includes('--xchacha') ? EncryptionMode.XChaCha : EncryptionMode.AesGcm;
  return channels(
    Number(positional[0] ?? 1000),
    positional[1] === 'dave',
    packets,
    json,
    mode,
    argv.includes('--alloc'),
  );
}

if (process.argv[2] === 'sink') runSink();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
