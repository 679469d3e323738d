/**
 * An Opus backend for @discordjs/voice in the bench. The library encodes/decodes through
 * prism-media 1.3.5, which `require`s '@discordjs/opus', 'node-opus' or 'opusscript' (in that
 * order) the first time an Opus stream is built. '@discordjs/opus' cannot be installed here and
 * opusscript 0.1.1 breaks with several instances, so this points that one request at a CommonJS
 * shim with the same API over @evan/opus (discordjs-opus-shim.cjs).
 */
import Module from 'node:module';
import { fileURLToPath } from 'node:url';

/** The request prism-media makes first; only this one is redirected. */
export const DISCORDJS_OPUS = '@discordjs/opus';

/** Absolute path of the shim that `require('@discordjs/opus')` resolves to once installed. */
export const DJS_OPUS_SHIM_PATH = fileURLToPath(new URL('./discordjs-opus-shim.cjs', import.meta.url));

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
 * resolve to the shim. Idempotent. Call it before the first Opus stream is created: prism-media
 * keeps the first library it loads for the life of the process.
 */
export function installDjsOpus(): void {
  if (installed) return;
  const internals = Module as unknown as ModuleInternals;
  const original = internals._resolveFilename;
  internals._resolveFilename = function resolveFilename(this: unknown, request, parent, isMain, options) {
    if (request === DISCORDJS_OPUS) return DJS_OPUS_SHIM_PATH;
    return original.call(this, request, parent, isMain, options);
  };
  installed = true;
}
