import { randomBytes } from 'node:crypto';

/**
 * Connection ids, unique across processes: a random per-process prefix and a counter in base 36
 * (`3f9a01c2.1k`). A connection keeps only its counter value (a small integer, no string); the
 * id text is made when asked for, and {@link serialOf} reads it back for lookups.
 */

const PREFIX = `${randomBytes(4).toString('hex')}.`;
let counter = 0;

/** The next connection's serial number. */
export function nextSerial(): number {
  return counter++;
}

/** The id of the connection with this serial number. */
export function idOf(serial: number): string {
  return PREFIX + serial.toString(36);
}

/** The serial number behind `id`, or undefined when it is no id this process gave. */
export function serialOf(id: string): number | undefined {
  if (!id.startsWith(PREFIX)) return undefined;
  const digits = id.slice(PREFIX.length);
  const serial = parseInt(digits, 36);
  // Only the canonical spelling (no sign, case, leading zeros or trailing junk) names a connection.
  return Number.isSafeInteger(serial) && serial >= 0 && serial.toString(36) === digits ? serial : undefined;
}
