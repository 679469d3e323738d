/**
 * Timeline-aligned recording end to end (issue 12): two senders speak in bursts through the local
 * server over 127.0.0.1 (A at about 0.3-1.3 s and 2.3-3.3 s, B at 1.3-2.3 s after the recording
 * starts); a third participant records each of them with recordWav / recordOggOpus on one
 * RecordingTimeline, and without it for comparison.
 *
 * The reference instant of each burst is when its first packet reached the recorder's socket
 * (measured from the session's 'rtp' events, on the receiver's clock), so the test holds however
 * late the scheduler starts a burst on a loaded machine. Checked: aligned files have the same
 * length (±1 frame), equal to the recording; each burst's energy starts within 2 frames of its
 * reference instant in both formats; the Ogg file's granule position equals the decoded duration.
 * The default (non-aligned) files drop the pauses: A's second burst sits a second early there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOpus } from '../../src/audio/opus.js';
import { OggOpusDemuxer } from '../../src/audio/ogg-opus-demuxer.js';
import { SAMPLES_PER_FRAME } from '../../src/protocol/constants.js';
import type { VoiceReceiver } from '../../src/receive/receiver.js';
import { recordOggOpus, recordWav } from '../../src/receive/recorder.js';
import { RecordingTimeline } from '../../src/receive/recording-timeline.js';
import { createVoiceReceiver } from '../../src/receive/session-feed.js';
import type { VoiceSession } from '../../src/voice/session.js';
import { chunked, sinePcm, startHarness, until } from './harness.js';
import type { Harness } from './harness.js';

let harness: Harness | undefined;
let receiver: VoiceReceiver | undefined;
let dir: string | undefined;
afterEach(async () => {
  receiver?.close();
  receiver = undefined;
  await harness?.close();
  harness = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const A = '9601';
const B = '9602';
const REC = '9603';
const FRAME_MS = 20;
const BURST_MS = 1_000;

/** Mean absolute left-channel value of each 20 ms frame of interleaved stereo PCM. */
function frameLevels(pcm: Int16Array): number[] {
  const frames = Math.floor(pcm.length / (2 * SAMPLES_PER_FRAME));
  return Array.from({ length: frames }, (_, f) => {
    let sum = 0;
    for (let i = 0; i < SAMPLES_PER_FRAME; i++) sum += Math.abs(pcm[(f * SAMPLES_PER_FRAME + i) * 2]!);
    return sum / SAMPLES_PER_FRAME;
  });
}

/**
 * Frame indexes where sound starts after at least `minQuiet` quiet frames (or at the start). 10
 * frames for aligned files, whose pauses are long, so a lost frame (concealed with silence by some
 * Opus backends) is not a burst; 3 for the default files, where the 5 trailing silence frames of a
 * burst are all that separates it from the next.
 */
function onsets(levels: readonly number[], minQuiet = 10): number[] {
  const out: number[] = [];
  let quiet = minQuiet;
  levels.forEach((level, i) => {
    if (level > 1_000) {
      if (quiet >= minQuiet) out.push(i);
      quiet = 0;
    } else quiet++;
  });
  return out;
}

function wavPcm(file: Buffer): Int16Array {
  expect(file.readUInt32LE(40)).toBe(file.length - 44); // sizes patched at close
  return new Int16Array(file.buffer.slice(file.byteOffset + 44, file.byteOffset + file.length));
}

/** The granule position of an Ogg file's last page. */
function lastGranule(file: Buffer): bigint {
  const at = file.lastIndexOf('OggS', undefined, 'latin1');
  return file.readBigInt64LE(at + 6);
}

