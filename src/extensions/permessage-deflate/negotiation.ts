import { type ExtensionOffer, formatExtension } from '../../handshake/extension-header.js';
import { checkBits } from './options.js';

/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1). Sans-I/O: parsed offers in, agreed
 * parameters and header text out.
 */

export const EXTENSION_NAME = 'permessage-deflate';

/**
 * User options for permessage-deflate, in either role. An invalid value (out of range: RangeError;
 * of the wrong type: TypeError) throws where the options are given: `new WebSocketServer()`,
 * `connect()`.
 */
export interface PerMessageDeflateOptions {
  /** Offer (client) or accept (server) the extension. Default true when the options object is given. */
  enabled?: boolean | undefined;
  /** Client: ask the server to reset its context per message. Server: always reset ours. */
  serverNoContextTakeover?: boolean | undefined;
  /** Client: reset our context per message. Server: ask the client to reset its context. */
  clientNoContextTakeover?: boolean | undefined;
  /** Client: ask the server for at most this LZ77 window (8–15). Server: the largest window we use. */
  serverMaxWindowBits?: number | undefined;
  /**
   * Client: offer `client_max_window_bits` (true: without a value; a number: with it).
   * Server: limit the client's window to this (when the client offered the parameter).
   */
  clientMaxWindowBits?: number | boolean | undefined;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number | undefined;
  /** zlib compression level 0–9 (-1: zlib's default, 6). Default 1 (fast; WebSocket messages are small). */
  level?: number | undefined;
  /** zlib memLevel 1–9. Default 8. */
  memLevel?: number | undefined;
  /**
   * Compression and decompression jobs on the thread pool at once, in the whole process (a queue
   * beyond). Only messages over 256 KiB go there, and those that inflate past 1 MiB; smaller ones
   * are done synchronously. The value
   * of the first connection to use the thread pool applies to the whole process. Default 10.
   */
  concurrency?: number | undefined;
}

/** The agreed parameters, from the point of view of the wire (not of one role). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

const WINDOW_BITS = /^(8|9|1[0-5])$/;

/** Thrown (client side) for a response the client did not offer or that is malformed. */
export class DeflateNegotiationError extends Error {}

interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Validates one element's parameters (RFC 7692 §7.1): each known name at most once, the two
 * context-takeover flags without a value, window bits a decimal 8–15 without leading zeros
 * (`client_max_window_bits` may be value-less in an offer). Returns undefined when invalid.
 */
function parseParams(params: ExtensionOffer['params'], role: 'offer' | 'response'): ParsedParams | undefined {
  const parsed: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        parsed.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return undefined;
        parsed.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === true) {
          if (role === 'response') return undefined;
          parsed.clientMaxWindowBits = true;
        } else if (WINDOW_BITS.test(value)) {
          parsed.clientMaxWindowBits = Number(value);
        } else {
          return undefined;
        }
        break;
      default:
        return undefined;
    }
  }
  return parsed;
}

/** Client: the offer to send, from the options. */
export function buildDeflateOffer(options: PerMessageDeflateOptions): string {
  const params: ExtensionOffer['params'] = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (options.serverMaxWindowBits !== undefined) params.push(['server_max_window_bits', String(checkBits(options.serverMaxWindowBits))]);
  const client = options.clientMaxWindowBits ?? true;
  if (client === true) params.push(['client_max_window_bits', true]);
  else if (client !== false) params.push(['client_max_window_bits', String(checkBits(client))]);
  return formatExtension({ name: EXTENSION_NAME, params });
}

/**
 * Client: validates the server's response element (RFC 7692 §7.1.1–§7.1.2) against what was
 * offered. Throws DeflateNegotiationError for anything the offer did not allow.
 */
export function acceptDeflateResponse(response: ExtensionOffer, options: PerMessageDeflateOptions): DeflateParams {
  const parsed = parseParams(response.params, 'response');
  if (!parsed) throw new DeflateNegotiationError('invalid permessage-deflate parameters in the response');
  if (options.serverNoContextTakeover && !parsed.serverNoContextTakeover) {
    throw new DeflateNegotiationError('the server did not accept server_no_context_takeover');
  }
  const offeredServerBits = options.serverMaxWindowBits;
  if (offeredServerBits !== undefined && parsed.serverMaxWindowBits !== undefined && parsed.serverMaxWindowBits > offeredServerBits) {
    throw new DeflateNegotiationError('server_max_window_bits exceeds the offer');
  }
  if (offeredServerBits !== undefined && parsed.serverMaxWindowBits === undefined) {
    // §7.1.2.1: a server that accepts the offer must answer with the parameter.
    throw new DeflateNegotiationError('the server did not answer server_max_window_bits');
  }
  const offeredClient = options.clientMaxWindowBits ?? true;
  let clientBits = typeof offeredClient === 'number' ? offeredClient : 15;
  if (parsed.clientMaxWindowBits !== undefined) {
    if (offeredClient === false) throw new DeflateNegotiationError('client_max_window_bits was not offered');
    const answered = parsed.clientMaxWindowBits as number;
    if (typeof offeredClient === 'number' && answered > offeredClient) throw new DeflateNegotiationError('client_max_window_bits exceeds the offer');
    clientBits = answered;
  }
  return {
    serverNoContextTakeover: parsed.serverNoContextTakeover,
    clientNoContextTakeover: parsed.clientNoContextTakeover || (options.clientNoContextTakeover ?? false),
    serverMaxWindowBits: parsed.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}

/**
 * Server: picks the first acceptable permessage-deflate offer (RFC 7692 §5.1: offers are in the
 * client's order of preference; an offer with invalid or duplicated parameters is declined and the
 * next one tried). Returns the agreed parameters and the response element, or undefined to decline.
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions,
): { params: DeflateParams; response: string } | undefined {
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const parsed = parseParams(offer.params, 'offer');
    if (!parsed) continue;
    const serverNoContextTakeover = parsed.serverNoContextTakeover || (options.serverNoContextTakeover ?? false);
    const clientNoContextTakeover = parsed.clientNoContextTakeover || (options.clientNoContextTakeover ?? false);
    const ourMax = options.serverMaxWindowBits === undefined ? 15 : checkBits(options.serverMaxWindowBits);
    const serverBits = Math.min(parsed.serverMaxWindowBits ?? 15, ourMax);
    let clientBits = 15;
    let answerClientBits = false;
    if (parsed.clientMaxWindowBits !== undefined) {
      const limit = typeof options.clientMaxWindowBits === 'number' ? checkBits(options.clientMaxWindowBits) : 15;
      const offered = parsed.clientMaxWindowBits === true ? 15 : parsed.clientMaxWindowBits;
      clientBits = Math.min(limit, offered);
      answerClientBits = typeof options.clientMaxWindowBits === 'number' || parsed.clientMaxWindowBits !== true;
    }
    const params: ExtensionOffer['params'] = [];
    if (serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
    if (clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
    if (parsed.serverMaxWindowBits !== undefined || serverBits < 15) params.push(['server_max_window_bits', String(serverBits)]);
    if (answerClientBits) params.push(['client_max_window_bits', String(clientBits)]);
    return {
      params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits: serverBits, clientMaxWindowBits: clientBits },
      response: formatExtension({ name: EXTENSION_NAME, params }),
    };
  }
  return undefined;
}
