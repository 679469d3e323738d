/**
 * A radio bot in the style of the @discordjs/voice guide: one AudioPlayer plays a station (an Ogg
 * Opus file); `!radio` in any guild joins the caller's channel and subscribes that connection to
 * the same player, so every guild hears the same broadcast.
 */
import { createReadStream } from 'node:fs';
import {
  AudioPlayerStatus,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  getVoiceConnections,
  joinVoiceChannel,
} from '@discordjs/voice';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Message } from 'discord.js';

export function createBot(options: { apiUrl: string; station: string }): Client {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildVoiceStates,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ],
    rest: { api: options.apiUrl },
  });
  const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
  const startStation = (): void => {
    player.play(createAudioResource(createReadStream(options.station), { inputType: StreamType.OggOpus }));
  };
  player.on(AudioPlayerStatus.Idle, startStation);
  player.on('error', (error) => client.emit(Events.Error, error));

  async function tuneIn(message: Message<true>): Promise<void> {
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
    if (player.state.status === AudioPlayerStatus.Idle) startStation();
    await entersState(player, AudioPlayerStatus.Playing, 5_000);
    await message.reply(
      `Tuned in (${getVoiceConnections().size} guilds, ${player.playable.length} playing).`,
    );
  }

  client.on(Events.MessageCreate, (message) => {
    if (message.author.bot || !message.inGuild()) return;
    if (message.content === '!radio')
      tuneIn(message).catch((error: unknown) => client.emit(Events.Error, error as Error));
  });
  return client;
}
