/**
 * The `voxcord` command line: dispatches to a subcommand and turns failures into a message that
 * names the problem and the fix, and an exit code (0 ok, 1 failed, 2 wrong usage).
 */
import type { VoxcordError } from '../errors.js';
import { isVoxcordError } from '../errors.js';
import { runServeCommand } from './serve.js';
import { runNodeCommand } from './node.js';
import { runDemoCommand } from './demo.js';
import { runDoctorCommand } from './doctor.js';
import { say, usageError } from './io.js';
import type { CliIo } from './io.js';
import { runPlayCommand } from './play.js';
import { runRecordCommand } from './record.js';
import { voxcordVersion } from '../util/installed-package.js';

type Command = (argv: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  demo: {
    run: runDemoCommand,
    summary: 'a whole DAVE call on this machine: a bot plays, a listener records, a report is written',
  },
  serve: {
    run: async (argv, io) => {
      try {
        await runServeCommand(argv, {
          write: (line) => say(io, line),
          ...(io.signal ? { signal: io.signal } : {}),
        });
      } catch (err) {
        // runServeCommand puts its usage into the message; split it off like the other commands.
        if (isVoxcordError(err, 'INVALID_ARGUMENT')) {
          const at = err.message.indexOf('\nusage:');
          if (at >= 0) throw usageError(err.message.slice(0, at), err.message.slice(at + 1));
        }
        throw err;
      }
      return 0;
    },
    summary: 'run a local Discord (gateway + voice server with DAVE) for your bot and CI',
  },
  play: {
    run: runPlayCommand,
    summary: 'play an audio file into a voice channel (Discord or a local server)',
  },
  record: { run: runRecordCommand, summary: 'record each speaker in a voice channel to its own file' },
  doctor: {
    run: runDoctorCommand,
    summary: 'show the Opus, crypto, DAVE and ffmpeg libraries in use, and what to install',
  },
  node: {
    run: runNodeCommand,
    summary: 'run a Lavalink v4-compatible audio node for Lavalink clients',
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: voxcord <command> [options]',
    '',
    'Discord voice for Node.js bots, from the command line.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "voxcord <command> --help" for the options of a command.',
    'Start with "voxcord demo".',
  ].join('\n');
}

/** What to do about an error, when there is something to say beyond its message. */
export function hintFor(error: VoxcordError): string | undefined {
  switch (error.code) {
    case 'GATEWAY_AUTH_FAILED':
      return 'Check the token: use the bot token from the Discord Developer Portal (your application > Bot > Reset Token), passed with --token or DISCORD_TOKEN. Against a local server, use a token "voxcord serve" printed.';
    case 'JOIN_TIMEOUT':
      return 'Check the --guild and --channel ids, that the bot is a member of that server, that it may view and connect to the channel, and that the channel is not full.';
    case 'GATEWAY_CLOSED':
      return 'Check the network, and with --server that "voxcord serve" is still running at that address.';
    case 'OPUS_UNAVAILABLE':
      return 'Install an Opus library in your project: npm install @evan/opus';
    case 'DAVE_PROTOCOL_ERROR':
      return 'The end-to-end encryption handshake failed; run again with DEBUG output or report it with the message above.';
    default:
      return undefined;
  }
}

function printError(io: CliIo, prefix: string, err: unknown): number {
  if (isVoxcordError(err)) {
    const usage = err.details?.usage;
    if (err.code === 'INVALID_ARGUMENT' && typeof usage === 'string') {
      io.stderr.write(`${prefix}: ${err.message}\n${usage}\nRun "${prefix} --help" for details.\n`);
      return 2;
    }
    io.stderr.write(`${prefix}: ${err.message}\n`);
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    if (cause !== undefined && cause !== err.message) io.stderr.write(`  cause: ${cause}\n`);
    const hint = hintFor(err);
    if (hint !== undefined) io.stderr.write(`  ${hint}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`${prefix}: unexpected error: ${message}\n`);
  return 1;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    say(io, mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    say(io, voxcordVersion());
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`voxcord: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    return printError(io, `voxcord ${name}`, err);
  }
}
