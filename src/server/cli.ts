/**
 * `voxcord serve`: runs the local voice server until SIGINT/SIGTERM (or `io.signal` aborts).
 * Flags: --host, --port, --udp-port, --tls, --seed, --grace-ms, --rtp-extension,
 * --no-dave (transport-only calls), --dave-required (close 4017 for clients without DAVE),
 * --allocate guild:channel:user (repeatable; prints the credentials a main gateway would send).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VoxcordError } from '../errors.js';
import { startVoiceServer } from './index.js';

export interface ServeIo {
  write(line: string): void;
  /** Stops the server when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

const USAGE = `usage: voxcord serve [--host 127.0.0.1] [--port 0] [--udp-port 0] [--tls] [--seed N]
                     [--grace-ms 30000] [--rtp-extension] [--no-dave | --dave-required]
                     [--allocate guild:channel:user ...]`;

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
        'udp-port': { type: 'string' },
        tls: { type: 'boolean' },
        seed: { type: 'string' },
        'grace-ms': { type: 'string' },
        'rtp-extension': { type: 'boolean' },
        'no-dave': { type: 'boolean' },
        'dave-required': { type: 'boolean' },
        allocate: { type: 'string', multiple: true },
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
    io.write(USAGE);
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

  const server = await startVoiceServer({
    host: v.host ?? '127.0.0.1',
    port: intFlag(v.port, 'port', 0, 65535) ?? 0,
    udpPort: intFlag(v['udp-port'], 'udp-port', 0, 65535) ?? 0,
    tls: v.tls ?? false,
    seed: intFlag(v.seed, 'seed', 0, 2 ** 32 - 1),
    sessionGraceMs: intFlag(v['grace-ms'], 'grace-ms', 1, 3_600_000),
    rtpExtension: v['rtp-extension'] ?? false,
    dave: !(v['no-dave'] ?? false),
    daveRequired: v['dave-required'] ?? false,
  });

  let caFile: string | null = null;
  io.write(`voxcord voice server listening`);
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
  io.write('Point a bot at it: feed its voice adapter these two dispatches (local test credentials):');
  for (const request of allocations) {
    const a = server.allocate(request);
    io.write(
      `  VOICE_STATE_UPDATE  ${JSON.stringify({ guild_id: a.guildId, channel_id: a.channelId, user_id: a.userId, session_id: a.sessionId })}`,
    );
    io.write(
      `  VOICE_SERVER_UPDATE ${JSON.stringify({ guild_id: a.guildId, token: a.token, endpoint: a.endpoint })}`,
    );
  }
  if (allocations.length === 0) io.write('  (start with --allocate guild:channel:user to get credentials)');
  io.write('Press Ctrl+C to stop.');

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
  await server.stop();
  if (caFile) rmSync(caFile, { force: true });
  io.write('voxcord voice server stopped');
}
