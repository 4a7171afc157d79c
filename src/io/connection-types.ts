import { type ConnectionClosedError, type SockwaveError } from '../errors.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { type HeaderMap } from '../handshake/http-head.js';
import { type LimitName } from './limits.js';
import { type Connection } from './connection.js';
import { type RateLimitOptions } from './rate-limiter.js';
import { type SlowConsumerPolicy } from './connection-stats.js';
import { type ConnectionSettings } from './connection-settings.js';
import { type SessionOptions } from '../protocol/session.js';

/** The public shapes around a {@link Connection}: events, handler, options, results. */

export type ConnectionStatus = 'connecting' | 'open' | 'closing' | 'closed';

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code (1005 if its close frame had none), the code we failed with, or 1006. */
  code: number;
  reason: string;
  /** Both close frames were exchanged and the transport closed without error. */
  wasClean: boolean;
  /** The peer started the close (its close frame, or its TCP close, came first). */
  remote: boolean;
}

export interface ConnectionEvents {
  /**
   * Emitted as the connection opens, before a `connection` listener or `connect()` hands it out:
   * only a handler object's `onOpen` (or a listener added by it) sees the opening.
   */
  open: [];
  message: [data: string | Buffer, isBinary: boolean];
  fragment: [data: Buffer, isBinary: boolean, fin: boolean];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  close: [info: CloseInfo];
  error: [error: SockwaveError];
  drain: [];
}

/** Callbacks for one connection (the handler-object style); all optional. */
export interface ConnectionHandler<Data = unknown> {
  onOpen?: ((connection: Connection<Data>) => void) | undefined;
  /** Text arrives as a string, binary as a Buffer. */
  onMessage?: ((connection: Connection<Data>, data: string | Buffer, isBinary: boolean) => void) | undefined;
  /**
   * Each frame of a fragmented, uncompressed message as it arrives (the whole message still comes
   * to onMessage). A compressed message comes only whole, to onMessage.
   */
  onFragment?: ((connection: Connection<Data>, data: Buffer, isBinary: boolean, fin: boolean) => void) | undefined;
  onPing?: ((connection: Connection<Data>, payload: Buffer) => void) | undefined;
  onPong?: ((connection: Connection<Data>, payload: Buffer) => void) | undefined;
  onClose?: ((connection: Connection<Data>, info: CloseInfo) => void) | undefined;
  onError?: ((connection: Connection<Data>, error: SockwaveError) => void) | undefined;
  /** The send buffer fell back under the high-water mark. */
  onDrain?: ((connection: Connection<Data>) => void) | undefined;
}

/**
 * Internal: a handler as a connection keeps it: the same callbacks, their parameters compared
 * bivariantly (as methods' are), so that a `Connection<Data>` stays assignable to a
 * `Connection<unknown>`. The handler's own type is checked, strictly, where the application
 * writes it ({@link ConnectionHandler}).
 */
export type StoredHandler<Data> = { [K in keyof ConnectionHandler<Data>]?: Bivariant<NonNullable<ConnectionHandler<Data>[K]>> };

/** Internal: a function type whose parameters are compared bivariantly: a method's type. */
type Bivariant<F extends (...args: never[]) => unknown> = { method(...args: Parameters<F>): ReturnType<F> }['method'];

/**
 * `{ data: Data }` when `Data` does not admit `undefined`: a connection typed `Connection<Data>`
 * must then be given its data (by admission, or by `connect()`'s options), so that
 * `connection.data` is never undefined; otherwise nothing more (`unknown`). (`NoInfer`: `Data` is
 * inferred from the data given, never from the shape of the object that may lack it.)
 */
export type DataRequired<Data> = undefined extends NoInfer<Data> ? unknown : { data: Data };

/** What `send()` did with a message. */
export type SendResult =
  /** Accepted; the send buffer is under the high-water mark. */
  | 'sent'
  /** Accepted, but the send buffer is past the high-water mark: wait for `drain`. */
  | 'backpressure'
  /**
   * Not accepted: the connection is closing or closed, or the message would take the send buffer
   * past `maxBufferedAmount` (the slow-consumer policy applies). Nothing was sent.
   */
  | 'dropped';

