/**
 * Receive CPU per stream: N = 100 incoming Opus streams (10 s each, 20 ms frames) through the
 * session's inbound stage (SSRC -> user, no DAVE) and the VoiceReceiver's one door (jitter buffer
 * -> Opus decode -> one PCM subscriber per user, drained every tick)
 * on a simulated clock, so the run measures CPU, not waiting. Arrival times carry a little jitter;
 * the lossy case drops 10% of packets (concealed). Reported per backend:
 *   - cpuMsPerStreamSecond: ms of CPU per second of audio per stream (1000 = one core per stream);
 *   - usPerPacket: CPU per received packet for the whole receiver pipeline;
 *   - decodeOnlyUsPerPacket: a bare decoder.decode() loop over the same frames (the floor);
 *   - transportOpenUsPerPacket: transport decryption (AES-256-GCM rtpsize) of one packet, which the
 *     media engine does before the receiver (in its worker thread by default).
 *   - pathOnly: the same 100 streams to Opus subscribers (no decoding), so the receive path's own
 *     CPU per packet (inbound stage, jitter buffer, streams) is not hidden under the decoder's.
 * DAVE frame decryption is measured separately by bench/dave-frame.ts.
 *
 * opusscript runs with ONE stream only: opusscript 0.1.1 (the latest) indexes its Uint16 heap view
 * with byte pointers (`HEAPU16.subarray(ptr, ...)`), so each instance's PCM buffers lie outside its
 * allocation and three or more live instances corrupt each other (libopus assertion, then a wasm
 * out-of-bounds abort). Its numbers show the cost of real PLC, not a 100-stream run.
 * Run: npx tsx bench/receive.ts  (prints JSON; about 15 s)
 */
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import { loadOpus } from '../src/audio/opus.js';
import type { OpusBackendName, OpusCodecFactory } from '../src/audio/opus.js';
import { EncryptionMode, SAMPLES_PER_FRAME } from '../src/protocol/constants.js';
import { VoiceReceiver } from '../src/receive/receiver.js';
import { InboundStage } from '../src/voice/inbound.js';
import type { UserAudioStream } from '../src/receive/user-stream.js';
import { renderTones } from '../src/player/inputs/tone.js';
import { createTransportCipher } from '../src/media/transport-cipher.js';
import { openRtpPacket, sealRtpPacket } from '../src/media/rtp-packet.js';

