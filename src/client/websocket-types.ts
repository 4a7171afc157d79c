import { type ClientOptions } from './connect.js';
import { type OutboxOptions } from './outbox.js';
import { type ReconnectOptions } from './retry-policy.js';
import { type CloseEvent, type WebSocketErrorEvent } from './dom-events.js';
import { type WebSocket } from './websocket.js';

/** The public shapes of the browser-standard {@link WebSocket}. */

/** How binary messages are handed to `message` listeners. `'nodebuffer'` is a sockwave extension. */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** What `send()` takes. */
export type WebSocketSendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** `MessageEvent.data`: a string for text; a Blob, ArrayBuffer or Buffer for binary (per `binaryType`). */
export type WebSocketMessageData = string | Blob | ArrayBuffer | Buffer;

/**
 * The sockwave extension of the constructor's second argument: the subprotocols, plus the options
 * of {@link connect} (headers, origin, maxPayload, connectTimeout, tls, perMessageDeflate...).
 * `signal` aborts the opening handshake, as it does for connect().
 */
export interface WebSocketOptions extends Omit<ClientOptions, 'protocols' | 'handler' | 'data'> {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string | readonly string[] | undefined;
  /** Reconnect after a drop or a failed attempt, with backoff and jitter. Default false (as in browsers). */
  reconnect?: boolean | ReconnectOptions | undefined;
  /** Bounds of what a reconnecting WebSocket queues while disconnected. Default 1024 messages, 16 MiB, 'reject'. */
  outbox?: OutboxOptions | undefined;
  /** Ping this often (ms) to find a dead peer; 0 turns it off. Default 0. */
  pingInterval?: number | undefined;
  /** A ping unanswered this long (ms) drops the connection (1006); the wait starts again whenever bytes arrive (the pong may be queued behind a long message) or reading pauses for an inflation (the pong may be queued behind the message). Default 10 000. */
  pongTimeout?: number | undefined;
}

/** The `message` event: a `MessageEvent` whose `data` is typed. */
export interface WebSocketMessageEvent extends MessageEvent {
  readonly data: WebSocketMessageData;
}

/**
 * The `close` event: a `CloseEvent`. With `reconnect`, when another attempt will follow, it also
 * has `willReconnect` (true) and `waitTime` (ms until that attempt); both are absent otherwise.
 */
export type WebSocketCloseEvent = CloseEvent & { readonly willReconnect?: boolean; readonly waitTime?: number };

/** The events of a {@link WebSocket}. */
export interface WebSocketEventMap {
  open: Event;
  message: WebSocketMessageEvent;
  error: WebSocketErrorEvent;
  close: WebSocketCloseEvent;
}

/** An event listener: a function (called with the WebSocket as `this`) or an object with handleEvent. */
export type WebSocketEventListener<E> = ((this: WebSocket, event: E) => unknown) | { handleEvent(event: E): unknown };

/** An event handler attribute's value (onopen, onmessage, onerror, onclose). */
export type WebSocketEventHandler<E> = ((this: WebSocket, event: E) => unknown) | null;

/** Options of addEventListener. */
export type WebSocketListenerOptions = boolean | { capture?: boolean | undefined; once?: boolean | undefined; passive?: boolean | undefined; signal?: AbortSignal | undefined };

/** `readyState`: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
export type WebSocketReadyState = 0 | 1 | 2 | 3;
