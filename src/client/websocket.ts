import { types } from 'node:util';
import { checkSubprotocolNames } from '../handshake/subprotocols.js';
import { EventHandlerTarget } from './event-handler-target.js';
import { toClampedUnsignedShort, toUSVString, type WebSocketErrorEvent } from './dom-events.js';
import { parseWebSocketUrl, type ParsedWebSocketUrl } from './url.js';
import { WebSocketLifecycle } from './websocket-lifecycle.js';
import { BINARY_TYPES, CLOSED, CLOSING, CONNECTING, domException, OPEN, readBlob, splitSecondArgument } from './websocket-support.js';
import {
  type BinaryType,
  type WebSocketCloseEvent,
  type WebSocketEventHandler,
  type WebSocketEventListener,
  type WebSocketEventMap,
  type WebSocketListenerOptions,
  type WebSocketMessageData,
  type WebSocketMessageEvent,
  type WebSocketOptions,
  type WebSocketReadyState,
  type WebSocketSendData,
} from './websocket-types.js';

/**
 * The WHATWG WebSocket API (websockets.spec.whatwg.org), as a small facade over one sockwave
 * Connection: the handshake is connect()'s, the frames are the Connection's. This file is the
 * interface itself: the constructor's steps, the attributes, and the argument handling and steps
 * of send() and close(). What happens to the connection over time (establishing it, the events,
 * failing it, the opt-in reconnection) and the state the attributes read (ready state,
 * bufferedAmount, protocol, extensions, binary type), with the sends kept in order, are
 * WebSocketLifecycle's (websocket-lifecycle.ts).
 *
 * The algorithms are written as the standard's numbered steps, with the code for each step beneath.
 */

/** What EventTarget itself accepts. */
type DomListener = Parameters<EventTarget['addEventListener']>[1];

export type {
  BinaryType,
  WebSocketCloseEvent,
  WebSocketEventHandler,
  WebSocketEventListener,
  WebSocketEventMap,
  WebSocketListenerOptions,
  WebSocketMessageData,
  WebSocketMessageEvent,
  WebSocketOptions,
  WebSocketReadyState,
  WebSocketSendData,
};

/**
 * The browser-standard WebSocket (WHATWG), on sockwave's client: code written for a browser runs
 * unchanged. Events are dispatched through `EventTarget`, each in its own task, after the
 * constructor returned, as in a browser; a failed connection reports `error` then `close` (1006);
 * `send()` keeps the order of what it was given, Blobs included.
 *
 * Beyond the standard: the second argument may be an options object (`protocols`, `headers`,
 * `origin`, `tls`, `connectTimeout`, `perMessageDeflate`, ...), `binaryType` may be `'nodebuffer'`,
 * and the `error` event carries the reason as `event.error`.
 *
 * Two limits a browser does not set, both options: an opening handshake that takes longer than
 * `connectTimeout` (10 s) fails, and a message over `maxPayload` (100 MiB) fails the connection
 * (1009). An exception thrown by a listener reaches the process as Node's `EventTarget` passes it
 * on (an uncaught exception), where a browser only reports it.
 *
 * Reconnection is off by default, as in browsers. With `reconnect: true` (or backoff options) a
 * connection that drops (or an attempt that fails) fires `error` when it failed and `close` as
 * usual, the close event's `willReconnect` (non-enumerable) is true, and the WebSocket goes back to
 * CONNECTING and fires `open` again once reconnected, with backoff and jitter. Meanwhile send()
 * does not throw InvalidStateError: messages wait in a bounded outbox (`outbox` option) and go out
 * first, in order (a full outbox throws OutboxFullError under its default policy, 'reject'); what
 * was sent while a connection was ending and no next connection takes (its close was final) is
 * not sent, as a send() while CLOSING: counted in bufferedAmount, no error.
 * `pingInterval`/`pongTimeout` detect a dead peer. close() stops it all; so does `signal`: it
 * aborts the opening handshake under way, and once it is aborted no further attempt is made (between
 * attempts the WebSocket fails at once: `error`, then `close` 1006).
 *
 * @example
 * const ws = new WebSocket('ws://127.0.0.1:8080/echo');
 * ws.binaryType = 'arraybuffer';
 * ws.onopen = () => {
 *   ws.send('hello');
 *   ws.send(new Uint8Array([1, 2, 3]));
 * };
 * ws.onmessage = (event) => {
 *   if (typeof event.data === 'string') {
 *     console.log('text', event.data);
 *   } else if (event.data instanceof ArrayBuffer) {
 *     console.log('binary', new Uint8Array(event.data));
 *     ws.close(1000, 'done');
 *   }
 * };
 * ws.onerror = () => console.log('failed');
 * ws.onclose = (event) => console.log('closed', event.code, event.reason, event.wasClean);
 */
