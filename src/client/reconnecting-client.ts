import { SockwaveError } from '../errors.js';
import { watchAbort } from '../io/abort-watch.js';
import { type CloseInfo, type Connection, type SendResult } from '../io/connection.js';
import { toPayload, type SendData } from '../io/payload.js';
import { encodeClosePayload } from '../protocol/close-codes.js';
import { startClientHeartbeat } from './client-heartbeat.js';
import { connect, type ClientOptions } from './connect.js';
import { Outbox, OutboxFullError, UnsentMessagesError, type OutboxEntry, type OutboxOptions } from './outbox.js';
import { RetryPolicy, type ReconnectOptions } from './retry-policy.js';
import { checkClientOptions, checkReconnectingOptions } from './option-checks.js';
import { checkOneOf } from '../option-checks.js';

export type { ReconnectOptions };

/**
 * The handler style (IXWebSocket and 4D.WebSocket): `createClient(url, { onOpen, onMessage, ... })`
 * returns at once and keeps a connection up — reconnecting with backoff and jitter after it drops,
 * queueing what is sent meanwhile in a bounded outbox delivered in order once back, and pinging to
 * find dead peers. A facade over `connect()` and its Connection.
 */

/** How messages are handed to onMessage, and how strings and objects are sent. */
export type DataType = 'text' | 'binary' | 'json';

/** What `onError` is given: the error, and where reconnection stands. */
export interface ClientErrorInfo {
  error: Error;
  /** Failed attempts in a row so far. */
  retries: number;
  /** Milliseconds until the next attempt, when one is scheduled. */
  waitTime: number | undefined;
  /** The HTTP status of a refused handshake. */
  httpStatus: number | undefined;
  reason: string;
}

export interface ClientCloseInfo extends CloseInfo {
  /** A reconnection is scheduled. */
  willReconnect: boolean;
  waitTime: number | undefined;
}

/** What each attempt connects to; re-evaluated before every attempt (fresh tokens), but not after a refusal that ends reconnection (see ReconnectOptions.retryOnCodes). */
export interface Target {
  url: string | URL;
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
  protocols?: readonly string[] | undefined;
}

/** What onMessage is given for a `dataType`: text as a string and binary as a Buffer, always a Buffer, or parsed JSON. */
export type MessageOf<T extends DataType> = [T] extends ['binary'] ? Buffer : [T] extends ['text'] ? string | Buffer : unknown;

export interface CreateClientOptions<T extends DataType = DataType> extends Omit<ClientOptions, 'handler' | 'data'> {
  dataType?: T | undefined;
  reconnect?: boolean | ReconnectOptions | undefined;
  outbox?: OutboxOptions | undefined;
  /** Ping this often (ms); 0 turns it off. Default 0. */
  pingInterval?: number | undefined;
  /** A ping unanswered this long (ms) means a dead peer: onError gets an SW_TIMEOUT error, then the connection is dropped (1006); the wait starts again whenever bytes arrive (the pong may be queued behind a long message), whenever reading pauses for an inflation (the pong may be queued behind the message) or for a peer that does not read but still takes bytes; a paused() connection is not pinged. Default 10 000. */
  pongTimeout?: number | undefined;
  onOpen?: ((client: WebSocketClient) => void) | undefined;
  /**
   * Text as a string, binary as a Buffer; with dataType 'binary' always a Buffer; with 'json' text
   * is parsed, and a text that is not JSON goes to onError instead (SW_INVALID_ARGUMENT, the parse
   * error as its cause). A handler's exception (or an async handler's rejection) reaches the
   * process, as an event listener's does.
   */
  onMessage?: ((client: WebSocketClient, message: MessageOf<T>, isBinary: boolean) => void) | undefined;
  onError?: ((client: WebSocketClient, info: ClientErrorInfo) => void) | undefined;
  /**
   * A connection that was open has closed; `willReconnect` says whether another attempt follows.
   * When the client ends for good with no connection open (it gave up after a failed attempt, or
   * close() was called or the signal aborted while connecting or reconnecting), one last onClose
   * says so too: code 1006, `wasClean` false, `willReconnect` false. After an onClose with
   * `willReconnect` false, the client reports nothing more.
   */
  onClose?: ((client: WebSocketClient, info: ClientCloseInfo) => void) | undefined;
  onPing?: ((client: WebSocketClient, payload: Buffer) => void) | undefined;
  onPong?: ((client: WebSocketClient, payload: Buffer) => void) | undefined;
  /**
   * The connection's send buffer fell back under its high-water mark, after a send() that
   * answered 'backpressure': the time to send more.
   */
  onDrain?: ((client: WebSocketClient) => void) | undefined;
}

