/**
 * Things a test opened, undone after it (newest first). Free of vitest, so scripts run outside it
 * (`npm run soak:dave`) can load the harnesses that use it; the vitest hook is in after-each.ts.
 */
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
