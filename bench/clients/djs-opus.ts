/**
 * An Opus backend for @discordjs/voice in the bench. The library encodes/decodes through
 * prism-media 1.3.5, which `require`s '@discordjs/opus', 'node-opus' or 'opusscript' (in that
 * order) the first time an Opus stream is built. '@discordjs/opus' cannot be installed here and
 * opusscript 0.1.1 breaks with several instances, so this answers that one request with a shim of
 * the same API over @evan/opus (discordjs-opus-shim.ts).
 *
 * How: Node's CommonJS resolver maps the request to the shim's path, and the require cache already
 * holds a loaded module under that path, so Node returns its exports without reading any file
 * (the shim is TypeScript, which plain `require` could not load).
 */
import Module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { OpusEncoder, voxcordShim } from './discordjs-opus-shim.js';

/** The request prism-media makes first; only this one is redirected. */
export const DISCORDJS_OPUS = '@discordjs/opus';

/** What `require.resolve('@discordjs/opus')` returns once installed: the shim's source file. */
export const DJS_OPUS_SHIM_PATH = fileURLToPath(new URL('./discordjs-opus-shim.ts', import.meta.url));

/** Node's CommonJS resolver: internal, stable since Node 0.x, not in @types/node. */
type ResolveFilename = (
  this: unknown,
  request: string,
  parent: unknown,
  isMain: boolean,
  options?: unknown,
) => string;

interface ModuleInternals {
  _resolveFilename: ResolveFilename;
}

let installed = false;

/**
 * Makes `require('@discordjs/opus')` (from anywhere in this process, prism-media included)
 * return the shim. Idempotent. Call it before the first Opus stream is created: prism-media
 * keeps the first library it loads for the life of the process (opusscript is installed too).
 */
export function installDjsOpus(): void {
  if (installed) return;
  const shim = new Module(DJS_OPUS_SHIM_PATH);
  shim.filename = DJS_OPUS_SHIM_PATH;
  shim.exports = { OpusEncoder, voxcordShim };
  shim.loaded = true;
  // `require.cache` is Module._cache, shared by every require function of the process.
  createRequire(import.meta.url).cache[DJS_OPUS_SHIM_PATH] = shim;

  const internals = Module as unknown as ModuleInternals;
  const original = internals._resolveFilename;
  internals._resolveFilename = function resolveFilename(this: unknown, request, parent, isMain, options) {
    if (request === DISCORDJS_OPUS) return DJS_OPUS_SHIM_PATH;
    return original.call(this, request, parent, isMain, options);
  };
  installed = true;
}
