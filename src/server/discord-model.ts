/**
 * The local Discord's world as gateway libraries see it: users, guilds with roles, members,
 * channels (permission overwrites, user limits) and voice states, and the JSON shapes Discord
 * sends for each (READY, GUILD_CREATE, VOICE_STATE_UPDATE's `member`, REST bodies). Pure data:
 * no sockets; the main gateway and the REST routes share it.
 */
import { randomBytes } from 'node:crypto';
import { checkArg, checkArrayOf, checkNumber, checkOneOf, invalidArgument } from '../util/args.js';
import { ChannelType, DEFAULT_EVERYONE_PERMISSIONS } from '../protocol/constants.js';

export type LocalChannelKind = 'voice' | 'text' | 'stage';

export interface PermissionOverwriteSpec {
  /** A role id (the guild id is @everyone) or a user id. */
  id: string;
  type: 'role' | 'member';
  allow?: bigint;
  deny?: bigint;
}

export interface LocalChannelSpec {
  id: string;
  name?: string;
  /** Default 'voice'. */
  type?: LocalChannelKind;
  /** Voice channels: 0 or absent = no limit. */
  userLimit?: number;
  permissionOverwrites?: PermissionOverwriteSpec[];
}

export interface MainGatewayGuild {
  id: string;
  name?: string;
  /** The owner has every permission; default a user that is not a bot of this server. */
  ownerId?: string;
  /** @everyone's permissions. Default: what Discord gives in a new guild (view, send, connect, speak...). */
  everyonePermissions?: bigint;
  /** Extra permissions of each bot's managed role (Discord creates one from the invite). Default none. */
  botPermissions?: bigint;
  channels?: LocalChannelSpec[];
}

export interface UserRecord {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface RoleRecord {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  managed: boolean;
  /** The bot user a managed role belongs to. */
  botId?: string;
}

export interface ChannelRecord {
  id: string;
  name: string;
  type: number;
  userLimit: number | null;
  permissionOverwrites: PermissionOverwriteSpec[];
  position: number;
}

export interface MemberRecord {
  userId: string;
  roles: string[];
  joinedAt: string;
  /** Server deafen / mute (also in the voice state). */
  deaf: boolean;
  mute: boolean;
}

export interface VoiceStateRecord {
  guild_id: string;
  channel_id: string;
  user_id: string;
  session_id: string;
  deaf: boolean;
  mute: boolean;
  self_deaf: boolean;
  self_mute: boolean;
  self_stream: boolean;
  self_video: boolean;
  suppress: boolean;
  request_to_speak_timestamp: null;
}

export interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  botPermissions: bigint;
  roles: Map<string, RoleRecord>;
  channels: Map<string, ChannelRecord>;
  members: Map<string, MemberRecord>;
  /** user id -> voice state */
  voiceStates: Map<string, VoiceStateRecord>;
}

const CHANNEL_TYPES: Record<LocalChannelKind, number> = {
  voice: ChannelType.GuildVoice,
  text: ChannelType.GuildText,
  stage: ChannelType.GuildStageVoice,
};
const CHANNEL_KINDS = Object.keys(CHANNEL_TYPES) as LocalChannelKind[];

/** A slash command a bot registered (REST), as GET returns it. */
export interface ApplicationCommandRecord {
  id: string;
  application_id: string;
  guild_id?: string;
  name: string;
  description: string;
  type: number;
  options: Array<{ name: string; type: number; [key: string]: unknown }>;
  version: string;
  [key: string]: unknown;
}

export const SNOWFLAKE = /^\d{1,20}$/;

/** An id as the local Discord takes them: a string of digits (a number, even one of digits, is not). */
export function checkSnowflake(value: unknown, name: string): void {
  if (typeof value !== 'string' || !SNOWFLAKE.test(value))
    throw invalidArgument(name, 'a snowflake (a string of digits)', value);
}

/** A fresh snowflake-shaped id (timestamp-based, unique within the process). */
let lastId = 0n;
export function newSnowflake(): string {
  const stamp = (BigInt(Date.now()) - 1_420_070_400_000n) << 22n;
  lastId = stamp > lastId ? stamp : lastId + 1n;
  return lastId.toString();
}

export function isVoiceChannel(channel: ChannelRecord): boolean {
  return channel.type === ChannelType.GuildVoice || channel.type === ChannelType.GuildStageVoice;
}

/** A guild spec the local Discord can use (operators pass them in from tests). */
export function checkGuildSpec(spec: MainGatewayGuild): void {
  if (typeof spec !== 'object' || spec === null) throw invalidArgument('guild', 'a guild id or spec', spec);
  checkSnowflake(spec.id, 'guild id');
  checkArg(spec.name, 'guild name', 'string', 'optional');
  checkArrayOf(spec.channels, 'guild channels', 'object', 'optional');
}

export function createGuild(spec: MainGatewayGuild): GuildRecord {
  checkGuildSpec(spec);
  const guild: GuildRecord = {
    id: spec.id,
    name: spec.name ?? `guild ${spec.id}`,
    ownerId: spec.ownerId ?? ownerIdFor(spec.id),
    botPermissions: spec.botPermissions ?? 0n,
    roles: new Map(),
    channels: new Map(),
    members: new Map(),
    voiceStates: new Map(),
  };
  guild.roles.set(spec.id, {
    id: spec.id,
    name: '@everyone',
    permissions: spec.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS,
    position: 0,
    managed: false,
  });
  for (const c of spec.channels ?? []) addChannel(guild, c);
  return guild;
}

