/**
 * The media worker's own share of receiving, without sockets, so that two trees can be compared in
 * one process on a busy machine (process CPU time, not wall time): N streams of real Opus (20 ms frames, AES-GCM rtpsize, sealed
 * beforehand) are handed datagram by datagram to a UdpMediaChannel's socket 'message' listener (a
 * stand-in socket) and packed into an RtpBatchWriter as the worker host does, taken once per
 * 20 ms of audio. What it times is the per-datagram JS work: classification, header parse,
 * transport decryption, replay window, the hand-over to the batch and the batch's copy; not the
 * kernel's and libuv's receive (a bare dgram receive), nor the postMessage.
 *
 * Run: npx tsx bench/receive-worker.ts [N=100] [--rounds=6] [--frames=250] [--tree=DIR ...]
 *   (each tree's src/ is imported and the trees are alternated, round by round: the first is A)
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeToneFrames } from './tone.js';

type Mod = Record<string, unknown>;
type Ctor = new (...args: unknown[]) => Record<string, (...args: unknown[]) => unknown>;

interface Tree {
  dir: string;
  channel: Mod;
  batch: Mod;
}

const KEY = new Uint8Array(32).fill(7);
const AES_GCM = 'aead_aes256_gcm_rtpsize';

async function loadTree(dir: string): Promise<Tree> {
  const imp = (p: string): Promise<Mod> => import(pathToFileURL(path.join(dir, p)).href) as Promise<Mod>;
  return { dir, channel: await imp('src/media/udp-channel.ts'), batch: await imp('src/media/rtp-batch.ts') };
}

/** A socket stand-in: keeps the 'message' listener, swallows sends (keepalives). */
class FakeSocket extends EventEmitter {
  send(): void {}
  close(): void {}
  getSendQueueCount(): number {
    return 0;
  }
}

/** A clock that never ticks (the channel only receives here). */
const clock = {
  periodMs: 20,
  now: () => performance.now(),
  register: () => ({ firstCycle: 0, wake() {}, release() {}, sleepUntil() {} }),
};

/** One round: a fresh channel receives every datagram once. Returns ns per datagram. */
function round(tree: Tree, datagrams: readonly Buffer[], n: number): number {
  const Channel = tree.channel.UdpMediaChannel as Ctor;
  const Writer = tree.batch.RtpBatchWriter as Ctor;
  const socket = new FakeSocket();
  const channel = new Channel({ ssrc: 1, serverHost: '127.0.0.1', serverPort: 9 }, socket, clock, {});
  channel.setTransport!(AES_GCM, KEY);
  const writer = new Writer();
  let added = 0;
  if (typeof channel.receiveInto === 'function') channel.receiveInto(writer, 3, () => added++);
  else
    (channel as unknown as EventEmitter).on('rtp', (p: unknown) => {
      writer.add!(3, p);
      added++;
    });
  const onMessage = socket.listeners('message')[0] as (msg: Buffer) => void;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < datagrams.length; i++) {
    onMessage(datagrams[i]!);
    if ((i + 1) % n === 0) writer.take!();
  }
  const cpu = process.cpuUsage(cpu0);
  const ns = (cpu.user + cpu.system) * 1000;
  writer.take!();
  channel.close!();
  if (added !== datagrams.length)
    throw new Error(`${tree.dir}: ${added} of ${datagrams.length} packets arrived`);
  return ns / datagrams.length;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(argv.find((a) => !a.startsWith('--')) ?? 100);
  const rounds = Number(argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 6);
  const frameCount = Number(argv.find((a) => a.startsWith('--frames='))?.slice(9) ?? 250);
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const dirs = argv.filter((a) => a.startsWith('--tree=')).map((a) => path.resolve(a.slice(7)));
  const trees = await Promise.all((dirs.length > 0 ? dirs : [here]).map(loadTree));
  // Sealed with the first tree's code (the wire format is the same in every tree).
  const rtpPacket = (await import(
    pathToFileURL(path.join(trees[0]!.dir, 'src/media/rtp-packet.ts')).href
  )) as Mod;
  const cipherMod = (await import(
    pathToFileURL(path.join(trees[0]!.dir, 'src/media/transport-cipher.ts')).href
  )) as Mod;
  const seal = rtpPacket.sealRtpPacket as (f: object, p: Uint8Array, c: unknown, counter: number) => Buffer;
  const cipher = (cipherMod.createTransportCipher as (m: string, k: Uint8Array) => unknown)(AES_GCM, KEY);
  const opus = await encodeToneFrames(3, 440);
  const datagrams: Buffer[] = [];
  let counter = 1;
  for (let f = 0; f < frameCount; f++) {
    for (let s = 0; s < n; s++) {
      const fields = { sequence: f & 0xffff, timestamp: (f * 960) >>> 0, ssrc: 1000 + s };
      datagrams.push(seal(fields, opus[f % opus.length]!, cipher, counter++));
    }
  }
  const results = trees.map(() => [] as number[]);
  round(trees[0]!, datagrams, n); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let t = 0; t < trees.length; t++) results[t]!.push(round(trees[t]!, datagrams, n));
  }
  for (let t = 0; t < trees.length; t++) {
    const rs = results[t]!;
    console.log(
      `${String.fromCharCode(65 + t)} ${trees[t]!.dir} N=${n}: median ${median(rs).toFixed(0)} ns/datagram ` +
        `[${Math.min(...rs).toFixed(0)}-${Math.max(...rs).toFixed(0)}] (${rs.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
  if (trees.length === 2) {
    const ratios = results[1]!.map((b, r) => b / results[0]![r]!);
    console.log(
      `B/A per round: median ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}]`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
