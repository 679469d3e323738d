/**
 * The whole local Discord a bot needs: the main gateway subset (op 4 -> the two voice events) in
 * front of the voice server (voice gateway, SFU, DAVE). What the demo, `voxcord serve` and tests
 * that go through the real join path start.
 */
import { startMainGateway } from './main-gateway.js';
import type { MainGateway, MainGatewayOptions } from './main-gateway.js';
import { startVoiceServer } from './index.js';
import type { VoiceServer } from './index.js';
import type { VoiceServerOptions } from './types.js';

export interface LocalDiscordOptions {
  voice?: VoiceServerOptions;
  gateway?: Omit<MainGatewayOptions, 'voiceServer'>;
}

export interface LocalDiscord {
  readonly voice: VoiceServer;
  readonly gateway: MainGateway;
  /** A bot token the local gateway accepts, and where a bot connects with it. */
  createBot(userId: string): { token: string; apiUrl: string; gatewayUrl: string };
  stop(): Promise<void>;
}

export async function startLocalDiscord(options: LocalDiscordOptions = {}): Promise<LocalDiscord> {
  const voice = await startVoiceServer(options.voice);
  let gateway: MainGateway;
  try {
    gateway = await startMainGateway({ ...options.gateway, voiceServer: voice });
  } catch (error) {
    await voice.stop();
    throw error;
  }
  return {
    voice,
    gateway,
    createBot: (userId) => ({
      token: gateway.createToken(userId),
      apiUrl: gateway.apiUrl,
      gatewayUrl: gateway.url,
    }),
    async stop() {
      await gateway.stop();
      await voice.stop();
    },
  };
}
