/**
 * Secrets never reach logs, errors or debug events. Every payload that is printed or emitted for
 * debugging goes through `redact`, which replaces the values of secret-bearing fields.
 */
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
