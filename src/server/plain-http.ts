import { type Socket } from 'node:net';
import { FRAMING_HEADERS, mergeHeaders, serializeResponse, type RequestHead } from '../handshake/http-head.js';

/** A plain (non-upgrade) HTTP request reaching a standalone server. */
export interface PlainHttpRequest {
  method: string;
  url: string;
  path: string;
  headers: Readonly<Record<string, string>>;
}

/** The answer to a plain HTTP request; the connection closes after it. */
export interface PlainHttpResponse {
  /** A final status, 200–599 (anything else is answered 500 and reported as an 'error'). */
  status: number;
  /** Connection, Content-Length and Transfer-Encoding are set by sockwave: these are ignored. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** None on a 204 or 304. */
  body?: string | Buffer | undefined;
}

export type PlainHttpHandler = (request: PlainHttpRequest) => PlainHttpResponse | Promise<PlainHttpResponse>;

export function toPlainRequest(head: RequestHead): PlainHttpRequest {
  const q = head.target.indexOf('?');
  return { method: head.method, url: head.target, path: q === -1 ? head.target : head.target.slice(0, q), headers: head.headers };
}

/**
 * The bytes of `response`, closing the connection after it (no body for a HEAD request). The
 * message's framing is sockwave's: the application's Connection, Content-Length and
 * Transfer-Encoding headers (in any case) give way to `Connection: close` and the body's length,
 * which a 204 or 304 does not carry (RFC 9110 §8.6). Throws a RangeError for a status that is not
 * a final one (200–599) and for a body on a 204 or 304, which have none.
 */
export function serializePlainResponse(response: PlainHttpResponse, method: string): Buffer {
  const status = response.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`onHttpRequest answered with status ${status}: use a final status, 200-599`);
  const body = response.body ?? '';
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const bodiless = status === 204 || status === 304;
  if (bodiless && bytes.length !== 0) throw new RangeError(`onHttpRequest answered ${status} with a body: a ${status} response has none`);
  const headers = mergeHeaders({}, response.headers, FRAMING_HEADERS);
  if (!bodiless) headers['Content-Length'] = String(bytes.length);
  headers['Connection'] = 'close';
  return serializeResponse(status, headers, method === 'HEAD' ? '' : bytes);
}

/**
 * Sends the last bytes of an HTTP answer (a refusal, or onHttpRequest's response) and ends the
 * socket; destroys it 2 s later if it is still there (a peer that never reads its answer, or keeps
 * its side open), which releases its place under `maxConnectionsPerAddress`.
 */
export function endAnswered(socket: Socket, response: Buffer): void {
  if (socket.destroyed) return;
  socket.end(response);
  const timer = setTimeout(() => socket.destroy(), 2000).unref();
  // (Cleared at the close: the timer would hold the socket for 2 s after it, under a flood of refusals.)
  socket.once('close', () => clearTimeout(timer));
}