/** A stable owner id that is not the guild id (the @everyone role's id) nor any bot's. */
function ownerIdFor(guildId: string): string {
  return (BigInt(guildId) + 1n).toString();
}

export function addChannel(guild: GuildRecord, spec: LocalChannelSpec): ChannelRecord {
  checkArg(spec, 'channel', 'object');
  checkArg(spec.id, 'channel id', 'string');
  if (spec.type !== undefined) checkOneOf(spec.type, 'channel type', CHANNEL_KINDS);
  checkNumber(spec.userLimit, 'channel userLimit', { integer: true, min: 0, optional: true });
  const type = CHANNEL_TYPES[spec.type ?? 'voice'];
  const channel: ChannelRecord = {
    id: spec.id,
    name: spec.name ?? `${spec.type ?? 'voice'}-${spec.id}`,
    type,
    userLimit: spec.userLimit !== undefined && spec.userLimit > 0 ? spec.userLimit : null,
    permissionOverwrites: [...(spec.permissionOverwrites ?? [])],
    position: guild.channels.size,
  };
  guild.channels.set(spec.id, channel);
  return channel;
}

/** Makes `userId` a member (a bot also gets its managed role). Returns the member. */
export function ensureMember(guild: GuildRecord, user: UserRecord): MemberRecord {
  let member = guild.members.get(user.id);
  if (member !== undefined) return member;
  const roles: string[] = [];
  if (user.bot) {
    const roleId = botRoleId(guild, user.id);
    if (!guild.roles.has(roleId))
      guild.roles.set(roleId, {
        id: roleId,
        name: user.username,
        permissions: guild.botPermissions,
        position: 1,
        managed: true,
        botId: user.id,
      });
    roles.push(roleId);
  }
  member = { userId: user.id, roles, joinedAt: new Date().toISOString(), deaf: false, mute: false };
  guild.members.set(user.id, member);
  return member;
}

/** Managed role ids derive from guild and bot so they are stable across restarts of a test. */
function botRoleId(guild: GuildRecord, botId: string): string {
  return ((BigInt(guild.id) ^ BigInt(botId)) | 1n).toString();
}

/** Guild-level permissions of a member (owner and Administrator: everything). */
export function basePermissions(guild: GuildRecord, userId: string): bigint {
  const everyone = guild.roles.get(guild.id)?.permissions ?? 0n;
  let perms = everyone;
  for (const roleId of guild.members.get(userId)?.roles ?? [])
    perms |= guild.roles.get(roleId)?.permissions ?? 0n;
  return perms;
}

export function blankVoiceState(guildId: string, userId: string): VoiceStateRecord {
  return {
    guild_id: guildId,
    channel_id: '',
    user_id: userId,
    session_id: randomBytes(16).toString('hex'),
    deaf: false,
    mute: false,
    self_deaf: false,
    self_mute: false,
    self_stream: false,
    self_video: false,
    suppress: false,
    request_to_speak_timestamp: null,
  };
}

// ---- wire shapes ----

export function userPayload(user: UserRecord): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.globalName,
    avatar: null,
    bot: user.bot,
    system: false,
    flags: 0,
    public_flags: 0,
  };
}

export function memberPayload(
  guild: GuildRecord,
  member: MemberRecord,
  user: UserRecord,
): Record<string, unknown> {
  return {
    user: userPayload(user),
    nick: null,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joinedAt,
    premium_since: null,
    deaf: member.deaf,
    mute: member.mute,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

export function rolePayload(role: RoleRecord): Record<string, unknown> {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: role.managed,
    mentionable: false,
    flags: 0,
    ...(role.botId === undefined ? {} : { tags: { bot_id: role.botId } }),
  };
}

export function channelPayload(guild: GuildRecord, channel: ChannelRecord): Record<string, unknown> {
  const base = {
    id: channel.id,
    type: channel.type,
    guild_id: guild.id,
    name: channel.name,
    position: channel.position,
    parent_id: null,
    nsfw: false,
    flags: 0,
    permission_overwrites: channel.permissionOverwrites.map((o) => ({
      id: o.id,
      type: o.type === 'role' ? 0 : 1,
      allow: (o.allow ?? 0n).toString(),
      deny: (o.deny ?? 0n).toString(),
    })),
  };
  if (isVoiceChannel(channel))
    return {
      ...base,
      bitrate: 64_000,
      user_limit: channel.userLimit ?? 0,
      rtc_region: null,
      video_quality_mode: 1,
      rate_limit_per_user: 0,
      last_message_id: null,
    };
  return { ...base, topic: null, rate_limit_per_user: 0, last_message_id: null };
}

/** GET /guilds/{id}: the guild without its members and channels. */
export function guildPayload(guild: GuildRecord): Record<string, unknown> {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [...guild.roles.values()].map(rolePayload),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    max_members: 500_000,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: 'en-US',
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
  };
}

export function guildCreatePayload(
  guild: GuildRecord,
  users: (id: string) => UserRecord,
  voiceState: (state: VoiceStateRecord) => Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...guildPayload(guild),
    unavailable: false,
    member_count: guild.members.size,
    large: false,
    joined_at: new Date(0).toISOString(),
    members: [...guild.members.values()].map((m) => memberPayload(guild, m, users(m.userId))),
    presences: [],
    threads: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    channels: [...guild.channels.values()].map((c) => channelPayload(guild, c)),
    // GUILD_CREATE voice states carry no guild_id and no member (Discord's shape).
    voice_states: [...guild.voiceStates.values()].map((s) => {
      const { guild_id: _guildId, member: _member, ...rest } = voiceState(s);
      return rest;
    }),
  };
}
