/**
 * The bench's fair peer for `voxcord node`: the same protocol front end (src/node/server.ts) over
 * @discordjs/voice + davey instead of voxcord's voice. Only what the node bench drives: PATCH
 * voice, play a local or http Ogg/Opus file passed through (StreamType.OggOpus, no re-encoding), stop,
 * pause. Seek, endTime, volume and filters are accepted and ignored (the bench does not use them);
 * there are no frame counters (frameStats null). The process must trust the local server's CA
 * (NODE_EXTRA_CA_CERTS): djs opens `wss://` itself and takes no TLS options.
 */
import { createReadStream } from 'node:fs';
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
import type { AudioPlayer, AudioResource, VoiceConnection } from '@discordjs/voice';
import type {
  BackendPlayer,
  BackendPlayerContext,
  BackendPlayerListener,
  NodePlayerBackend,
  PlayableTrack,
  PlayOptions,
  VoiceCredentials,
} from '../src/node/backend.js';
import { httpBytes } from '../src/node/voice-backend.js';
import { createTestAdapter } from '../test/interop/djs-adapter.js';

const CONNECT_TIMEOUT_MS = 60_000;

class DjsPlayer implements BackendPlayer {
  private connection: VoiceConnection | undefined;
  private readonly player: AudioPlayer;
  private resource: AudioResource | undefined;
  private startMs = 0;
  private generation = 0;

  constructor(
    private readonly ctx: BackendPlayerContext,
    private readonly listener: BackendPlayerListener,
  ) {
    this.player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
    this.player.on('error', () => this.listener.trackEnd('loadFailed'));
    this.player.on('stateChange', (old, next) => {
      if (old.status !== AudioPlayerStatus.Idle && next.status === AudioPlayerStatus.Idle && this.resource)
        this.listener.trackEnd('finished');
    });
  }

  play(track: PlayableTrack, options: PlayOptions): void {
    const uri = track.info.uri ?? track.info.identifier;
    this.startMs = options.startMs;
    // An http(s) track (the bench's --source=http) through the same http client as the voxcord node's.
    const bytes = /^https?:/i.test(uri) ? Readable.from(httpBytes(uri)()) : createReadStream(uri);
    this.resource = createAudioResource(bytes, { inputType: StreamType.OggOpus });
    this.player.play(this.resource);
    if (options.paused) this.player.pause();
    this.listener.trackStart();
  }

  stop(): void {
    this.resource = undefined;
    this.player.stop(true);
  }

  setPaused(paused: boolean): void {
    if (paused) this.player.pause();
    else this.player.unpause();
  }

  seek(): void {}
  setEndTime(): void {}
  setVolume(): void {}
  setFilters(): void {}

  async connect(voice: VoiceCredentials): Promise<void> {
    const generation = ++this.generation;
    this.connection?.destroy();
    const { adapterCreator } = createTestAdapter({
      guildId: this.ctx.guildId,
      channelId: voice.channelId,
      userId: this.ctx.userId,
      endpoint: voice.endpoint,
      token: voice.token,
      sessionId: voice.sessionId,
      serverId: this.ctx.guildId,
    });
    const connection = joinVoiceChannel({
      guildId: this.ctx.guildId,
      channelId: voice.channelId,
      adapterCreator,
      group: `djs-node:${this.ctx.sessionId}`,
      selfDeaf: true,
      selfMute: false,
    });
    connection.on('error', () => undefined);
    this.connection = connection;
    connection.subscribe(this.player);
    try {
      await entersState(connection, VoiceConnectionStatus.Ready, CONNECT_TIMEOUT_MS);
    } catch (err) {
      if (generation !== this.generation) return;
      throw err instanceof Error ? err : new Error(String(err));
    }
    if (generation === this.generation) this.listener.voiceReady();
  }

  get position(): number {
    return this.startMs + (this.resource?.playbackDuration ?? 0);
  }

  get connected(): boolean {
    return this.connection?.state.status === VoiceConnectionStatus.Ready;
  }

  get ping(): number {
    return this.connection?.ping.ws ?? -1;
  }

  get frames(): undefined {
    return undefined;
  }

  destroy(): void {
    this.generation++;
    this.resource = undefined;
    this.player.stop(true);
    this.connection?.destroy();
    this.connection = undefined;
  }
}

export function createDjsBackend(): NodePlayerBackend {
  return {
    name: 'discordjs-voice',
    createPlayer: (context, listener) => new DjsPlayer(context, listener),
  };
}
