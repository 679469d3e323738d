import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // A file runs in a process its worker reuses, with the modules earlier files loaded: a fresh
    // process per file cost 130 s of the 460 s run (2 cores). Module state the files could share is
    // the voice connection registry, which test/setup/registry-clean.ts keeps empty between files.
    isolate: false,
    setupFiles: ['test/setup/registry-clean.ts'],
    // Vitest runs cores - 1 files at once: one on a 2-core machine. Most end-to-end files wait on
    // the 20 ms audio clock rather than the CPU: two at once on a 2-core VM took vitest from 586 s
    // to 342-360 s (3 runs, all green).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    minWorkers: 2,
    // A rejection nobody handled is a defect: fail the run on it.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