export type ClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What send() did: on the wire now, waiting in the outbox, or (as Connection.send) backpressure. */
export type ClientSendResult = SendResult | 'queued';

export class WebSocketClient {
  private readonly options: CreateClientOptions;
  private readonly target: () => Target | Promise<Target>;
  private readonly retry: RetryPolicy;
  private readonly outbox: Outbox;
  private connection: Connection | undefined;
  private state: ClientStatus = 'connecting';
  private timer: NodeJS.Timeout | undefined;
  /** Stops listening to options.signal (set while listening). */
  private releaseSignal: (() => void) | undefined;
  private stopHeartbeat: () => void = () => {};
  private attemptAbort: AbortController | undefined;
  /** Messages dropped by the outbox policy 'drop-oldest' (reported through onError too). */
  dropped = 0;

  constructor(target: string | URL | (() => Target | Promise<Target>), options: CreateClientOptions = {}) {
    checkClientOptions('createClient', options);
    checkReconnectingOptions('createClient', options);
    checkOneOf('createClient', 'dataType', options.dataType, ['text', 'binary', 'json']);
    this.options = options;
    this.target = typeof target === 'function' ? target : () => ({ url: target });
    this.retry = new RetryPolicy(options.reconnect, true);
    this.outbox = new Outbox(options.outbox);
    if (options.signal?.aborted) {
      this.state = 'closed';
      queueMicrotask(() => this.endedWithoutConnection('aborted before connecting'));
      return;
    }
    const signal = options.signal ?? undefined;
    if (signal !== undefined) {
      // Let go once closed: one signal may serve many clients (an application's shutdown signal).
      this.releaseSignal = watchAbort(signal, () => this.close());
    }
    if (typeof target === 'function') {
      void this.attempt();
      return;
    }
    // A URL's first attempt starts now: an invalid URL, header or subprotocol list throws here,
    // as it does from connect(), instead of reaching onError only.
    try {
      this.dial({ url: target }, true);
    } catch (error) {
      this.endForGood();
      throw error;
    }
  }

  /** Closed for good: no more attempts, and the signal (if any) is let go. */
  private endForGood(): void {
    this.state = 'closed';
    this.releaseSignal?.();
    this.releaseSignal = undefined;
  }

  get status(): ClientStatus {
    return this.state;
  }

  /** The current connection, while open. */
  get current(): Connection | undefined {
    return this.connection;
  }

  /** Round-trip time of the last answered heartbeat ping (ms). */
  get rtt(): number | undefined {
    return this.connection?.rtt;
  }

  /** The client at a glance: state, url, deflate, reconnection settings, heartbeat, buffers. */
  info(): Record<string, unknown> {
    return {
      status: this.state,
      url: this.connection?.url,
      protocol: this.connection?.protocol ?? '',
      deflate: (this.connection?.extensions ?? '').includes('permessage-deflate'),
      reconnect: { ...this.retry.options },
      retries: this.retry.retries,
      pingInterval: this.options.pingInterval ?? 0,
      pongTimeout: this.options.pongTimeout ?? 10_000,
      rtt: this.rtt,
      bufferedAmount: this.connection?.bufferedAmount ?? 0,
      outbox: { messages: this.outbox.size, bytes: this.outbox.byteSize, policy: this.outbox.policy, dropped: this.dropped },
    };
  }

