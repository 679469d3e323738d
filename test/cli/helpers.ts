/** Shared set-up for the command tests: injected io, temp dirs, a local Discord and bots on it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { loadOpus } from '../../src/audio/opus.js';
import { renderTones } from '../../src/player/inputs/tone.js';
import type { ToneSpec } from '../../src/player/inputs/tone.js';
import { createOggOpusWriter } from '../../src/receive/recorder.js';
import { startCall } from '../support/call.js';
import type { Bot, Call } from '../support/call.js';
import type { Cleanup } from '../support/cleanup.js';
import { CHANNEL, GUILD } from '../support/ids.js';

export { CHANNEL, GUILD } from '../support/ids.js';
export { hex } from '../support/bytes.js';
export { Cleanup } from '../support/cleanup.js';
export { joinBot } from '../support/call.js';
export type { Bot } from '../support/call.js';
export { until } from '../support/wait.js';

/** The cli tests' call: the local Discord (DAVE on) and a worker media engine. */
export type World = Pick<Call, 'local' | 'engine'>;

export async function startWorld(cleanup: Cleanup): Promise<World> {
  return startCall(cleanup);
}

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export function captureIo(
  options: Partial<Pick<CliIo, 'cwd' | 'env' | 'signal'>> & { tty?: boolean } = {},
): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (t) => void out.push(t), isTTY: options.tty === true, columns: 80 },
    stderr: { write: (t) => void err.push(t) },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

export async function tempDir(cleanup: Cleanup, prefix = 'voxcord-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The call's DAVE group holds exactly `count` members and every given bot is at its epoch. */
export function groupFormed(world: World, bots: Bot[], count: number): boolean {
  const state = world.local.voice.daveState(GUILD, CHANNEL);
  if (state === undefined || !state.established || state.members.length !== count) return false;
  if (state.lastTransition?.executed !== true) return false;
  return bots.every((b) => b.connection.session?.dave.epoch === BigInt(state.epoch));
}

/** Real Opus frames of a tone spec (20 ms each). */
export async function encodeTones(spec: ToneSpec): Promise<Uint8Array[]> {
  const opus = await loadOpus();
  const encoder = opus.createEncoder();
  try {
    const pcm = renderTones(spec);
    const frames: Uint8Array[] = [];
    for (let i = 0; i + 1920 <= pcm.length; i += 1920) {
      const chunk = pcm.slice(i, i + 1920);
      frames.push(encoder.encode(new Uint8Array(chunk.buffer)));
    }
    return frames;
  } finally {
    encoder.close();
  }
}

export async function writeOgg(path: string, frames: readonly Uint8Array[]): Promise<void> {
  const writer = createOggOpusWriter(path);
  for (const f of frames) writer.write(f);
  await writer.close();
}