export class WebSocket extends EventHandlerTarget {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The URL record (already ws: or wss:). */
  readonly #url: URL;
  /** The connection over time, and the state the attributes read. */
  readonly #lifecycle: WebSocketLifecycle;

  /**
   * Opens a connection to `url` (ws:, wss:, or http:/https: which map to them) offering the given
   * subprotocols. Throws a "SyntaxError" DOMException for an invalid URL or subprotocol list; a
   * connection that cannot be established is reported by the `error` and `close` events.
   */
  // (`protocols` has a default so that WebSocket.length is 1, as WebIDL makes it.)
  constructor(url: string | URL, protocols: string | readonly string[] | WebSocketOptions | undefined = undefined) {
    super();
    // (WebIDL: a required argument that is missing is a TypeError, before any conversion.)
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present");
    const { offered, options } = splitSecondArgument(protocols);
    // (The options are read before the URL is parsed.)
    this.#lifecycle = new WebSocketLifecycle(this, options);

    // 1. Let baseURL be this's relevant settings object's API base URL.
    //    (Node has no document, hence no base URL: a relative URL fails in step 3.)
    // 2. Let urlRecord be the result of applying the URL parser to url with baseURL.
    // 3. If urlRecord is failure, then throw a "SyntaxError" DOMException.
    // 4. If urlRecord's scheme is "http", then set urlRecord's scheme to "ws".
    // 5. Otherwise, if urlRecord's scheme is "https", set urlRecord's scheme to "wss".
    // 6. If urlRecord's scheme is not "ws" or "wss", then throw a "SyntaxError" DOMException.
    // 7. If urlRecord's fragment is non-null, then throw a "SyntaxError" DOMException.
    //    (Steps 2 to 7 are parseWebSocketUrl, which connect() uses too; its SyntaxError becomes
    //    the DOMException the standard asks for.)
    //    (The conversion to a string comes first, outside: a Symbol is WebIDL's TypeError.)
    const urlString = toUSVString(url);
    let urlRecord: ParsedWebSocketUrl;
    try {
      urlRecord = parseWebSocketUrl(urlString);
    } catch (error) {
      throw domException(error, 'SyntaxError');
    }

    // 8. If protocols is a string, set protocols to a sequence consisting of just that string.
    const protocolList: string[] = typeof offered === 'string' ? [offered] : offered;

    // 9. If any of the values in protocols occur more than once or otherwise fail to match the
    //    requirements for elements that comprise the value of `Sec-WebSocket-Protocol` fields as
    //    defined by The WebSocket protocol, then throw a "SyntaxError" DOMException.
    //    (Compared as they are, case-sensitively: the standard says nothing else and browsers
    //    accept ['chat', 'Chat']; see whatwg/websockets#47.)
    try {
      checkSubprotocolNames(protocolList);
    } catch (error) {
      throw domException(error, 'SyntaxError');
    }

    // 10. Set this's url to urlRecord.
    this.#url = new URL(urlRecord.href);

    // 11. Let client be this's relevant settings object.
    //     (None in Node: no Origin header unless options.origin says one, no cookies.)

    // 12. Run this step in parallel:
    //     1. Establish a WebSocket connection given urlRecord, protocols, and client.
    this.#lifecycle.start(this.#url, protocolList);
  }

