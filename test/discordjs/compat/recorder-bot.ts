/**
 * A recorder in the style of the @discordjs/voice guide: `!record` joins the caller's channel
 * undeafened and, when that user starts speaking, pipes their Opus packets into an Ogg file until
 * one second of silence (EndBehaviorType.AfterSilence). The guide uses prism-media's
 * OggLogicalBitstream; this bot uses voxcord's Ogg writer in a small Transform, in both runs.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransformCallback } from 'node:stream';
import { EndBehaviorType, VoiceConnectionStatus, entersState, joinVoiceChannel } from '@discordjs/voice';
import type { VoiceConnection } from '@discordjs/voice';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Message } from 'discord.js';
import { createOggOpusWriter } from '../../../src/index.js';

/** Opus packets in, Ogg Opus pages out (what prism.opus.OggLogicalBitstream does). */
class OggLogicalBitstream extends Transform {
  private readonly writer = createOggOpusWriter(
    new Writable({
      write: (page: Buffer, _encoding, callback) => {
        this.push(page);
        callback();
      },
    }),
  );

  constructor() {
    super({ writableObjectMode: true });
  }

  override _transform(packet: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.writer.write(packet);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.writer.close().then(() => callback(), callback);
  }
}

export function createBot(options: { apiUrl: string; outDir: string }): Client {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildVoiceStates,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ],
    rest: { api: options.apiUrl },
  });

  function createListeningStream(connection: VoiceConnection, userId: string, message: Message<true>): void {
    const opusStream = connection.receiver.subscribe(userId, {
      end: { behavior: EndBehaviorType.AfterSilence, duration: 1000 },
    });
    const filename = join(options.outDir, `${Date.now()}-${userId}.ogg`);
    let packets = 0;
    opusStream.on('data', () => (packets += 1));
    pipeline(opusStream, new OggLogicalBitstream(), createWriteStream(filename))
      .then(() => message.channel.send(`Recorded ${filename} ${packets}`))
      .catch((error: unknown) => message.channel.send(`Recording failed: ${String(error)}`))
      .catch((error: unknown) => client.emit(Events.Error, error as Error));
  }

  async function record(message: Message<true>): Promise<void> {
    const voiceChannel = message.member?.voice.channel;
    if (!voiceChannel) {
      await message.reply('Join a voice channel first.');
      return;
    }
    const connection = joinVoiceChannel({
      channelId: voiceChannel.id,
      guildId: voiceChannel.guild.id,
      adapterCreator: voiceChannel.guild.voiceAdapterCreator,
      selfDeaf: false,
      selfMute: true,
    });
    await entersState(connection, VoiceConnectionStatus.Ready, 10_000);
    const receiver = connection.receiver;
    receiver.speaking.on('start', (userId) => {
      if (userId === message.author.id && !receiver.subscriptions.has(userId))
        createListeningStream(connection, userId, message);
    });
    await message.reply('Listening.');
  }

  client.on(Events.MessageCreate, (message) => {
    if (message.author.bot || !message.inGuild()) return;
    if (message.content === '!record')
      record(message).catch((error: unknown) => client.emit(Events.Error, error as Error));
  });
  return client;
}
