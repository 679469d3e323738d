/**
 * Where `play` and `record` connect: a real Discord channel (--token/DISCORD_TOKEN, --guild,
 * --channel) or a local server (--server, from `voxcord serve`). Validates the flags with messages
 * that say how to fix them, then joins the way any bot does: createGatewayClient ->
 * joinVoiceChannel -> ready, and waits for the DAVE group so the first frames are not dropped.
 */
import { readFileSync } from 'node:fs';
import { VoxcordError, isVoxcordError, toError } from '../errors.js';
import { createGatewayClient } from '../gateway/builtin-gateway.js';
import type { GatewayClient } from '../gateway/builtin-gateway.js';
import { joinVoiceChannel } from '../gateway/registry.js';
import type { VoiceConnection, VoiceConnectionState } from '../gateway/voice-connection.js';
import { createMediaEngine } from '../media/index.js';
import type { MediaEngine } from '../media/media-engine.js';
import type { VoiceSession } from '../voice/session.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';
import { usageError, waitUntil } from './io.js';

export const TARGET_OPTIONS = {
  token: { type: 'string' },
  guild: { type: 'string' },
  channel: { type: 'string' },
  server: { type: 'string' },
  ca: { type: 'string' },
} as const;

export const TARGET_HELP = `Where to connect:
  --guild <id>        the server (guild) id        } in Discord: Settings > Advanced > Developer Mode,
  --channel <id>      the voice channel id         } then right-click > Copy Server ID / Copy Channel ID
  --token <token>     the bot token (default: the DISCORD_TOKEN environment variable)
  --server <url>      a local server instead of Discord: the apiUrl "voxcord serve" prints
                      (http://127.0.0.1:PORT/api; its ws:// gateway URL works too)
  --ca <file>         with --server --tls: the CA file "voxcord serve --tls" printed`;

export interface TargetFlags {
  token?: string | undefined;
  guild?: string | undefined;
  channel?: string | undefined;
  server?: string | undefined;
  ca?: string | undefined;
}

export interface Target {
  token: string;
  guildId: string;
  channelId: string;
  /** REST base URL of a local server; undefined = Discord. */
  apiUrl: string | undefined;
  tls: VoiceTlsOptions;
  /** For messages: "Discord" or the local server's URL. */
  where: string;
}

const SNOWFLAKE = /^\d{17,20}$/;

/** `ws://h:p` / `http://h:p` / `http://h:p/api` -> the REST base URL createGatewayClient wants. */
export function apiUrlFromServer(server: string, usage: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw usageError(
      `--server "${server}" is not a URL: use the apiUrl "voxcord serve" prints, e.g. --server http://127.0.0.1:PORT/api`,
      usage,
    );
  }
  const scheme = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' }[url.protocol];
  if (scheme === undefined)
    throw usageError(
      `--server must be an http:// or ws:// URL, e.g. --server http://127.0.0.1:PORT/api`,
      usage,
    );
  const path = url.pathname.replace(/\/+$/, '');
  return `${scheme}//${url.host}${path === '' ? '/api' : path}`;
}

export function resolveTarget(
  flags: TargetFlags,
  env: Readonly<Record<string, string | undefined>>,
  usage: string,
): Target {
  const token = (flags.token ?? env.DISCORD_TOKEN ?? '').trim();
  if (token === '')
    throw usageError(
      flags.server === undefined
        ? 'no bot token: pass --token <token> or set DISCORD_TOKEN (Discord Developer Portal > your application > Bot > Reset Token)'
        : 'no bot token: pass --token <token>; "voxcord serve" prints one for the local server',
      usage,
    );
  if (flags.guild === undefined)
    throw usageError('--guild <id> is required: the id of the server the voice channel is in', usage);
  if (!SNOWFLAKE.test(flags.guild))
    throw usageError(
      `--guild "${flags.guild}" is not an id: ids are 17-20 digits (right-click the server > Copy Server ID)`,
      usage,
    );
  if (flags.channel === undefined)
    throw usageError('--channel <id> is required: the id of the voice channel', usage);
  if (!SNOWFLAKE.test(flags.channel))
    throw usageError(
      `--channel "${flags.channel}" is not an id: ids are 17-20 digits (right-click the voice channel > Copy Channel ID)`,
      usage,
    );
  if (flags.ca !== undefined && flags.server === undefined)
    throw usageError(
      '--ca only applies with --server (a local server with a self-signed certificate)',
      usage,
    );
  let tls: VoiceTlsOptions = true;
  let apiUrl: string | undefined;
  if (flags.server !== undefined) {
    apiUrl = apiUrlFromServer(flags.server, usage);
    tls = false;
    if (flags.ca !== undefined) tls = trustedCa(flags.ca, usage);
  }
  return {
    token,
    guildId: flags.guild,
    channelId: flags.channel,
    apiUrl,
    tls,
    where: apiUrl ?? 'Discord',
  };
}

