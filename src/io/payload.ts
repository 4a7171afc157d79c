import { isUtf8 } from 'node:buffer';

/**
 * Turning what the caller passes to `send()` into bytes: strings as UTF-8 text, binary views
 * without copying, anything else as JSON text.
 */

/**
 * Strings, binary data, or a JSON-serializable value. What JSON would quietly turn into "{}" or
 * drop is refused: by the compiler when its type shows it (see {@link JsonObject}), and at run
 * time with a TypeError that says what to send instead.
 */
export type SendData = string | ArrayBufferLike | ArrayBufferView | JsonValue;
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined } | JsonObject;

/**
 * An object sent as JSON: one with a `toJSON()` method, or a plain object or class instance. Left
 * out, because JSON would turn them into "{}" or nothing: a Promise or thenable (a forgotten
 * `await`), a function or class, a Map, a Set, a generator or other iterable that is not an
 * array, a Blob, and the other built-ins with a `Symbol.toStringTag` (WeakMap, WeakRef, ...).
 * Only the top level is checked by the type; values nested in an object typed by an interface
 * are the caller's.
 */
export type JsonObject =
  | { toJSON(key: string): unknown }
  | (object & {
      readonly then?: JsonValue;
      readonly arrayBuffer?: JsonValue;
      readonly [Symbol.iterator]?: never;
      readonly [Symbol.toStringTag]?: never;
      readonly [Symbol.hasInstance]?: never;
    });

export interface Payload {
  bytes: Buffer;
  binary: boolean;
  /** `bytes` is the caller's memory (bytes given to send()), not made for the message: copy it before keeping it past send(). */
  borrowed: boolean;
}

/**
 * `binary` undefined: strings and JSON go as text, bytes as binary. `true` sends a string's UTF-8
 * as binary; `false` sends bytes as text, after checking they are UTF-8 (a TypeError otherwise:
 * RFC 6455 §5.6 text must be valid UTF-8).
 */
export function toPayload(data: SendData, binary?: boolean): Payload {
  if (typeof data === 'string') return { bytes: Buffer.from(data, 'utf8'), binary: binary ?? false, borrowed: false };
  let bytes: Buffer | undefined;
  if (Buffer.isBuffer(data)) bytes = data;
  else if (ArrayBuffer.isView(data)) bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) bytes = Buffer.from(data);
  if (bytes !== undefined) {
    if (binary === false && !isUtf8(bytes)) throw new TypeError('bytes sent as text must be valid UTF-8');
    return { bytes, binary: binary ?? true, borrowed: true };
  }
  const unsendable = notJson(data);
  if (unsendable !== undefined) throw new TypeError(`this value cannot be sent: ${unsendable}`);
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('this value cannot be sent: it has no JSON form');
  return { bytes: Buffer.from(json, 'utf8'), binary: binary ?? false, borrowed: false };
}

/**
 * Why `data`, an object JSON.stringify would quietly turn into "{}", is not sent as JSON: a Blob
 * (its bytes are not its JSON), a Promise (a forgotten await), a Map or a Set (their entries are
 * not own properties), another iterable that is not an array, or another tagged built-in
 * (WeakRef, a generator, ...). undefined for any other value, and for any object with a toJSON().
 */
function notJson(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return 'a Blob is not sent by a Connection (send the bytes of await blob.arrayBuffer(); the WebSocket class takes Blobs)';
  if (typeof (data as { then?: unknown }).then === 'function') return 'a Promise (or thenable): await it first';
  if (typeof (data as { toJSON?: unknown }).toJSON === 'function' || Array.isArray(data)) return undefined;
  if (data instanceof Map || data instanceof WeakMap) return 'a Map has no JSON form (send Object.fromEntries(map))';
  if (data instanceof Set || data instanceof WeakSet) return 'a Set has no JSON form (send [...set])';
  if (Symbol.iterator in data) return 'an iterable has no JSON form (send [...iterable])';
  const tag = (data as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (tag !== undefined) return `a ${String(tag)} has no JSON form`;
  return undefined;
}
