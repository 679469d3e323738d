// Main-thread receive path alone: readRtpBatch -> InboundStage -> VoiceReceiver -> subscribers, simulated clock.
import { RtpBatchWriter, readRtpBatch } from '../src/media/rtp-batch.js';
import { VoiceReceiver } from '../src/receive/receiver.js';
import { InboundStage } from '../src/voice/inbound.js';
import { loadOpus } from '../src/audio/opus.js';
import { encodeToneFrames } from './tone.js';
const mode = (process.argv[2] ?? 'opus') as 'opus' | 'pcm';
const N = 100;
const opus = await loadOpus();
const frames = await encodeToneFrames(3, 440);
let now = 0;
const receiver = new VoiceReceiver({ createDecoder: () => opus.createDecoder(), now: () => now });
const inbound = new InboundStage({ frame: (f) => receiver.receive(f), failure: (f) => receiver.receive(f) });
let got = 0;
const subs: ReturnType<typeof receiver.subscribe>[] = [];
for (let s = 0; s < N; s++) {
  inbound.map(1000 + s, `${1000 + s}`);
  subs.push(receiver.subscribe(`${1000 + s}`, { mode }));
}
const w = new RtpBatchWriter();
const onRtp = (_id: number, p: Parameters<typeof inbound.receive>[0]): void => inbound.receive(p);
function run(seconds: number): number {
  const c0 = process.cpuUsage();
  const g0 = got;
  const steps = seconds * 100; // 10 ms
  for (let k = 0; k < steps; k++) {
    now += 10;
    // half the streams' packets arrive in each 10 ms
    const frame = Math.floor(now / 20);
    for (let s = (k & 1) * 50; s < (k & 1) * 50 + 50; s++) {
      w.add(0, { ssrc: 1000 + s, sequence: frame & 0xffff, timestamp: (frame * 960) >>> 0, payload: frames[frame % frames.length]!, receivedAt: now - 3 });
    }
    const b = w.take()!;
    readRtpBatch(b, 0, onRtp);
    receiver.tick(now);
    for (const x of subs) while (x.read() !== null) got++;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (got - g0);
}
run(5);
const r: number[] = [];
for (let i = 0; i < 7; i++) r.push(run(10));
r.sort((a, b) => a - b);
console.log(`main path (${mode}) µs/frame median ${r[3]!.toFixed(2)} min ${r[0]!.toFixed(2)}`);
receiver.close();
