import { afterEach } from 'vitest';
import { Cleanup } from './cleanup.js';

/** A Cleanup run after each test of the calling file. */
export function cleanupAfterEach(): Cleanup {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  return cleanup;
}
