/**
 * What happens in the local Discord's text side: messages (sent by users through operator
 * controls, by bots through REST), slash-command interactions and the bots' answers to them
 * (callback, edits of the original response, followups). Tests read it back and wait on it.
 * Pure records and payload shapes; the REST routes and the main gateway feed it.
 */
import { randomBytes } from 'node:crypto';
import { toError, VoxcordError } from '../errors.js';
import { checkDelay, checkOptions } from '../util/args.js';
import { MESSAGE_FLAG_EPHEMERAL } from '../protocol/constants.js';
import { checkSnowflake, newSnowflake, userPayload } from './discord-model.js';
import type { GuildRecord, UserRecord } from './discord-model.js';
import { memberPayload } from './discord-model.js';

export type LocalMessageKind = 'user' | 'channel' | 'reply' | 'followup';

/** A message as the local Discord stores it (tests read these back). */
export interface LocalMessage {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  /** user: sent by an operator control; channel: a bot's POST /channels/{id}/messages;
   *  reply: an interaction's original response; followup: an interaction followup. */
  kind: LocalMessageKind;
  content: string;
  embeds: unknown[];
  components: unknown[];
  flags: number;
  ephemeral: boolean;
  /** Files sent with the message (multipart bodies). */
  attachments: Array<{ filename: string; size: number }>;
  interactionId: string | null;
  /** How many times the message was edited. */
  edits: number;
  deleted: boolean;
  /** A deferred response not yet edited ("Bot is thinking..."). */
  loading: boolean;
  createdAt: number;
}

/** A slash command run through `runCommand`, and what the bot answered. */
export interface LocalInteraction {
  readonly id: string;
  readonly commandName: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly userId: string;
  /** The bot's callback type (4 reply, 5 deferred, ...), null until it answered. */
  readonly callbackType: number | null;
  /** The original response as it stands now (edits applied), null until the bot answered. */
  readonly response: LocalMessage | null;
  readonly followups: readonly LocalMessage[];
  /**
   * Resolves with the original response once it has content: a reply, or a deferral followed by
   * an edit. Rejects with a VoxcordError('STATE_TIMEOUT') after `timeoutMs` (default 10 s).
   */
  reply(timeoutMs?: number): Promise<LocalMessage>;
  /** Resolves with the `index`-th followup (default 0) once it exists. */
  followup(index?: number, timeoutMs?: number): Promise<LocalMessage>;
}

export interface MessageFilter {
  channelId?: string;
  authorId?: string;
  kind?: LocalMessageKind;
  /** Only messages created after this one (by id order). */
  after?: string;
}

/** Checked before a search or a wait (a bad `after` threw from inside one, or later from a wait). */
export function checkMessageFilter(filter: MessageFilter | undefined): void {
  checkOptions(filter, 'filter');
  if (filter?.after !== undefined) checkSnowflake(filter.after, 'filter.after');
}

type Waiter = { check: () => boolean; timer: NodeJS.Timeout };

export class InteractionRecord implements LocalInteraction {
  readonly token = randomBytes(32).toString('base64url');
  callbackType: number | null = null;
  response: LocalMessage | null = null;
  readonly followups: LocalMessage[] = [];

  constructor(
    readonly id: string,
    readonly applicationId: string,
    readonly commandName: string,
    readonly guildId: string,
    readonly channelId: string,
    readonly userId: string,
    private readonly activity: Activity,
  ) {}

  reply(timeoutMs = 10_000): Promise<LocalMessage> {
    return this.activity.waitFor(
      () => (this.response !== null && !this.response.loading ? this.response : undefined),
      timeoutMs,
      `a reply to /${this.commandName}`,
    );
  }

  followup(index = 0, timeoutMs = 10_000): Promise<LocalMessage> {
    return this.activity.waitFor(
      () => this.followups[index],
      timeoutMs,
      `followup ${index} of /${this.commandName}`,
    );
  }

  /** Interaction tokens are secrets on Discord: keep them out of util.inspect and JSON. */
  toJSON(): Record<string, unknown> {
    const { id, commandName, guildId, channelId, userId, callbackType, response, followups } = this;
    return { id, commandName, guildId, channelId, userId, callbackType, response, followups };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }
}

export class Activity {
  readonly messages: LocalMessage[] = [];
  readonly interactions = new Map<string, InteractionRecord>();
  private readonly byToken = new Map<string, InteractionRecord>();
  private readonly waiters = new Set<Waiter>();

  addMessage(message: Omit<LocalMessage, 'id' | 'edits' | 'deleted' | 'createdAt'>): LocalMessage {
    const record: LocalMessage = {
      ...message,
      id: newSnowflake(),
      edits: 0,
      deleted: false,
      createdAt: Date.now(),
    };
    this.messages.push(record);
    this.changed();
    return record;
  }

