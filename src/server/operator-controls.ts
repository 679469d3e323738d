/**
 * Operator controls of the local main gateway: what tests and demos do to a bot the way users and
 * Discord do it (add guilds, channels and users, write messages, run slash commands, join, move,
 * kick, deafen, change a call's voice endpoint, end a call), each as dispatches through the shared
 * state (main-state.ts). See MainGateway (main-types.ts) for each control's contract.
 */
import { randomBytes } from 'node:crypto';
import { GatewayIntent, VoiceCloseCode } from '../protocol/constants.js';
import { toError, VoxcordError } from '../errors.js';
import {
  checkArg,
  checkDelay,
  checkMethods,
  checkNumber,
  checkOneOf,
  checkOptions,
  invalidArgument,
} from '../util/args.js';
import { addChannel, channelPayload, checkGuildSpec, checkSnowflake, ensureMember } from './discord-model.js';
import type { VoiceStateRecord } from './discord-model.js';
import { checkMessageFilter } from './activity.js';
import type { Activity } from './activity.js';
import { BotSession } from './bot-session.js';
import { interactionCreatePayload } from './interaction-payload.js';
import { isObject } from './main-state.js';
import type { MainGatewayState } from './main-state.js';
import type { MainGateway, MainGatewayLogEvent } from './main-types.js';

/** The MainGateway methods this class implements. */
export type OperatorControlName =
  | 'setUserLimit'
  | 'setVoiceEventOrder'
  | 'voiceStates'
  | 'addGuild'
  | 'addChannel'
  | 'addUser'
  | 'sendMessage'
  | 'runCommand'
  | 'messages'
  | 'waitForMessage'
  | 'commands'
  | 'setServerVoiceFlags'
  | 'userAdapterCreator'
  | 'setUserVoiceState'
  | 'moveUser'
  | 'changeEndpoint'
  | 'kick'
  | 'endCall';

export class OperatorControls implements Pick<MainGateway, OperatorControlName> {
  constructor(
    private readonly state: MainGatewayState,
    private readonly activity: Activity,
    private readonly log: (event: MainGatewayLogEvent) => void,
  ) {}

  private get registry(): MainGatewayState['registry'] {
    return this.state.registry;
  }

  // ---- the world ----

  setUserLimit(guildId: string, channelId: string, limit: number | null): void {
    const guild = this.registry.guildFor(guildId);
    const channel = guild && this.registry.channelFor(guild, channelId);
    if (channel === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'unknown guild or channel');
    if (limit !== null) checkNumber(limit, 'limit', { integer: true, min: 0 });
    // 0 is no limit, as in a channel spec and on Discord.
    channel.userLimit = limit === 0 ? null : limit;
  }

  setVoiceEventOrder(order: MainGatewayState['order']): void {
    this.state.order = checkOneOf(order, 'order', ['state-first', 'server-first', 'random']);
  }

  addGuild(spec: Parameters<MainGateway['addGuild']>[0]): boolean {
    checkGuildSpec(spec);
    if (this.registry.guilds.has(spec.id)) return false;
    const guild = this.registry.add(spec);
    for (const session of this.state.sessionsForGuild(guild.id)) {
      ensureMember(guild, this.registry.user(session.userId));
      if (session.hasIntent(GatewayIntent.Guilds))
        session.dispatch('GUILD_CREATE', this.registry.guildCreate(guild));
    }
    return true;
  }

  addChannel(guildId: string, spec: Parameters<MainGateway['addChannel']>[1]): void {
    const guild = this.registry.get(guildId);
    if (guild === undefined) throw new VoxcordError('INVALID_ARGUMENT', `unknown guild ${guildId}`);
    checkArg(spec, 'channel', 'object');
    if (guild.channels.has(spec.id)) throw new VoxcordError('INVALID_ARGUMENT', `channel ${spec.id} exists`);
    const channel = addChannel(guild, spec);
    this.state.broadcast(guildId, GatewayIntent.Guilds, 'CHANNEL_CREATE', () =>
      channelPayload(guild, channel),
    );
  }

