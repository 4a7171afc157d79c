/**
 * Checks of option values where TypeScript's types do not reach: plain JavaScript, a
 * configuration file, `Number(process.env.X)` of an unset variable. A value of the wrong type or
 * out of range is a TypeError or RangeError naming the option, when the server or client is made:
 * never a limit quietly switched off (`maxPayload: NaN` compares false with every size), a check
 * turned into another (`origins: 'https://a'` matched as a substring), or a timer that fires
 * every millisecond. `undefined` always passes (the default applies).
 */

export interface NumberRule {
  /** The smallest value allowed (default 0). */
  min?: number;
  /** The largest value allowed (default: none). */
  max?: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** Infinity allowed (no limit, or never). */
  infinite?: boolean;
}

/** `name` of `owner`'s options is undefined or a number `rule` allows. */
export function checkNumber(owner: string, name: string, value: unknown, rule: NumberRule = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${owner}: ${name} must be a number, not ${shown(value)}`);
  const { min = 0, max = Infinity, integer = false, infinite = false } = rule;
  if (value === Infinity && infinite) return;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${owner}: ${name} must be ${integer ? 'a whole number' : 'a finite number'} ${range}${infinite ? ' (or Infinity)' : ''}, not ${value}`);
  }
}

/** `name` is undefined or one of `allowed`. */
export function checkOneOf(owner: string, name: string, value: unknown, allowed: readonly unknown[]): void {
  if (value === undefined || allowed.includes(value)) return;
  throw new TypeError(`${owner}: ${name} must be one of ${allowed.map(shown).join(', ')}, not ${shown(value)}`);
}

/** `name` is undefined or has the type `type` ('boolean', 'string', 'function', 'object'). */
export function checkType(owner: string, name: string, value: unknown, type: 'boolean' | 'string' | 'function' | 'object'): void {
  if (value === undefined) return;
  if (type === 'object' ? typeof value === 'object' && value !== null : typeof value === type) return;
  throw new TypeError(`${owner}: ${name} must be ${type === 'object' ? 'an object' : `a ${type}`}, not ${shown(value)}`);
}

/** `name` is undefined, an array of strings, or (with `orFunction`) a function. */
export function checkStringList(owner: string, name: string, value: unknown, orFunction = false): void {
  if (value === undefined || (orFunction && typeof value === 'function')) return;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return;
  throw new TypeError(`${owner}: ${name} must be an array of strings${orFunction ? ' or a function' : ''}, not ${shown(value)}`);
}

/** A value, named for an error message. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** An AbortSignal, or one like it (from another realm, or a polyfill): `aborted` and `addEventListener`. */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function';
}
