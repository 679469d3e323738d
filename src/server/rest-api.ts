/**
 * The REST routes of the local Discord that gateway libraries (discord.js, @discordjs/rest) call
 * when a voice or music bot starts and joins: users, applications and their commands, guilds,
 * members, roles, channels, voice states, messages, interaction callbacks and webhooks (followups,
 * edits of the original response). Anything else gets Discord's 404 body. Errors use Discord's
 * status codes and `{ message, code }` JSON bodies.
 */
import { InteractionCallbackType, RestErrorCode } from '../protocol/constants.js';
import {
  channelPayload,
  guildPayload,
  memberPayload,
  newSnowflake,
  rolePayload,
  userPayload,
} from './discord-model.js';
import type {
  ApplicationCommandRecord,
  ChannelRecord,
  GuildRecord,
  UserRecord,
  VoiceStateRecord,
} from './discord-model.js';
import { isEmptyMessage, isEphemeral, messagePayload, parseMessageBody } from './activity.js';
import type { Activity, InteractionRecord, LocalMessage } from './activity.js';

export interface RestRequest {
  method: string;
  /** Path after `/api[/v{n}]`, e.g. `/users/@me`. */
  path: string;
  query: URLSearchParams;
  /** Authorization header ('' if absent). */
  authorization: string;
  /** Parsed JSON body (or multipart `payload_json`); undefined when there was none. */
  body: unknown;
  files: Array<{ filename: string; size: number }>;
}

export interface RestResponse {
  status: number;
  body?: unknown;
}

export interface RestContext {
  gatewayInformation(): unknown;
  wsUrl: string;
  /** The bot user id a `Bot <token>` header authenticates, or null. */
  tokenUser(authorization: string): string | null;
  guilds: ReadonlyMap<string, GuildRecord>;
  user(id: string): UserRecord;
  knownUser(id: string): UserRecord | undefined;
  activity: Activity;
  /** application id -> scope ('global' or guild id) -> commands */
  commands: Map<string, Map<string, ApplicationCommandRecord[]>>;
  voiceStatePayload(state: VoiceStateRecord): Record<string, unknown>;
  /** A new message (a bot's, here): MESSAGE_CREATE to the guild's bots. */
  messageCreated(message: LocalMessage): void;
}

const error = (status: number, code: number, message: string): RestResponse => ({
  status,
  body: { message, code },
});
const NOT_FOUND = error(404, RestErrorCode.General, '404: Not Found');
const UNAUTHORIZED = error(401, RestErrorCode.General, '401: Unauthorized');
const METHOD_NOT_ALLOWED = error(405, RestErrorCode.General, '405: Method Not Allowed');
const UNKNOWN_CHANNEL = error(404, RestErrorCode.UnknownChannel, 'Unknown Channel');
const UNKNOWN_GUILD = error(404, RestErrorCode.UnknownGuild, 'Unknown Guild');
const UNKNOWN_MESSAGE = error(404, RestErrorCode.UnknownMessage, 'Unknown Message');
const UNKNOWN_WEBHOOK = error(404, RestErrorCode.UnknownWebhook, 'Unknown Webhook');
const EMPTY_MESSAGE = error(400, RestErrorCode.CannotSendEmptyMessage, 'Cannot send an empty message');
const invalidField = (field: string, code: string, message: string): RestResponse => ({
  status: 400,
  body: {
    message: 'Invalid Form Body',
    code: RestErrorCode.InvalidFormBody,
    errors: { [field]: { _errors: [{ code, message }] } },
  },
});

type Handler = (request: RestRequest, params: string[], bot: string) => RestResponse;

interface Route {
  method: string;
  pattern: RegExp;
  /** Interaction callbacks and webhooks authenticate by their token in the path, not a header. */
  auth: boolean;
  handle: Handler;
}

const ID = '(\\d{1,20})';
const TOKEN = '([A-Za-z0-9_.\\-]+)';

