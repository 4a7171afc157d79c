import { HandshakeError, ProtocolError, SockwaveError } from '../errors.js';
import { watchAbort } from '../io/abort-watch.js';
import { type CloseInfo, type Connection } from '../io/connection.js';
import { startClientHeartbeat } from './client-heartbeat.js';
import { connect } from './connect.js';
import { ProxyVariableError } from '../io/proxy.js';
import { CloseEvent, createErrorEvent } from './dom-events.js';
import { droppedError, OrderedSender, type Outgoing } from './ordered-sender.js';
import { RetryPolicy } from './retry-policy.js';
import { abortError, CLOSED, CLOSING, closingHandshakeStarted, CONNECTING, FAILED_CLOSE, OPEN, toArrayBuffer, toError } from './websocket-support.js';
import { type BinaryType, type WebSocketMessageData, type WebSocketOptions, type WebSocketReadyState } from './websocket-types.js';
import { checkClientOptions, checkReconnectingOptions } from './option-checks.js';

/**
 * The connection behind one browser-standard WebSocket (websocket.ts), over time: establishing
 * it, "when the WebSocket connection is established", "when a WebSocket message has been
 * received", "when the WebSocket connection is closed", failing it, and sockwave's opt-in
 * reconnection (attempts, waits, heartbeat, options.signal). It holds the state the WebSocket's
 * attributes read and the sends kept in order, and dispatches the events at the WebSocket (the
 * EventTarget it is given), each in its own task. The WebSocket keeps the API's own steps and
 * reaches this state only through the methods below. Internal: not exported by the package.
 */
export class WebSocketLifecycle {
  /** The WebSocket: the events are dispatched at it. */
  readonly #target: EventTarget;
  /** The URL record (already ws: or wss:): set by start(), as the constructor's step 12. */
  #url!: URL;
  #readyState: WebSocketReadyState = CONNECTING;
  #bufferedAmount = 0;
  #protocol = '';
  #extensions = '';
  /** How binary messages arrive; the WebSocket's binaryType setter checks the value. */
  binaryType: BinaryType = 'blob';
  /** Set once the handshake succeeded. */
  #connection: Connection | undefined;
  /** Aborts the handshake (close() while connecting). */
  #abort = new AbortController();
  /** Set when the connection was failed ("fail the WebSocket connection"): why. */
  #failure: Error | undefined;
  /** Sends (and a close) in order: behind a Blob being read, or, reconnecting, behind the gap. */
  readonly #sender: OrderedSender;
  /** Message events queued and not yet dispatched, and the open or message task running (see #taskDone). */
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
  /** A reconnection attempt threw at once (its options became invalid): no attempt can follow. */
  #cannotAttempt = false;