/** `--ca <file>`: wss:// that also trusts the CA in `file` ("voxcord serve --tls" prints one). */
export function trustedCa(file: string, usage: string): VoiceTlsOptions {
  try {
    return { ca: readFileSync(file) };
  } catch {
    throw usageError(`--ca ${file} cannot be read: pass the .pem file "voxcord serve --tls" printed`, usage);
  }
}

export interface Joined {
  client: GatewayClient;
  connection: VoiceConnection;
  engine: MediaEngine;
  /** The current session (ready). */
  readonly session: VoiceSession;
  /** Leaves the channel and closes everything. */
  close(): Promise<void>;
}

/** Resolves on 'ready'; rejects with the connection's own error when it gives up or is destroyed. */
function whenReady(connection: VoiceConnection, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (state: VoiceConnectionState): boolean => {
      if (state.status === 'ready') {
        resolve();
        return true;
      }
      if ((state.status === 'disconnected' && !state.willReconnect) || state.status === 'destroyed') {
        const reason = 'reason' in state ? state.reason : 'unknown';
        reject(
          state.error ??
            new VoxcordError(
              reason === 'join-timeout' ? 'JOIN_TIMEOUT' : 'GATEWAY_CLOSED',
              `could not join the voice channel (${reason})`,
            ),
        );
        return true;
      }
      return false;
    };
    if (check(connection.state)) return;
    const timer = setTimeout(() => {
      connection.off('stateChange', onChange);
      reject(
        new VoxcordError('JOIN_TIMEOUT', `the voice connection was not ready within ${timeoutMs / 1000} s`),
      );
    }, timeoutMs);
    const onChange = (_old: VoiceConnectionState, next: VoiceConnectionState): void => {
      if (!check(next)) return;
      clearTimeout(timer);
      connection.off('stateChange', onChange);
    };
    connection.on('stateChange', onChange);
  });
}

export async function joinTarget(
  target: Target,
  options: { selfDeaf: boolean; group: string; joinTimeoutMs?: number },
): Promise<Joined> {
  const client = createGatewayClient(
    target.apiUrl === undefined ? { token: target.token } : { token: target.token, apiUrl: target.apiUrl },
  );
  try {
    await client.connect();
  } catch (err) {
    await client.destroy();
    if (isVoxcordError(err)) {
      if (err.code === 'GATEWAY_AUTH_FAILED')
        throw new VoxcordError(err.code, `${target.where} rejected the bot token`);
      throw new VoxcordError(err.code, `could not connect to the gateway of ${target.where}`, {
        cause: err.cause ?? err,
      });
    }
    throw new VoxcordError('GATEWAY_CLOSED', `could not connect to the gateway of ${target.where}`, {
      cause: toError(err),
    });
  }
  const engine = createMediaEngine();
  let connection: VoiceConnection | undefined;
  const close = async (): Promise<void> => {
    if (connection !== undefined && connection.state.status !== 'destroyed') {
      connection.leave();
      connection.destroy();
    }
    await client.destroy();
    await engine.close();
  };
  try {
    const timeoutMs = options.joinTimeoutMs ?? 15_000;
    connection = joinVoiceChannel({
      guildId: target.guildId,
      channelId: target.channelId,
      adapterCreator: client.adapterCreator(target.guildId),
      group: options.group,
      engine,
      tls: target.tls,
      selfDeaf: options.selfDeaf,
      joinTimeoutMs: timeoutMs,
      reconnect: { maxAttempts: 2 },
    });
    await whenReady(connection, timeoutMs + 5_000);
    const session = connection.session!;
    await daveReady(session);
  } catch (err) {
    await close();
    throw err;
  }
  const joined = connection;
  return {
    client,
    connection: joined,
    engine,
    get session() {
      return joined.session!;
    },
    close,
  };
}

/**
 * With DAVE on, frames sent before the group exists are dropped (never sent in clear): wait for
 * the group, a transport-only call, or half a second alone in the channel (nobody to hear yet;
 * the group forms when someone joins), at most a few seconds.
 */
async function daveReady(session: VoiceSession): Promise<void> {
  await session.dave.settled();
  if (!session.dave.enabled) return;
  const started = Date.now();
  await waitUntil(
    () =>
      session.dave.protocolVersion === 0 ||
      session.dave.epoch !== undefined ||
      (Date.now() - started > 500 && session.connectedUsers.size === 0),
    5_000,
  );
  await session.dave.settled();
}
