/**
 * Argument checks at the public entry points. TypeScript's types refuse these values; plain
 * JavaScript passes them, and without a check they surface as a TypeError deep inside (or are
 * carried on with). Each check throws INVALID_ARGUMENT naming the argument and the type it got,
 * never the value (it could be a secret).
 */
import { VoxcordError } from '../errors.js';

export type ArgKind = 'object' | 'function' | 'string' | 'bytes' | 'array' | 'boolean' | 'iterable';

const EXPECTED: Record<ArgKind, string> = {
  object: 'an object',
  function: 'a function',
  string: 'a non-empty string',
  bytes: 'a Uint8Array (or Buffer)',
  array: 'an array',
  boolean: 'true or false',
  iterable: 'an iterable or async iterable',
};

/** What a value is, for a message: `null`, `array`, or its typeof. */
export function typeOfArg(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

export function invalidArgument(name: string, expected: string, value: unknown): VoxcordError {
  return new VoxcordError('INVALID_ARGUMENT', `${name} must be ${expected} (got ${typeOfArg(value)})`);
}

/** Iterable or async iterable (what `for await` takes). */
export function isIterable(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && (Symbol.iterator in value || Symbol.asyncIterator in value)
  );
}

function isKind(value: unknown, kind: ArgKind): boolean {
  switch (kind) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'function':
      return typeof value === 'function';
    case 'string':
      return typeof value === 'string' && value !== '';
    case 'bytes':
      return value instanceof Uint8Array;
    case 'array':
      return Array.isArray(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'iterable':
      return isIterable(value);
  }
}

/** `value` must be of `kind`; with `optional`, undefined passes too. */
export function checkArg(value: unknown, name: string, kind: ArgKind, optional?: 'optional'): void {
  if (optional === 'optional' && value === undefined) return;
  if (!isKind(value, kind)) throw invalidArgument(name, EXPECTED[kind], value);
}

/** An options argument: undefined or an object. */
export function checkOptions(value: unknown, name = 'options'): void {
  checkArg(value, name, 'object', 'optional');
}

/** The longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface NumberRange {
  /** Lowest value allowed (default: any finite number). */
  min?: number;
  /** Refuses `min` itself: the value must be above it. */
  above?: boolean;
  max?: number;
  integer?: boolean;
  optional?: boolean;
}

/** A finite number within the range; the message says which. */
export function checkNumber(value: unknown, name: string, range: NumberRange = {}): void {
  if (range.optional === true && value === undefined) return;
  const { min, max, above = false, integer = false } = range;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (min === undefined || (above ? value > min : value >= min)) &&
    (max === undefined || value <= max);
  if (ok) return;
  const kind = integer ? 'an integer' : 'a finite number';
  const low = min === undefined ? '' : above ? ` above ${min}` : ` of ${min} or more`;
  const high = max === undefined ? '' : `${low === '' ? '' : ','} at most ${max}`;
  throw new VoxcordError(
    'INVALID_ARGUMENT',
    `${name} must be ${kind}${low}${high} (got ${describeNumber(value)})`,
  );
}

function describeNumber(value: unknown): string {
  // A number is not a secret, and says more than "number" when it is out of range.
  return typeof value === 'number' ? String(value) : typeOfArg(value);
}

/** A delay for a Node timer: above 0 ms (or 0 and more with `zero`), at most MAX_TIMER_MS. */
export function checkDelay(value: unknown, name: string, optional?: 'optional', zero?: 'zero'): void {
  checkNumber(value, name, {
    min: 0,
    above: zero !== 'zero',
    max: MAX_TIMER_MS,
    optional: optional === 'optional',
  });
}

/** A close code a WebSocket close frame can carry (1000-4999); an operator's choice, so not narrower. */
export function checkCloseCode(value: unknown, name: string, optional?: 'optional'): void {
  checkNumber(value, name, { integer: true, min: 1000, max: 4999, optional: optional === 'optional' });
}

/** One of the allowed strings. */
export function checkOneOf<T extends string>(value: T, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value))
    throw new VoxcordError('INVALID_ARGUMENT', `${name} must be ${allowed.map((a) => `'${a}'`).join(', ')}`);
  return value;
}

/** An array whose every item is of `kind`. */
export function checkArrayOf(value: unknown, name: string, kind: ArgKind, optional?: 'optional'): void {
  if (optional === 'optional' && value === undefined) return;
  checkArg(value, name, 'array');
  for (const [i, item] of (value as unknown[]).entries()) checkArg(item, `${name}[${i}]`, kind);
}

/**
 * An object with these methods: a contract passed in by the caller (an engine, a session, a
 * stream). `expected` names it for the message.
 */
export function checkMethods(
  value: unknown,
  name: string,
  expected: string,
  methods: readonly string[],
  optional?: 'optional',
): void {
  if (optional === 'optional' && value === undefined) return;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok)
    throw invalidArgument(
      name,
      `${expected} (an object with ${methods.map((m) => `${m}()`).join(', ')})`,
      value,
    );
}
