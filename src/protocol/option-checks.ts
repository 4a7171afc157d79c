import { checkNumber, checkOneOf } from '../option-checks.js';

/**
 * The options a frame parser and a session share, checked when one is made, where the types do
 * not reach (plain JavaScript): a maxPayload of NaN, or none at all, would be no limit, and a
 * misspelt role would silently expect the wrong masking. TypeError or RangeError, naming `owner`.
 */
export function checkProtocolOptions(owner: string, options: { role?: unknown; maxPayload?: unknown; maxFragments?: unknown }): void {
  checkOneOf(owner, 'role', options.role ?? null, ['server', 'client']);
  if (options.maxPayload === undefined) throw new TypeError(`${owner}: maxPayload is required (Infinity for no limit)`);
  checkNumber(owner, 'maxPayload', options.maxPayload, { infinite: true });
  checkNumber(owner, 'maxFragments', options.maxFragments, { min: 1, integer: true, infinite: true });
}
