/**
 * The whole local Discord a bot needs: the main gateway subset (op 4 -> the two voice events) and
 * the REST routes gateway libraries call, in front of the voice server (voice gateway, SFU, DAVE).
 * What the demo, `voxcord serve` and tests that go through the real join path start. An unmodified
 * discord.js Client logs in with `rest: { api: apiUrl }` and a token from `createBot`.
 */
import { checkArg, checkOptions } from '../util/args.js';
import { startMainGateway } from './main-gateway.js';
import type { MainGateway, MainGatewayGuild, MainGatewayOptions } from './main-gateway.js';
import { startVoiceServer } from './voice-server.js';
import type { VoiceServer } from './voice-server.js';
import type { VoiceServerOptions } from './types.js';

export interface LocalDiscordOptions {
  /** Guilds the bots are in (with their channels); the same as `gateway.guilds`, added to it. */
  guilds?: MainGatewayGuild[];
  voice?: VoiceServerOptions;
  gateway?: Omit<MainGatewayOptions, 'voiceServer'>;
}

/** Operator controls that drive a bot the way users do (see MainGateway for each). */
export const OPERATOR_CONTROLS = [
  'addGuild',
  'addChannel',
  'addUser',
  'sendMessage',
  'runCommand',
  'messages',
  'waitForMessage',
  'commands',
  'setUserVoiceState',
  'moveUser',
  'kick',
  'setServerVoiceFlags',
  'userAdapterCreator',
  'voiceStates',
  'setVoiceEventOrder',
] as const satisfies ReadonlyArray<keyof MainGateway>;

export type LocalDiscordOperatorControls = Pick<MainGateway, (typeof OPERATOR_CONTROLS)[number]>;

export interface LocalDiscord extends LocalDiscordOperatorControls {
  readonly voice: VoiceServer;
  readonly gateway: MainGateway;
  /**
   * A bot token the local gateway accepts, and where a bot connects with it. With discord.js:
   * `new Client({ intents, rest: { api: apiUrl } })` then `client.login(token)`.
   */
  createBot(userId: string): { token: string; apiUrl: string; gatewayUrl: string };
  stop(): Promise<void>;
}

export async function startLocalDiscord(options: LocalDiscordOptions = {}): Promise<LocalDiscord> {
  checkOptions(options);
  checkOptions(options.voice, 'voice');
  checkOptions(options.gateway, 'gateway');
  checkArg(options.guilds, 'guilds', 'array', 'optional');
  const voice = await startVoiceServer(options.voice);
  let gateway: MainGateway;
  try {
    gateway = await startMainGateway({
      ...options.gateway,
      guilds: [...(options.gateway?.guilds ?? []), ...(options.guilds ?? [])],
      voiceServer: voice,
    });
  } catch (error) {
    await voice.stop();
    throw error;
  }
  const controls = Object.fromEntries(
    OPERATOR_CONTROLS.map((name) => [name, (gateway[name] as (...args: unknown[]) => unknown).bind(gateway)]),
  ) as unknown as LocalDiscordOperatorControls;
  return {
    ...controls,
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
