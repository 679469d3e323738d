/**
 * `voxcord node`: runs a Lavalink v4-compatible node until Ctrl-C. Loopback by default; the
 * password comes from --password or LAVALINK_PASSWORD (never printed).
 */
import { parseArgs } from 'node:util';
import { trustedCa } from './connect.js';
import { say, stopAfter, usageError } from './io.js';
import type { CliIo } from './io.js';
import { DEFAULT_NODE_PORT, DEFAULT_PLAYER_UPDATE_INTERVAL_MS, startNode } from '../node/server.js';
import type { SourceName } from '../node/sources.js';
import { createTimelineBackend } from '../node/timeline-backend.js';
import { createVoiceBackend } from '../node/voice-backend.js';
import { createMediaEngine } from '../media/create-engine.js';
import { describeRealtime, supportRealtimeWorkers } from '../media/realtime.js';
import { MAX_WORKERS } from '../media/worker-engine.js';
import type { VoiceTlsOptions } from '../voice/voice-socket.js';

export const NODE_USAGE = `usage: voxcord node --password <password> [--host 127.0.0.1] [--port ${DEFAULT_NODE_PORT}]`;

export const NODE_HELP = `${NODE_USAGE}

Runs a Lavalink v4-compatible audio node: Lavalink clients (lavalink-client, shoukaku, riffy,
moonlink.js, magmastream …) connect to it like to a Lavalink server.

Options:
  --host <address>          address to listen on (default 127.0.0.1; 0.0.0.0 exposes it)
  --port <port>             port (default ${DEFAULT_NODE_PORT}; 0 picks a free one)
  --password <password>     what clients send as Authorization (or env LAVALINK_PASSWORD)
  --player-update <ms>      playerUpdate interval (default ${DEFAULT_PLAYER_UPDATE_INTERVAL_MS})
  --no-local                do not serve local files (only http(s) URLs)
  --no-voice                players keep time and send events but join no voice channel
  --no-realtime             leave the media workers at normal priority (by default they ask
                            Linux for real-time scheduling, which needs CAP_SYS_NICE or
                            ulimit -r; without it they run at normal priority and say so;
                            with it, V8 collects each thread's young generation on that thread,
                            and V8's and libuv's helper threads run at real-time priority 1)
  --workers <n|auto>        media worker threads (default auto: one, more when one cannot keep
                            up). Each costs ~10 MB; one sent 500 players on time in the bench
  --no-voice-tls            reach voice servers over ws://, not wss:// (a local Discord:
                            "voxcord serve" without --tls); never for Discord
  --ca <file>               also trust this CA for the voice servers' wss:// (the .pem file
                            "voxcord serve --tls" printed)
  -h, --help                this help

See docs/voxcord-node.md for what works and what is still missing.`;

interface NodeArgs {
  help: boolean;
  host: string;
  port: number;
  password: string | undefined;
  playerUpdateIntervalMs: number;
  sources: SourceName[];
  voice: boolean;
  /** Real-time scheduling for the media workers (media/realtime.ts). */
  realtime: boolean;
  workers: number | 'auto';
  /** The voice websocket's TLS (Discord: wss with the system CAs). */
  voiceTls: VoiceTlsOptions;
}

export function parseNodeArgs(argv: string[], env: CliIo['env']): NodeArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        password: { type: 'string' },
        'player-update': { type: 'string' },
        'no-local': { type: 'boolean' },
        'no-voice': { type: 'boolean' },
        'no-realtime': { type: 'boolean' },
        workers: { type: 'string' },
        'no-voice-tls': { type: 'boolean' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError((err as Error).message, NODE_USAGE);
  }
  const port = values.port === undefined ? DEFAULT_NODE_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw usageError('--port must be a port number (0-65535), e.g. --port 2333', NODE_USAGE);
  const interval =
    values['player-update'] === undefined
      ? DEFAULT_PLAYER_UPDATE_INTERVAL_MS
      : Number(values['player-update']);
  if (!Number.isInteger(interval) || interval < 100)
    throw usageError('--player-update must be a number of ms (at least 100)', NODE_USAGE);
  const workers = values.workers === undefined || values.workers === 'auto' ? 'auto' : Number(values.workers);
  if (workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS))
    throw usageError(`--workers must be auto or a number 1-${MAX_WORKERS}, e.g. --workers 1`, NODE_USAGE);
  if (values.host === '') throw usageError('--host needs an address, e.g. --host 127.0.0.1', NODE_USAGE);
  const password = values.password ?? env['LAVALINK_PASSWORD'];
  let voiceTls: VoiceTlsOptions = values['no-voice-tls'] !== true;
  if (values.ca !== undefined) {
    if (!voiceTls) throw usageError('--ca is for wss://; --no-voice-tls turns TLS off', NODE_USAGE);
    voiceTls = trustedCa(values.ca, NODE_USAGE);
  }
  return {
    help: values.help === true,
    host: values.host ?? '127.0.0.1',
    port,
    password: password === '' ? undefined : password,
    playerUpdateIntervalMs: interval,
    sources: values['no-local'] === true ? ['http'] : ['http', 'local'],
    voice: values['no-voice'] !== true,
    realtime: values['no-realtime'] !== true,
    workers,
    voiceTls,
  };
}

export async function runNodeCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseNodeArgs(argv, io.env);
  if (args.help) {
    say(io, NODE_HELP);
    return 0;
  }
  if (args.password === undefined)
    throw usageError(
      'a password is required: --password <password> (or LAVALINK_PASSWORD); clients send it as Authorization',
      NODE_USAGE,
    );
  const stamp = (): string => new Date().toISOString();
  const log = (line: string): void => say(io, `${stamp()} ${line}`);
  // A real-time worker must not wait for normal-priority helpers (media/realtime.ts).
  const supportWorker = args.voice && args.realtime ? await supportRealtimeWorkers(log) : undefined;
  // The node's own engine: the library's default one never asks for real-time scheduling.
  const engine = args.voice
    ? createMediaEngine({
        realtime: args.realtime,
        workers: args.workers,
        onWorkerReady: ({ slot, realtime }) => {
          log(
            `media worker ${slot}: ${realtime === undefined ? 'normal scheduling' : describeRealtime(realtime)}`,
          );
          supportWorker?.(realtime);
        },
      })
    : undefined;
  const node = await startNode({
    host: args.host,
    port: args.port,
    password: args.password,
    playerUpdateIntervalMs: args.playerUpdateIntervalMs,
    sources: args.sources,
    backend:
      engine !== undefined ? createVoiceBackend({ engine, tls: args.voiceTls }) : createTimelineBackend(),
    log,
  }).catch(async (error: unknown) => {
    await engine?.close(); // its worker started already: a port in use must not leave it running
    throw error;
  });
  await stopAfter(io.signal, undefined);
  say(io, `${stamp()} shutting down`);
  await node.close();
  await engine?.close();
  return 0;
}
