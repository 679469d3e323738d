/**
 * INTERACTION_CREATE for a slash command a user runs on the local Discord: typed options (the
 * bot's registered definition decides each type; else the value's JS type), resolved users,
 * members and channels, the invoking member with its permissions. Pure: the main gateway
 * dispatches what this builds.
 */
import { ApplicationCommandOptionType, InteractionType } from '../protocol/constants.js';
import {
  basePermissions,
  channelPayload,
  memberPayload,
  newSnowflake,
  userPayload,
} from './discord-model.js';
import type { ChannelRecord, GuildRecord, UserRecord } from './discord-model.js';
import type { InteractionRecord } from './activity.js';
import type { ApplicationCommandRecord } from './discord-model.js';

export type CommandOptionValue = string | number | boolean;

function inferredType(value: CommandOptionValue): number {
  if (typeof value === 'boolean') return ApplicationCommandOptionType.Boolean;
  if (typeof value === 'number')
    return Number.isInteger(value)
      ? ApplicationCommandOptionType.Integer
      : ApplicationCommandOptionType.Number;
  return ApplicationCommandOptionType.String;
}

export function interactionCreatePayload(input: {
  interaction: InteractionRecord;
  guild: GuildRecord;
  channel: ChannelRecord;
  user: UserRecord;
  users: (id: string) => UserRecord;
  definition: ApplicationCommandRecord | undefined;
  options: Record<string, CommandOptionValue>;
}): Record<string, unknown> {
  const { interaction, guild, channel, user, users, definition } = input;
  const resolved = {
    users: {} as Record<string, unknown>,
    members: {} as Record<string, unknown>,
    channels: {} as Record<string, unknown>,
  };
  const options = Object.entries(input.options).map(([name, value]) => {
    const type = definition?.options.find((o) => o.name === name)?.type ?? inferredType(value);
    if (type === ApplicationCommandOptionType.User) {
      const target = users(String(value));
      resolved.users[target.id] = userPayload(target);
      const member = guild.members.get(target.id);
      if (member !== undefined) {
        const { user: _user, ...rest } = memberPayload(guild, member, target);
        resolved.members[target.id] = { ...rest, permissions: basePermissions(guild, target.id).toString() };
      }
      return { name, type, value: String(value) };
    }
    if (type === ApplicationCommandOptionType.Channel) {
      const target = guild.channels.get(String(value));
      if (target !== undefined)
        resolved.channels[target.id] = { ...channelPayload(guild, target), permissions: '0' };
      return { name, type, value: String(value) };
    }
    return { name, type, value };
  });
  const hasResolved = Object.keys(resolved.users).length + Object.keys(resolved.channels).length > 0;
  const member = guild.members.get(user.id);
  return {
    id: interaction.id,
    application_id: interaction.applicationId,
    type: InteractionType.ApplicationCommand,
    data: {
      id: definition?.id ?? newSnowflake(),
      name: interaction.commandName,
      type: 1,
      guild_id: guild.id,
      ...(options.length > 0 ? { options } : {}),
      ...(hasResolved ? { resolved } : {}),
    },
    guild_id: guild.id,
    guild: { id: guild.id, locale: 'en-US', features: [] },
    channel_id: channel.id,
    channel: channelPayload(guild, channel),
    ...(member === undefined
      ? {}
      : {
          member: {
            ...memberPayload(guild, member, user),
            permissions: basePermissions(guild, user.id).toString(),
          },
        }),
    token: interaction.token,
    version: 1,
    app_permissions: basePermissions(guild, interaction.applicationId).toString(),
    locale: 'en-US',
    guild_locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: { '0': guild.id },
    context: 0,
    attachment_size_limit: 10 * 1024 * 1024,
  };
}
