/**
 * Child process for the interop test: an @discordjs/voice bot that joins the local server through
 * the test adapter and plays the Opus frames it is sent. It runs apart from the test because the
 * library opens `wss://` with no TLS options: this process is started with NODE_EXTRA_CA_CERTS
 * pointing at the local server's self-signed certificate.
 *
 * IPC in:  { type: 'join', allocation, dave } | { type: 'play', frames: base64[] } | { type: 'leave' }
 * IPC out: { type: 'ready' } | { type: 'played' } | { type: 'error', message }
 */
import { Readable } from 'node:stream';
import {
  AudioPlayerStatus,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  joinVoiceChannel,
} from '@discordjs/voice';
import type { VoiceConnection } from '@discordjs/voice';
import type { Allocation } from '../../src/server/index.js';
import { createTestAdapter } from './djs-adapter.js';

export type PlayerRequest =
  | { type: 'join'; allocation: Allocation; dave: boolean }
  | { type: 'play'; frames: string[] }
  | { type: 'leave' };

export type PlayerReply = { type: 'ready' } | { type: 'played' } | { type: 'error'; message: string };

function reply(message: PlayerReply): void {
  process.send?.(message);
}

function fail(err: unknown): void {
  reply({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}

let connection: VoiceConnection | undefined;
const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
player.on('error', fail);

async function join(allocation: Allocation, dave: boolean): Promise<void> {
  const { adapterCreator } = createTestAdapter(allocation);
  connection = joinVoiceChannel({
    guildId: allocation.guildId,
    channelId: allocation.channelId,
    adapterCreator,
    daveEncryption: dave,
    selfDeaf: false,
    selfMute: false,
  });
  connection.on('error', fail);
  await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
  connection.subscribe(player);
  // Speaking before the first packet: the server drops media from a sender that has not sent op 5,
  // and the library would otherwise send op 5 in the same tick as its first packet.
  connection.setSpeaking(true);
  reply({ type: 'ready' });
}

async function play(frames: string[]): Promise<void> {
  const buffers = frames.map((f) => Buffer.from(f, 'base64'));
  player.play(createAudioResource(Readable.from(buffers), { inputType: StreamType.Opus }));
  await entersState(player, AudioPlayerStatus.Playing, 5_000);
  await entersState(player, AudioPlayerStatus.Idle, 5_000 + frames.length * 40);
  reply({ type: 'played' });
}

process.on('message', (raw: unknown) => {
  const req = raw as PlayerRequest;
  if (req.type === 'join') join(req.allocation, req.dave).catch(fail);
  else if (req.type === 'play') play(req.frames).catch(fail);
  else if (req.type === 'leave') {
    player.stop(true);
    connection?.destroy();
    process.disconnect();
    setTimeout(() => process.exit(0), 100).unref();
  }
});
process.on('disconnect', () => {
  connection?.destroy();
  setTimeout(() => process.exit(0), 100).unref();
});
