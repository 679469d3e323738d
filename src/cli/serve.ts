/**
 * `voxcord serve`: runs the local Discord (main gateway subset + voice server, DAVE on) until
 * SIGINT/SIGTERM (or `io.signal` aborts), and prints how to point a bot at it.
 * Flags: --host, --port (voice websocket), --gateway-port, --udp-port, --tls, --seed, --grace-ms,
 * --rtp-extension, --no-dave (transport-only calls), --dave-required (close 4017 for clients
 * without DAVE), --bot user (repeatable; prints a token for that bot user id),
 * --allocate guild:channel:user (repeatable; prints the credentials a main gateway would send),
 * --quiet (no event lines). While running it prints one line per voice join, leave, DAVE epoch and
 * voice websocket close.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VoxcordError } from '../errors.js';
import { startLocalDiscord } from '../server/local-discord.js';
import type { LocalDiscord } from '../server/local-discord.js';
import type { ServerEvent } from '../server/types.js';
import { formatServeEvent } from './serve-log.js';

export interface ServeIo {
  write(line: string): void;
  /** Stops the server when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

const USAGE = `usage: voxcord serve [--host 127.0.0.1] [--gateway-port 0] [--port 0] [--udp-port 0] [--tls]
                     [--seed N] [--grace-ms 30000] [--rtp-extension] [--no-dave | --dave-required]
                     [--bot userId ...] [--guild guild:voice[:text] ...]
                     [--allocate guild:channel:user ...] [--quiet]`;

const HELP = `${USAGE}

Runs a local Discord for bots and CI: the main gateway subset a voice bot uses (Identify, op 4,
VOICE_STATE_UPDATE / VOICE_SERVER_UPDATE) in front of a voice server (voice gateway v8, UDP SFU,
DAVE end-to-end encryption on by default). Any guild and channel id works (created on first use);
bots that need their guilds at login (discord.js) get those given with --guild. Any token of the
form base64(user id).x.y is accepted. Stops on Ctrl+C.

Options:
  --host <ip>               interface for every socket (default 127.0.0.1)
  --gateway-port <port>     main gateway and REST port (default: a free port)
  --port <port>             voice websocket port (default: a free port)
  --udp-port <port>         voice UDP port (default: a free port)
  --tls                     voice websocket over TLS with a self-signed certificate
  --seed <n>                seed for SSRCs and fault injection
  --grace-ms <ms>           how long a dropped voice session may resume (default 30000)
  --rtp-extension           add a header extension to forwarded RTP (like Discord)
  --no-dave                 transport encryption only
  --dave-required           close clients without DAVE with 4017
  --bot <userId>            print a bot token for this user id (repeatable)
  --guild g:v[:t]           a guild with voice channel v (and text channel t), sent in GUILD_CREATE
                            at login, as discord.js needs (repeatable)
  --allocate g:c:u          print raw voice credentials for bots with their own gateway (repeatable)
  --quiet                   do not print a line per voice join, leave, DAVE epoch and close
  -h, --help                this help`;

const DEFAULT_BOT = '1100000000000000001';
const SNOWFLAKE = /^\d{1,20}$/;

function intFlag(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new VoxcordError('INVALID_ARGUMENT', `--${name} must be an integer in [${min}, ${max}]\n${USAGE}`);
  }
  return n;
}

export async function runServeCommand(
  argv: string[],
  io: ServeIo = { write: (line) => process.stdout.write(`${line}\n`) },
): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'gateway-port': { type: 'string' },
        bot: { type: 'string', multiple: true },
        'udp-port': { type: 'string' },
        tls: { type: 'boolean' },
        seed: { type: 'string' },
        'grace-ms': { type: 'string' },
        'rtp-extension': { type: 'boolean' },
        'no-dave': { type: 'boolean' },
        'dave-required': { type: 'boolean' },
        allocate: { type: 'string', multiple: true },
        guild: { type: 'string', multiple: true },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new VoxcordError('INVALID_ARGUMENT', `${(error as Error).message}\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    io.write(HELP);
    return;
  }
  if (v['no-dave'] && v['dave-required']) {
    throw new VoxcordError('INVALID_ARGUMENT', `--no-dave and --dave-required exclude each other\n${USAGE}`);
  }
  const allocations = (v.allocate ?? []).map((spec) => {
    const parts = spec.split(':');
    if (parts.length !== 3 || !parts.every((p) => /^\d{1,20}$/.test(p))) {
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        `--allocate expects guild:channel:user snowflakes\n${USAGE}`,
      );
    }
    return { guildId: parts[0]!, channelId: parts[1]!, userId: parts[2]! };
  });
  const guilds = (v.guild ?? []).map((spec) => {
    const parts = spec.split(':');
    if (parts.length < 2 || parts.length > 3 || !parts.every((p) => SNOWFLAKE.test(p)))
      throw new VoxcordError('INVALID_ARGUMENT', `--guild expects guild:voice[:text] snowflakes\n${USAGE}`);
    const [id, voice, text] = parts as [string, string, string | undefined];
    return {
      id,
      channels: [
        { id: voice, name: 'voice', type: 'voice' as const },
        ...(text === undefined ? [] : [{ id: text, name: 'text', type: 'text' as const }]),
      ],
    };
  });
  const bots = v.bot ?? [DEFAULT_BOT];
  for (const bot of bots) {
    if (!SNOWFLAKE.test(bot))
      throw new VoxcordError(
        'INVALID_ARGUMENT',
        `--bot expects a user id (a snowflake such as ${DEFAULT_BOT})\n${USAGE}`,
      );
  }
  const gatewayPort = intFlag(v['gateway-port'], 'gateway-port', 0, 65535) ?? 0;

  const host = v.host ?? '127.0.0.1';
  // Event lines start once the banner is out (an event before it is held, never lost).
  const held: string[] = [];
  let live = false;
  const onEvent = (event: ServerEvent): void => {
    if (v.quiet === true) return;
    const line = formatServeEvent(event);
    if (line === null) return;
    if (live) io.write(line);
    else held.push(line);
  };
  const local = await startServer(
    () => ({
      gateway: { host, port: gatewayPort, guilds },
      voice: {
        log: onEvent,
        host,
        port: intFlag(v.port, 'port', 0, 65535) ?? 0,
        udpPort: intFlag(v['udp-port'], 'udp-port', 0, 65535) ?? 0,
        tls: v.tls ?? false,
        seed: intFlag(v.seed, 'seed', 0, 2 ** 32 - 1),
        sessionGraceMs: intFlag(v['grace-ms'], 'grace-ms', 1, 3_600_000),
        rtpExtension: v['rtp-extension'] ?? false,
        dave: !(v['no-dave'] ?? false),
        daveRequired: v['dave-required'] ?? false,
      },
    }),
    {
      gateway: gatewayPort,
      voice: intFlag(v.port, 'port', 0, 65535) ?? 0,
      udp: intFlag(v['udp-port'], 'udp-port', 0, 65535) ?? 0,
      host,
    },
  );
  const server = local.voice;

  let caFile: string | null = null;
  io.write(`voxcord local Discord listening`);
  io.write(`  main gateway: ${local.gateway.url} (REST apiUrl: ${local.gateway.apiUrl})`);
  io.write(`  voice websocket: ${server.wsUrl}/?v=8`);
  io.write(`  endpoint (VOICE_SERVER_UPDATE.endpoint): ${server.endpoint}`);
  io.write(`  UDP (SFU): ${server.endpoint.replace(/:\d+$/, '')}:${server.udpPort}`);
  io.write(
    v['no-dave']
      ? '  DAVE: off (every call is transport-only)'
      : `  DAVE: on${v['dave-required'] ? ', required (clients without DAVE are closed with 4017)' : ' (calls downgrade while a client without DAVE is in them)'}`,
  );
  if (server.tlsCa) {
    caFile = join(tmpdir(), `voxcord-ca-${process.pid}-${server.port}.pem`);
    writeFileSync(caFile, server.tlsCa);
    io.write(`  TLS: self-signed; trust it with NODE_EXTRA_CA_CERTS=${caFile}`);
  } else {
    io.write(`  TLS: off (clients that only speak wss://, like @discordjs/voice, need --tls)`);
  }
  io.write('');
  io.write('Point a bot at it (local test tokens; any guild and channel id works):');
  for (const bot of bots) io.write(`  bot token for user ${bot}: ${local.createBot(bot).token}`);
  const tlsOption = caFile ? `tls: { ca: readFileSync('${caFile}') }` : 'tls: false';
  io.write(`  const client = createGatewayClient({ token, apiUrl: '${local.gateway.apiUrl}' });`);
  io.write('  await client.connect();');
  io.write(
    `  const connection = joinVoiceChannel({ guildId, channelId, adapterCreator: client.adapterCreator(guildId), ${tlsOption} });`,
  );
  io.write(
    `  discord.js: new Client({ intents, rest: { api: '${local.gateway.apiUrl}' } }), then client.login(token)${guilds.length === 0 ? ' (add --guild for the guilds it should see)' : ''}`,
  );
  io.write(
    `  or: voxcord play <file> --server ${local.gateway.apiUrl} --token <token> --guild <id> --channel <id>${caFile ? ` --ca ${caFile}` : ''}`,
  );
  io.write(
    `  Lavalink clients: voxcord node --password <password> ${caFile ? `--ca ${caFile}` : '--no-voice-tls'}`,
  );
  if (allocations.length > 0)
    io.write('Bots with their own gateway: feed the voice adapter these two dispatches:');
  for (const request of allocations) {
    const a = server.allocate(request);
    io.write(
      `  VOICE_STATE_UPDATE  ${JSON.stringify({ guild_id: a.guildId, channel_id: a.channelId, user_id: a.userId, session_id: a.sessionId })}`,
    );
    io.write(
      `  VOICE_SERVER_UPDATE ${JSON.stringify({ guild_id: a.guildId, token: a.token, endpoint: a.endpoint })}`,
    );
  }
  io.write('Press Ctrl+C to stop.');
  live = true;
  for (const line of held.splice(0)) io.write(line);

  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      io.signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (io.signal?.aborted) done();
    else io.signal?.addEventListener('abort', done, { once: true });
  });
  live = false;
  await local.stop();
  if (caFile) rmSync(caFile, { force: true });
  io.write('voxcord voice server stopped');
}

/**
 * Starts the local Discord; a port in use is one clear line naming the flag, not a stack trace.
 */
