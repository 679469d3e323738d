/**
 * The main thread's share of the receive path alone, on a simulated clock, so that two trees can
 * be compared in one process on a busy machine: N streams of real Opus (20 ms frames) arrive as
 * the worker engine hands them over (packed batches, read by readRtpBatch), go through a media
 * channel's 'rtp' event, the session's inbound stage and 'audioFrame' event, a VoiceReceiver's
 * jitter buffer and, every 20 ms, its tick: Opus decode (PCM mode) and one subscriber per user
 * ('data' listener). No sockets, no worker, no timers: it prints the process's CPU per decoded
 * frame (process.cpuUsage: the main thread and V8's GC helpers; the batches are packed in the same
 * thread, about 0.4 µs of it), and with --decode-only the decoder alone in a loop (libopus plus
 * the copy of its PCM into a fresh ArrayBuffer that @evan/opus makes per frame). --opus: Opus
 * subscribers, no decoding (the path's own cost).
 *
 * Run: npx tsx bench/receive-main.ts [N=100] [--opus] [--rounds=6] [--seconds=4] [--spread=10]
 *   [--tree=DIR ...] (each tree's src/ is imported and the trees are alternated, round by round:
 *   the first tree is A; medians and per-round figures are printed)
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeToneFrames } from './tone.js';

type Mod = Record<string, unknown>;

interface Tree {
  dir: string;
  rtpBatch: Mod;
  inbound: Mod;
  receiver: Mod;
  opus: Mod;
}

interface Packet {
  ssrc: number;
  sequence: number;
  timestamp: number;
  payload: Uint8Array;
  receivedAt: number;
}

async function loadTree(dir: string): Promise<Tree> {
  const imp = (p: string): Promise<Mod> => import(pathToFileURL(path.join(dir, p)).href) as Promise<Mod>;
  return {
    dir,
    rtpBatch: await imp('src/media/rtp-batch.ts'),
    inbound: await imp('src/voice/inbound.ts'),
    receiver: await imp('src/receive/receiver.ts'),
    opus: await imp('src/audio/opus.ts'),
  };
}

interface Options {
  n: number;
  mode: 'pcm' | 'opus';
  seconds: number;
  spread: number;
}

/** One round: a fresh receiver for `seconds` of simulated audio. Returns µs per delivered frame. */
async function round(tree: Tree, frames: readonly Uint8Array[], o: Options): Promise<number> {
  type Ctor = new (...args: unknown[]) => Record<string, (...args: unknown[]) => unknown>;
  const opusFactory = await (tree.opus.loadOpus as () => Promise<{ createDecoder(): unknown }>)();
  const Writer = tree.rtpBatch.RtpBatchWriter as Ctor;
  const readRtpBatch = tree.rtpBatch.readRtpBatch as (
    b: unknown,
    off: number,
    visit: (ch: number, p: Packet) => void,
  ) => void;
  const Receiver = tree.receiver.VoiceReceiver as Ctor;
  const Inbound = tree.inbound.InboundStage as Ctor;
  let clock = 0;
  const receiver = new Receiver({ createDecoder: () => opusFactory.createDecoder(), now: () => clock });
  // The session: its inbound stage's frames become 'audioFrame' events, which the feed hands to the door.
  const session = new EventEmitter();
  const inbound = new Inbound({
    frame: (f: unknown) => session.emit('audioFrame', f),
    failure: (f: unknown) => session.emit('daveDecryptFailure', f),
  });
  session.on('audioFrame', receiver.receive!.bind(receiver));
  const channel = new EventEmitter();
  channel.on('rtp', (p: Packet) => {
    if (session.listenerCount('rtp') > 0) session.emit('rtp', p);
    inbound.receive!(p);
  });
  const channels = new Map([[0, channel]]);
  const onRtp = (id: number, p: Packet): void => void channels.get(id)?.emit('rtp', p);
  let delivered = 0;
  for (let s = 0; s < o.n; s++) {
    inbound.map!(1000 + s, `${1000 + s}`);
    (receiver.subscribe!(`${1000 + s}`, { mode: o.mode }) as EventEmitter).on(
      'data',
      (f: { pcm?: Int16Array; payload?: Uint8Array }) => {
        if (f.pcm !== undefined || f.payload !== undefined) delivered++;
      },
    );
  }
  const writer = new Writer();
  const slots = o.seconds * 50;
  const warm = 50;
  let t0 = 0;
  let d0 = 0;
  for (let slot = 0; slot < slots + warm; slot++) {
    if (slot === warm) {
      t0 = cpuNow();
      d0 = delivered;
    }
    const frame = frames[slot % frames.length]!;
    for (let part = 0; part < o.spread; part++) {
      clock = slot * 20 + (part * 20) / o.spread;
      for (let s = part; s < o.n; s += o.spread) {
        writer.add!(0, {
          ssrc: 1000 + s,
          sequence: slot & 0xffff,
          timestamp: (slot * 960) >>> 0,
          payload: frame,
          receivedAt: clock,
        });
      }
      const batch = writer.take!();
      // The batch's buffers as the main thread gets them (transferred: no copy on this side).
      readRtpBatch(batch, 0, onRtp);
    }
    clock = slot * 20 + 20;
    receiver.tick!(clock);
    // What the event loop runs between ticks (the streams' nextTick work).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const us = (cpuNow() - t0) / (delivered - d0);
  receiver.close!();
  return us;
}

/** libopus alone through the same decoder wrapper: µs per 20 ms frame. */
async function decodeOnly(tree: Tree, frames: readonly Uint8Array[], count: number): Promise<number> {
  const opusFactory = await (
    tree.opus.loadOpus as () => Promise<{ createDecoder(): { decode(b: Uint8Array): Int16Array } }>
  )();
  const dec = opusFactory.createDecoder();
  const t0 = cpuNow();
  for (let i = 0; i < count; i++) dec.decode(frames[i % frames.length]!);
  return (cpuNow() - t0) / count;
}

/** CPU time of this process (all threads: GC helpers included), µs. */
function cpuNow(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (name: string, fallback: number): number =>
    Number(argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
  const o: Options = {
    n: Number(argv.find((a) => !a.startsWith('--')) ?? 100),
    mode: argv.includes('--opus') ? 'opus' : 'pcm',
    seconds: arg('seconds', 4),
    spread: arg('spread', 10),
  };
  const rounds = arg('rounds', 6);
  const here = path.dirname(path.dirname(new URL(import.meta.url).pathname));
  const dirs = argv.filter((a) => a.startsWith('--tree=')).map((a) => path.resolve(a.slice(7)));
  const trees = await Promise.all((dirs.length > 0 ? dirs : [here]).map(loadTree));
  const frames = (await encodeToneFrames(3, 440)).map((b) => new Uint8Array(b));
  const results = trees.map(() => [] as number[]);
  const decode = trees.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let t = 0; t < trees.length; t++) {
      results[t]!.push(await round(trees[t]!, frames, o));
      if (argv.includes('--decode-only')) decode[t]!.push(await decodeOnly(trees[t]!, frames, 5_000));
    }
  }
  for (let t = 0; t < trees.length; t++) {
    const rs = results[t]!;
    console.log(
      `${String.fromCharCode(65 + t)} ${trees[t]!.dir} N=${o.n} ${o.mode}: median ${median(rs).toFixed(2)} µs/frame ` +
        `(min ${Math.min(...rs).toFixed(2)}, max ${Math.max(...rs).toFixed(2)}; rounds ${rs.map((x) => x.toFixed(2)).join(' ')})` +
        (decode[t]!.length > 0 ? `; decode only ${median(decode[t]!).toFixed(2)} µs/frame` : ''),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
