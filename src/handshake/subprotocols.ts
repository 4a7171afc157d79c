import { HandshakeError } from '../errors.js';
import { isToken, splitList } from './http-head.js';

/**
 * RFC 6455 §4.1/§4.2.2: Sec-WebSocket-Protocol is a list of tokens, each at most once.
 * Throws HandshakeError(400) for a malformed list.
 */
export function parseSubprotocols(header: string | undefined): string[] {
  const protocols = splitList(header);
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new HandshakeError(400, 'invalid subprotocol name');
    if (seen.has(protocol)) throw new HandshakeError(400, 'subprotocol offered twice');
    seen.add(protocol);
  }
  return protocols;
}

/** Validates subprotocol names a caller wants to offer (client) or support (server). */
export function checkSubprotocolNames(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new SyntaxError(`invalid subprotocol name ${JSON.stringify(protocol)}`);
    if (seen.has(protocol)) throw new SyntaxError(`subprotocol ${JSON.stringify(protocol)} given twice`);
    seen.add(protocol);
  }
}

/** The first protocol the client offered that the server supports (the client's order is its preference). */
export function selectSubprotocol(offered: readonly string[], supported: readonly string[]): string | undefined {
  return offered.find((protocol) => supported.includes(protocol));
}
