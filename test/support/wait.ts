/** The suite's one polling loop: waits for state that settles asynchronously. */

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function poll(check: () => boolean, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

/** Polls `check` until it holds; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  if (!(await poll(check, timeoutMs))) throw new Error(`timed out waiting for ${what}`);
}
