/**
 * `npm run soak:dave` runs outside vitest and loads the e2e harness and the test shelf: a vitest
 * import anywhere below it kills the script at start ("Vitest failed to access its internal
 * state"), which no vitest run would notice.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('scripts run outside vitest', () => {
  it('the DAVE churn soak loads without vitest', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', "await import('./test/soak/dave-churn.ts')"],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