  /**
   * Sends now when connected, else queues in the outbox (throws OutboxFullError when the policy is
   * 'reject' and it is full). What is sent while connected is delivered at most once: if the
   * connection drops before the peer read it, it is lost with it, not sent again (acknowledge
   * messages at the application level when each must arrive). Once the client has ended for good (closed, aborted, given up) it
   * answers 'dropped' and sends nothing, as a closed Connection does. With dataType 'binary',
   * strings go as binary; with 'json', anything that is not bytes goes as JSON text.
   */
  send(data: SendData): ClientSendResult {
    if (this.state === 'closed') return 'dropped';
    const dataType = this.options.dataType ?? 'text';
    const payload = toPayload(typeof data === 'string' && dataType === 'json' ? JSON.stringify(data) : data, dataType === 'binary' ? true : undefined);
    const connection = this.connection;
    if (connection && connection.status === 'open') return connection.send(payload.bytes, { binary: payload.binary });
    // A copy of the caller's bytes (a string's are new already): the caller may reuse its buffer
    // once send() returns, as when the message goes out at once.
    const bytes = typeof data === 'string' ? payload.bytes : Buffer.from(payload.bytes);
    for (const dropped of this.outbox.push({ data: bytes, binary: payload.binary })) this.reportDrop(dropped);
    return 'queued';
  }

  /** Sends a ping now (dropped when not connected). */
  ping(payload?: SendData): SendResult {
    return this.connection?.ping(payload) ?? 'dropped';
  }

  /**
   * Closes for good: no more reconnection. What is still queued in the outbox (the client was not
   * connected) is handed back through onError ({@link UnsentMessagesError}), not sent. onClose
   * follows: once the close handshake ends, or, with no connection open, in a microtask. Throws
   * RangeError, changing nothing, for a code that may not be sent or a reason over 123 bytes.
   */
  close(code = 1000, reason = ''): void {
    // Checked first: a bad code throws even once the client is closed.
    encodeClosePayload(code, reason);
    if (this.state === 'closed') return;
    this.endForGood();
    clearTimeout(this.timer);
    this.stopHeartbeat();
    this.attemptAbort?.abort();
    try {
      this.rejectOutbox('the client was closed');
    } finally {
      // (Whatever onError did with the unsent messages, the client closes and says so.)
      if (this.connection) {
        if (this.connection.status !== 'closed') this.connection.close(code, reason);
      } else queueMicrotask(() => this.endedWithoutConnection('closed while not connected'));
    }
  }

  private async attempt(): Promise<void> {
    if (this.state === 'closed') return;
    let target: Target;
    try {
      target = await this.target();
    } catch (error) {
      return this.failed(error as Error);
    }
    if (this.isClosed()) return;
    this.dial(target, false);
  }

  /** Connects to `target`. An invalid URL, header or option throws at once: rethrown when `throwNow`. */
  private dial(target: Target, throwNow: boolean): void {
    this.attemptAbort = new AbortController();
    const signal = this.attemptAbort.signal;
    let pending: Promise<Connection>;
    try {
      pending = connect(target.url, {
        ...this.options,
        headers: target.headers ?? this.options.headers,
        protocols: target.protocols ?? this.options.protocols,
        signal,
        handler: {
          onMessage: (_conn, data, isBinary) => this.deliver(data, isBinary),
          onPing: (_conn, payload) => this.options.onPing?.(this, payload),
          onPong: (_conn, payload) => this.options.onPong?.(this, payload),
          onDrain: () => this.options.onDrain?.(this),
          onClose: (conn, info) => this.closed(conn, info),
          onError: (_conn, error) => this.report(error, undefined, undefined),
        },
      });
    } catch (error) {
      if (throwNow) throw error;
      // An invalid URL, header or option throws at once, and would throw again on every attempt.
      return this.failed(error as Error, true);
    }
    pending.then(
      (connection) => this.opened(connection),
      (error: unknown) => this.failed(error as Error),
    );
  }

  private opened(connection: Connection): void {
    if (this.isClosed()) {
      connection.close(1000);
      return;
    }
    this.connection = connection;
    this.state = 'open';
    this.retry.opened();
    // What was sent while disconnected goes first, in order.
    for (const entry of this.outbox.drain()) connection.send(entry.data, { binary: entry.binary });
    this.stopHeartbeat = startClientHeartbeat(connection, this.options.pingInterval ?? 0, this.options.pongTimeout ?? 10_000);
    this.options.onOpen?.(this);
  }

