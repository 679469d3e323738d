/**
 * @discordjs/voice under bench: one VoiceConnection and one AudioPlayer per allocation, joined
 * through the test adapter. The process must trust the local server's CA (NODE_EXTRA_CA_CERTS):
 * the library opens `wss://` itself and takes no TLS options.
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
import type { AudioPlayer, VoiceConnection } from '@discordjs/voice';
import type { Allocation } from '../../src/server/index.js';
import { createTestAdapter } from '../../test/interop/djs-adapter.js';
import { loopFrames } from '../tone.js';
import { inBatches } from './types.js';
import type { BenchClient } from './types.js';

const CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_CONCURRENCY = 50;

export function createDjsClient(options: { dave: boolean }): BenchClient {
  const connections: VoiceConnection[] = [];
  const players: AudioPlayer[] = [];
  const errors: string[] = [];

  return {
    errors,
    async connect(allocations: readonly Allocation[]) {
      await inBatches(allocations, CONNECT_CONCURRENCY, async (a) => {
        const { adapterCreator } = createTestAdapter(a);
        const connection = joinVoiceChannel({
          guildId: a.guildId,
          channelId: a.channelId,
          adapterCreator,
          daveEncryption: options.dave,
          selfDeaf: false,
          selfMute: false,
        });
        connection.on('error', (error) => errors.push(`connection: ${error.message}`));
        connections.push(connection);
        await entersState(connection, VoiceConnectionStatus.Ready, CONNECT_TIMEOUT_MS);
      });
    },
    play(frames) {
      for (const connection of connections) {
        const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
        player.on('error', (error) => errors.push(`player: ${error.message}`));
        connection.subscribe(player);
        player.play(createAudioResource(Readable.from(loopFrames(frames)), { inputType: StreamType.Opus }));
        players.push(player);
      }
    },
    async close() {
      for (const player of players) {
        if (player.state.status !== AudioPlayerStatus.Idle) player.stop(true);
      }
      for (const connection of connections) connection.destroy();
    },
  };
}
