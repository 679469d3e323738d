/** Runs a Node process (e.g. `-e script` under tsx) and collects its stdout and exit code. */
import { spawn } from 'node:child_process';

/**
 * `exit` is -1 when the process had to be killed after `timeoutMs`. `ownProcessGroup`: the process
 * leads a group of its own, so that a signal it sends its group cannot reach the test runner.
 */
export async function runNode(
  args: readonly string[],
  cwd: string,
  timeoutMs = 15_000,
  ownProcessGroup = false,
): Promise<{ out: string; exit: number | null }> {
  const child = spawn(process.execPath, [...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: ownProcessGroup,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exit = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  return { out, exit };
}
