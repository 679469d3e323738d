/**
 * Discord ids (snowflakes) are decimal u64 strings. Numbers are refused everywhere: a JSON number
 * above 2^53 has already lost digits, and String(1e308) is "1e+308", not an id.
 */
export function isSnowflake(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,20}$/.test(value);
}
