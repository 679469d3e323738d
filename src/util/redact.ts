/**
 * Secrets never reach logs, errors or debug events. Every payload that is printed or emitted for
 * debugging goes through `redact`, which replaces the values of secret-bearing fields.
 */
import { inspect } from 'node:util';
import type { InspectOptions } from 'node:util';

const SECRET_KEYS: ReadonlySet<string> = new Set([
  'token',
  'secret_key',
  'secretKey',
  'session_id',
  'sessionId',
]);

export const REDACTED = '[redacted]';

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/**
 * util.inspect hook for classes that hold key material (MLS state, ratchet secrets, AES round
 * keys): `[inspect.custom]` returns `publicView(...)`, the class name and only the fields given.
 * Whatever the depth or options, inspection then never walks into the secret-bearing fields.
 */
export const inspectCustom: typeof inspect.custom = inspect.custom;

/**
 * The options util.inspect hands an `[inspect.custom]` method. Declared here because @types/node
 * renamed its own (InspectOptionsStylized up to 25, InspectContext from 26): our public types must
 * compile with whichever a bot has.
 */
export interface InspectStylized extends InspectOptions {
  stylize(text: string, styleType: string): string;
}

export function publicView(
  name: string,
  fields: Record<string, unknown>,
  depth: number,
  options: InspectStylized,
  inspectFn: typeof inspect,
): string {
  if (depth < 0) return options.stylize(`[${name}]`, 'special');
  const body = inspectFn(redact(fields), { ...options, depth: options.depth === null ? null : depth - 1 });
  return `${name} ${body}`;
}