  /** (A method, not an inline check: the state changes across awaits.) */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private deliver(data: string | Buffer, isBinary: boolean): void {
    // After close(), as after the standard WebSocket's: what still arrives is not delivered.
    if (this.state === 'closed') return;
    const dataType = this.options.dataType ?? 'text';
    let message: unknown = data;
    if (dataType === 'binary' && typeof data === 'string') message = Buffer.from(data, 'utf8');
    else if (dataType === 'json' && typeof data === 'string') {
      try {
        message = JSON.parse(data);
      } catch (error) {
        // A message that is not JSON is reported, not thrown.
        return this.report(new SockwaveError('SW_INVALID_ARGUMENT', 'a text message is not valid JSON', { cause: error }), undefined, undefined);
      }
    }
    this.options.onMessage?.(this, message, isBinary);
  }

  private closed(connection: Connection, info: CloseInfo): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.stopHeartbeat();
    const wait = this.state !== 'closed' ? this.retry.afterClose(info.code) : undefined;
    // onClose sees the status that follows: reconnecting, or closed for good.
    if (wait === undefined) {
      this.endForGood();
      try {
        // (close() reported the outbox already; the retry policy's final close reports it here.)
        this.rejectOutbox('the connection closed for good');
      } finally {
        this.options.onClose?.(this, { ...info, willReconnect: false, waitTime: undefined });
      }
      return;
    }
    // Scheduled before onClose runs: a throw there stops no reconnection, and a close() there
    // clears the timer.
    this.schedule(wait);
    this.options.onClose?.(this, { ...info, willReconnect: true, waitTime: wait });
  }

  private failed(error: Error, final = false): void {
    if (this.state === 'closed') return;
    const retry = this.retry.afterFailure(error);
    const wait = final ? undefined : retry.wait;
    // The next attempt is scheduled before onError runs: a throw there stops no reconnection, and
    // a close() there clears the timer.
    if (wait !== undefined) this.schedule(wait);
    try {
      this.report(error, retry.httpStatus, wait);
    } finally {
      // Unless onError called close(), which ended the client and says so.
      if (wait === undefined && !this.isClosed()) {
        this.endForGood();
        try {
          this.rejectOutbox('the client gave up reconnecting');
        } finally {
          this.endedWithoutConnection(error.message);
        }
      }
    }
  }

  private schedule(wait: number): void {
    this.state = 'reconnecting';
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), wait);
  }

  private report(error: Error, httpStatus: number | undefined, waitTime: number | undefined): void {
    this.options.onError?.(this, { error, retries: this.retry.retries, waitTime, httpStatus, reason: error.message });
  }

  private reportDrop(entry: OutboxEntry): void {
    this.dropped++;
    this.report(new OutboxFullError(`outbox full: dropped the oldest message (${entry.data.length} bytes)`, entry), undefined, undefined);
  }

  /** Giving up (or closed for good): what is still queued will never be sent; it is handed back. */
  private rejectOutbox(why: string): void {
    const lost = this.outbox.drain();
    if (lost.length > 0) this.report(new UnsentMessagesError(lost, why), undefined, undefined);
  }

  /** The client ended for good with no connection open: the last onClose (1006, not clean). */
  private endedWithoutConnection(reason: string): void {
    this.options.onClose?.(this, { code: 1006, reason, wasClean: false, remote: false, willReconnect: false, waitTime: undefined });
  }
}

/**
 * Opens a reconnecting client in the handler style. Given a URL, it starts connecting at once, and
 * an invalid URL, header, subprotocol list or option throws here, as from connect(); given a
 * target function, what the target returns is checked at each attempt and reported to onError.
 * @example
 * const client = createClient('ws://127.0.0.1:8080/echo', {
 *   dataType: 'json',
 *   onMessage: (client, message) => console.log(message),
 * });
 * client.send({ hello: 'world' }); // queued until connected, then sent
 */
export function createClient<T extends DataType = 'text'>(target: string | URL | (() => Target | Promise<Target>), options?: CreateClientOptions<T>): WebSocketClient {
  return new WebSocketClient(target, options);
}
