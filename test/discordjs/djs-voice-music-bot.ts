/**
 * The same music bot as voxcord-music-bot.ts, on @discordjs/voice: /play joins the caller's voice
 * channel and plays a tone (raw PCM, encoded by prism-media with opusscript), "!ping" answers
 * "pong". @discordjs/voice always opens wss://, so the process that runs it must trust the local
 * voice server's certificate (NODE_EXTRA_CA_CERTS, see djs-voice-child.ts).
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
import { Client, Events, GatewayIntentBits, MessageFlags } from 'discord.js';
import type { ChatInputCommandInteraction } from 'discord.js';
import { sinePcm } from '../support/tone.js';

export const PLAY_FREQUENCY = 440;

export function createDjsVoiceMusicBot(options: { apiUrl?: string; toneMs?: number } = {}): Client {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildVoiceStates,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ],
    ...(options.apiUrl === undefined ? {} : { rest: { api: options.apiUrl } }),
  });
  const connections = new Map<string, VoiceConnection>();
  const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });

  client.once(Events.ClientReady, (ready) => {
    ready.application.commands
      .set([{ name: 'play', description: 'Play a tone in your voice channel' }])
      .catch((error: unknown) => client.emit(Events.Error, error as Error));
  });

  const play = async (interaction: ChatInputCommandInteraction<'cached'>): Promise<void> => {
    const channel = interaction.member.voice.channel;
    if (channel === null || !channel.joinable) {
      await interaction.reply({
        content: 'Join a voice channel I can join first.',
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    await interaction.deferReply();
    const connection = joinVoiceChannel({
      guildId: channel.guild.id,
      channelId: channel.id,
      adapterCreator: channel.guild.voiceAdapterCreator,
    });
    connections.set(channel.guild.id, connection);
    await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
    connection.subscribe(player);
    player.play(
      createAudioResource(Readable.from([sinePcm(options.toneMs ?? 1_500, PLAY_FREQUENCY)]), {
        inputType: StreamType.Raw,
      }),
    );
    await entersState(player, AudioPlayerStatus.Playing, 5_000);
    await interaction.editReply(`Playing a ${PLAY_FREQUENCY} Hz tone in ${channel.name}.`);
  };

  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isChatInputCommand() || !interaction.inCachedGuild()) return;
    if (interaction.commandName === 'play')
      play(interaction).catch((error: unknown) => client.emit(Events.Error, error as Error));
  });
  client.on(Events.MessageCreate, (message) => {
    if (message.author.bot || message.content !== '!ping') return;
    message.reply('pong').catch((error: unknown) => client.emit(Events.Error, error as Error));
  });

  const destroy = client.destroy.bind(client);
  client.destroy = async () => {
    player.stop(true);
    for (const connection of connections.values()) connection.destroy();
    connections.clear();
    await destroy();
  };
  return client;
}
