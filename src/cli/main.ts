#!/usr/bin/env node
/**
 * The `voxcord` executable (package.json "bin"). Wires the process (argv, stdout, Ctrl-C) to
 * runCli and exits with its code.
 */
import { runCli } from './run.js';
import type { CliIo } from './io.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts++;
  // The first Ctrl-C stops the command cleanly (files are finished); a second one quits now.
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const io: CliIo = {
  stdout: {
    write: (text) => void process.stdout.write(text),
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.columns,
  },
  stderr: { write: (text) => void process.stderr.write(text), isTTY: process.stderr.isTTY === true },
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
};

const code = await runCli(process.argv.slice(2), io);
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
process.exitCode = code;
// Everything is closed by now; if a third-party handle still lingers, do not hang the shell.
setTimeout(() => process.exit(code), 2_000).unref();
