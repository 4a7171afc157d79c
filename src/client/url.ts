/**
 * WebSocket URLs (RFC 6455 §3, WHATWG "establish a WebSocket connection" URL steps):
 * ws: and wss: (http: and https: are accepted and mapped), no fragment.
 */
import { decodeOrKeep, withoutCredentials } from '../io/url-credentials.js';

/** A WebSocket URL taken apart: what {@link parseWebSocketUrl} answers. */
export interface ParsedWebSocketUrl {
  href: string;
  secure: boolean;
  /** Host name for dialing (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** Host header value. */
  hostHeader: string;
  /** Request target: path and query. */
  resource: string;
  /** The URL without its credentials: what messages and `Connection.url` show. */
  shown: string;
  /** `Basic` credentials (RFC 7617) from the URL's user and password, if it has any. */
  basicAuth: string | undefined;
}

/** Parses a WebSocket URL. Throws SyntaxError for an invalid one, as the WHATWG API does. */
export function parseWebSocketUrl(input: string | URL): ParsedWebSocketUrl {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new SyntaxError(`invalid WebSocket URL: ${withoutCredentials(String(input))}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new SyntaxError(`a WebSocket URL must use ws: or wss:, not ${url.protocol}`);
  if (url.hash !== '' || String(input).includes('#')) throw new SyntaxError('a WebSocket URL must not have a fragment');
  if (url.hostname === '') throw new SyntaxError('a WebSocket URL needs a host');
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const href = url.href;
  let basicAuth: string | undefined;
  if (url.username !== '' || url.password !== '') {
    basicAuth = `Basic ${Buffer.from(`${decodeOrKeep(url.username)}:${decodeOrKeep(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return {
    href,
    secure,
    hostname,
    port,
    hostHeader: url.host,
    resource: (url.pathname || '/') + url.search,
    shown: url.href,
    basicAuth,
  };
}