export function createRestHandler(ctx: RestContext): (request: RestRequest) => RestResponse {
  const guildOf = (id: string): GuildRecord | undefined => ctx.guilds.get(id);
  const channelOf = (id: string): { guild: GuildRecord; channel: ChannelRecord } | undefined => {
    for (const guild of ctx.guilds.values()) {
      const channel = guild.channels.get(id);
      if (channel !== undefined) return { guild, channel };
    }
    return undefined;
  };
  const payloadOf = (message: LocalMessage): Record<string, unknown> => {
    const interaction =
      message.interactionId === null ? undefined : ctx.activity.interactions.get(message.interactionId);
    return messagePayload(
      message,
      ctx.user(message.authorId),
      message.guildId === null ? undefined : guildOf(message.guildId),
      (id) => ctx.user(id),
      interaction === undefined ? {} : { interaction },
    );
  };
  const commandList = (app: string, scope: string): ApplicationCommandRecord[] => {
    let byScope = ctx.commands.get(app);
    if (byScope === undefined)
      ctx.commands.set(app, (byScope = new Map<string, ApplicationCommandRecord[]>()));
    let list = byScope.get(scope);
    if (list === undefined) byScope.set(scope, (list = []));
    return list;
  };
  const toCommand = (
    app: string,
    scope: string,
    body: unknown,
    id?: string,
  ): ApplicationCommandRecord | RestResponse => {
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    if (typeof b.name !== 'string' || b.name.length === 0)
      return invalidField('name', 'BASE_TYPE_REQUIRED', 'This field is required');
    // Each option an object with a name and a type, as Discord requires (runCommand reads them).
    if (
      b.options !== undefined &&
      !(
        Array.isArray(b.options) &&
        b.options.every(
          (o: unknown) =>
            typeof o === 'object' &&
            o !== null &&
            typeof (o as { name?: unknown }).name === 'string' &&
            Number.isInteger((o as { type?: unknown }).type),
        )
      )
    )
      return invalidField('options', 'BASE_TYPE_REQUIRED', 'Each option needs a name and a type');
    return {
      default_member_permissions: null,
      dm_permission: true,
      nsfw: false,
      integration_types: [0],
      contexts: null,
      ...b,
      id: id ?? newSnowflake(),
      application_id: app,
      ...(scope === 'global' ? {} : { guild_id: scope }),
      name: b.name,
      description: typeof b.description === 'string' ? b.description : '',
      type: typeof b.type === 'number' ? b.type : 1,
      options: Array.isArray(b.options) ? (b.options as ApplicationCommandRecord['options']) : [],
      version: newSnowflake(),
    };
  };
  const isResponse = (value: ApplicationCommandRecord | RestResponse): value is RestResponse =>
    'status' in value && !('application_id' in value);

  /** Sends a bot message into a channel (REST POST /channels/{id}/messages). */
  const createChannelMessage: Handler = (request, [channelId], bot) => {
    const found = channelOf(channelId!);
    if (found === undefined) return UNKNOWN_CHANNEL;
    const body = parseMessageBody(request.body, request.files);
    if (isEmptyMessage(body)) return EMPTY_MESSAGE;
    const message = ctx.activity.addMessage({
      channelId: channelId!,
      guildId: found.guild.id,
      authorId: bot,
      kind: 'channel',
      ...body,
      ephemeral: false,
      interactionId: null,
      loading: false,
    });
    ctx.messageCreated(message);
    return { status: 200, body: payloadOf(message) };
  };

  const interactionFor = (app: string, token: string): InteractionRecord | undefined => {
    const interaction = ctx.activity.interactionByToken(token);
    return interaction?.applicationId === app ? interaction : undefined;
  };

  /** The webhook message a path names: @original or a followup id. */
  const webhookMessage = (interaction: InteractionRecord, which: string): LocalMessage | undefined =>
    which === '@original'
      ? (interaction.response ?? undefined)
      : interaction.followups.find((m) => m.id === which && !m.deleted);

  const editMessage = (message: LocalMessage, request: RestRequest): void => {
    const b =
      typeof request.body === 'object' && request.body !== null
        ? (request.body as Record<string, unknown>)
        : {};
    if (typeof b.content === 'string' || b.content === null) message.content = b.content ?? '';
    if (Array.isArray(b.embeds)) message.embeds = b.embeds;
    if (Array.isArray(b.components)) message.components = b.components;
    if (request.files.length > 0) message.attachments = request.files;
    message.edits += 1;
    message.loading = false;
    ctx.activity.changed();
  };

  const routes: Route[] = [];
  const route = (method: string, path: string, handle: Handler, auth = true): void => {
    routes.push({ method, pattern: new RegExp(`^${path}/?$`), auth, handle });
  };

  route('GET', '/gateway', () => ({ status: 200, body: { url: ctx.wsUrl } }), false);
  route('GET', '/gateway/bot', () => ({ status: 200, body: ctx.gatewayInformation() }));

  route('GET', '/users/@me', (_r, _p, bot) => ({ status: 200, body: userPayload(ctx.user(bot)) }));
  route('GET', `/users/${ID}`, (_r, [id]) => {
    const user = ctx.knownUser(id!);
    return user === undefined
      ? error(404, RestErrorCode.UnknownUser, 'Unknown User')
      : { status: 200, body: userPayload(user) };
  });
  const application: Handler = (_r, _p, bot) => ({
    status: 200,
    body: {
      id: bot,
      name: ctx.user(bot).username,
      icon: null,
      description: '',
      bot_public: true,
      bot_require_code_grant: false,
      bot: userPayload(ctx.user(bot)),
      owner: userPayload(ctx.user(bot)),
      flags: 0,
      team: null,
      verify_key: '0'.repeat(64),
      approximate_guild_count: ctx.guilds.size,
      integration_types_config: { '0': {} },
    },
  });
  route('GET', '/applications/@me', application);
  route('GET', '/oauth2/applications/@me', application);

  // ---- guilds ----
  route('GET', `/guilds/${ID}`, (request, [id]) => {
    const guild = guildOf(id!);
    if (guild === undefined) return UNKNOWN_GUILD;
    const counts =
      request.query.get('with_counts') === 'true'
        ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 }
        : {};
    return { status: 200, body: { ...guildPayload(guild), ...counts } };
  });
  route('GET', `/guilds/${ID}/channels`, (_r, [id]) => {
    const guild = guildOf(id!);
    return guild === undefined
      ? UNKNOWN_GUILD
      : { status: 200, body: [...guild.channels.values()].map((c) => channelPayload(guild, c)) };
  });
  route('GET', `/guilds/${ID}/roles`, (_r, [id]) => {
    const guild = guildOf(id!);
    return guild === undefined
      ? UNKNOWN_GUILD
      : { status: 200, body: [...guild.roles.values()].map(rolePayload) };
  });
  route('GET', `/guilds/${ID}/members/${ID}`, (_r, [id, userId]) => {
    const guild = guildOf(id!);
    if (guild === undefined) return UNKNOWN_GUILD;
    const member = guild.members.get(userId!);
    return member === undefined
      ? error(404, RestErrorCode.UnknownMember, 'Unknown Member')
      : { status: 200, body: memberPayload(guild, member, ctx.user(member.userId)) };
  });
  route('GET', `/guilds/${ID}/members`, (request, [id]) => {
    const guild = guildOf(id!);
    if (guild === undefined) return UNKNOWN_GUILD;
    const limit = Math.min(Math.max(Number(request.query.get('limit') ?? 1) || 1, 1), 1000);
    const after = request.query.get('after') ?? '0';
    const members = [...guild.members.values()]
      .filter((m) => BigInt(m.userId) > BigInt(/^\d+$/.test(after) ? after : '0'))
      .sort((a, b) => (BigInt(a.userId) < BigInt(b.userId) ? -1 : 1))
      .slice(0, limit);
    return { status: 200, body: members.map((m) => memberPayload(guild, m, ctx.user(m.userId))) };
  });
  const voiceState: Handler = (_r, [id, userId], bot) => {
    const guild = guildOf(id!);
    if (guild === undefined) return UNKNOWN_GUILD;
    const state = guild.voiceStates.get(userId === undefined || userId === '@me' ? bot : userId);
    return state === undefined
      ? error(404, 10065, 'Unknown Voice State')
      : { status: 200, body: ctx.voiceStatePayload(state) };
  };
  route('GET', `/guilds/${ID}/voice-states/(@me)`, voiceState);
  route('GET', `/guilds/${ID}/voice-states/${ID}`, voiceState);

  // ---- channels and messages ----
  route('GET', `/channels/${ID}`, (_r, [id]) => {
    const found = channelOf(id!);
    return found === undefined
      ? UNKNOWN_CHANNEL
      : { status: 200, body: channelPayload(found.guild, found.channel) };
  });
  route('POST', `/channels/${ID}/messages`, createChannelMessage);
  route('GET', `/channels/${ID}/messages`, (request, [id]) => {
    if (channelOf(id!) === undefined) return UNKNOWN_CHANNEL;
    const limit = Math.min(Math.max(Number(request.query.get('limit') ?? 50) || 50, 1), 100);
    const list = ctx.activity
      .find({ channelId: id! })
      .filter((m) => !m.ephemeral)
      .reverse()
      .slice(0, limit);
    return { status: 200, body: list.map(payloadOf) };
  });
  route('GET', `/channels/${ID}/messages/${ID}`, (_r, [channelId, id]) => {
    const message = ctx.activity.message(id!);
    return message === undefined || message.channelId !== channelId
      ? UNKNOWN_MESSAGE
      : { status: 200, body: payloadOf(message) };
  });
  route('PATCH', `/channels/${ID}/messages/${ID}`, (request, [channelId, id], bot) => {
    const message = ctx.activity.message(id!);
    if (message === undefined || message.channelId !== channelId) return UNKNOWN_MESSAGE;
    if (message.authorId !== bot) return error(403, 50005, 'Cannot edit a message authored by another user');
    editMessage(message, request);
    return { status: 200, body: payloadOf(message) };
  });
  route('DELETE', `/channels/${ID}/messages/${ID}`, (_r, [channelId, id]) => {
    const message = ctx.activity.message(id!);
    if (message === undefined || message.channelId !== channelId) return UNKNOWN_MESSAGE;
    message.deleted = true;
    ctx.activity.changed();
    return { status: 204 };
  });
  route('POST', `/channels/${ID}/typing`, (_r, [id]) =>
    channelOf(id!) === undefined ? UNKNOWN_CHANNEL : { status: 204 },
  );

  // ---- application commands ----
  const commandRoutes = (prefix: string, scopeOf: (params: string[]) => string | RestResponse): void => {
    const withScope = (
      params: string[],
      bot: string,
      fn: (app: string, scope: string) => RestResponse,
    ): RestResponse => {
      const app = params[0]!;
      if (app !== bot) return error(403, RestErrorCode.MissingAccess, 'Missing Access');
      const scope = scopeOf(params);
      return typeof scope === 'string' ? fn(app, scope) : scope;
    };
    route('GET', prefix, (_r, p, bot) =>
      withScope(p, bot, (app, scope) => ({ status: 200, body: commandList(app, scope) })),
    );
    route('PUT', prefix, (request, p, bot) =>
      withScope(p, bot, (app, scope) => {
        if (!Array.isArray(request.body))
          return error(400, RestErrorCode.InvalidFormBody, 'Invalid Form Body');
        const previous = commandList(app, scope);
        const next: ApplicationCommandRecord[] = [];
        for (const body of request.body as unknown[]) {
          const name =
            typeof body === 'object' && body !== null ? (body as { name?: unknown }).name : undefined;
          const command = toCommand(app, scope, body, previous.find((c) => c.name === name)?.id);
          if (isResponse(command)) return command;
          next.push(command);
        }
        ctx.commands.get(app)!.set(scope, next);
        return { status: 200, body: next };
      }),
    );
    route('POST', prefix, (request, p, bot) =>
      withScope(p, bot, (app, scope) => {
        const list = commandList(app, scope);
        const name = (request.body as { name?: unknown } | undefined)?.name;
        const existing = list.findIndex((c) => c.name === name);
        const command = toCommand(app, scope, request.body, existing >= 0 ? list[existing]!.id : undefined);
        if (isResponse(command)) return command;
        if (existing >= 0) list[existing] = command;
        else list.push(command);
        return { status: existing >= 0 ? 200 : 201, body: command };
      }),
    );
    route('DELETE', `${prefix}/${ID}`, (_r, p, bot) =>
      withScope(p, bot, (app, scope) => {
        const list = commandList(app, scope);
        const index = list.findIndex((c) => c.id === p.at(-1));
        if (index < 0)
          return error(404, RestErrorCode.UnknownApplicationCommand, 'Unknown application command');
        list.splice(index, 1);
        return { status: 204 };
      }),
    );
  };
  commandRoutes(`/applications/${ID}/commands`, () => 'global');
  commandRoutes(`/applications/${ID}/guilds/${ID}/commands`, (p) =>
    guildOf(p[1]!) === undefined ? UNKNOWN_GUILD : p[1]!,
  );

  // ---- interactions ----
  route(
    'POST',
    `/interactions/${ID}/${TOKEN}/callback`,
    (request, [id, token]) => {
      const interaction = ctx.activity.interactionByToken(token!);
      if (interaction === undefined || interaction.id !== id)
        return error(404, RestErrorCode.UnknownInteraction, 'Unknown interaction');
      if (interaction.callbackType !== null)
        return error(
          400,
          RestErrorCode.InteractionAlreadyAcknowledged,
          'Interaction has already been acknowledged.',
        );
      const b =
        typeof request.body === 'object' && request.body !== null
          ? (request.body as Record<string, unknown>)
          : {};
      const type = b.type;
      if (
        type !== InteractionCallbackType.ChannelMessageWithSource &&
        type !== InteractionCallbackType.DeferredChannelMessageWithSource
      )
        return error(400, RestErrorCode.InvalidFormBody, 'Invalid Form Body');
      const body = parseMessageBody(b.data, request.files);
      const deferred = type === InteractionCallbackType.DeferredChannelMessageWithSource;
      if (!deferred && isEmptyMessage(body)) return EMPTY_MESSAGE;
      interaction.callbackType = type;
      interaction.response = ctx.activity.addMessage({
        channelId: interaction.channelId,
        guildId: interaction.guildId,
        authorId: interaction.applicationId,
        kind: 'reply',
        ...body,
        ephemeral: isEphemeral(body.flags),
        interactionId: interaction.id,
        loading: deferred,
      });
      ctx.activity.changed();
      if (request.query.get('with_response') !== 'true') return { status: 204 };
      return {
        status: 200,
        body: {
          interaction: {
            id: interaction.id,
            type: 2,
            response_message_id: interaction.response.id,
            response_message_loading: deferred,
            response_message_ephemeral: interaction.response.ephemeral,
          },
          resource: { type, message: payloadOf(interaction.response) },
        },
      };
    },
    false,
  );
  route(
    'POST',
    `/webhooks/${ID}/${TOKEN}`,
    (request, [app, token]) => {
      const interaction = interactionFor(app!, token!);
      if (interaction === undefined) return UNKNOWN_WEBHOOK;
      if (interaction.callbackType === null)
        return error(404, RestErrorCode.UnknownMessage, 'Unknown Message');
      const body = parseMessageBody(request.body, request.files);
      if (isEmptyMessage(body)) return EMPTY_MESSAGE;
      const message = ctx.activity.addMessage({
        channelId: interaction.channelId,
        guildId: interaction.guildId,
        authorId: interaction.applicationId,
        kind: 'followup',
        ...body,
        ephemeral: isEphemeral(body.flags),
        interactionId: interaction.id,
        loading: false,
      });
      interaction.followups.push(message);
      ctx.activity.changed();
      return { status: 200, body: payloadOf(message) };
    },
    false,
  );
  const webhookMessageRoute = (
    method: string,
    fn: (interaction: InteractionRecord, message: LocalMessage, request: RestRequest) => RestResponse,
  ): void =>
    route(
      method,
      `/webhooks/${ID}/${TOKEN}/messages/(@original|\\d{1,20})`,
      (request, [app, token, which]) => {
        const interaction = interactionFor(app!, token!);
        if (interaction === undefined) return UNKNOWN_WEBHOOK;
        const message = webhookMessage(interaction, which!);
        return message === undefined ? UNKNOWN_MESSAGE : fn(interaction, message, request);
      },
      false,
    );
  webhookMessageRoute('GET', (_i, message) => ({ status: 200, body: payloadOf(message) }));
  webhookMessageRoute('PATCH', (_i, message, request) => {
    editMessage(message, request);
    return { status: 200, body: payloadOf(message) };
  });
  webhookMessageRoute('DELETE', (_i, message) => {
    message.deleted = true;
    ctx.activity.changed();
    return { status: 204 };
  });

  return (request) => {
    let pathMatched = false;
    for (const r of routes) {
      const match = r.pattern.exec(request.path);
      if (match === null) continue;
      pathMatched = true;
      if (r.method !== request.method) continue;
      let bot = '';
      if (r.auth) {
        const user = /^Bot\s+/i.test(request.authorization) ? ctx.tokenUser(request.authorization) : null;
        if (user === null) return UNAUTHORIZED;
        bot = user;
      }
      return r.handle(request, match.slice(1), bot);
    }
    return pathMatched ? METHOD_NOT_ALLOWED : NOT_FOUND;
  };
}