  /** The URL, serialized. */
  get url(): string {
    return this.#url.href;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): WebSocketReadyState {
    return this.#lifecycle.readyState;
  }

  /**
   * Bytes of application data (UTF-8 text and binary, no framing) passed to send() and not yet
   * handed to the network. Once the connection is closing or closed, every send() still adds its
   * size, and nothing takes it away.
   */
  get bufferedAmount(): number {
    return this.#lifecycle.bufferedAmount;
  }

  /** The extensions the server agreed to ('' before the connection is open). */
  get extensions(): string {
    return this.#lifecycle.extensions;
  }

  /** The subprotocol the server selected ('' before the connection is open, or when none). */
  get protocol(): string {
    return this.#lifecycle.protocol;
  }

  /** How binary messages arrive: 'blob' (default), 'arraybuffer', or 'nodebuffer' (Buffer). */
  get binaryType(): BinaryType {
    return this.#lifecycle.binaryType;
  }

  set binaryType(value: BinaryType) {
    // A WebIDL enumeration attribute: a value that is not one of the enumeration's is ignored.
    // (A template, not String(): a Symbol throws a TypeError, as WebIDL's conversion does.)
    const type = `${value}`;
    if (BINARY_TYPES.has(type)) this.#lifecycle.binaryType = type as BinaryType;
  }

  get onopen(): WebSocketEventHandler<Event> {
    return this.getEventHandler('open') as WebSocketEventHandler<Event>;
  }

  set onopen(handler: WebSocketEventHandler<Event>) {
    this.setEventHandler('open', handler);
  }

  get onmessage(): WebSocketEventHandler<WebSocketMessageEvent> {
    return this.getEventHandler('message') as WebSocketEventHandler<WebSocketMessageEvent>;
  }

  set onmessage(handler: WebSocketEventHandler<WebSocketMessageEvent>) {
    this.setEventHandler('message', handler);
  }

  get onerror(): WebSocketEventHandler<WebSocketErrorEvent> {
    return this.getEventHandler('error') as WebSocketEventHandler<WebSocketErrorEvent>;
  }

  set onerror(handler: WebSocketEventHandler<WebSocketErrorEvent>) {
    this.setEventHandler('error', handler);
  }

  get onclose(): WebSocketEventHandler<WebSocketCloseEvent> {
    return this.getEventHandler('close') as WebSocketEventHandler<WebSocketCloseEvent>;
  }

