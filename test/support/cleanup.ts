import { afterEach } from 'vitest';

/** Things a test opened, undone after it (newest first). */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** `add` for several steps, for tests written against a plain array of cleanups. */
  push(...steps: Array<() => unknown>): void {
    this.steps.push(...steps);
  }

  /** Runs every step, newest first; a step that throws does not stop the others. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep cleaning: what a test asserts is checked in the test, not here
      }
    }
  }
}

/** A Cleanup run after each test of the calling file. */
export function cleanupAfterEach(): Cleanup {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  return cleanup;
}
