/**
 * A small discord.js music bot on voxcord, written as a user would (nothing in it knows about the
 * local Discord except the two options a test passes): /play joins the caller's voice channel and
 * plays a tone, "!ping" answers "pong". The tests drive it through the local Discord.
 */
import { Client, Events, GatewayIntentBits, MessageFlags } from 'discord.js';
import type { ChatInputCommandInteraction, Message } from 'discord.js';
import { AudioPlayer, entersState, joinVoiceChannel, toneInput } from '../../src/index.js';
import type { VoiceConnection } from '../../src/index.js';

export interface MusicBotOptions {
  /** The REST base URL (the local Discord's `apiUrl`); Discord's by default. */
  apiUrl?: string;
  /** false for the local voice server's ws:// (Discord is always wss://). */
  voiceTls?: false;
  /** Tone length in ms (default 1500). */
  toneMs?: number;
}

export const PLAY_FREQUENCY = 440;

export function createMusicBot(options: MusicBotOptions = {}): Client {
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

  client.once(Events.ClientReady, (ready) => {
    ready.application.commands
      .set([
        { name: 'play', description: 'Play a tone in your voice channel' },
        { name: 'stop', description: 'Leave the voice channel' },
      ])
      .catch((error: unknown) => client.emit(Events.Error, error as Error));
  });

  const play = async (interaction: ChatInputCommandInteraction<'cached'>): Promise<void> => {
    const channel = interaction.member.voice.channel;
    if (channel === null) {
      await interaction.reply({ content: 'Join a voice channel first.', flags: MessageFlags.Ephemeral });
      return;
    }
    if (!channel.joinable) {
      await interaction.reply({ content: `I cannot join ${channel.name}.`, flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.deferReply();
    const connection = joinVoiceChannel({
      guildId: channel.guild.id,
      channelId: channel.id,
      adapterCreator: channel.guild.voiceAdapterCreator,
      ...(options.voiceTls === false ? { tls: false } : {}),
    });
    connections.set(channel.guild.id, connection);
    await entersState(connection, 'ready', 10_000);
    const player = new AudioPlayer();
    player.attach(connection);
    player.play(toneInput({ notes: [{ frequency: PLAY_FREQUENCY, ms: options.toneMs ?? 1_500 }] }));
    await interaction.editReply(`Playing a ${PLAY_FREQUENCY} Hz tone in ${channel.name}.`);
  };

  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isChatInputCommand() || !interaction.inCachedGuild()) return;
    const run =
      interaction.commandName === 'play'
        ? play(interaction)
        : interaction.commandName === 'stop'
          ? (async () => {
              connections.get(interaction.guildId)?.destroy();
              connections.delete(interaction.guildId);
              await interaction.reply('Bye.');
            })()
          : interaction
              .reply({ content: 'Unknown command.', flags: MessageFlags.Ephemeral })
              .then(() => undefined);
    run.catch((error: unknown) => client.emit(Events.Error, error as Error));
  });

  client.on(Events.MessageCreate, (message: Message) => {
    if (message.author.bot || message.content !== '!ping') return;
    message.reply('pong').catch((error: unknown) => client.emit(Events.Error, error as Error));
  });

  const destroy = client.destroy.bind(client);
  client.destroy = async () => {
    for (const connection of connections.values()) connection.destroy();
    connections.clear();
    await destroy();
  };
  return client;
}
