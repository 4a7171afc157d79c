import { HandshakeError } from '../errors.js';
import { FRAMING_HEADERS, headerLines, listHasToken, mergeHeaders, serializeResponse, type RequestHead } from './http-head.js';

/** Headers the handshake itself sets on a 101; callers' extra headers cannot replace them. */
const HANDSHAKE_HEADERS: ReadonlySet<string> = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);
import { acceptKey, isValidKey } from './keys.js';
import { parseSubprotocols } from './subprotocols.js';
import { originForm } from './upgrade-request.js';

/**
 * The server side of the opening handshake (RFC 6455 §4.2). Sans-I/O: heads in, bytes out.
 */

export interface UpgradeOffer {
  key: string;
  /** The request target in origin form (path and query), as routing sees it. */
  target: string;
  /** Subprotocols the client offered, in its order of preference. */
  protocols: string[];
  /** The raw Sec-WebSocket-Extensions header, for extension negotiation. */
  extensions: string | undefined;
}

/** Whether the request asks for a WebSocket upgrade at all (an `Upgrade: websocket` token). */
export function isUpgradeRequest(head: RequestHead): boolean {
  return listHasToken(head.headers['upgrade'], 'websocket');
}

/**
 * Validates an upgrade request (RFC 6455 §4.2.1). Throws HandshakeError with status 400 and a short
 * reason, or 426 (with `Sec-WebSocket-Version: 13`) for a version other than 13.
 */
export function validateUpgradeRequest(head: RequestHead): UpgradeOffer {
  // §4.2.1 item 1: a GET of HTTP/1.1 or higher.
  if (head.method !== 'GET') throw new HandshakeError(400, 'the upgrade request must be a GET');
  if (head.version < 'HTTP/1.1') throw new HandshakeError(400, 'the upgrade request must be HTTP/1.1 or higher');
  const target = originForm(head.target);
  if (target === undefined) throw new HandshakeError(400, 'the request target must be a path ("/…") or an absolute http(s) or ws(s) URI, without a fragment');
  const headers = head.headers;
  // Item 2: a Host header.
  if (!headers['host']) throw new HandshakeError(400, 'missing Host header');
  // RFC 9112 §3.2: more than one Host line is a bad request.
  if (head.duplicateHost) throw new HandshakeError(400, 'more than one Host header');
  // Items 3 and 4: Upgrade and Connection are token lists, compared case-insensitively.
  if (!listHasToken(headers['upgrade'], 'websocket')) throw new HandshakeError(400, 'Upgrade header must include "websocket"');
  if (!listHasToken(headers['connection'], 'upgrade')) throw new HandshakeError(400, 'Connection header must include "Upgrade"');
  // Item 6 before 5, so that a client of another version learns which one we speak.
  const version = headers['sec-websocket-version'];
  if (version !== '13') {
    throw new HandshakeError(426, 'unsupported WebSocket version: this server speaks 13', { 'Sec-WebSocket-Version': '13' });
  }
  // Item 5: a base64 key decoding to 16 bytes, sent once.
  const key = headers['sec-websocket-key'];
  if (!isValidKey(key)) throw new HandshakeError(400, 'invalid Sec-WebSocket-Key');
  return { key, target, protocols: parseSubprotocols(headers['sec-websocket-protocol']), extensions: headers['sec-websocket-extensions'] };
}

export interface AcceptOptions {
  /** The selected subprotocol (one the client offered). */
  protocol?: string | undefined;
  /** The Sec-WebSocket-Extensions answer. */
  extensions?: string | undefined;
  /** Extra response headers (validated against injection). */
  headers?: Readonly<Record<string, string | readonly string[]>>;
}

/** The 101 response that completes the handshake (RFC 6455 §4.2.2 step 5). */
export function buildAcceptResponse(key: string, options: AcceptOptions = {}): Buffer {
  if (options.headers === undefined) {
    // The common answer, written straight: no header object to build, merge and walk.
    let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
    if (options.protocol !== undefined) head += headerLines('Sec-WebSocket-Protocol', options.protocol);
    if (options.extensions !== undefined) head += headerLines('Sec-WebSocket-Extensions', options.extensions);
    return Buffer.from(`${head}\r\n`, 'latin1');
  }
  const headers: Record<string, string | readonly string[]> = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Accept': acceptKey(key),
  };
  if (options.protocol !== undefined) headers['Sec-WebSocket-Protocol'] = options.protocol;
  if (options.extensions !== undefined) headers['Sec-WebSocket-Extensions'] = options.extensions;
  mergeHeaders(headers, options.headers, HANDSHAKE_HEADERS);
  return serializeResponse(101, headers);
}

/**
 * A refusal: the status, the caller's headers, and a short plain-text body; the connection closes
 * after it. A 426 also says which version and protocol to upgrade to.
 */
export function buildRefusalResponse(
  status: number,
  headers: Readonly<Record<string, string | readonly string[]>> = {},
  body = '',
  method = 'GET',
): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  const all: Record<string, string | number | readonly string[]> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (status === 426) {
    all['Upgrade'] = 'websocket';
    all['Sec-WebSocket-Version'] = '13';
  }
  mergeHeaders(all, headers, FRAMING_HEADERS);
  // RFC 9110 §7.8: a sender of Upgrade also sends the "upgrade" connection option.
  all['Connection'] = status === 426 ? 'Upgrade, close' : 'close';
  // RFC 9110 §15.4.5: a 304 has no content, and so no Content-Length for a body (nor its type).
  if (status === 304) {
    delete all['Content-Type'];
    return serializeResponse(status, all, Buffer.alloc(0));
  }
  all['Content-Length'] = bytes.length;
  // RFC 9110 §9.3.2: the answer to HEAD has the headers a GET would get, and no content.
  return serializeResponse(status, all, method === 'HEAD' ? Buffer.alloc(0) : bytes);
}
