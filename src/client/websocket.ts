import { types } from 'node:util';
import { HandshakeError, ProtocolError, SockwaveError } from '../errors.js';
import { checkSubprotocolNames } from '../handshake/subprotocols.js';
import { type CloseInfo, type Connection } from '../io/connection.js';
import { startClientHeartbeat } from './client-heartbeat.js';
import { connect } from './connect.js';
import { EventHandlerTarget } from './event-handler-target.js';
import { OrderedSender } from './ordered-sender.js';
import { RetryPolicy } from './retry-policy.js';
import { CloseEvent, createErrorEvent, toClampedUnsignedShort, toUSVString, type WebSocketErrorEvent } from './dom-events.js';
import { parseWebSocketUrl, type ParsedWebSocketUrl } from './url.js';
import { abortError, BINARY_TYPES, domException, FAILED_CLOSE, readBlob, splitSecondArgument, toArrayBuffer, toError } from './websocket-support.js';
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
 * The WHATWG WebSocket API (websockets.spec.whatwg.org), as a small facade over one sockwave
 * {@link Connection}: the handshake is {@link connect}'s, the frames are the Connection's; this file
 * only keeps the API's state (ready state, bufferedAmount, binary type), turns what the Connection
 * reports into DOM events, and keeps Blob sends in order.
 *
 * The algorithms are written as the standard's numbered steps, with the code for each step beneath.
 */

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;


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
  #readyState: WebSocketReadyState = CONNECTING;
  #bufferedAmount = 0;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  /** Set once the handshake succeeded. */
  #connection: Connection | undefined;
  /** Aborts the handshake (close() while connecting). */
  #abort = new AbortController();
  /** Set when the connection was failed ("fail the WebSocket connection"): why. */
  #failure: Error | undefined;
  /** Sends (and a close) in order: behind a Blob being read, or, reconnecting, behind the gap. */
  readonly #sender: OrderedSender;
  /** Message events queued and not yet dispatched. */
  #messageTasks = 0;
  /** options.signal, and how to stop listening to it (listened to while CONNECTING). */
  readonly #signal: AbortSignal | undefined;
  #releaseSignal: (() => void) | undefined;
  /** Opt-in reconnection: the policy, the attempt's arguments, the pending timer, the heartbeat. */
  readonly #retry: RetryPolicy;
  readonly #attempt: { protocols: string[]; options: Omit<WebSocketOptions, 'protocols'> };
  readonly #heartbeat: { interval: number; timeout: number };
  #retryTimer: NodeJS.Timeout | undefined;
  #stopHeartbeat: () => void = () => {};
  /** A handshake is under way (false between a reconnecting WebSocket's attempts). */
  #attemptInFlight = false;
  /** The current connection reached OPEN (its end is a drop, not a failed attempt). */
  #wasOpened = false;
  /** close() was called: the end is wanted, no reconnection. (An aborted signal stops reconnection too.) */
  #closeRequested = false;

  /**
   * Opens a connection to `url` (ws:, wss:, or http:/https: which map to them) offering the given
   * subprotocols. Throws a "SyntaxError" DOMException for an invalid URL or subprotocol list; a
   * connection that cannot be established is reported by the `error` and `close` events.
   */
  constructor(url: string | URL, protocols?: string | readonly string[] | WebSocketOptions) {
    super();
    const { offered, options: allOptions } = splitSecondArgument(protocols);
    const { reconnect, outbox, pingInterval, pongTimeout, ...options } = allOptions;
    this.#retry = new RetryPolicy(reconnect, false);
    this.#sender = new OrderedSender(
      {
        blobUnreadable: (error, size, attached) => {
          const failure = new SockwaveError('SW_INVALID_ARGUMENT', 'a Blob passed to send() could not be read', { cause: error });
          if (this.#retry.options.enabled) {
            // (sockwave, reconnection on) The Blob alone is lost, reported and no longer counted,
            // as a message dropped from a full outbox; what was sent after it waits for the next
            // connection.
            this.#bufferedAmount -= size;
            if (!attached) {
              this.#queueTask(() => this.dispatchEvent(createErrorEvent(failure)));
              return;
            }
          } else {
            // The connection fails for good: nothing after the Blob goes out (bufferedAmount keeps counting it).
            this.#sender.clear();
          }
          this.#failAfterSent(failure);
        },
        sent: (size) => (this.#bufferedAmount -= size),
      },
      outbox,
    );
    this.#attempt = { protocols: [], options };
    this.#signal = options.signal;
    this.#heartbeat = { interval: pingInterval ?? 0, timeout: pongTimeout ?? 10_000 };

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
    let urlRecord: ParsedWebSocketUrl;
    try {
      urlRecord = parseWebSocketUrl(toUSVString(url));
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
    this.#attempt.protocols = protocolList;
    this.#establish();
  }

  /** The URL, serialized. */
  get url(): string {
    return this.#url.href;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): WebSocketReadyState {
    return this.#state();
  }

  /**
   * Bytes of application data (UTF-8 text and binary, no framing) passed to send() and not yet
   * handed to the network. Once the connection is closing or closed, every send() still adds its
   * size, and nothing takes it away.
   */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** The extensions the server agreed to ('' before the connection is open). */
  get extensions(): string {
    return this.#extensions;
  }

  /** The subprotocol the server selected ('' before the connection is open, or when none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** How binary messages arrive: 'blob' (default), 'arraybuffer', or 'nodebuffer' (Buffer). */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // A WebIDL enumeration attribute: a value that is not one of the enumeration's is ignored.
    const type = String(value);
    if (BINARY_TYPES.has(type)) this.#binaryType = type as BinaryType;
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
    super.addEventListener(type, listener as DomListener, options);
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketEventListener<WebSocketEventMap[K]> | null,
    options?: boolean | { capture?: boolean },
  ): void;
  override removeEventListener(type: string, listener: WebSocketEventListener<Event> | null, options?: boolean | { capture?: boolean }): void;
  override removeEventListener(type: string, listener: WebSocketEventListener<never> | null, options?: boolean | { capture?: boolean }): void {
    super.removeEventListener(type, listener as DomListener, options);
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocket';
  }

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
    // (WebIDL: (BufferSource or Blob or USVString). Anything else becomes a string.)
    let blob: Blob | undefined;
    let message: { data: string | Buffer; size: number } | undefined;
    if (data instanceof Blob) {
      blob = data;
    } else if (types.isArrayBuffer(data)) {
      message = { data: Buffer.from(new Uint8Array(data)), size: data.byteLength };
    } else if (ArrayBuffer.isView(data)) {
      if (types.isSharedArrayBuffer(data.buffer)) throw new TypeError('send() does not take a view of a SharedArrayBuffer');
      // A copy: the caller may reuse its buffer as soon as send() returns.
      message = { data: Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), size: data.byteLength };
    } else {
      const text = toUSVString(data);
      message = { data: text, size: Buffer.byteLength(text, 'utf8') };
    }

    // 1. If this's ready state is CONNECTING, then throw an "InvalidStateError" DOMException.
    //    (sockwave: a reconnecting WebSocket queues instead, while CONNECTING and while a closing
    //    handshake it did not ask for ends the connection: those messages go to the next one; when
    //    no next one follows, they are not sent, as a send() while CLOSING.)
    const readyState = this.#state();
    const connectionEnding = readyState === CLOSING || (readyState === OPEN && this.#connection?.status !== 'open');
    const queue = this.#retry.options.enabled && !this.#closeRequested && (readyState === CONNECTING || connectionEnding);
    if (readyState === CONNECTING && !queue) throw new DOMException('the WebSocket is not open yet (readyState is CONNECTING)', 'InvalidStateError');

    // 2. Run the appropriate set of steps (string, Blob, ArrayBuffer, ArrayBufferView): if the
    //    WebSocket connection is established and the WebSocket closing handshake has not yet
    //    started, send a WebSocket Message comprised of data (text for a string, binary
    //    otherwise). Any invocation of this method that does not throw must increase the
    //    bufferedAmount attribute by the size of data in bytes (UTF-8 for a string).
    const size = blob !== undefined ? blob.size : message!.size;
    if (readyState !== OPEN && !queue) {
      this.#bufferedAmount += size;
      return;
    }
    if (queue) this.#sender.detach();
    // (May throw OutboxFullError: a reconnecting WebSocket's outbox is full, policy 'reject'.)
    const dropped = this.#sender.push(blob !== undefined ? { kind: 'blob', read: readBlob(blob), size } : { kind: 'message', data: message!.data, size });
    this.#bufferedAmount += size;
    for (const item of dropped) {
      // Policy 'drop-oldest': reported, never silent.
      if (item.kind !== 'close') this.#bufferedAmount -= item.size;
      const error = new SockwaveError('SW_OUTBOX_FULL', `outbox full: dropped the oldest message (${item.kind === 'close' ? 0 : item.size} bytes)`);
      this.#queueTask(() => this.dispatchEvent(createErrorEvent(error)));
    }
  }

  /**
   * Closes the connection: `code` must be 1000 or 3000–4999 (else an "InvalidAccessError"
   * DOMException), `reason` at most 123 UTF-8 bytes (else a "SyntaxError" DOMException). While
   * CONNECTING the attempt is abandoned (`error`, then `close` with 1006). Messages sent before
   * close() still go out before the close frame.
   */
  close(code?: number, reason?: string): void {
    // 1. If code is present, but is neither an integer equal to 1000 nor an integer in the range
    //    3000 to 4999, inclusive, throw an "InvalidAccessError" DOMException.
    //    (WebIDL [Clamp] unsigned short: clamped to 0..65535, rounded to nearest, ties to even.)
    let closeCode: number | null = null;
    if (code !== undefined) {
      closeCode = toClampedUnsignedShort(code);
      if (closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
        throw new DOMException(`close code ${String(code)} is not allowed: use 1000 or 3000-4999`, 'InvalidAccessError');
      }
    }
    // 2. If code is missing, set code to null. (Done above.)
    // 3. If reason is missing, set reason to the empty string.
    const closeReason = reason === undefined ? '' : toUSVString(reason);
    // 4. Let reasonBytes be the result of UTF-8 encoding reason. If reasonBytes is longer than
    //    123 bytes, then throw a "SyntaxError" DOMException.
    const reasonLength = Buffer.byteLength(closeReason, 'utf8');
    if (reasonLength > 123) throw new DOMException(`the close reason is ${reasonLength} bytes, at most 123 are allowed`, 'SyntaxError');
    // 5. Close the WebSocket with this, code, and reason.
    this.#closeTheWebSocket(closeCode, closeReason);
  }

  /** "Close the WebSocket" given code and reason. */
  #closeTheWebSocket(code: number | null, reason: string): void {
    // 1. If this's ready state is CLOSING (2) or CLOSED (3): do nothing.
    const readyState = this.#state();
    if (readyState === CLOSING || readyState === CLOSED) return;

    // 2. If the WebSocket connection is not yet established: fail the WebSocket connection and
    //    set this's ready state to CLOSING (2).
    //    (Established from the script's view: until the open event's task ran, the connection is
    //    abandoned, never opened.)
    this.#closeRequested = true;
    if (readyState === CONNECTING) {
      this.#readyState = CLOSING;
      const error = new SockwaveError('SW_HANDSHAKE_FAILED', 'the WebSocket was closed before the connection was established');
      if (this.#attemptInFlight || this.#connection !== undefined) {
        this.#fail(error);
        return;
      }
      // A reconnecting WebSocket between attempts: no attempt to abandon, only the wait.
      this.#endBetweenAttempts(error);
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
    this.#readyState = CLOSING;
    this.#sender.push({ kind: 'close', code: code ?? (reason === '' ? undefined : 1000), reason });
  }

  // ---------------------------------------------------------------------------------------------
  // Establishing the connection, and feedback from the protocol

  #establish(): void {
    const { protocols, options } = this.#attempt;
    const signal = this.#abort.signal;
    this.#attemptInFlight = true;
    this.#wasOpened = false;
    // connect() validates its options first and throws for bad ones (headers, TLS, deflate).
    const attempt = connect(this.#url.href, { ...options, protocols, signal });
    this.#watchSignal();
    attempt.then(
      (connection) => {
        this.#attemptInFlight = false;
        this.#established(connection, protocols);
      },
      (error: unknown) => {
        // The handshake failed (network, TLS, timeout, non-101, invalid answer, abort):
        // fail the WebSocket connection; the connection is closed, never established.
        this.#attemptInFlight = false;
        this.#failure ??= toError(error);
        this.#queueTask(() => this.#connectionClosed(FAILED_CLOSE));
      },
    );
  }

  #established(connection: Connection, protocols: readonly string[]): void {
    this.#releaseSignal?.();
    this.#connection = connection;
    connection.on('message', (data, isBinary) => {
      this.#messageTasks++;
      this.#queueTask(() => {
        try {
          this.#messageReceived(data, isBinary);
        } finally {
          this.#messageTasks--;
        }
      });
    });
    // A ProtocolError means the Connection failed the WebSocket connection (RFC 6455 §7.1.7).
    // Socket errors are not failures: the close event tells (1006, not clean), as in browsers.
    connection.on('error', (error) => {
      if (error instanceof ProtocolError) this.#failure ??= error;
    });
    connection.on('close', (info) => this.#queueTask(() => this.#connectionClosed(info)));
    if (connection.status === 'closed') {
      // The transport closed before anyone listened: no close event will come from it.
      this.#failure ??= new SockwaveError('SW_SOCKET_ERROR', 'the connection closed during the opening handshake');
      this.#queueTask(() => this.#connectionClosed(FAILED_CLOSE));
      return;
    }
    // close() was called while CONNECTING, after the handshake had already succeeded.
    if (this.#readyState !== CONNECTING) {
      this.#fail(this.#failure ?? new SockwaveError('SW_HANDSHAKE_FAILED', 'the WebSocket was closed before the connection was established'));
      return;
    }
    // Establish a WebSocket connection, processResponse step 2: if protocols is not the empty
    // list and the response has no (or an empty) `Sec-WebSocket-Protocol`, then fail the
    // WebSocket connection. (RFC 6455 allows that answer; the standard does not.)
    if (protocols.length > 0 && connection.protocol === '') {
      this.#fail(new HandshakeError(101, `the server selected none of the subprotocols offered (${protocols.join(', ')})`, connection.headers));
      return;
    }
    // When the WebSocket connection is established, queue a task to run these steps:
    this.#queueTask(() => this.#opened(connection));
  }

  #opened(connection: Connection): void {
    // (close() may have run since the task was queued: the connection is being failed.)
    if (this.#readyState !== CONNECTING) return;
    // 1. Change the ready state to OPEN (1).
    this.#readyState = OPEN;
    // 2. Change the extensions attribute's value to the extensions in use, if it is not the null value.
    this.#extensions = connection.extensions;
    // 3. Change the protocol attribute's value to the subprotocol in use, if it is not the null value.
    this.#protocol = connection.protocol;
    // (sockwave: what a reconnecting WebSocket queued goes out first, in order.)
    this.#wasOpened = true;
    this.#retry.retries = 0;
    this.#stopHeartbeat = startClientHeartbeat(connection, this.#heartbeat.interval, this.#heartbeat.timeout);
    this.#sender.attach(connection);
    // 4. Fire an event named open at the WebSocket object.
    this.dispatchEvent(new Event('open'));
  }

  /** When a WebSocket message has been received with type and data, queue a task to follow these steps: */
  #messageReceived(data: string | Buffer, isBinary: boolean): void {
    // 1. If this's ready state is not OPEN (1), then return.
    if (this.#readyState !== OPEN) return;
    // 2. Let dataForEvent be determined by switching on type and binary type:
    //    - type indicates that the data is Text: a new DOMString containing data
    //    - Binary and binary type is "blob": a new Blob object that represents data as its raw data
    //    - Binary and binary type is "arraybuffer": a new ArrayBuffer object whose contents are data
    //    - (sockwave) Binary and binary type is "nodebuffer": the Buffer itself
    let dataForEvent: WebSocketMessageData;
    if (!isBinary) dataForEvent = data as string;
    else if (this.#binaryType === 'blob') dataForEvent = new Blob([data as Buffer]);
    else if (this.#binaryType === 'arraybuffer') dataForEvent = toArrayBuffer(data as Buffer);
    else dataForEvent = data as Buffer;
    // 3. Fire an event named message at the WebSocket object, using MessageEvent, with the origin
    //    attribute initialized to the serialization of the WebSocket object's url's origin, and
    //    the data attribute initialized to dataForEvent.
    this.dispatchEvent(new MessageEvent('message', { data: dataForEvent, origin: this.#url.origin }));
  }

  /** When the WebSocket connection is closed, possibly cleanly, queue a task to run these steps: */
  #connectionClosed(info: CloseInfo): void {
    if (this.#readyState === CLOSED) return;
    this.#stopHeartbeat();
    this.#sender.detach();
    // (A failed connection received no close frame the standard counts: 1006, no reason.)
    const failure = this.#failure;
    const closed = failure === undefined ? info : FAILED_CLOSE;
    let wait = this.#nextAttemptWait(closed, failure);
    // 1. Change the ready state to CLOSED (3).
    //    (sockwave, reconnection on: when another attempt is to follow, to CONNECTING instead, so
    //    that sends queue, from the handlers too.)
    if (wait === undefined) this.#closedForGood();
    else this.#prepareNextAttempt();
    // 2. If the user agent was required to fail the WebSocket connection, or if the WebSocket
    //    connection was closed after being flagged as full, fire an event named error at the
    //    WebSocket object. (sockwave's client never refuses a send, so never "flagged as full".)
    if (failure !== undefined) this.dispatchEvent(createErrorEvent(failure));
    // (A close() in the error handler, or the signal aborted there: this close is the last one.)
    if (wait !== undefined && this.#noMoreAttempts()) {
      wait = undefined;
      this.#closedForGood();
    }
    // 3. Fire an event named close at the WebSocket object, using CloseEvent, with the wasClean
    //    attribute initialized to true if the connection closed cleanly and false otherwise, the
    //    code attribute initialized to the WebSocket connection close code, and the reason
    //    attribute initialized to the result of applying UTF-8 decode without BOM to the
    //    WebSocket connection close reason.
    //    (sockwave: with willReconnect and waitTime when another attempt follows.)
    const event = new CloseEvent('close', { wasClean: closed.wasClean, code: closed.code, reason: closed.reason });
    if (wait !== undefined) Object.defineProperties(event, { willReconnect: { value: true }, waitTime: { value: wait } });
    this.dispatchEvent(event);
    if (wait !== undefined) this.#scheduleAttempt(wait);
  }

  /**
   * (sockwave, reconnection on) If the connection that ended, or the attempt that failed, is to
   * be followed by another: the wait before it. Undefined when the WebSocket is to close for good
   * (reconnection off, close() called, the signal aborted, or the retry policy says so).
   */
  #nextAttemptWait(closed: CloseInfo, failure: Error | undefined): number | undefined {
    if (!this.#retry.options.enabled || this.#noMoreAttempts()) return undefined;
    if (this.#wasOpened) return this.#retry.afterClose(closed.code);
    return this.#retry.afterFailure(failure ?? new SockwaveError('SW_HANDSHAKE_FAILED', 'the connection failed')).wait;
  }

  /** (sockwave) Back to CONNECTING, with nothing of the connection that ended. */
  #prepareNextAttempt(): void {
    this.#readyState = CONNECTING;
    this.#connection = undefined;
    this.#failure = undefined;
    this.#protocol = '';
    this.#extensions = '';
    this.#abort = new AbortController();
    // (The wait is CONNECTING: the signal ends it.)
    this.#watchSignal();
  }

  /** CLOSED: what still waits to be sent never will be (bufferedAmount keeps counting it). */
  #closedForGood(): void {
    this.#readyState = CLOSED;
    this.#sender.clear();
    this.#releaseSignal?.();
  }

  /** (sockwave) Once the close event that announced it was dispatched: the next attempt, after `wait`. */
  #scheduleAttempt(wait: number): void {
    // A close() from the close handler, or the signal aborted there, ended it already.
    if (this.#noMoreAttempts()) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#establish();
    }, wait);
  }

  /**
   * (sockwave) A reconnecting WebSocket between attempts is closed (close(), or the signal
   * aborted): no attempt to abandon, only the wait. The WebSocket fails: error, then close 1006.
   */
  #endBetweenAttempts(error: Error): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#failure ??= error;
    this.#queueTask(() => this.#connectionClosed(FAILED_CLOSE));
  }

  /** (sockwave) No attempt is to follow: close() was called, or options.signal aborted. */
  #noMoreAttempts(): boolean {
    return this.#closeRequested || this.#signal?.aborted === true;
  }

  /**
   * (sockwave) options.signal, listened to while CONNECTING (during a handshake and between
   * attempts); an open connection does not need it: its end reads signal.aborted.
   */
  #watchSignal(): void {
    const signal = this.#signal;
    if (signal === undefined || this.#releaseSignal !== undefined) return;
    const onAbort = (): void => this.#signalAborted(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#releaseSignal = () => {
      signal.removeEventListener('abort', onAbort);
      this.#releaseSignal = undefined;
    };
    if (signal.aborted) onAbort();
  }

  /**
   * (sockwave) options.signal aborted: the handshake under way is aborted (its failure is reported
   * as usual, and no attempt follows it); between attempts, the wait ends (error, close 1006).
   */
  #signalAborted(reason: unknown): void {
    if (this.#attemptInFlight) this.#abort.abort(reason);
    else if (this.#readyState === CONNECTING && this.#connection === undefined) this.#endBetweenAttempts(abortError(reason));
  }

  /**
   * The ready state. When the WebSocket closing handshake is started (by the server: a close()
   * sets CLOSING itself), the standard queues a task to set CLOSING, which runs after the tasks of
   * the messages received before the close frame. The Connection reports no event for it, so it
   * is read from the Connection's status, once those message tasks have run.
   */
  #state(): WebSocketReadyState {
    if (this.#readyState === OPEN && this.#messageTasks === 0 && this.#failure === undefined && this.#connection?.status === 'closing') {
      this.#readyState = CLOSING;
    }
    return this.#readyState;
  }

  /** Fail the WebSocket connection (RFC 6455 §7.1.7): drop the attempt or the transport. */
  #fail(error: Error): void {
    this.#failure ??= error;
    // (What waits to be sent stays: a reconnecting WebSocket sends it on the next connection; the
    // close that is final clears it.)
    if (this.#connection !== undefined) this.#connection.terminate();
    else this.#abort.abort(error);
  }

  /**
   * Fail the WebSocket connection because of what was to be sent (a Blob that cannot be read):
   * what was sent before it still goes out, then a close frame with 1011 tells the server why.
   * The WebSocket reports the failure as any other: error, then close 1006.
   */
  #failAfterSent(error: Error): void {
    this.#failure ??= error;
    const connection = this.#connection;
    if (connection === undefined || connection.status !== 'open') this.#fail(error);
    else connection.close(1011, 'a Blob passed to send() could not be read');
  }

  /** The WebSocket task source: each event in its own task, microtasks running between them. */
  #queueTask(task: () => void): void {
    setImmediate(task);
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

