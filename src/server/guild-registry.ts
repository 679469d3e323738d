/**
 * The world the local main gateway serves, as records (discord-model.ts): guilds with their
 * channels, members and voice states, users, and the commands bots registered. Guilds and
 * channels appear on first use unless `strict`. No sockets, no dispatches: the gateway state
 * announces what changes here.
 */
import { VoxcordError } from '../errors.js';
import {
  SNOWFLAKE,
  addChannel,
  blankVoiceState,
  createGuild,
  ensureMember,
  guildCreatePayload,
  memberPayload,
} from './discord-model.js';
import type {
  ChannelRecord,
  GuildRecord,
  MainGatewayGuild,
  UserRecord,
  VoiceStateRecord,
} from './discord-model.js';
import type { ApplicationCommandRecord } from './discord-model.js';

/** A voice state dispatched when the user left voice. */
export type LeftVoiceState = Omit<VoiceStateRecord, 'channel_id'> & { channel_id: null };

export class GuildRegistry {
  readonly guilds = new Map<string, GuildRecord>();
  readonly users = new Map<string, UserRecord>();
  /** application id -> scope ('global' or guild id) -> commands */
  readonly commands = new Map<string, Map<string, ApplicationCommandRecord[]>>();

  constructor(
    /** Unknown guilds and channels are refused instead of created on first use. */
    private readonly strict: boolean,
    guilds: ReadonlyArray<MainGatewayGuild | string> = [],
  ) {
    for (const g of guilds) this.add(g);
  }

  /** Adds (or replaces) a guild. */
  add(spec: MainGatewayGuild | string): GuildRecord {
    const record = createGuild(typeof spec === 'string' ? { id: spec } : spec);
    this.guilds.set(record.id, record);
    return record;
  }

  get(guildId: string): GuildRecord | undefined {
    return this.guilds.get(guildId);
  }

  /** A guild, created on first use (unless strict or not a snowflake). */
  guildFor(guildId: string): GuildRecord | undefined {
    return (
      this.guilds.get(guildId) ?? (this.strict || !SNOWFLAKE.test(guildId) ? undefined : this.add(guildId))
    );
  }

  /** A channel of `guild`, created on first use as a voice channel (unless strict). */
  channelFor(guild: GuildRecord, channelId: string): ChannelRecord | undefined {
    const channel = guild.channels.get(channelId);
    if (channel !== undefined || this.strict) return channel;
    return addChannel(guild, { id: channelId, name: `voice ${channelId}` });
  }

  /** The guild holding a channel; throws for a channel no guild has. */
  guildOfChannel(channelId: string): GuildRecord {
    for (const guild of this.guilds.values()) if (guild.channels.has(channelId)) return guild;
    throw new VoxcordError('INVALID_ARGUMENT', `unknown channel ${channelId} (add it to a guild first)`);
  }

  /** A user, created on first use as `user-<id>`. */
  user(id: string): UserRecord {
    let user = this.users.get(id);
    if (user === undefined) {
      user = { id, username: `user-${id}`, globalName: null, bot: false };
      this.users.set(id, user);
    }
    return user;
  }

  knownUser(id: string): UserRecord | undefined {
    return this.users.get(id);
  }

  /** A bot token's user: a bot, member of every guild with its managed role, as if invited. */
  enrolBot(userId: string): void {
    const user = this.user(userId);
    user.bot = true;
    if (user.username === `user-${userId}`) user.username = `bot-${userId}`;
    for (const guild of this.guilds.values()) ensureMember(guild, user);
  }

  /** A user's first voice state in a guild: server deafen/mute come from the member. */
  freshVoiceState(guild: GuildRecord, userId: string): VoiceStateRecord {
    const member = ensureMember(guild, this.user(userId));
    return { ...blankVoiceState(guild.id, userId), deaf: member.deaf, mute: member.mute };
  }

  /** A voice state as dispatched: with the user's `member` (discord.js needs it to see its own). */
  voiceStatePayload(state: VoiceStateRecord | LeftVoiceState): Record<string, unknown> {
    const guild = this.guilds.get(state.guild_id);
    const user = this.user(state.user_id);
    if (guild === undefined) return { ...state };
    const member = ensureMember(guild, user);
    return { ...state, member: memberPayload(guild, member, user) };
  }

  guildCreate(guild: GuildRecord): unknown {
    return guildCreatePayload(
      guild,
      (id) => this.user(id),
      (state) => ({ ...state }),
    );
  }

  /** The channel's user limit is reached without `userId`. */
  isFull(guild: GuildRecord, channelId: string, userId: string): boolean {
    const limit = guild.channels.get(channelId)?.userLimit ?? null;
    if (limit === null) return false;
    let count = 0;
    for (const s of guild.voiceStates.values())
      if (s.channel_id === channelId && s.user_id !== userId) count += 1;
    return count >= limit;
  }
}