async function startServer(
  options: () => Parameters<typeof startLocalDiscord>[0],
  ports: { gateway: number; voice: number; udp: number; host: string },
): Promise<LocalDiscord> {
  try {
    return await startLocalDiscord(options());
  } catch (error) {
    const inUse = addressInUse(error);
    if (inUse === null) throw error;
    const flag =
      inUse.syscall === 'bind'
        ? `--udp-port ${ports.udp}`
        : inUse.port === ports.gateway && ports.gateway !== 0
          ? `--gateway-port ${ports.gateway}`
          : `--port ${ports.voice}`;
    throw new VoxcordError(
      'SERVER_ERROR',
      `${inUse.address ?? ports.host}:${inUse.port ?? '?'} is already in use (${flag}): stop what listens there or pick another port (0 = any free one)`,
    );
  }
}

/** The EADDRINUSE error in an error's cause chain, if any. */
function addressInUse(error: unknown): { syscall?: string; address?: string; port?: number } | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const errno = e as NodeJS.ErrnoException & { address?: string; port?: number };
    if (errno.code === 'EADDRINUSE')
      return {
        ...(errno.syscall === undefined ? {} : { syscall: errno.syscall }),
        ...(errno.address === undefined ? {} : { address: errno.address }),
        ...(errno.port === undefined ? {} : { port: errno.port }),
      };
  }
  return null;
}
