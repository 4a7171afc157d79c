/**
 * One error tree for sockwave. Every error carries a stable `code` string.
 *
 * Two families, as h11 splits them:
 * - the peer sent something wrong: {@link ProtocolError} (carries the close code to answer with) and
 *   {@link HandshakeError} (carries the HTTP status seen or to answer with);
 * - the caller used the API wrongly: {@link UsageError}, a {@link SockwaveError} with code
 *   `SW_INVALID_STATE` or `SW_INVALID_ARGUMENT`, or the standard `TypeError`/`RangeError`/
 *   `SyntaxError` for an argument of the wrong type or range.
 */

/** The codes a {@link ProtocolError} carries: what the peer sent broke RFC 6455/7692 or a limit. */
export type ProtocolErrorCode =
  | 'SW_PROTOCOL_ERROR'
  | 'SW_INVALID_UTF8'
  | 'SW_MESSAGE_TOO_BIG'
  | 'SW_INVALID_CLOSE_CODE'
  | 'SW_DECOMPRESSION_ERROR'
  | 'SW_TOO_MANY_FRAGMENTS'
  | 'SW_RATE_LIMITED';

/** The codes a {@link HandshakeError} carries. */
export type HandshakeErrorCode =
  | 'SW_HANDSHAKE_FAILED'
  | 'SW_HANDSHAKE_TIMEOUT'
  /** The HTTP proxy answered CONNECT with something other than 2xx: the status and headers are the proxy's. */
  | 'SW_PROXY_REFUSED';

/** The codes a {@link UsageError} carries (a plain {@link SockwaveError} may carry them too). */
export type UsageErrorCode = 'SW_INVALID_STATE' | 'SW_INVALID_ARGUMENT';

/** Stable error codes. Never renamed once published. */
export type ErrorCode =
  | ProtocolErrorCode
  | HandshakeErrorCode
  | UsageErrorCode
  | 'SW_CONNECTION_CLOSED'
  | 'SW_SOCKET_ERROR'
  | 'SW_TIMEOUT'
  | 'SW_ABORTED'
  | 'SW_OUTBOX_FULL'
  | 'SW_NOT_SENT'
  | 'SW_BACKPLANE_UNAVAILABLE';

export interface SockwaveErrorOptions {
  cause?: unknown | undefined;
}

/**
 * Base class of sockwave's own errors: what it rejects with or reports in an error event, and what
 * it throws for a wrong state. Arguments of the wrong type or range throw the standard
 * TypeError/RangeError/SyntaxError instead.
 */
export class SockwaveError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: SockwaveErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** The peer broke RFC 6455/7692: the connection is failed with {@link ProtocolError.closeCode}. */
export class ProtocolError extends SockwaveError {
  declare readonly code: ProtocolErrorCode;
  readonly closeCode: number;
  constructor(
    closeCode: number,
    message: string,
    code: ProtocolErrorCode = 'SW_PROTOCOL_ERROR',
    options?: SockwaveErrorOptions,
  ) {
    super(code, message, options);
    this.closeCode = closeCode;
  }
}

/** What a {@link HandshakeError} may carry besides its cause. */
export interface HandshakeErrorOptions extends SockwaveErrorOptions {
  /** Client side: the URL that was answered. */
  url?: string | undefined;
  /** The response's header lines as received. */
  rawHeaders?: ReadonlyArray<readonly [string, string]> | undefined;
}

/**
 * The opening handshake failed: `status` is the HTTP status received (client) or sent (server).
 * With code `SW_PROXY_REFUSED`, the status and headers are the proxy's answer to CONNECT (a 407's
 * `proxy-authenticate` challenge, say): the server was never reached.
 */
export class HandshakeError extends SockwaveError {
  declare readonly code: HandshakeErrorCode;
  readonly status: number;
  /** The response's headers, names lower-cased, repeated ones joined (see {@link rawHeaders} for `set-cookie`). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The response's header lines as received, [name lower-cased, value], in order: repeated
   * headers kept apart (each `set-cookie`, which cannot be joined: RFC 9110 §5.3). Empty when no
   * HTTP answer came.
   */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** The start of the response body, when the peer sent one (client side). */
  readonly body: string;
  /**
   * Client side: the URL whose server (or proxy, with `SW_PROXY_REFUSED`) answered, credentials
   * hidden; after redirects, the last one. Undefined on the server side.
   */
  readonly url: string | undefined;
  constructor(
    status: number,
    message: string,
    headers: Readonly<Record<string, string>> = {},
    body = '',
    code: HandshakeErrorCode = 'SW_HANDSHAKE_FAILED',
    options?: HandshakeErrorOptions,
  ) {
    super(code, message, options);
    this.status = status;
    this.headers = headers;
    this.rawHeaders = options?.rawHeaders ?? [];
    this.body = body;
    this.url = options?.url;
  }
}

/** An operation needed an open connection but it is closed (or closing). */
export class ConnectionClosedError extends SockwaveError {
  declare readonly code: 'SW_CONNECTION_CLOSED';
  readonly closeCode: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** True when the peer started the close. */
  readonly remote: boolean;
  constructor(closeCode: number, reason: string, wasClean: boolean, remote: boolean, options?: SockwaveErrorOptions) {
    super('SW_CONNECTION_CLOSED', `connection closed (${closeCode}${reason ? ` ${reason}` : ''})`, options);
    this.closeCode = closeCode;
    this.reason = reason;
    this.wasClean = wasClean;
    this.remote = remote;
  }
}

/**
 * The caller used the API in a way that cannot work whatever the peer does: `listen()` twice or
 * after `close()`, `attach()` after `close()`, topics on a client connection, a second pull
 * reader, a subprotocol the client did not offer. Nothing was sent. A state the connection
 * reached on its own (a send while it closes, a full send buffer) is a plain
 * {@link SockwaveError} with the same code, as is a message the peer sent that a `dataType`
 * refuses; bad argument types and ranges are TypeError and RangeError. Test `code` to cover both.
 */
export class UsageError extends SockwaveError {
  declare readonly code: UsageErrorCode;
  constructor(code: UsageErrorCode, message: string, options?: SockwaveErrorOptions) {
    super(code, message, options);
  }
}

/** The backplane (e.g. Redis) could not answer: unreachable, or closed. */
export class BackplaneError extends SockwaveError {
  declare readonly code: 'SW_BACKPLANE_UNAVAILABLE';
  constructor(message: string, options?: SockwaveErrorOptions) {
    super('SW_BACKPLANE_UNAVAILABLE', message, options);
  }
}