  addUser(spec: Parameters<MainGateway['addUser']>[0]): void {
    checkArg(spec, 'user', 'object');
    checkSnowflake(spec.id, 'user id');
    checkArg(spec.username, 'username', 'string', 'optional');
    checkArg(spec.globalName, 'globalName', 'string', 'optional');
    const user = this.registry.user(spec.id);
    if (spec.username !== undefined) user.username = spec.username;
    if (spec.globalName !== undefined) user.globalName = spec.globalName;
  }

  // ---- messages and interactions ----

  sendMessage({
    channelId,
    userId,
    content,
  }: Parameters<MainGateway['sendMessage']>[0]): ReturnType<MainGateway['sendMessage']> {
    checkSnowflake(userId, 'userId');
    checkArg(channelId, 'channelId', 'string');
    if (typeof content !== 'string') throw invalidArgument('content', 'a string', content);
    const guild = this.registry.guildOfChannel(channelId);
    ensureMember(guild, this.registry.user(userId));
    const message = this.activity.addMessage({
      channelId,
      guildId: guild.id,
      authorId: userId,
      kind: 'user',
      content,
      embeds: [],
      components: [],
      flags: 0,
      ephemeral: false,
      attachments: [],
      interactionId: null,
      loading: false,
    });
    this.log({ type: 'message', userId, guildId: guild.id, channelId });
    this.state.messageCreated(message);
    return message;
  }

