/**
 * Loads the RFC 9420 test vectors from `<repo>/../shared/vectors/rfc9420/` (the folder the repo is
 * cloned next to; a worktree one level deeper also finds it). Tests skip, saying so, only when the
 * folder is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const candidates = [
  resolve(repoRoot, '../shared/vectors/rfc9420'),
  resolve(repoRoot, '../../shared/vectors/rfc9420'),
];

export const VECTOR_DIR: string | undefined = candidates.find((dir) => existsSync(dir));

if (VECTOR_DIR === undefined) {
  console.warn(`RFC 9420 vectors skipped: folder missing (looked in ${candidates.join(', ')})`);
}

/** The entries of one vector file, limited to cipher suite 2 where the file has a suite. */
export function loadVectors<T>(name: string, allSuites = false): T[] {
  if (VECTOR_DIR === undefined) return [];
  const all = JSON.parse(readFileSync(resolve(VECTOR_DIR, `${name}.json`), 'utf8')) as T[];
  return all.filter((v) => {
    const cs = (v as { cipher_suite?: number }).cipher_suite;
    return allSuites || cs === undefined || cs === 2;
  });
}

export { hex, unhex } from '../../../support/bytes.js';
