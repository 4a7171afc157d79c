import { HandshakeError } from '../errors.js';
import { isSafeHeaderValue, isToken, listHasToken, type ResponseHead } from './http-head.js';
import { acceptKey } from './keys.js';
import { parseSubprotocols } from './subprotocols.js';

/**
 * The client side of the opening handshake (RFC 6455 §4.1). Sans-I/O: builds the request bytes and
 * validates the response head.
 */

export interface UpgradeRequestOptions {
  /** Host header value (host, plus `:port` when not the scheme's default). */
  host: string;
  /** Request target: path and query. */
  path: string;
  key: string;
  protocols?: readonly string[];
  /** The Sec-WebSocket-Extensions offer. */
  extensions?: string | undefined;
  origin?: string | undefined;
  /** Extra headers; an array value sends the header once per element, except Cookie (one line, values joined with "; "). */
  headers?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * Headers that would give the GET a body: a proxy on the way would then take the first WebSocket
 * frames for it, and read the rest of the stream out of step.
 */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding', 'te', 'trailer']);
/** Set by the handshake or by their own options, or giving the request a body: not accepted as extra headers. */
const RESERVED = new Set([
  'host', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'origin',
  ...BODY_HEADERS,
]);

/** Whether `name` (any case) is a header the handshake or its own option sets, refused as an extra header. */
export function isReservedRequestHeader(name: string): boolean {
  return RESERVED.has(name.toLowerCase());
}

/** The upgrade request (RFC 6455 §4.1). Throws TypeError for headers that could inject lines. */
export function buildUpgradeRequest(options: UpgradeRequestOptions): Buffer {
  if (options.path === '' || /[\x00-\x20\x7f]/.test(options.path)) throw new TypeError('invalid request path');
  if (!isSafeHeaderValue(options.host) || !isSafeHeaderValue(options.origin ?? '')) throw new TypeError('invalid Host or Origin');
  for (const protocol of options.protocols ?? []) if (!isToken(protocol)) throw new TypeError(`invalid subprotocol ${JSON.stringify(protocol)}`);
  if (options.extensions !== undefined && !isSafeHeaderValue(options.extensions)) throw new TypeError('invalid Sec-WebSocket-Extensions value');
  let head = `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
  head += `Sec-WebSocket-Key: ${options.key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (options.protocols && options.protocols.length > 0) head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
  if (options.origin !== undefined) head += `Origin: ${options.origin}\r\n`;
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (RESERVED.has(name.toLowerCase())) throw new TypeError(`header ${name} ${BODY_HEADERS.has(name.toLowerCase()) ? 'would give the upgrade request a body' : 'is set by the handshake itself'}`);
    const items = typeof value === 'string' ? [value] : value;
    for (const item of items) if (!isSafeHeaderValue(item)) throw new TypeError(`invalid value for header ${name}`);
    if (name.toLowerCase() === 'cookie') cookies.push(...items.filter((item) => item !== ''));
    else for (const item of items) head += `${name}: ${item}\r\n`;
  }
  // RFC 6265 §5.4: never more than one Cookie header; its cookie-pairs are joined with "; ".
  if (cookies.length > 0) head += `Cookie: ${cookies.join('; ')}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}

export interface HandshakeResult {
  protocol: string;
  /** The server's Sec-WebSocket-Extensions answer ('' when none). */
  extensions: string;
}

/**
 * Validates the server's answer (RFC 6455 §4.1, "the client MUST validate the server's response"):
 * status 101, Upgrade and Connection tokens, the Accept hash, and a subprotocol only from those
 * offered. Extensions are validated by the caller's negotiator; here any extension is refused when
 * `allowExtensions` is false.
 */
export function validateUpgradeResponse(
  response: ResponseHead,
  key: string,
  offeredProtocols: readonly string[],
  body = '',
  allowExtensions = false,
): HandshakeResult {
  const { headers, rawHeaders } = response;
  if (response.status !== 101) {
    throw new HandshakeError(response.status, `unexpected server response: ${response.status} ${response.statusText}`.trim(), headers, body, 'SW_HANDSHAKE_FAILED', { rawHeaders });
  }
  const fail = (message: string): never => {
    throw new HandshakeError(101, message, headers, '', 'SW_HANDSHAKE_FAILED', { rawHeaders });
  };
  // RFC 6455 §4.1 / RFC 9110 §7.8: an upgrade is answered in HTTP/1.1 (or a later 1.x).
  if (!/^HTTP\/1\.[1-9]$/.test(response.version)) fail(`a 101 answer must be HTTP/1.1, not ${response.version}`);
  // RFC 6455 §4.1: the value itself must be "websocket" (case-insensitive), not a list holding it.
  if (headers['upgrade']?.trim().toLowerCase() !== 'websocket') fail('the server response lacks "Upgrade: websocket"');
  if (!listHasToken(headers['connection'], 'upgrade')) fail('the server response lacks "Connection: Upgrade"');
  if (headers['sec-websocket-accept'] !== acceptKey(key)) fail('invalid Sec-WebSocket-Accept');
  let protocol = '';
  if (headers['sec-websocket-protocol'] !== undefined) {
    let chosen: string[] = [];
    try {
      chosen = parseSubprotocols(headers['sec-websocket-protocol']);
    } catch {
      fail('invalid Sec-WebSocket-Protocol in the response');
    }
    if (chosen.length !== 1 || !offeredProtocols.includes(chosen[0]!)) fail('the server chose a subprotocol that was not offered');
    protocol = chosen[0]!;
  }
  const extensions = headers['sec-websocket-extensions'] ?? '';
  if (extensions !== '' && !allowExtensions) fail('the server answered with an extension that was not offered');
  return { protocol, extensions };
}
