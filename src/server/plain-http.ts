import { type Socket } from 'node:net';
import { serializeResponse, type RequestHead } from '../handshake/http-head.js';

/** A plain (non-upgrade) HTTP request reaching a standalone server. */
export interface PlainHttpRequest {
  method: string;
  url: string;
  path: string;
  headers: Readonly<Record<string, string>>;
}

/** The answer to a plain HTTP request; the connection closes after it. */
export interface PlainHttpResponse {
  status: number;
  headers?: Readonly<Record<string, string>>;
  body?: string | Buffer;
}

export type PlainHttpHandler = (request: PlainHttpRequest) => PlainHttpResponse | Promise<PlainHttpResponse>;

export function toPlainRequest(head: RequestHead): PlainHttpRequest {
  const q = head.target.indexOf('?');
  return { method: head.method, url: head.target, path: q === -1 ? head.target : head.target.slice(0, q), headers: head.headers };
}

/** The bytes of `response`, closing the connection after it (no body for a HEAD request). */
export function serializePlainResponse(response: PlainHttpResponse, method: string): Buffer {
  const body = response.body ?? '';
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers = { ...response.headers, 'Content-Length': String(bytes.length), Connection: 'close' };
  return serializeResponse(response.status, headers, method === 'HEAD' ? '' : bytes);
}

/**
 * Sends the last bytes of an HTTP answer (a refusal, or onHttpRequest's response) and ends the
 * socket; destroys it 2 s later if it is still there (a peer that never reads its answer, or keeps
 * its side open), which releases its place under `maxConnectionsPerAddress`.
 */
export function endAnswered(socket: Socket, response: Buffer): void {
  if (socket.destroyed) return;
  socket.end(response);
  setTimeout(() => socket.destroy(), 2000).unref();
}
