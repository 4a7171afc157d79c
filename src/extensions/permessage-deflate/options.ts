import { type PerMessageDeflateOptions } from './negotiation.js';

/**
 * Validation of the user's permessage-deflate options, so that a bad value fails where the options
 * are given (connect(), a server's construction) and not at an upgrade or at the first send, where
 * zlib would reject it. A value of the wrong type throws TypeError, one out of range RangeError.
 */

/** zlib's levels: -1 is its default (6), 0 stores, 9 compresses most. */
const LEVEL = [-1, 9] as const;
const MEM_LEVEL = [1, 9] as const;
/** RFC 7692 §7.1.2: an LZ77 window of 2^8 to 2^15 bytes. */
const WINDOW_BITS = [8, 15] as const;

/** Throws TypeError or RangeError, naming the option, for the first invalid one. */
export function checkDeflateOptions(options: PerMessageDeflateOptions): void {
  if (options.level !== undefined) checkInteger('perMessageDeflate.level', options.level, ...LEVEL);
  if (options.memLevel !== undefined) checkInteger('perMessageDeflate.memLevel', options.memLevel, ...MEM_LEVEL);
  if (options.serverMaxWindowBits !== undefined) checkBits(options.serverMaxWindowBits, 'perMessageDeflate.serverMaxWindowBits');
  const clientBits = options.clientMaxWindowBits;
  if (clientBits !== undefined && typeof clientBits !== 'boolean') checkBits(clientBits, 'perMessageDeflate.clientMaxWindowBits');
  if (options.threshold !== undefined) {
    // Infinity is allowed: never compress (but still inflate what the peer compresses).
    checkNumber('perMessageDeflate.threshold', options.threshold);
    if (Number.isNaN(options.threshold) || options.threshold < 0) throw new RangeError(`perMessageDeflate.threshold must be a number of bytes of at least 0, not ${options.threshold}`);
  }
  if (options.concurrency !== undefined) checkInteger('perMessageDeflate.concurrency', options.concurrency, 1, Infinity);
}

/** Window bits (8–15) given in the options; returns them. */
export function checkBits(bits: number, name = 'window bits'): number {
  return checkInteger(name, bits, ...WINDOW_BITS);
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  checkNumber(name, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer ${max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`}, not ${value}`);
  }
  return value;
}

function checkNumber(name: string, value: unknown): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, not ${typeof value}`);
}
