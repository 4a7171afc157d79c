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
 * The fan-out options besides the message's: `filter` a function, `report` a boolean, and every
 * item of `except` (already read into an array) an id string or a connection.
 */
export function checkFanOutOptions(owner: string, options: { filter?: unknown; report?: unknown }, except: readonly unknown[] | undefined): void {
  checkType(owner, 'filter', options.filter ?? undefined, 'function');
  checkType(owner, 'report', options.report, 'boolean');
  if (except === undefined) return;
  for (const item of except) {
    if (typeof item === 'string' || (typeof item === 'object' && item !== null && typeof (item as { serial?: unknown }).serial === 'number')) continue;
    throw new TypeError(`${owner}: except takes connections and connection ids, not ${shown(item)}`);
  }
}
