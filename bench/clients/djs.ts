/**
 * @discordjs/voice under bench, joined through the test adapter. The process must trust the local
 * server's CA (NODE_EXTRA_CA_CERTS): the library opens `wss://` itself and takes no TLS options.
 * PCM encoding and receive decoding go through djs's own prism-media, whose Opus backend the client
 * process installs first (./djs-opus.ts).
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Transform } from 'node:stream';
import {
  AudioPlayerStatus,
  EndBehaviorType,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  joinVoiceChannel,
} from '@discordjs/voice';
import type { AudioPlayer, VoiceConnection } from '@discordjs/voice';
import type { Allocation } from '../../src/server/index.js';
import { createTestAdapter } from '../../test/interop/djs-adapter.js';
import { loopFrames } from '../tone.js';
import { inBatches } from './types.js';
import type { BenchClient, FirstAudioClient, ReceiveClient } from './types.js';

const CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_CONCURRENCY = 50;
/** Receive with DAVE: wait after djs's DAVE session is ready before subscribing (see below). */
const DAVE_SETTLE_MS = 2_500;

function join(a: Allocation, dave: boolean, errors: string[]): VoiceConnection {
  const connection = joinVoiceChannel({
    guildId: a.guildId,
    channelId: a.channelId,
    adapterCreator: createTestAdapter(a).adapterCreator,
    daveEncryption: dave,
    selfDeaf: false,
    selfMute: false,
  });
  connection.on('error', (error) => errors.push(`connection: ${error.message}`));
  return connection;
}

/** One AudioPlayer looping `frames` on `connection`, as a djs bot plays a stream. */
function playOn(
  connection: VoiceConnection,
  frames: readonly Buffer[],
  inputType: StreamType,
  errors: string[],
): AudioPlayer {
  const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
  player.on('error', (error) => errors.push(`player: ${error.message}`));
  connection.subscribe(player);
  player.play(createAudioResource(Readable.from(loopFrames(frames)), { inputType }));
  return player;
}

/** Scenarios 1-3: one VoiceConnection and one AudioPlayer per allocation. */
export function createDjsClient(options: { dave: boolean }): BenchClient {
  const connections: VoiceConnection[] = [];
  const players: AudioPlayer[] = [];
  const errors: string[] = [];
  const start = (frames: readonly Buffer[], inputType: StreamType): void => {
    for (const connection of connections) players.push(playOn(connection, frames, inputType, errors));
  };

  return {
    errors,
    async connect(allocations: readonly Allocation[]) {
      await inBatches(allocations, CONNECT_CONCURRENCY, async (a) => {
        const connection = join(a, options.dave, errors);
        connections.push(connection);
        await entersState(connection, VoiceConnectionStatus.Ready, CONNECT_TIMEOUT_MS);
      });
    },
    play: (frames) => start(frames, StreamType.Opus),
    playPcm: (frames) => start(frames, StreamType.Raw),
    async close() {
      for (const player of players) {
        if (player.state.status !== AudioPlayerStatus.Idle) player.stop(true);
      }
      for (const connection of connections) connection.destroy();
    },
  };
}

/** Scenario 4: joinVoiceChannel (DAVE on), then subscribe a player and play at once. */
export function createDjsFirstAudioClient(): FirstAudioClient {
  const errors: string[] = [];
  let current: { connection: VoiceConnection; player: AudioPlayer } | undefined;
  const leave = (): void => {
    current?.player.stop(true);
    current?.connection.destroy();
    current = undefined;
  };
  return {
    errors,
    joinAndPlay(allocation, _tlsCa, frames) {
      const connection = join(allocation, true, errors);
      current = { connection, player: playOn(connection, frames, StreamType.Opus, errors) };
    },
    leave: async () => leave(),
    close: async () => leave(),
  };
}

/** The part of djs's networking state that says whether its DAVE session (davey) has keys. */
interface DjsDaveState {
  networking?: { state?: { dave?: { protocolVersion?: number; session?: { ready?: boolean } } } };
}

/** Resolves once djs's DAVE session is ready (internal state, read-only; polled every 50 ms). */
async function daveReady(connection: VoiceConnection): Promise<void> {
  const deadline = performance.now() + CONNECT_TIMEOUT_MS;
  for (;;) {
    const dave = (connection.state as DjsDaveState).networking?.state?.dave;
    if (dave?.session?.ready === true && (dave.protocolVersion ?? 0) > 0) return;
    if (performance.now() > deadline) throw new Error('djs: DAVE session not ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface PrismOpus {
  opus: { Decoder: new (options: { rate: number; channels: number; frameSize: number }) => Transform };
}

/** djs's own prism-media (a dependency of @discordjs/voice, not of ours). */
function djsPrism(): PrismOpus {
  const requireFromDjs = createRequire(createRequire(import.meta.url).resolve('@discordjs/voice'));
  return requireFromDjs('prism-media') as PrismOpus;
}

/**
 * Scenario 5: receiver.subscribe per user, each piped into a prism-media Opus decoder. With
 * `dave`, djs decrypts each frame with davey before its receive stream sees it.
 */
export function createDjsReceiveClient(options: { dave: boolean }): ReceiveClient {
  const errors: string[] = [];
  let connection: VoiceConnection | undefined;
  let bytes = 0;
  return {
    errors,
    async connect(allocation, _tlsCa, userIds) {
      const prism = djsPrism();
      connection = join(allocation, options.dave, errors);
      await entersState(connection, VoiceConnectionStatus.Ready, CONNECT_TIMEOUT_MS);
      // Until its DAVE session has the group's keys, and for about a second after (measured: the
      // join's transition), djs hands frames on still encrypted; its decoder then fails and that
      // user's stream ends. Subscribe once it decrypts (voxcord counts such frames instead).
      if (options.dave) {
        await daveReady(connection);
        await new Promise((resolve) => setTimeout(resolve, DAVE_SETTLE_MS));
      }
      for (const userId of userIds) {
        const opus = connection.receiver.subscribe(userId, { end: { behavior: EndBehaviorType.Manual } });
        const decoder = new prism.opus.Decoder({ rate: 48_000, channels: 2, frameSize: 960 });
        decoder.on('data', (pcm: Buffer) => (bytes += pcm.byteLength));
        decoder.on('error', (error: Error) => errors.push(`decoder: ${error.message}`));
        opus.pipe(decoder);
      }
    },
    pcmBytes: () => bytes,
    async close() {
      connection?.destroy();
    },
  };
}
