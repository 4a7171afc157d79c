import { type RequestHead } from '../handshake/http-head.js';

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
