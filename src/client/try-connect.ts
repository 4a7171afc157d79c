import { parseWebSocketUrl } from './url.js';
import { HandshakeError, SockwaveError, type ErrorCode } from '../errors.js';
import { type Connection } from '../io/connection.js';
import { connect, type ClientOptionsArgument } from './connect.js';

/**
 * The outcome of a connection attempt, as a value: never an exception. A union on `success`:
 * after `if (result.success)`, `connection` is the open connection.
 */
export type ConnectResult<Data = unknown> = ConnectSuccess<Data> | ConnectFailure;

interface ConnectOutcome {
  /** The handshake's HTTP status (101 on success; 0 when no HTTP answer came). */
  status: number;
  /** The response headers, when an HTTP answer came. */
  headers: Readonly<Record<string, string>>;
  /** The same as lines, repeated ones apart (each `set-cookie`). */
  rawHeaders: ReadonlyArray<readonly [string, string]>;
  uri: string;
  /** ...and a sentence a person understands (refused, DNS, TLS, timeout, the status line). */
  reason: string;
  /** The start of a refusal's body. */
  body: string;
}

export interface ConnectSuccess<Data = unknown> extends ConnectOutcome {
  success: true;
  /** The open connection. */
  connection: Connection<Data>;
  errorCode: undefined;
}

export interface ConnectFailure extends ConnectOutcome {
  success: false;
  connection: undefined;
  /**
   * Why it failed: a stable sockwave code ('SW_SOCKET_ERROR', 'SW_HANDSHAKE_FAILED',
   * 'SW_HANDSHAKE_TIMEOUT'...), or the name of the error an invalid argument threw.
   */
  errorCode: ErrorCode | 'SyntaxError' | 'TypeError' | 'RangeError' | 'AbortError' | (string & {});
}

/**
 * `connect()` without exceptions: resolves with a {@link ConnectResult} either way.
 * @example
 * const result = await tryConnect('ws://127.0.0.1:8080/chat');
 * if (!result.success) console.log(result.status, result.reason);
 */
export async function tryConnect<Data = unknown>(url: string | URL, ...options: ClientOptionsArgument<Data>): Promise<ConnectResult<Data>> {
  const uri = shownUri(url);
  try {
    const connection = await connect<Data>(url, ...options);
    return { success: true, connection, status: 101, headers: connection.headers, rawHeaders: connection.rawHeaders, uri: connection.url, errorCode: undefined, reason: '', body: '' };
  } catch (error) {
    const handshake = error instanceof HandshakeError ? error : undefined;
    return {
      success: false,
      connection: undefined,
      status: handshake?.status ?? 0,
      headers: handshake?.headers ?? {},
      rawHeaders: handshake?.rawHeaders ?? [],
      // (After redirects, the URL that answered.)
      uri: handshake?.url ?? uri,
      errorCode: error instanceof SockwaveError ? error.code : error instanceof Error ? error.name : 'UNKNOWN',
      reason: error instanceof Error ? error.message : String(error),
      body: handshake?.body ?? '',
    };
  }
}

/** The URL without its user and password (as messages show it), or as given when it does not parse. */
function shownUri(url: string | URL): string {
  try {
    return parseWebSocketUrl(url).shown;
  } catch {
    return String(url);
  }
}