  message(id: string): LocalMessage | undefined {
    return this.messages.find((m) => m.id === id && !m.deleted);
  }

  addInteraction(
    applicationId: string,
    commandName: string,
    guildId: string,
    channelId: string,
    userId: string,
  ): InteractionRecord {
    const record = new InteractionRecord(
      newSnowflake(),
      applicationId,
      commandName,
      guildId,
      channelId,
      userId,
      this,
    );
    this.interactions.set(record.id, record);
    this.byToken.set(record.token, record);
    return record;
  }

  interactionByToken(token: string): InteractionRecord | undefined {
    return this.byToken.get(token);
  }

  find(filter: MessageFilter = {}): LocalMessage[] {
    return this.messages.filter(
      (m) =>
        !m.deleted &&
        (filter.channelId === undefined || m.channelId === filter.channelId) &&
        (filter.authorId === undefined || m.authorId === filter.authorId) &&
        (filter.kind === undefined || m.kind === filter.kind) &&
        (filter.after === undefined || BigInt(m.id) > BigInt(filter.after)),
    );
  }

  /** Something changed: re-check every waiter. */
  changed(): void {
    for (const waiter of [...this.waiters]) waiter.check();
  }

  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    try {
      checkDelay(timeoutMs, 'timeoutMs', undefined, 'zero');
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          const value = probe();
          if (value === undefined) return false;
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          resolve(value);
          return true;
        },
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new VoxcordError('STATE_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }

  clear(): void {
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.clear();
  }
}

/** The fields of a message body a bot sends (JSON or multipart `payload_json`). */
export interface MessageBody {
  content: string;
  embeds: unknown[];
  components: unknown[];
  flags: number;
  attachments: Array<{ filename: string; size: number }>;
}

export function parseMessageBody(
  body: unknown,
  files: Array<{ filename: string; size: number }>,
): MessageBody {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return {
    content: typeof b.content === 'string' ? b.content : '',
    embeds: Array.isArray(b.embeds) ? b.embeds : [],
    components: Array.isArray(b.components) ? b.components : [],
    flags: typeof b.flags === 'number' ? b.flags : 0,
    attachments: files,
  };
}

export function isEmptyMessage(body: MessageBody): boolean {
  return (
    body.content === '' &&
    body.embeds.length === 0 &&
    body.components.length === 0 &&
    body.attachments.length === 0
  );
}

export function isEphemeral(flags: number): boolean {
  return (flags & MESSAGE_FLAG_EPHEMERAL) !== 0;
}

/** The message object of MESSAGE_CREATE and of REST answers. */
export function messagePayload(
  message: LocalMessage,
  author: UserRecord,
  guild: GuildRecord | undefined,
  users: (id: string) => UserRecord,
  options: { hideContent?: boolean; interaction?: InteractionRecord } = {},
): Record<string, unknown> {
  const hide = options.hideContent === true;
  const mentionIds = [...message.content.matchAll(/<@!?(\d{1,20})>/g)].map((m) => m[1] as string);
  const member = guild?.members.get(author.id);
  return {
    id: message.id,
    type: message.kind === 'reply' || message.kind === 'followup' ? 20 : 0,
    channel_id: message.channelId,
    ...(message.guildId === null ? {} : { guild_id: message.guildId }),
    author: userPayload(author),
    ...(member !== undefined && guild !== undefined && message.kind === 'user'
      ? { member: withoutUser(memberPayload(guild, member, author)) }
      : {}),
    content: hide ? '' : message.content,
    timestamp: new Date(message.createdAt).toISOString(),
    edited_timestamp: message.edits > 0 ? new Date().toISOString() : null,
    tts: false,
    mention_everyone: false,
    mentions: [...new Set(mentionIds)].map((id) => userPayload(users(id))),
    mention_roles: [],
    attachments: hide
      ? []
      : message.attachments.map((a, i) => ({
          id: `${message.id}${i}`,
          filename: a.filename,
          size: a.size,
          url: `attachment://${a.filename}`,
          proxy_url: `attachment://${a.filename}`,
        })),
    embeds: hide ? [] : message.embeds,
    components: hide ? [] : message.components,
    pinned: false,
    flags: message.flags | (message.loading ? 128 : 0),
    ...(options.interaction === undefined
      ? {}
      : {
          webhook_id: options.interaction.applicationId,
          application_id: options.interaction.applicationId,
          interaction_metadata: {
            id: options.interaction.id,
            type: 2,
            user: userPayload(users(options.interaction.userId)),
            authorizing_integration_owners: { '0': options.interaction.guildId },
          },
        }),
  };
}

function withoutUser(member: Record<string, unknown>): Record<string, unknown> {
  const { user: _user, ...rest } = member;
  return rest;
}
