/**
 * A shallow copy of an options object without its properties whose value is `undefined`, for
 * spreading over defaults: `{ ...defaults, ...definedOnly(given) }` keeps a default that `given`
 * names with `undefined`, as if it were left out. (A plain spread would replace the default with
 * `undefined`; and some of Node's own option readers, `tls.connect()`'s among them, refuse a key
 * that is present with the value `undefined`.)
 */
export function definedOnly<T extends object>(options: T): T {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) copy[key] = value;
  }
  return copy as T;
}