async function sleepUntil(at: number): Promise<void> {
  const ms = at - performance.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

function play(session: VoiceSession, hz: number): Promise<void> {
  return session.playPcm(chunked(sinePcm(BURST_MS, hz), [3_840])).finished;
}

describe('timeline-aligned recording', () => {
  it.each([
    { network: 'a clean network', faults: {} },
    { network: '5% loss and 10% reordering', faults: { udp: { drop: 0.05, reorder: 0.1 } } },
  ])(
    'two speakers, bursts at known offsets, $network: equal lengths, each burst at its instant',
    async ({ faults }) => {
      const h = (harness = await startHarness({ seed: 12 }));
      const opus = await loadOpus();
      const alice = await h.join(A);
      const bob = await h.join(B);
      const rec = await h.join(REC);
      h.server.setFaults(faults);
      dir = await mkdtemp(join(tmpdir(), 'voxcord-aligned-'));
      const path = (name: string): string => join(dir!, name);

      // First packet arrival of each burst (a burst = packets after a 300 ms pause), per user.
      const arrivals = new Map<string, number[]>([
        [A, []],
        [B, []],
      ]);
      const lastAt = new Map<string, number>();
      rec.on('rtp', (p) => {
        const list = p.userId === undefined ? undefined : arrivals.get(p.userId);
        if (list === undefined) return;
        if (p.receivedAt - (lastAt.get(p.userId!) ?? Number.NEGATIVE_INFINITY) > 300) list.push(p.receivedAt);
        lastAt.set(p.userId!, p.receivedAt);
      });

      const r = (receiver = createVoiceReceiver(rec, { createDecoder: () => opus.createDecoder() }));
      const timeline = new RecordingTimeline();
      const stream = (user: string, mode: 'pcm' | 'opus'): ReturnType<VoiceReceiver['subscribe']> =>
        r.subscribe(user, { mode, maxQueuedFrames: 10_000 });
      const recordings = [
        recordWav(stream(A, 'pcm').frames(), path('a.wav'), { timeline }),
        recordWav(stream(B, 'pcm').frames(), path('b.wav'), { timeline }),
        recordOggOpus(stream(A, 'opus').frames(), path('a.ogg'), { timeline }),
        recordOggOpus(stream(B, 'opus').frames(), path('b.ogg'), { timeline }),
        recordWav(stream(A, 'pcm').frames(), path('a-default.wav')),
        recordWav(stream(B, 'pcm').frames(), path('b-default.wav')),
      ];

      const t0 = timeline.startAt;
      await sleepUntil(t0 + 300);
      const a1 = play(alice, 440);
      await sleepUntil(t0 + 1_300);
      const b1 = play(bob, 660);
      await Promise.all([a1, b1]);
      await sleepUntil(t0 + 2_300);
      await play(alice, 550);
      await until(() => !r.isSpeaking(A) && !r.isSpeaking(B), 3_000, 'the end of the bursts');
      await new Promise((resolve) => setTimeout(resolve, 300)); // the last buffered slots play out
      timeline.stop();
      const endAt = timeline.endAt!;
      r.close();
      await Promise.all(recordings);

      // With faults on, some slots really were lost and concealed on the way.
      const lost = r.stats(A)!.lost + r.stats(B)!.lost;
      if (faults.udp !== undefined) expect(lost).toBeGreaterThan(0);
      expect(arrivals.get(A)).toHaveLength(2);
      expect(arrivals.get(B)).toHaveLength(1);
      const expected = (user: string): number[] => arrivals.get(user)!.map((at) => (at - t0) / FRAME_MS);
      const totalFrames = (endAt - t0) / FRAME_MS;
      // The scenario: A, then B, then A again, each about a second after the previous one.
      expect(expected(B)[0]! - expected(A)[0]!).toBeGreaterThan(35);
      expect(expected(A)[1]! - expected(B)[0]!).toBeGreaterThan(35);

      // WAV: same length, that of the recording; each burst's energy starts at its arrival instant.
      const wav = {
        a: wavPcm(await readFile(path('a.wav'))),
        b: wavPcm(await readFile(path('b.wav'))),
      };
      const lengths = [wav.a.length, wav.b.length].map((n) => n / (2 * SAMPLES_PER_FRAME));
      expect(Math.abs(lengths[0]! - lengths[1]!)).toBeLessThanOrEqual(1);
      for (const n of lengths) expect(Math.abs(n - totalFrames)).toBeLessThanOrEqual(1);
      const wavOnsets = { a: onsets(frameLevels(wav.a)), b: onsets(frameLevels(wav.b)) };
      expect(wavOnsets.a).toHaveLength(2);
      expect(wavOnsets.b).toHaveLength(1);
      wavOnsets.a.forEach((f, i) => expect(Math.abs(f - expected(A)[i]!)).toBeLessThanOrEqual(2));
      expect(Math.abs(wavOnsets.b[0]! - expected(B)[0]!)).toBeLessThanOrEqual(2);

      // Ogg Opus: silence packets fill the gaps; granule position = decoded duration = the WAV's.
      for (const [user, name, wavOnset] of [
        [A, 'a.ogg', wavOnsets.a],
        [B, 'b.ogg', wavOnsets.b],
      ] as const) {
        const file = await readFile(path(name));
        const demuxer = new OggOpusDemuxer();
        const packets = demuxer.push(file);
        const decoder = opus.createDecoder();
        const decoded = packets.map((p) => decoder.decode(p));
        decoder.close();
        const samples = decoded.reduce((n, pcm) => n + pcm.length / 2, 0);
        expect(BigInt(samples)).toBe(lastGranule(file));
        expect(Math.abs(samples / SAMPLES_PER_FRAME - totalFrames)).toBeLessThanOrEqual(1);
        const pcm = new Int16Array(samples * 2);
        let o = 0;
        for (const d of decoded) {
          pcm.set(d, o);
          o += d.length;
        }
        const oggOnsets = onsets(frameLevels(pcm));
        expect(oggOnsets).toHaveLength(wavOnset.length);
        oggOnsets.forEach((f, i) => expect(Math.abs(f - expected(user)[i]!)).toBeLessThanOrEqual(2));
      }

      // The default output keeps only what was received: A's pause is gone, the files differ in
      // length, and A's second burst sits about a second before its instant.
      const plainA = wavPcm(await readFile(path('a-default.wav')));
      const plainB = wavPcm(await readFile(path('b-default.wav')));
      expect(plainA.length).not.toBe(plainB.length);
      expect(plainA.length / (2 * SAMPLES_PER_FRAME)).toBeLessThan(totalFrames - 60);
      const plainOnsets = onsets(frameLevels(plainA), 3);
      expect(plainOnsets).toHaveLength(2);
      expect(expected(A)[1]! - plainOnsets[1]!).toBeGreaterThan(40);
    },
  );
});
