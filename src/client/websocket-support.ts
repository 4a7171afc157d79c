import { SockwaveError } from '../errors.js';
import { type CloseInfo, type Connection } from '../io/connection.js';
import { toDOMString, toUSVString } from './dom-events.js';
import { type BinaryType, type WebSocketOptions } from './websocket-types.js';

/** Small conversions and constants behind the browser-standard WebSocket. */

export type BlobRead = { ok: true; bytes: Buffer } | { ok: false; error: unknown };

/** The ready states, by name (the WebSocket also has them as constants: WebSocket.OPEN...). */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

export const BINARY_TYPES: ReadonlySet<string> = new Set<BinaryType>(['blob', 'arraybuffer', 'nodebuffer']);

/** The close of a connection that failed: the standard reports 1006 and nothing else. */
export const FAILED_CLOSE: CloseInfo = { code: 1006, reason: '', wasClean: false, remote: false };

/** Reads a Blob; the promise never rejects. */
export function readBlob(blob: Blob): Promise<BlobRead> {
  return blob.arrayBuffer().then(
    (bytes): BlobRead => ({ ok: true, bytes: Buffer.from(bytes) }),
    (error: unknown): BlobRead => ({ ok: false, error }),
  );
}

/** The second constructor argument: protocols (string or sequence) or sockwave's options object. */
export function splitSecondArgument(argument: string | readonly string[] | WebSocketOptions | undefined): {
  offered: string | string[];
  options: Omit<WebSocketOptions, 'protocols'>;
} {
  if (argument === undefined) return { offered: [], options: {} };
  // (WebIDL: null, as any value that is not an object, is converted to a string: "null".)
  if (argument === null || typeof argument !== 'object') return { offered: toUSVString(argument), options: {} };
  if (isIterable(argument)) return { offered: Array.from(argument, toDOMString), options: {} };
  const { protocols, ...options } = argument as WebSocketOptions & { handler?: unknown; data?: unknown };
  delete (options as { handler?: unknown }).handler;
  delete (options as { data?: unknown }).data;
  const offered = protocols === undefined ? [] : typeof protocols === 'string' ? protocols : Array.from(protocols, toDOMString);
  return { offered, options };
}

/**
 * The closing handshake of this connection was started ("the WebSocket closing handshake is
 * started": a close frame sent or received), though it may have ended since. A connection that
 * ended without one (1006: the TCP connection dropped) never started it.
 */
export function closingHandshakeStarted(connection: Connection): boolean {
  const status = connection.status;
  return status === 'closing' || (status === 'closed' && connection.closeInfo?.code !== 1006);
}

export function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** A new ArrayBuffer holding a copy of `bytes`. */
export function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function toError(error: unknown): Error {
  return error instanceof Error ? error : new SockwaveError('SW_HANDSHAKE_FAILED', String(error));
}

export function domException(error: unknown, name: 'SyntaxError'): DOMException {
  const message = error instanceof Error ? error.message : String(error);
  return new DOMException(message, name);
}

/** The error of a handshake that options.signal aborted (as connect() reports it). */
export function abortError(reason: unknown): SockwaveError {
  return new SockwaveError('SW_ABORTED', 'the connection attempt was aborted', { cause: reason });
}