  runCommand(command: Parameters<MainGateway['runCommand']>[0]): ReturnType<MainGateway['runCommand']> {
    checkArg(command, 'command', 'object');
    checkArg(command.name, 'command name', 'string');
    checkArg(command.channelId, 'channelId', 'string');
    checkSnowflake(command.userId, 'userId');
    if (command.botId !== undefined) checkSnowflake(command.botId, 'botId');
    checkOptions(command.options, 'command options');
    const guild = this.registry.guildOfChannel(command.channelId);
    const channel = guild.channels.get(command.channelId)!;
    const user = this.registry.user(command.userId);
    ensureMember(guild, user);
    const bots = [...new Set(this.state.sessionsForGuild(guild.id).map((s) => s.userId))];
    const botId = command.botId ?? (bots.length === 1 ? bots[0] : undefined);
    const session = botId === undefined ? undefined : this.state.botSessionOf(guild.id, botId);
    if (botId === undefined || session === undefined)
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        bots.length === 0 ? 'no bot is connected to this guild' : 'several bots are connected: pass botId',
      );
    const scopes = this.registry.commands.get(botId);
    const definition = [...(scopes?.get(guild.id) ?? []), ...(scopes?.get('global') ?? [])].find(
      (c) => c.name === command.name,
    );
    const interaction = this.activity.addInteraction(
      botId,
      command.name,
      guild.id,
      command.channelId,
      user.id,
    );
    this.log({
      type: 'interaction',
      userId: user.id,
      guildId: guild.id,
      channelId: command.channelId,
      detail: `/${command.name}`,
    });
    session.dispatch(
      'INTERACTION_CREATE',
      interactionCreatePayload({
        interaction,
        guild,
        channel,
        user,
        users: (id) => this.registry.user(id),
        definition,
        options: command.options ?? {},
      }),
    );
    return interaction;
  }

  messages(filter?: Parameters<MainGateway['messages']>[0]): ReturnType<MainGateway['messages']> {
    checkMessageFilter(filter);
    return this.activity.find(filter);
  }

  waitForMessage(
    filter: Parameters<MainGateway['waitForMessage']>[0] = {},
    timeoutMs = 10_000,
  ): ReturnType<MainGateway['waitForMessage']> {
    try {
      checkMessageFilter(filter);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return this.activity.waitFor(
      () => this.activity.find(filter)[0],
      timeoutMs,
      `a message matching ${JSON.stringify(filter)}`,
    );
  }

  commands(botId: string): ReturnType<MainGateway['commands']> {
    return [...(this.registry.commands.get(botId)?.values() ?? [])].flat();
  }

  // ---- voice ----

  voiceStates(guildId: string): ReturnType<MainGateway['voiceStates']> {
    const guild = this.registry.get(guildId);
    if (guild === undefined) return [];
    return [...guild.voiceStates.values()].map((s) => ({
      guildId: s.guild_id,
      channelId: s.channel_id,
      userId: s.user_id,
      selfMute: s.self_mute,
      selfDeaf: s.self_deaf,
      bot: this.state.botSessionOf(guildId, s.user_id) !== undefined,
    }));
  }

  setServerVoiceFlags(guildId: string, userId: string, flags: { deaf?: boolean; mute?: boolean }): boolean {
    checkArg(flags, 'flags', 'object');
    checkArg(flags.deaf, 'deaf', 'boolean', 'optional');
    checkArg(flags.mute, 'mute', 'boolean', 'optional');
    const guild = this.registry.get(guildId);
    if (guild === undefined) return false;
    const member = ensureMember(guild, this.registry.user(userId));
    if (flags.deaf !== undefined) member.deaf = flags.deaf;
    if (flags.mute !== undefined) member.mute = flags.mute;
    this.log({ type: 'voice-flags', userId, guildId, detail: `deaf=${member.deaf} mute=${member.mute}` });
    const state = guild.voiceStates.get(userId);
    if (state === undefined) {
      this.state.voiceServer.setVoiceFlags?.(guildId, userId, {
        selfDeaf: false,
        deaf: member.deaf,
        mute: member.mute,
      });
      return true;
    }
    state.deaf = member.deaf;
    state.mute = member.mute;
    this.state.broadcastVoiceState(guildId, { ...state });
    return true;
  }

  userAdapterCreator(userId: string, guildId: string): ReturnType<MainGateway['userAdapterCreator']> {
    checkSnowflake(userId, 'userId');
    checkSnowflake(guildId, 'guildId');
    return (methods) => {
      let destroyed = false;
      const session = new BotSession({
        userId,
        token: '',
        intents: GatewayIntent.Guilds | GatewayIntent.GuildVoiceStates,
        shardId: 0,
        shardCount: 1,
        // Like a websocket: never inside the call that caused it.
        deliver: (t, d) =>
          setImmediate(() => {
            if (destroyed || !isObject(d)) return;
            if (t === 'VOICE_STATE_UPDATE' && d.user_id === userId)
              methods.onVoiceStateUpdate(d as unknown as Parameters<typeof methods.onVoiceStateUpdate>[0]);
            else if (t === 'VOICE_SERVER_UPDATE')
              methods.onVoiceServerUpdate(d as unknown as Parameters<typeof methods.onVoiceServerUpdate>[0]);
          }),
      });
      this.state.addUserSession(guildId, session);
      return {
        sendPayload: (payload) => {
          if (destroyed) return false;
          this.state.voiceStateUpdate(session, payload.d);
          return true;
        },
        destroy: () => {
          destroyed = true;
          this.state.removeUserSession(guildId, session);
        },
      };
    };
  }

  setUserVoiceState(guildId: string, userId: string, channelId: string | null): void {
    const guild = this.registry.guildFor(guildId);
    if (guild === undefined) throw new VoxcordError('INVALID_ARGUMENT', 'unknown guild');
    const previous = guild.voiceStates.get(userId);
    if (channelId === null) {
      if (previous === undefined) return;
      guild.voiceStates.delete(userId);
      this.state.broadcastVoiceState(guildId, { ...previous, channel_id: null });
      return;
    }
    if (this.registry.channelFor(guild, channelId) === undefined)
      throw new VoxcordError('INVALID_ARGUMENT', 'unknown channel');
    const state = {
      ...(previous ?? this.registry.freshVoiceState(guild, userId)),
      channel_id: channelId,
    };
    guild.voiceStates.set(userId, state);
    this.state.broadcastVoiceState(guildId, { ...state });
  }

  moveUser(
    guildId: string,
    userId: string,
    channelId: string,
    moveOptions: Parameters<MainGateway['moveUser']>[3] = {},
  ): boolean {
    checkOptions(moveOptions);
    const guild = this.registry.get(guildId);
    const previous = guild?.voiceStates.get(userId);
    if (
      guild === undefined ||
      previous === undefined ||
      this.registry.channelFor(guild, channelId) === undefined
    )
      return false;
    this.log({ type: 'move', userId, guildId, channelId });
    if (moveOptions.closeCode !== undefined)
      this.state.voiceServer.closeClient(userId, guildId, moveOptions.closeCode);
    const state: VoiceStateRecord = { ...previous, channel_id: channelId };
    guild.voiceStates.set(userId, state);
    const session = this.state.sessionOfUser(guildId, userId);
    if (session === undefined) this.state.broadcastVoiceState(guildId, { ...state });
    else
      this.state.connectBot(
        session,
        guild,
        state,
        this.state.pickOrder(moveOptions.order),
        previous.channel_id,
      );
    return true;
  }

  async changeEndpoint(
    guildId: string,
    changeOptions: Parameters<MainGateway['changeEndpoint']>[1] = {},
  ): Promise<number> {
    checkOptions(changeOptions);
    checkDelay(changeOptions.delayMs, 'delayMs', 'optional', 'zero');
    checkMethods(changeOptions.voiceServer, 'voiceServer', 'a VoiceServer', ['allocate'], 'optional');
    const guild = this.registry.get(guildId);
    if (guild === undefined) return 0;
    const voiceServer = this.state.voiceServer;
    const targets = [...guild.voiceStates.values()].filter(
      (s) =>
        (changeOptions.userId === undefined || s.user_id === changeOptions.userId) &&
        this.state.sessionOfUser(guildId, s.user_id) !== undefined,
    );
    this.log({ type: 'endpoint-change', guildId, detail: `${targets.length} bot(s)` });
    for (const state of targets) {
      if (changeOptions.closeCode !== undefined)
        voiceServer.closeClient(state.user_id, guildId, changeOptions.closeCode);
      const session = this.state.sessionOfUser(guildId, state.user_id);
      if (session !== undefined && changeOptions.withNull !== false) {
        session.dispatch('VOICE_SERVER_UPDATE', {
          token: randomBytes(8).toString('hex'),
          guild_id: guildId,
          endpoint: null,
        });
      }
    }
    if ((changeOptions.delayMs ?? 0) > 0) await new Promise((r) => setTimeout(r, changeOptions.delayMs));
    let moved = 0;
    for (const state of targets) {
      const session = this.state.sessionOfUser(guildId, state.user_id);
      // The bot may have left during the delay.
      if (session === undefined || guild.voiceStates.get(state.user_id) !== state) continue;
      const server = changeOptions.voiceServer ?? voiceServer;
      const allocation = server.allocate({
        guildId,
        channelId: state.channel_id,
        userId: state.user_id,
        sessionId: state.session_id,
      });
      if (allocation.sessionId !== state.session_id) {
        // The voice server issued a new session id: announce it before the server update.
        state.session_id = allocation.sessionId;
        this.state.broadcastVoiceState(guildId, { ...state });
      }
      session.dispatch('VOICE_SERVER_UPDATE', {
        token: allocation.token,
        guild_id: guildId,
        endpoint: allocation.endpoint,
      });
      moved += 1;
    }
    return moved;
  }

  kick(guildId: string, userId: string): boolean {
    const guild = this.registry.get(guildId);
    const previous = guild?.voiceStates.get(userId);
    if (guild === undefined || previous === undefined) return false;
    this.log({ type: 'kick', userId, guildId, channelId: previous.channel_id });
    this.state.voiceServer.closeClient(userId, guildId, VoiceCloseCode.Disconnected);
    guild.voiceStates.delete(userId);
    this.state.broadcastVoiceState(guildId, { ...previous, channel_id: null });
    return true;
  }

  endCall(guildId: string, channelId: string): number {
    const guild = this.registry.get(guildId);
    if (guild === undefined) return 0;
    let closed = 0;
    for (const state of guild.voiceStates.values()) {
      if (state.channel_id !== channelId) continue;
      if (this.state.voiceServer.closeClient(state.user_id, guildId, VoiceCloseCode.CallTerminated))
        closed += 1;
    }
    this.log({ type: 'end-call', guildId, channelId, detail: `${closed} socket(s)` });
    return closed;
  }
}
