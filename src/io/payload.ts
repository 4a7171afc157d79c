/**
 * Turning what the caller passes to `send()` into bytes: strings as UTF-8 text, binary views
 * without copying, anything else as JSON text.
 */

/** Strings, binary data, or a JSON-serializable value. */
export type SendData = string | ArrayBuffer | ArrayBufferView | JsonValue;
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined } | object;

export interface Payload {
  bytes: Buffer;
  binary: boolean;
}

export function toPayload(data: SendData, forceBinary: boolean): Payload {
  if (typeof data === 'string') return { bytes: Buffer.from(data, 'utf8'), binary: forceBinary };
  if (Buffer.isBuffer(data)) return { bytes: data, binary: true };
  if (ArrayBuffer.isView(data)) return { bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary: true };
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return { bytes: Buffer.from(data), binary: true };
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('this value cannot be sent: it has no JSON form');
  return { bytes: Buffer.from(json, 'utf8'), binary: forceBinary };
}
