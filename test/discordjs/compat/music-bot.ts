/**
 * A music bot in the style of the @discordjs/voice guide: `!play <files...>` joins the caller's
 * voice channel and queues the files, each probed with demuxProbe; the player advances the queue
 * on AudioPlayerStatus.Idle; `!skip`, `!leave`. It reports in the text channel what it plays.
 * compat-bots.test.ts runs it as written (@discordjs/voice) and with only the import changed.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import {
  AudioPlayerStatus,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  demuxProbe,
  entersState,
  getVoiceConnection,
  joinVoiceChannel,
} from '@discordjs/voice';
import type { AudioResource } from '@discordjs/voice';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Message, SendableChannels } from 'discord.js';

interface Song {
  title: string;
}

export function createBot(options: { apiUrl: string }): Client {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildVoiceStates,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ],
    rest: { api: options.apiUrl },
  });
  const queue: string[] = [];
  const player = createAudioPlayer();
  let channel: SendableChannels | undefined;
  const say = (content: string): void => {
    channel?.send(content).catch((error: unknown) => client.emit(Events.Error, error as Error));
  };

  async function probeAndCreateResource(file: string): Promise<AudioResource<Song>> {
    const { stream, type } = await demuxProbe(createReadStream(file));
    return createAudioResource(stream, { inputType: type, metadata: { title: basename(file) } });
  }

  async function playNext(): Promise<void> {
    const next = queue.shift();
    if (next === undefined) {
      say('Queue finished.');
      return;
    }
    player.play(await probeAndCreateResource(next));
  }

  player.on('stateChange', (oldState, newState) => {
    if (oldState.status === AudioPlayerStatus.Buffering && newState.status === AudioPlayerStatus.Playing)
      say(`Now playing ${(newState.resource.metadata as Song).title}`);
  });
  player.on(AudioPlayerStatus.Idle, () => {
    playNext().catch((error: unknown) => client.emit(Events.Error, error as Error));
  });
  player.on('error', (error) => {
    say(`Error: ${error.message} (${(error.resource.metadata as Song).title})`);
  });

  async function play(message: Message<true>, files: string[]): Promise<void> {
    const voiceChannel = message.member?.voice.channel;
    if (!voiceChannel) {
      await message.reply('Join a voice channel first.');
      return;
    }
    const connection = joinVoiceChannel({
      channelId: voiceChannel.id,
      guildId: voiceChannel.guild.id,
      adapterCreator: voiceChannel.guild.voiceAdapterCreator,
    });
    await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
    connection.subscribe(player);
    queue.push(...files);
    await message.reply(`Queued ${files.length} tracks.`);
    if (player.state.status === AudioPlayerStatus.Idle) await playNext();
  }

  client.on(Events.MessageCreate, (message) => {
    if (message.author.bot || !message.inGuild()) return;
    channel = message.channel;
    const [command, ...args] = message.content.split(' ');
    const done = (error: unknown): void => void client.emit(Events.Error, error as Error);
    if (command === '!play') play(message, args).catch(done);
    else if (command === '!skip') player.stop();
    else if (command === '!leave') {
      getVoiceConnection(message.guildId)?.destroy();
      message.reply('Bye.').catch(done);
    }
  });
  return client;
}
