import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // A rejection nobody handled is a defect: fail the run on it.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
