/**
 * Test helpers for compat-bots.test.ts: a voxcord user in a voice channel (undeafened) that
 * decodes what one speaker sends and estimates each loud frame's frequency, and Ogg Opus tone files.
 */
import { readFileSync } from 'node:fs';
import {
  createOggOpusWriter,
  entersState,
  joinVoiceChannel,
  loadOpus,
  oggOpusInput,
} from '../../../src/index.js';
import type { LocalDiscord, VoiceConnection } from '../../../src/index.js';
import { sinePcm } from '../../e2e/harness.js';

/** Frequency of a 20 ms stereo frame from the zero crossings of its left channel. */
export function frameHz(pcm: Int16Array): number {
  let crossings = 0;
  for (let i = 2; i < pcm.length; i += 2) if (pcm[i - 2]! < 0 !== pcm[i]! < 0) crossings += 1;
  return crossings / 2 / 0.02;
}

export function peak(pcm: Int16Array): number {
  let p = 0;
  for (let i = 0; i < pcm.length; i += 2) p = Math.max(p, Math.abs(pcm[i]!));
  return p;
}

export interface Heard {
  /** One frequency estimate per loud frame, in arrival order. */
  hz: number[];
}

/** A user joins `channelId` with voxcord (in its own registry group) and decodes `speakerId`. */
export async function joinListener(
  local: LocalDiscord,
  where: { userId: string; guildId: string; channelId: string; speakerId: string; group: string },
): Promise<{ connection: VoiceConnection; heard: Heard }> {
  const connection = joinVoiceChannel({
    guildId: where.guildId,
    channelId: where.channelId,
    adapterCreator: local.userAdapterCreator(where.userId, where.guildId),
    group: where.group,
    selfDeaf: false,
    tls: { ca: local.voice.tlsCa! },
  });
  await entersState(connection, 'ready', 10_000);
  const heard: Heard = { hz: [] };
  const stream = connection.receiver.subscribe(where.speakerId, { mode: 'pcm', maxQueuedFrames: 5_000 });
  void (async () => {
    for await (const frame of stream.frames()) {
      if (frame.pcm === undefined || frame.concealed || peak(frame.pcm) < 6_000) continue;
      heard.hz.push(frameHz(frame.pcm));
    }
  })();
  return { connection, heard };
}

/** Runs of frames near one of `tones` (Hz), in order, with their lengths; runs shorter than `min` dropped. */
export function toneRuns(hz: readonly number[], tones: readonly number[], min = 10): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const f of hz) {
    const tone = tones.find((t) => Math.abs(f - t) < 30);
    if (tone === undefined) continue;
    const last = runs.at(-1);
    if (last?.[0] === tone) last[1] += 1;
    else runs.push([tone, 1]);
  }
  return runs.filter(([, n]) => n >= min);
}

/** Writes an Ogg Opus file of a sine tone. */
export async function writeToneOgg(path: string, ms: number, hz: number): Promise<void> {
  const encoder = (await loadOpus()).createEncoder();
  const writer = createOggOpusWriter(path);
  const pcm = sinePcm(ms, hz);
  for (let o = 0; o + 3840 <= pcm.length; o += 3840) writer.write(encoder.encode(pcm.subarray(o, o + 3840)));
  encoder.close();
  await writer.close();
}

/** Decodes an Ogg Opus file: its packet count and a frequency estimate per loud frame. */
export async function decodeOgg(path: string): Promise<{ packets: number; hz: number[] }> {
  const codec = await loadOpus();
  const decoder = codec.createDecoder();
  const source = await oggOpusInput(readFileSync(path)).open({
    startMs: 0,
    codec: () => Promise.resolve(codec),
  });
  let packets = 0;
  const hz: number[] = [];
  for (let frame = await source.read(); frame !== undefined; frame = await source.read()) {
    packets += 1;
    const pcm = frame.kind === 'opus' ? decoder.decode(frame.data) : frame.data;
    if (peak(pcm) >= 6_000) hz.push(frameHz(pcm));
  }
  source.close();
  return { packets, hz };
}