/** What one send put on the wire, given to its completion callback once written. */
export interface SendReport {
  /** Message bytes, before compression. */
  payloadSize: number;
  /** Bytes written: frame headers plus the (compressed) payload. */
  wireSize: number;
  /** Sent with permessage-deflate. */
  compressed: boolean;
  /** Compression failed, so the message went uncompressed. */
  compressionError: boolean;
}

/**
 * Runs once a send's bytes were handed to the operating system (or could not be). `error` is set
 * when the message was not sent: a {@link ConnectionClosedError} (with the close code) once the
 * connection has closed, a SockwaveError `SW_INVALID_STATE` while it closes or when the send
 * buffer is full, `SW_SOCKET_ERROR` when the socket closed before the bytes left. `report`, given
 * when it was sent, describes what was sent.
 */
export type SendCallback = (error: Error | null | undefined, report?: SendReport) => void;

export interface SendOptions {
  /**
   * Message type. Default: strings and JSON as text, bytes as binary. `true` sends a string's
   * UTF-8 bytes as binary; `false` sends bytes as text (they must be valid UTF-8).
   */
  binary?: boolean | undefined;
  /** Split the message into frames of at most this many payload bytes. */
  fragmentSize?: number | undefined;
}

export interface ConnectionInit<Data> {
  role: 'server' | 'client';
  /** Largest message accepted, in bytes. */
  maxPayload: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean | undefined;
  /** Milliseconds to wait for the peer's close frame, and then for the TCP close. Default 5000. */
  closeTimeout?: number | undefined;
  /** bufferedAmount (bytes) past which send() answers 'backpressure'. Default 1 MiB. */
  highWaterMark?: number | undefined;
  url: string;
  /**
   * Server: the request's headers. Client: the response's headers. A string is a request head
   * as received, parsed only when `connection.headers` is read (idle connections stay small);
   * its target is then the connection's `url`.
   */
  headers: HeaderMap | string;
  /** The header lines, when `headers` is a header object that joined a repeated name (see linesIfRepeated). */
  rawHeaders?: ReadonlyArray<readonly [string, string]> | undefined;
  protocol?: string | undefined;
  extensions?: string | undefined;
  handler?: StoredHandler<Data> | undefined;
  data?: Data | undefined;
  /** The negotiated permessage-deflate codec, if any. */
  deflate?: PerMessageDeflate | undefined;
  /** Told when the connection closes (the server's registry). */
  owner?: ConnectionOwner | undefined;
  /** Hard limit on bufferedAmount, in bytes; past it `slowConsumer` applies. Default 16 MiB (server), none (client). */
  maxBufferedAmount?: number | undefined;
  /** What happens past `maxBufferedAmount`. Default 'close'. */
  slowConsumer?: SlowConsumerPolicy | undefined;
  /** Close code for the 'close' policy: 1013 (default) or 1008. */
  slowConsumerCloseCode?: number | undefined;
  /** Most frames one received message may span (1008 past it). Default: no limit. */
  maxFragments?: number | undefined;
  /** Rate limit on what the peer sends (1008 past it). Default: none. */
  rateLimit?: RateLimitOptions | false | undefined;
  /** @internal The settings above, resolved once and shared (a server's connections); replaces them. */
  settings?: ConnectionSettings | undefined;
  /**
   * @internal `role`, `maxPayload`, `maxFragments` and `autoPong` as the protocol session's
   * options, made once and shared (a server's connections); replaces them.
   */
  session?: SessionOptions | undefined;
}

/** Internal: whoever keeps track of connections (a server): registry and topics. */
export interface ConnectionOwner {
  connectionClosed(connection: Connection<unknown>, info: CloseInfo): void;
  subscribe(connection: Connection<unknown>, topic: string): boolean;
  unsubscribe(connection: Connection<unknown>, topic: string): boolean;
  /** A limit was hit on this connection (counted and reported by the server). */
  limitReached(connection: Connection<unknown>, limit: LimitName, detail: string): void;
  /** A message was dropped on this connection after its close (its totals were already counted). */
  droppedAfterClose(): void;
}