  /** Reads the options (the constructor's second argument, without the protocols); start() starts. */
  constructor(target: EventTarget, allOptions: Omit<WebSocketOptions, 'protocols'>) {
    this.#target = target;
    checkClientOptions('WebSocket', allOptions);
    checkReconnectingOptions('WebSocket', allOptions);
    const { reconnect, outbox, pingInterval, pongTimeout, ...options } = allOptions;
    this.#retry = new RetryPolicy(reconnect, false);
    this.#sender = new OrderedSender(
      {
        blobUnreadable: (error, size, attached) => {
          const failure = new SockwaveError('SW_INVALID_ARGUMENT', 'a Blob passed to send() could not be read', { cause: error });
          if (this.#retry.options.enabled) {
            // (sockwave, reconnection on) The Blob alone is lost, reported and no longer counted, as a
            // message dropped from a full outbox; what was sent after it waits for the next connection.
            this.#bufferedAmount -= size;
            if (!attached) {
              this.#queueTask(() => this.#target.dispatchEvent(createErrorEvent(failure)));
              return;
            }
          } else {
            // The connection fails for good: nothing after the Blob goes out (bufferedAmount keeps counting it).
            this.#sender.clear();
          }
          this.#failAfterSent(failure);
        },
        sent: (size) => (this.#bufferedAmount -= size),
        // The standard counts on what a failed connection never sent; reconnecting, it goes with that
        // connection (else the count would never return to 0).
        lost: (size) => void (this.#retry.options.enabled && this.#readyState !== CLOSED && (this.#bufferedAmount -= size)),
      },
      outbox,
    );
    this.#attempt = { protocols: [], options };
    this.#signal = options.signal ?? undefined;
    this.#heartbeat = { interval: pingInterval ?? 0, timeout: pongTimeout ?? 10_000 };
  }

  /**
   * The ready state. When the WebSocket closing handshake is started (by the server: a close()
   * sets CLOSING itself), the standard queues a task to set CLOSING, which runs after the open
   * event's task and the tasks of the messages received before the close frame. The Connection
   * reports no event for it, so it is read from the Connection's status, once those tasks have
   * run and no message received before the close frame is still being inflated.
   */
  get readyState(): WebSocketReadyState {
    const connection = this.#connection;
    if (this.#readyState === OPEN && this.#messageTasks === 0 && this.#failure === undefined && connection !== undefined && closingHandshakeStarted(connection) && !connection.inboundPending) {
      this.#readyState = CLOSING;
    }
    return this.#readyState;
  }

  /** The WebSocket's bufferedAmount. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** The subprotocol in use ('' until open). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions in use ('' until open). */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * The constructor's step 12: establish a WebSocket connection given urlRecord and protocols.
   * Throws for an invalid option; an unusable proxy variable (not the caller's) fails the connection.
   */
  start(url: URL, protocols: string[]): void {
    this.#url = url;
    this.#attempt.protocols = protocols;
    try {
      this.#establish();
    } catch (error) {
      if (!(error instanceof ProxyVariableError)) throw error;
      this.#cannotEstablish(error);
    }
  }

  /**
   * (sockwave) Whether a send() in `readyState` waits for the next connection instead: reconnection
   * is on, close() was not called, and the WebSocket is CONNECTING or its connection is ending.
   */
  sendWaits(readyState: WebSocketReadyState): boolean {
    const connectionEnding = readyState === CLOSING || (readyState === OPEN && this.#connection?.status !== 'open');
    return this.#retry.options.enabled && !this.#closeRequested && (readyState === CONNECTING || connectionEnding);
  }

  /** A send() once CLOSING or CLOSED: nothing is sent, and bufferedAmount still grows by `size`. */
  countUnsent(size: number): void {
    this.#bufferedAmount += size;
  }

  /** A send() while OPEN, or one that `waits`: it goes out after what was sent before it. */
  send(outgoing: Exclude<Outgoing, { kind: 'close' }>, waits: boolean): void {
    if (waits) this.#sender.detach();
    // (May throw OutboxFullError: a reconnecting WebSocket's outbox is full, policy 'reject'.)
    const dropped = this.#sender.push(outgoing);
    this.#bufferedAmount += outgoing.size;
    for (const item of dropped) {
      // Policy 'drop-oldest': reported, never silent.
      if (item.kind !== 'close') this.#bufferedAmount -= item.size;
      const error = droppedError(item);
      this.#queueTask(() => this.#target.dispatchEvent(createErrorEvent(error)));
    }
  }

  /** (sockwave) close() once CLOSING or CLOSED: nothing to send, and no reconnection after this connection. */
  stopReconnecting(): void {
    this.#closeRequested = true;
  }

  /** "Close the WebSocket" while CONNECTING: fail the WebSocket connection; CLOSING; close() stops reconnection. */
  abandon(): void {
    this.#closeRequested = true;
    this.#readyState = CLOSING;
    const error = new SockwaveError('SW_HANDSHAKE_FAILED', 'the WebSocket was closed before the connection was established');
    if (this.#attemptInFlight || this.#connection !== undefined) {
      this.#fail(error);
      return;
    }
    // A reconnecting WebSocket between attempts: no attempt to abandon, only the wait.
    this.#endBetweenAttempts(error);
  }

  /** "Close the WebSocket" while OPEN: CLOSING, the Close message after what was sent before; no reconnection. */
  startClosing(code: number | undefined, reason: string): void {
    this.#closeRequested = true;
    this.#readyState = CLOSING;
    this.#sender.push({ kind: 'close', code, reason });
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
          this.#taskDone();
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
    this.#retry.opened();
    this.#stopHeartbeat = startClientHeartbeat(connection, this.#heartbeat.interval, this.#heartbeat.timeout);
    this.#sender.attach(connection);
    // 4. Fire an event named open at the WebSocket object.
    //    (Counted as a message task is: a close frame that came right after the 101 sets CLOSING
    //    in a later task, so the open listeners still see OPEN.)
    this.#messageTasks++;
    this.#target.dispatchEvent(new Event('open'));
    this.#taskDone();
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
    else if (this.binaryType === 'blob') dataForEvent = new Blob([data as Buffer]);
    else if (this.binaryType === 'arraybuffer') dataForEvent = toArrayBuffer(data as Buffer);
    else dataForEvent = data as Buffer;
    // 3. Fire an event named message at the WebSocket object, using MessageEvent, with the origin
    //    attribute initialized to the serialization of the WebSocket object's url's origin, and
    //    the data attribute initialized to dataForEvent.
    this.#target.dispatchEvent(new MessageEvent('message', { data: dataForEvent, origin: this.#url.origin }));
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
    if (failure !== undefined) this.#target.dispatchEvent(createErrorEvent(failure));
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
    this.#target.dispatchEvent(event);
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
      try {
        this.#establish();
      } catch (error) {
        // (The first attempt's throw is the constructor's.) The options changed since (a header that
        // cannot be sent, say): every attempt would throw again.
        this.#cannotEstablish(error);
      }
    }, wait);
  }

  /** An attempt threw before it began: no attempt can follow, and the WebSocket fails for good (error, 1006). */
  #cannotEstablish(error: unknown): void {
    this.#attemptInFlight = false;
    this.#cannotAttempt = true;
    this.#endBetweenAttempts(toError(error));
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

  /** (sockwave) No attempt is to follow: close() was called, options.signal aborted, or an attempt threw. */
  #noMoreAttempts(): boolean {
    return this.#closeRequested || this.#cannotAttempt || this.#signal?.aborted === true;
  }

  /**
   * (sockwave) options.signal, listened to while CONNECTING (during a handshake and between
   * attempts); an open connection does not need it: its end reads signal.aborted.
   */
  #watchSignal(): void {
    const signal = this.#signal;
    if (signal === undefined || this.#releaseSignal !== undefined) return;
    const onAbort = (): void => this.#signalAborted(signal.reason);
    const unwatch = watchAbort(signal, onAbort);
    this.#releaseSignal = () => {
      unwatch();
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

  /** Fail the WebSocket connection (RFC 6455 §7.1.7): drop the attempt or the transport. */
  #fail(error: Error): void {
    this.#failure ??= error;
    // (What waits to be sent stays: for the next connection, or until the final close clears it.)
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

  /**
   * An open or message task dispatched its event: counted down once all its microtasks have run
   * (an async listener's awaits), before any task its listeners queued (a timer, an immediate),
   * as the task that sets CLOSING comes before them. (A tick queued from a microtask runs once
   * the microtask queue is empty.)
   */
  #taskDone(): void {
    queueMicrotask(() => process.nextTick(() => this.#messageTasks--));
  }
}
