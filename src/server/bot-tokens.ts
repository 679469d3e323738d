/**
 * Bot tokens of the local main gateway: issued in Discord's shape (base64(user id).x.y), checked
 * on Identify, Resume and REST, revoked for good. Holds no sockets: revoking closes nothing here
 * (the gateway state closes the sessions that used the token).
 */
import { randomBytes } from 'node:crypto';
import { checkSnowflake } from './discord-model.js';

/** A token in Discord's shape whose first part is base64(user id). */
export function createBotToken(userId: string): string {
  checkSnowflake(userId, 'userId');
  const head = Buffer.from(userId, 'utf8').toString('base64url');
  return `${head}.${randomBytes(4).toString('base64url')}.${randomBytes(20).toString('base64url')}`;
}

/** The user id encoded in a token, or null if the token is malformed. */
export function userIdFromToken(token: string): string | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return null;
  const id = Buffer.from(parts[0] as string, 'base64url').toString('utf8');
  return /^\d{1,20}$/.test(id) ? id : null;
}

/** A token without its optional `Bot ` prefix (REST headers carry it, Identify may). */
export function bareToken(token: string): string {
  return token.replace(/^Bot\s+/i, '');
}

export class BotTokens {
  /** null: any well-formed token is accepted. */
  private readonly allowed: Set<string> | null;
  private readonly revoked = new Set<string>();

  constructor(allowed: readonly string[] | undefined) {
    this.allowed = allowed === undefined ? null : new Set(allowed);
  }

  /** A new token for `userId`, accepted from now on. */
  issue(userId: string): string {
    checkSnowflake(userId, 'userId');
    const token = createBotToken(userId);
    this.allowed?.add(token);
    return token;
  }

  /** The token never authenticates again. */
  revoke(token: string): void {
    this.revoked.add(token);
  }

  /** The user a token (with or without `Bot `) authenticates, or null. */
  userOf(token: unknown): string | null {
    if (typeof token !== 'string' || this.revoked.has(token)) return null;
    const bare = bareToken(token);
    if (this.revoked.has(bare)) return null;
    if (this.allowed !== null && !this.allowed.has(bare)) return null;
    return userIdFromToken(bare);
  }
}
