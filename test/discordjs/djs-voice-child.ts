/**
 * Child process for discordjs-bot.test.ts: runs the @discordjs/voice music bot against the local
 * Discord. Started with NODE_EXTRA_CA_CERTS (the voice server's self-signed CA), since
 * @discordjs/voice takes no TLS options. Env: BOT_TOKEN, API_URL. IPC out: { type: 'ready' } once
 * logged in, { type: 'error', message } on any client error.
 */
import { Events } from 'discord.js';
import { createDjsVoiceMusicBot } from './djs-voice-music-bot.js';

const client = createDjsVoiceMusicBot({ apiUrl: process.env.API_URL ?? '' });
client.on(Events.Error, (error) => process.send?.({ type: 'error', message: error.message }));
client.once(Events.ClientReady, () => process.send?.({ type: 'ready' }));
client.login(process.env.BOT_TOKEN).catch((error: unknown) => {
  process.send?.({ type: 'error', message: error instanceof Error ? error.message : String(error) });
});
process.on('disconnect', () => {
  void client.destroy().finally(() => process.exit(0));
});
