/** Shared set-up for the command tests: injected io, temp dirs, a local Discord and bots on it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { loadOpus } from '../../src/audio/opus.js';
import { createGatewayClient } from '../../src/gateway/builtin-gateway.js';
import type { GatewayClient } from '../../src/gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../../src/gateway/registry.js';
import type { VoiceConnection } from '../../src/gateway/voice-connection.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/media-engine.js';
import { renderTones } from '../../src/player/inputs/tone.js';
import type { ToneSpec } from '../../src/player/inputs/tone.js';
import { createOggOpusWriter } from '../../src/receive/recorder.js';
import { startLocalDiscord } from '../../src/server/local-discord.js';
import type { LocalDiscord } from '../../src/server/local-discord.js';
import { entersState } from '../../src/util/enters-state.js';
import type { AudioFrame } from '../../src/voice/session-dave.js';

export const GUILD = '1300000000000000001';
export const CHANNEL = '1300000000000000002';

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

/** Things to undo after each test, newest first. */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep cleaning
      }
    }
  }
}

export async function tempDir(cleanup: Cleanup, prefix = 'voxcord-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface World {
  local: LocalDiscord;
  engine: MediaEngine;
}

export async function startWorld(cleanup: Cleanup): Promise<World> {
  const local = await startLocalDiscord({ gateway: { guilds: [GUILD] } });
  cleanup.add(() => local.stop());
  const engine = createMediaEngine();
  cleanup.add(() => engine.close());
  return { local, engine };
}

export interface Bot {
  client: GatewayClient;
  connection: VoiceConnection;
  /** Non-silence Opus payloads this bot received, per sender. */
  heard: Map<string, Uint8Array[]>;
  decryptFailures: number;
}

const isSilence = (p: Uint8Array): boolean =>
  p.length === 3 && p[0] === 0xf8 && p[1] === 0xff && p[2] === 0xfe;

/** A bot joined through the real path (token -> gateway client -> joinVoiceChannel), collecting what it hears. */
export async function joinBot(world: World, cleanup: Cleanup, userId: string): Promise<Bot> {
  const { token, apiUrl } = world.local.createBot(userId);
  const client = createGatewayClient({ token, apiUrl });
  cleanup.add(() => client.destroy());
  await client.connect();
  const connection = joinVoiceChannel({
    guildId: GUILD,
    channelId: CHANNEL,
    adapterCreator: client.adapterCreator(GUILD),
    group: `test-${userId}`,
    engine: world.engine,
    tls: false,
    selfDeaf: false,
  });
  cleanup.add(() => connection.destroy());
  const bot: Bot = { client, connection, heard: new Map(), decryptFailures: 0 };
  connection.subscribe({
    attach: (session) => {
      session.on('audioFrame', (frame: AudioFrame) => {
        if (frame.userId === undefined || isSilence(frame.payload)) return;
        const list = bot.heard.get(frame.userId) ?? [];
        list.push(frame.payload);
        bot.heard.set(frame.userId, list);
      });
      session.on('daveDecryptFailure', () => bot.decryptFailures++);
    },
    detach: () => undefined,
  });
  await entersState(connection, 'ready', 10_000);
  return bot;
}

/** The call's DAVE group holds exactly `count` members and every given bot is at its epoch. */
export function groupFormed(world: World, bots: Bot[], count: number): boolean {
  const state = world.local.voice.daveState(GUILD, CHANNEL);
  if (state === undefined || !state.established || state.members.length !== count) return false;
  if (state.lastTransition?.executed !== true) return false;
  return bots.every((b) => b.connection.session?.dave.epoch === BigInt(state.epoch));
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
