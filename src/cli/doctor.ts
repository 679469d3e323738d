/** `voxcord doctor`: prints the dependency report; exits 1 when something voxcord needs is missing. */
import { parseArgs } from 'node:util';
import { checkDependencies } from '../diagnostics/dependency-report.js';
import { say, usageError } from './io.js';
import type { CliIo } from './io.js';

export const DOCTOR_USAGE = 'usage: voxcord doctor';

export const DOCTOR_HELP = `${DOCTOR_USAGE}

Prints what voxcord runs on here, with a hint for anything missing: the Opus library and whether
it runs native or WebAssembly, the transport encryption backends (node:crypto, sodium-native),
the DAVE implementation and its MLS library, ffmpeg and its version, Node.js and the platform.
The same text as generateDependencyReport() from the library.

Environment:
  FFMPEG_PATH        the ffmpeg executable to check (default: ffmpeg on PATH)
  OPUS_FORCE_WASM=1  make @evan/opus use its WebAssembly build (to test the fallback)

Exits with 1 when no Opus library works (voxcord cannot send or receive audio), else 0.

Options:
  -h, --help   this help`;

export async function runDoctorCommand(argv: string[], io: CliIo): Promise<number> {
  let help: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    help = values.help === true;
  } catch (err) {
    throw usageError((err as Error).message, DOCTOR_USAGE);
  }
  if (help) {
    say(io, DOCTOR_HELP);
    return 0;
  }
  const { text, missingRequired } = checkDependencies({ env: io.env });
  say(io, text);
  if (missingRequired.length === 0) return 0;
  io.stderr.write(`voxcord doctor: missing ${missingRequired.join(', ')}\n`);
  return 1;
}
