import { checkNumber, checkType, shown } from '../option-checks.js';

/**
 * Checks of what the caller passes to `send()` and to the server's fan-outs, made before anything
 * is framed, queued or handed to a backplane: a bad argument throws and nothing is sent.
 */

/** `options` of `send()`, `broadcast()`, `publish()`, `sendTo()`: an object, its fields of their types. */
export function checkSendOptions(owner: string, options: unknown): void {
  // (null, as undefined: not given.)
  if (options == null) return;
  checkType(owner, 'options', options, 'object');
  const { binary, fragmentSize } = options as { binary?: unknown; fragmentSize?: unknown };
  checkType(owner, 'binary', binary ?? undefined, 'boolean');
  checkNumber(owner, 'fragmentSize', fragmentSize ?? undefined, { min: 1, integer: true });
}

/**
 * `except` of a fan-out read once into an array: one connection or one id string stands for
 * itself (a string is iterable too, but its characters are no ids), an iterable gives its items.
 * Throws TypeError for anything else; undefined (or null) when not given.
 */
export function exceptList(owner: string, except: unknown): unknown[] | undefined {
  if (except == null) return undefined;
  if (typeof except === 'string' || isConnectionLike(except)) return [except];
  if (typeof except === 'object' && Symbol.iterator in except) return [...(except as Iterable<unknown>)];
  throw new TypeError(`${owner}: except takes a connection, a connection id, or an iterable of them, not ${shown(except)}`);
}

function isConnectionLike(item: unknown): boolean {
  return typeof item === 'object' && item !== null && typeof (item as { serial?: unknown }).serial === 'number';
}

/**
 * The fan-out options besides the message's: `filter` a function, `report` a boolean, and every
 * item of `except` (already read into an array) an id string or a connection.
 */
export function checkFanOutOptions(owner: string, options: { filter?: unknown; report?: unknown }, except: readonly unknown[] | undefined): void {
  checkType(owner, 'filter', options.filter ?? undefined, 'function');
  checkType(owner, 'report', options.report, 'boolean');
  if (except === undefined) return;
  for (const item of except) {
    if (typeof item === 'string' || isConnectionLike(item)) continue;
    throw new TypeError(`${owner}: except takes connections and connection ids, not ${shown(item)}`);
  }
}
