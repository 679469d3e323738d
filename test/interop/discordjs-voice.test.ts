/**
 * Interop: @discordjs/voice (the most used Node voice library) joins OUR local server over wss://
 * through a test adapter and plays Opus with its AudioPlayer; a voxcord VoiceSession in the same
 * call receives exactly those frames, in order. The djs bot runs in a child process
 * (test/interop/djs-player.ts) that trusts the server's self-signed CA via NODE_EXTRA_CA_CERTS,
 * since the library takes no TLS options.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EncryptionMode, OPUS_SILENCE_FRAME, SILENCE_FRAMES_AT_END } from '../../src/protocol/constants.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { MediaEngine } from '../../src/media/index.js';
import { startVoiceServer } from '../../src/server/index.js';
import type { VoiceServer } from '../../src/server/index.js';
import { VoiceSession, entersState } from '../../src/voice/session.js';
import { numberedFrames, until } from '../e2e/harness.js';
import type { PlayerReply, PlayerRequest } from './djs-player.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const GUILD = '700000000000000001';
const CHANNEL = '700000000000000002';
const DJS_USER = '700000000000000003';
const VOXCORD_USER = '700000000000000004';

let server: VoiceServer | undefined;
let engine: MediaEngine | undefined;
let session: VoiceSession | undefined;
let child: ChildProcess | undefined;
let childExited: Promise<unknown> | undefined;
let tmp: string | undefined;

afterEach(async () => {
  child?.kill();
  await childExited;
  child = undefined;
  childExited = undefined;
  session?.destroy();
  session = undefined;
  await engine?.close();
  engine = undefined;
  await server?.stop();
  server = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** Starts the djs child and returns a function that waits for its next reply of a given type. */
function startDjs(caFile: string): {
  send(request: PlayerRequest): void;
  next(type: PlayerReply['type'], timeoutMs: number): Promise<void>;
} {
  const proc = fork(path.join(here, 'djs-player.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child = proc;
  childExited = new Promise((resolve) => proc.once('exit', resolve));
  const replies: PlayerReply[] = [];
  proc.on('message', (m: unknown) => replies.push(m as PlayerReply));
  return {
    send: (request) => proc.send(request),
    async next(type, timeoutMs) {
      await until(
        () => replies.some((r) => r.type === type || r.type === 'error') || proc.exitCode !== null,
        timeoutMs,
        `djs child '${type}'`,
      );
      const error = replies.find((r) => r.type === 'error');
      if (error?.type === 'error') throw new Error(`djs child: ${error.message}`);
      if (proc.exitCode !== null) throw new Error(`djs child exited with ${proc.exitCode}`);
    },
  };
}

describe('@discordjs/voice joins the local server', () => {
  it('plays Opus through an AudioPlayer and a voxcord participant receives exactly those frames', async () => {
    server = await startVoiceServer({ tls: true, dave: false });
    const ca = server.tlsCa!;
    tmp = mkdtempSync(path.join(os.tmpdir(), 'voxcord-interop-'));
    const caFile = path.join(tmp, 'ca.pem');
    writeFileSync(caFile, ca);

    // The voxcord participant, over wss:// as well.
    engine = createMediaEngine();
    const mine = server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: VOXCORD_USER });
    session = new VoiceSession({
      ...mine,
      engine,
      tls: { ca },
      maxDaveProtocolVersion: 0,
      handshakeTimeoutMs: 10_000,
    });
    session.connect();
    await entersState(session, 'ready', 10_000);

    const djs = startDjs(caFile);
    djs.send({
      type: 'join',
      allocation: server.allocate({ guildId: GUILD, channelId: CHANNEL, userId: DJS_USER }),
      dave: false,
    });
    await djs.next('ready', 15_000);
    const djsInfo = () => server!.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER);
    await until(() => djsInfo()?.speaking != null, 5_000, 'op 5 from the djs client');
    const { ssrc, mode } = djsInfo()!;
    // djs prefers AES-GCM when the server offers it first, as ours does.
    expect(mode).toBe(EncryptionMode.AesGcm);

    const received: Uint8Array[] = [];
    session.on('rtp', (packet) => {
      if (packet.ssrc === ssrc) received.push(packet.payload);
    });

    const frames = numberedFrames(50);
    djs.send({ type: 'play', frames: frames.map((f) => Buffer.from(f).toString('base64')) });
    await djs.next('played', 15_000);
    // @discordjs/voice 0.19.2 puts out 4 of its 5 padding frames: the fifth is prepared, then the
    // player goes idle before the next cycle dispatches it.
    const trailing = SILENCE_FRAMES_AT_END - 1;
    await until(() => received.length >= frames.length + trailing, 5_000, 'all frames');
    await new Promise((r) => setTimeout(r, 100)); // anything else in flight

    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    const silence = hex(OPUS_SILENCE_FRAME);
    // The audio arrives complete and in order (a cycle where the library's stream had nothing ready
    // would carry a silence frame: those are left out), then only silence.
    const all = received.map(hex);
    expect(all.filter((h) => h !== silence)).toEqual(frames.map(hex));
    const afterAudio = all.slice(all.lastIndexOf(hex(frames.at(-1)!)) + 1);
    expect(afterAudio.length).toBeGreaterThanOrEqual(trailing);
    expect(afterAudio.every((h) => h === silence)).toBe(true);
    expect(server.participants(GUILD, CHANNEL).find((p) => p.userId === DJS_USER)?.packetsDropped).toBe(0);

    djs.send({ type: 'leave' });
  });
});
