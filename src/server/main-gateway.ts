/**
 * The subset of Discord's main gateway (v10, JSON) a voice bot needs, for the local server:
 * GET /api/v10/gateway/bot, Hello, Identify -> READY (+ GUILD_CREATE), heartbeats, Resume, and
 * op 4 -> VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE (voice-gateway.md §2) with credentials from
 * the local voice server. Operator controls drive every lifecycle case from tests: move a user,
 * change a call's voice endpoint, kick, end a call, fill a channel, revoke a token.
 *
 * @discordjs/ws connects to it unmodified: give it a REST client whose base URL is `apiUrl`
 * (`createGatewayClient({ token, apiUrl })`, or `new REST({ api: apiUrl })`); GET /gateway/bot
 * returns this server's `url`.
 *
 * The wing has the voice server's shape (voice-server.ts): this file checks the options and wires
 * the parts, each with one job: main-gateway-server.ts (sockets: HTTP + websocket, one connection
 * per socket), main-state.ts (sessions and protocol rules, no sockets), bot-session.ts,
 * bot-tokens.ts, guild-registry.ts (the world), rest-api.ts / rest-http.ts (REST),
 * operator-controls.ts.
 */
import { GatewayCloseCode } from '../protocol/constants.js';
import { VoxcordError } from '../errors.js';
import { checkArg, checkCloseCode, checkDelay, checkMethods } from '../util/args.js';
import { Activity } from './activity.js';
import { BotTokens } from './bot-tokens.js';
import { GuildRegistry } from './guild-registry.js';
import { MainGatewayServer } from './main-gateway-server.js';
import { MainGatewayState } from './main-state.js';
import type { GatewayBotInfo, MainGateway, MainGatewayOptions } from './main-types.js';
import { OperatorControls } from './operator-controls.js';
import { createRestHandler } from './rest-api.js';

export { createBotToken, userIdFromToken } from './bot-tokens.js';
export type {
  GatewayBotInfo,
  MainGateway,
  MainGatewayLogEvent,
  MainGatewayOptions,
  MainGatewayVoiceServer,
  VoiceEventOrder,
  VoiceStateInfo,
} from './main-types.js';
export type { VoiceFlags } from './forwarding.js';
export type { MainGatewayGuild, LocalChannelSpec, PermissionOverwriteSpec } from './discord-model.js';
export type { LocalMessage, LocalInteraction, LocalMessageKind, MessageFilter } from './activity.js';

export async function startMainGateway(options: MainGatewayOptions): Promise<MainGateway> {
  checkArg(options, 'options', 'object');
  checkMethods(options.voiceServer, 'voiceServer', 'a VoiceServer', ['allocate']);
  checkArg(options.guilds, 'guilds', 'array', 'optional');
  const host = options.host ?? '127.0.0.1';
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 2 * heartbeatIntervalMs + 5_000;
  checkDelay(options.sessionGraceMs, 'sessionGraceMs', 'optional');
  const shards = options.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1)
    throw new VoxcordError('INVALID_ARGUMENT', 'shards must be >= 1');
  const log = options.log ?? ((): void => {});
  const registry = new GuildRegistry(options.strictGuilds === true, options.guilds);
  const tokens = new BotTokens(options.tokens);
  const activity = new Activity();

  const server = await MainGatewayServer.listen({
    host,
    port: options.port ?? 0,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    sessionGraceMs: options.sessionGraceMs ?? 60_000,
    log,
  });
  log({ type: 'listening', detail: server.url });
  const gatewayInformation = (): GatewayBotInfo => ({
    url: server.url,
    shards,
    session_start_limit: {
      total: 1000,
      remaining: 1000,
      reset_after: 86_400_000,
      max_concurrency: options.maxConcurrency ?? 16,
    },
  });

  const state = new MainGatewayState({
    wsUrl: server.url,
    voiceServer: options.voiceServer,
    registry,
    tokens,
    order: options.voiceEventOrder ?? 'state-first',
    random: options.random ?? Math.random,
    log,
  });
  server.serve(
    state,
    createRestHandler({
      gatewayInformation,
      wsUrl: server.url,
      tokenUser: (authorization) => {
        const userId = tokens.userOf(authorization);
        if (userId !== null) registry.enrolBot(userId);
        return userId;
      },
      guilds: registry.guilds,
      user: (id) => registry.user(id),
      knownUser: (id) => registry.knownUser(id),
      activity,
      commands: registry.commands,
      voiceStatePayload: (voiceState) => registry.voiceStatePayload(voiceState),
      messageCreated: (message) => state.messageCreated(message),
    }),
  );
  const controls = new OperatorControls(state, activity, log);

  let stopping: Promise<void> | null = null;
  return {
    url: server.url,
    apiUrl: server.apiUrl,
    port: server.port,
    gatewayInformation,
    createToken: (userId) => tokens.issue(userId),
    revokeToken: (token) => state.revoke(token),
    setUserLimit: (guildId, channelId, limit) => controls.setUserLimit(guildId, channelId, limit),
    setVoiceEventOrder: (order) => controls.setVoiceEventOrder(order),
    voiceStates: (guildId) => controls.voiceStates(guildId),
    addGuild: (guild) => controls.addGuild(guild),
    addChannel: (guildId, channel) => controls.addChannel(guildId, channel),
    addUser: (user) => controls.addUser(user),
    sendMessage: (message) => controls.sendMessage(message),
    runCommand: (command) => controls.runCommand(command),
    messages: (filter) => controls.messages(filter),
    waitForMessage: (filter, timeoutMs) => controls.waitForMessage(filter, timeoutMs),
    commands: (botId) => controls.commands(botId),
    setServerVoiceFlags: (guildId, userId, flags) => controls.setServerVoiceFlags(guildId, userId, flags),
    userAdapterCreator: (userId, guildId) => controls.userAdapterCreator(userId, guildId),
    setUserVoiceState: (guildId, userId, channelId) => controls.setUserVoiceState(guildId, userId, channelId),
    moveUser: (guildId, userId, channelId, moveOptions) =>
      controls.moveUser(guildId, userId, channelId, moveOptions),
    changeEndpoint: (guildId, changeOptions) => controls.changeEndpoint(guildId, changeOptions),
    kick: (guildId, userId) => controls.kick(guildId, userId),
    endCall: (guildId, channelId) => controls.endCall(guildId, channelId),
    dropConnections(code = GatewayCloseCode.UnknownError) {
      checkCloseCode(code, 'code');
      return server.dropConnections(code);
    },
    stop() {
      stopping ??= (async () => {
        await server.close();
        activity.clear();
        log({ type: 'stopped' });
      })();
      return stopping;
    },
  };
}
