/**
 * What a command needs from the process, injected so tests run commands in-process: where to
 * print, the environment, the working directory, and a signal that stands for Ctrl-C.
 */
import { VoxcordError } from '../errors.js';

export interface CliOutput {
  write(text: string): void;
  /** A terminal: progress bars redraw one line; otherwise plain lines are printed. */
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Aborted on Ctrl-C / SIGTERM (main.ts) or by a test: long-running commands stop cleanly. */
  signal?: AbortSignal;
}

/** A line on stdout. */
export function say(io: CliIo, line = ''): void {
  io.stdout.write(`${line}\n`);
}

/**
 * A command-line mistake: what is wrong and how to fix it. Exit code 2; main.ts prints the
 * message and the command's usage line.
 */
export function usageError(message: string, usage: string): VoxcordError {
  return new VoxcordError('INVALID_ARGUMENT', message, { details: { usage } });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 10 ms until true; false after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** `promise`, or the error from `onTimeout` after `ms` (the timer is always cleared). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `signal` aborts or after `ms` (when given), whichever is first; cleans up both. */
export function stopAfter(
  signal: AbortSignal | undefined,
  ms: number | undefined,
): Promise<'aborted' | 'elapsed'> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve('aborted');
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve('aborted');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (ms !== undefined)
      timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve('elapsed');
      }, ms);
  });
}
