/**
 * Child process for compat-bots.test.ts: imports the bot module BOT_MODULE (the fixture as
 * written, on @discordjs/voice, or its copy with only the import changed to voxcord's), creates
 * the bot with API_URL and the JSON BOT_OPTIONS, and logs in with BOT_TOKEN. Started with
 * NODE_EXTRA_CA_CERTS (the local voice server's CA): @discordjs/voice takes no TLS options, and
 * the voxcord run gets the same environment. IPC out: { type: 'ready' }, { type: 'error', message }.
 */
import type { Client } from 'discord.js';

const send = (message: { type: string; message?: string }): void => void process.send?.(message);
const failed = (error: unknown): void =>
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
process.on('unhandledRejection', failed);
process.on('uncaughtException', failed);

const bot = (await import(process.env.BOT_MODULE ?? '')) as {
  createBot(options: Record<string, unknown>): Client;
};
const client = bot.createBot({
  apiUrl: process.env.API_URL,
  ...(JSON.parse(process.env.BOT_OPTIONS ?? '{}') as Record<string, unknown>),
});
client.on('error', failed);
client.once('clientReady', () => send({ type: 'ready' }));
client.login(process.env.BOT_TOKEN).catch(failed);
process.on('disconnect', () => {
  void client.destroy().finally(() => process.exit(0));
});