const STREAMS = Number(process.env['RECEIVE_BENCH_STREAMS'] ?? 100);
/** Streams per backend (see above for opusscript). */
const STREAMS_FOR: Partial<Record<OpusBackendName, number>> = { opusscript: 1 };
const SECONDS = Number(process.env['RECEIVE_BENCH_SECONDS'] ?? 10);
const FRAMES = (SECONDS * 1000) / 20;
const TICK_MS = 10;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** 10 s of speech-like tones, encoded once; every stream sends these frames (decoders are per stream). */
function encodeSignal(opus: OpusCodecFactory): Uint8Array[] {
  const notes = Array.from({ length: SECONDS * 5 }, (_, i) => ({
    frequency: i % 7 === 6 ? 0 : 180 + ((i * 97) % 600),
    ms: 200,
  }));
  const pcm = renderTones({ notes, amplitude: 0.3 });
  const encoder = opus.createEncoder({ application: 'voip' });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const chunk = pcm.subarray(i * SAMPLES_PER_FRAME * 2, (i + 1) * SAMPLES_PER_FRAME * 2);
    frames.push(encoder.encode(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  }
  encoder.close();
  return frames;
}

interface Arrival {
  stream: number;
  frame: number;
  at: number;
}

/** Every stream's packets with arrival times (start offset per stream, 0-8 ms jitter), time-ordered. */
function schedule(streams: number, loss: number, seed: number): Arrival[] {
  const random = rng(seed);
  const out: Arrival[] = [];
  for (let s = 0; s < streams; s++) {
    const offset = random() * 20;
    for (let f = 0; f < FRAMES; f++) {
      if (loss > 0 && f > 0 && f < FRAMES - 1 && random() < loss) continue;
      out.push({ stream: s, frame: f, at: 1_000 + offset + f * 20 + random() * 8 });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

interface RunResult {
  backend: OpusBackendName;
  streams: number;
  concealment: 'plc' | 'silence';
  loss: number;
  packets: number;
  pcmFrames: number;
  lost: number;
  concealed: number;
  cpuMs: number;
  wallMs: number;
  cpuMsPerStreamSecond: number;
  usPerPacket: number;
}

function runReceiver(
  opus: OpusCodecFactory,
  frames: Uint8Array[],
  loss: number,
  streams: number,
  mode: 'pcm' | 'opus' = 'pcm',
): RunResult {
  const arrivals = schedule(streams, loss, 42).filter((a) => a.frame < frames.length);
  let now = 0;
  const receiver = new VoiceReceiver({ createDecoder: () => opus.createDecoder(), now: () => now });
  // Wired as a session wires them: the stage's frames and failures go through the receiver's door.
  const inbound = new InboundStage({
    frame: (f) => receiver.receive(f),
    failure: (f) => receiver.receive(f),
  });
  const subscriptions: UserAudioStream[] = [];
  for (let s = 0; s < streams; s++) {
    inbound.map(1000 + s, `u${s}`);
    receiver.onSpeaking({ userId: `u${s}`, ssrc: 1000 + s, speaking: 1 });
    subscriptions.push(receiver.subscribe(`u${s}`, { mode }));
  }
  const concealment = opus.createDecoder();
  const kind = concealment.concealment;
  concealment.close();
  let pcmFrames = 0;
  let next = 0;
  const end = arrivals.at(-1)!.at + 500;
  const cpu0 = cpuMs();
  const wall0 = performance.now();
  for (now = 1_000; now <= end; now += TICK_MS) {
    while (next < arrivals.length && arrivals[next]!.at <= now) {
      const a = arrivals[next++]!;
      inbound.receive({
        ssrc: 1000 + a.stream,
        sequence: a.frame & 0xffff,
        timestamp: (a.frame * SAMPLES_PER_FRAME) >>> 0,
        payload: frames[a.frame]!,
        receivedAt: a.at,
      });
    }
    receiver.tick(now);
    for (const s of subscriptions) while (s.read() !== null) pcmFrames++;
  }
  const cpu = cpuMs() - cpu0;
  const wall = performance.now() - wall0;
  let lost = 0;
  let concealed = 0;
  for (let s = 0; s < streams; s++) {
    const st = receiver.stats(`u${s}`)!;
    lost += st.lost;
    concealed += st.concealed;
  }
  receiver.close();
  return {
    backend: opus.backend,
    streams,
    concealment: kind,
    loss,
    packets: arrivals.length,
    pcmFrames,
    lost,
    concealed,
    cpuMs: round(cpu),
    wallMs: round(wall),
    cpuMsPerStreamSecond: round(cpu / streams / SECONDS, 3),
    usPerPacket: round((cpu * 1000) / arrivals.length, 2),
  };
}

/** The floor: one decoder per stream, decode() over the same frames, nothing else. */
function decodeOnly(opus: OpusCodecFactory, frames: Uint8Array[]): number {
  const streams = 10;
  const cpu0 = cpuMs();
  for (let s = 0; s < streams; s++) {
    const d = opus.createDecoder();
    for (const f of frames) d.decode(f);
    d.close();
  }
  return round(((cpuMs() - cpu0) * 1000) / (streams * frames.length), 2);
}

function transportOpen(frames: Uint8Array[]): { backend: string; usPerPacket: number } {
  const cipher = createTransportCipher(EncryptionMode.AesGcm, randomBytes(32));
  const packets = frames.map((f, i) =>
    sealRtpPacket({ sequence: i & 0xffff, timestamp: i * SAMPLES_PER_FRAME, ssrc: 1234 }, f, cipher, i),
  );
  const rounds = 20;
  const cpu0 = cpuMs();
  let ok = 0;
  for (let r = 0; r < rounds; r++) for (const p of packets) if (!('drop' in openRtpPacket(p, cipher))) ok++;
  const us = ((cpuMs() - cpu0) * 1000) / (rounds * packets.length);
  if (ok !== rounds * packets.length) throw new Error('transport open failed in the bench');
  return { backend: cipher.backend ?? 'unknown', usPerPacket: round(us, 2) };
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function main(): Promise<void> {
  const started = performance.now();
  const evan = await loadOpus(['@evan/opus']);
  const frames = encodeSignal(evan);
  const runs: Array<RunResult & { cpuMsRounds: number[]; decodeOnlyUsPerPacket: number }> = [];
  const backends: OpusBackendName[] = ['@evan/opus', 'opusscript'];
  for (const name of backends) {
    let opus: OpusCodecFactory;
    try {
      opus = name === '@evan/opus' ? evan : await loadOpus([name]);
    } catch {
      continue; // not installed
    }
    const streams = STREAMS_FOR[name] ?? STREAMS;
    const floor = decodeOnly(opus, frames);
    runReceiver(opus, frames.slice(0, 50), 0, streams); // warm-up (JIT, wasm)
    for (const loss of [0, 0.1]) {
      // Three rounds on a shared machine; the median round is reported, all CPU times are listed.
      const rounds = [0, 1, 2].map(() => runReceiver(opus, frames, loss, streams));
      const median = [...rounds].sort((x, y) => x.cpuMs - y.cpuMs)[1]!;
      runs.push({ ...median, cpuMsRounds: rounds.map((r) => r.cpuMs), decodeOnlyUsPerPacket: floor });
    }
  }
  // The path without the decoder: Opus subscribers, no loss, five rounds, the median reported.
  runReceiver(evan, frames.slice(0, 50), 0, STREAMS, 'opus');
  const pathRounds = [0, 1, 2, 3, 4].map(() => runReceiver(evan, frames, 0, STREAMS, 'opus').usPerPacket);
  const pathOnly = { usPerPacket: [...pathRounds].sort((x, y) => x - y)[2]!, rounds: pathRounds };
  const transport = transportOpen(frames);
  const avgFrameBytes = round(frames.reduce((n, f) => n + f.length, 0) / frames.length);
  const result = {
    bench: 'receive',
    streams: STREAMS,
    secondsPerStream: SECONDS,
    packetsPerStream: FRAMES,
    avgOpusFrameBytes: avgFrameBytes,
    runs,
    pathOnly,
    transportOpen: transport,
    machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
    benchWallMs: Math.round(performance.now() - started),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