  set onclose(handler: WebSocketEventHandler<WebSocketCloseEvent>) {
    this.setEventHandler('close', handler);
  }

  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketEventListener<WebSocketEventMap[K]> | null,
    options?: WebSocketListenerOptions,
  ): void;
  override addEventListener(type: string, listener: WebSocketEventListener<Event> | null, options?: WebSocketListenerOptions): void;
  override addEventListener(type: string, listener: WebSocketEventListener<never> | null, options?: WebSocketListenerOptions): void {
    // (WebIDL: two arguments are required; the listener may be null, not missing.)
    if (arguments.length < 2) throw missingArguments('addEventListener', arguments.length);
    super.addEventListener(type, listener as DomListener, options);
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketEventListener<WebSocketEventMap[K]> | null,
    options?: boolean | { capture?: boolean | undefined },
  ): void;
  override removeEventListener(type: string, listener: WebSocketEventListener<Event> | null, options?: boolean | { capture?: boolean | undefined }): void;
  override removeEventListener(type: string, listener: WebSocketEventListener<never> | null, options?: boolean | { capture?: boolean | undefined }): void {
    if (arguments.length < 2) throw missingArguments('removeEventListener', arguments.length);
    super.removeEventListener(type, listener as DomListener, options);
  }

  /** 'WebSocket' (a data property on the prototype, as WebIDL defines it; see below the class). */
  declare readonly [Symbol.toStringTag]: string;

  /**
   * Sends a message: a string as text; an ArrayBuffer, a view's bytes or a Blob as binary. Throws
   * an "InvalidStateError" DOMException while CONNECTING, unless reconnection is on: then the
   * message waits in the outbox (see the class). Once CLOSING or CLOSED nothing is sent,
   * but bufferedAmount still grows. A Blob is read first; whatever is sent after it waits for it.
   * A Blob that cannot be read fails the connection (error, then close 1006; the server gets what
   * was sent before it, then close 1011); with reconnection on, only the Blob is lost, and what
   * was sent after it goes out on the next connection.
   */
  send(data: WebSocketSendData): void {
    // (WebIDL: a required argument that is missing is a TypeError: nothing is sent.)
    if (arguments.length === 0) throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present");
    // (WebIDL: (BufferSource or Blob or USVString). Anything else becomes a string.)
    let blob: Blob | undefined;
    let message: { data: string | Buffer; size: number } | undefined;
    if (data instanceof Blob) {
      blob = data;
    } else if (types.isSharedArrayBuffer(data)) {
      // (WebIDL: an ArrayBuffer, as a BufferSource, may not be shared: a TypeError.)
      throw new TypeError('send() does not take a SharedArrayBuffer');
    } else if (types.isArrayBuffer(data)) {
      // (WebIDL: a BufferSource may not be resizable. A detached one is empty: its bytes are none.)
      if (isResizable(data)) throw new TypeError('send() does not take a resizable ArrayBuffer');
      message = { data: data.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(new Uint8Array(data)), size: data.byteLength };
    } else if (ArrayBuffer.isView(data)) {
      if (types.isSharedArrayBuffer(data.buffer)) throw new TypeError('send() does not take a view of a SharedArrayBuffer');
      if (isResizable(data.buffer)) throw new TypeError('send() does not take a view of a resizable ArrayBuffer');
      // A copy: the caller may reuse its buffer as soon as send() returns.
      const bytes = data.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      message = { data: bytes, size: data.byteLength };
    } else {
      const text = toUSVString(data);
      message = { data: text, size: Buffer.byteLength(text, 'utf8') };
    }

    // 1. If this's ready state is CONNECTING, then throw an "InvalidStateError" DOMException.
    //    (sockwave: a reconnecting WebSocket queues instead, while CONNECTING and while a closing
    //    handshake it did not ask for ends the connection: those messages go to the next one; when
    //    no next one follows, they are not sent, as a send() while CLOSING.)
    const lifecycle = this.#lifecycle;
    const readyState = lifecycle.readyState;
    const queue = lifecycle.sendWaits(readyState);
    if (readyState === CONNECTING && !queue) throw new DOMException('the WebSocket is not open yet (readyState is CONNECTING)', 'InvalidStateError');

    // 2. Run the appropriate set of steps (string, Blob, ArrayBuffer, ArrayBufferView): if the
    //    WebSocket connection is established and the WebSocket closing handshake has not yet
    //    started, send a WebSocket Message comprised of data (text for a string, binary
    //    otherwise). Any invocation of this method that does not throw must increase the
    //    bufferedAmount attribute by the size of data in bytes (UTF-8 for a string).
    const size = blob !== undefined ? blob.size : message!.size;
    if (readyState !== OPEN && !queue) {
      lifecycle.countUnsent(size);
      return;
    }
    lifecycle.send(blob !== undefined ? { kind: 'blob', read: readBlob(blob), size } : { kind: 'message', data: message!.data, size }, queue);
  }

  /**
   * Closes the connection: `code` must be 1000 or 3000–4999 (else an "InvalidAccessError"
   * DOMException), `reason` at most 123 UTF-8 bytes (else a "SyntaxError" DOMException). While
   * CONNECTING the attempt is abandoned (`error`, then `close` with 1006). Messages sent before
   * close() still go out before the close frame.
   */
  // (Defaults, not `?`: both arguments are optional, so close.length is 0, as WebIDL gives it.)
  close(code: number | undefined = undefined, reason: string | undefined = undefined): void {
    // (WebIDL converts both arguments before the steps run, in order: code, a [Clamp] unsigned
    // short, clamped to 0..65535 and rounded to nearest, ties to even; then reason, a USVString.
    // So a reason that cannot be converted throws its TypeError before any check of the code.)
    const closeCode = code === undefined ? null : toClampedUnsignedShort(code);
    const closeReason = reason === undefined ? undefined : toUSVString(reason);
    // 1. If code is present, but is neither an integer equal to 1000 nor an integer in the range
    //    3000 to 4999, inclusive, throw an "InvalidAccessError" DOMException.
    if (closeCode !== null && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
      throw new DOMException(`close code ${String(code)} is not allowed: use 1000 or 3000-4999`, 'InvalidAccessError');
    }
    // 2. If code is missing, set code to null. (Done above.)
    // 3. If reason is missing, set reason to the empty string.
    const reasonText = closeReason ?? '';
    // 4. Let reasonBytes be the result of UTF-8 encoding reason. If reasonBytes is longer than
    //    123 bytes, then throw a "SyntaxError" DOMException.
    const reasonLength = Buffer.byteLength(reasonText, 'utf8');
    if (reasonLength > 123) throw new DOMException(`the close reason is ${reasonLength} bytes, at most 123 are allowed`, 'SyntaxError');
    // 5. Close the WebSocket with this, code, and reason.
    this.#closeTheWebSocket(closeCode, reasonText);
  }

  /** "Close the WebSocket" given code and reason. */
  #closeTheWebSocket(code: number | null, reason: string): void {
    // 1. If this's ready state is CLOSING (2) or CLOSED (3): do nothing.
    //    (sockwave) Nothing is sent, but a reconnecting WebSocket whose server started the close
    //    (CLOSING) does not come back: close() stops reconnection whatever the state.
    const readyState = this.#lifecycle.readyState;
    if (readyState === CLOSING || readyState === CLOSED) return this.#lifecycle.stopReconnecting();

    // 2. If the WebSocket connection is not yet established: fail the WebSocket connection and
    //    set this's ready state to CLOSING (2).
    //    (Established from the script's view: until the open event's task ran, the connection is
    //    abandoned, never opened.)
    if (readyState === CONNECTING) {
      this.#lifecycle.abandon();
      return;
    }

    // 3. If the WebSocket closing handshake has not yet been started: start the WebSocket closing
    //    handshake and set this's ready state to CLOSING (2).
    //    - If code is null and reason is empty, the Close message must not have a body.
    //    - If reason is non-empty but code is null, then set code to 1000 ("Normal Closure").
    //    - If code is set, it is the status code of the Close message; a non-empty reason
    //      follows it.
    //    (After the messages sent before close(): the Close message waits behind them.)
    // 4. Otherwise (the server started it): set this's ready state to CLOSING (2).
    //    (The Connection ignores a close once the closing handshake started.)
    this.#lifecycle.startClosing(code ?? (reason === '' ? undefined : 1000), reason);
  }
}

// The constants, on the interface object and on the prototype, as WebIDL defines them:
// { writable: false, enumerable: true, configurable: false }.
for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(WebSocket, name, descriptor);
  Object.defineProperty(WebSocket.prototype, name, descriptor);
}

// The attributes and operations, enumerable as WebIDL defines them (a class makes its accessors
// and methods non-enumerable): `for…in` and Object.keys(WebSocket.prototype) list them as in a
// browser. And @@toStringTag, a data property: { writable: false, enumerable: false, configurable: true }.
for (const name of ['url', 'readyState', 'bufferedAmount', 'onopen', 'onerror', 'onclose', 'extensions', 'protocol', 'close', 'onmessage', 'binaryType', 'send']) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', writable: false, enumerable: false, configurable: true });

/** An ArrayBuffer that can grow or shrink (`new ArrayBuffer(n, { maxByteLength })`). */
function isResizable(buffer: ArrayBufferLike): boolean {
  return (buffer as { resizable?: boolean }).resizable === true;
}

/** WebIDL's TypeError for an operation called with fewer than its two required arguments. */
function missingArguments(operation: string, given: number): TypeError {
  return new TypeError(`Failed to execute '${operation}' on 'EventTarget': 2 arguments required, but only ${given} present`);
}
