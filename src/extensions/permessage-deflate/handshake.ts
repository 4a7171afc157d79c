import { HandshakeError } from '../../errors.js';
import { ExtensionHeaderError, parseExtensionHeader } from '../../handshake/extension-header.js';
import { shown } from '../../option-checks.js';
import { PerMessageDeflate } from './codec.js';
import { checkDeflateOptions } from './options.js';
import { acceptDeflateResponse, buildDeflateOffer, DeflateNegotiationError, EXTENSION_NAME, negotiateDeflate, type PerMessageDeflateOptions } from './negotiation.js';
import { definedOnly } from '../../defined-only.js';

/**
 * permessage-deflate in the opening handshake, both roles: from the user's option (`true`, `false`
 * or an options object) to the header to send and the codec to use.
 */

export type DeflateOption = boolean | PerMessageDeflateOptions | undefined;

/** Server defaults. Beyond the RFC: the server asks to reset its own context for every message,
 * so a message to many receivers is compressed once and no compression state outlives a message. */
const SERVER_DEFAULTS: PerMessageDeflateOptions = { serverNoContextTakeover: true };
/** Client defaults: the client resets its context too, so its compression keeps no state. */
const CLIENT_DEFAULTS: PerMessageDeflateOptions = { clientNoContextTakeover: true, clientMaxWindowBits: true };

/** The options in force (undefined: off). Throws TypeError or RangeError for an invalid one. */
function resolve(option: DeflateOption, defaults: PerMessageDeflateOptions): PerMessageDeflateOptions | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return defaults;
  if (typeof option !== 'object' || option === null) throw new TypeError(`perMessageDeflate must be true, false or an options object, not ${shown(option)}`);
  // (An option given as undefined keeps the default.)
  const options = { ...defaults, ...definedOnly(option) };
  if (options.enabled === false) return undefined;
  checkDeflateOptions(options);
  return options;
}

/**
 * Server: checks the `perMessageDeflate` option once, when the server is made, so that an invalid
 * one throws there (TypeError or RangeError) instead of failing every upgrade.
 */
export function checkServerDeflateOption(option: DeflateOption): void {
  resolve(option, SERVER_DEFAULTS);
}

/**
 * Server: the answer to the client's Sec-WebSocket-Extensions. Returns undefined when the extension
 * is off, not offered, or every offer was declined. Throws HandshakeError(400) for a header that
 * breaks the grammar, and TypeError/RangeError for invalid options (see checkServerDeflateOption).
 */
export function serverDeflate(
  option: DeflateOption,
  header: string | undefined,
  maxPayload: number,
): { response: string; codec: PerMessageDeflate } | undefined {
  const options = resolve(option, SERVER_DEFAULTS);
  if (options === undefined || header === undefined) return undefined;
  let offers;
  try {
    offers = parseExtensionHeader(header);
  } catch (error) {
    if (error instanceof ExtensionHeaderError) throw new HandshakeError(400, `invalid Sec-WebSocket-Extensions: ${error.message}`);
    throw error;
  }
  const agreed = negotiateDeflate(offers, options);
  if (agreed === undefined) return undefined;
  return { response: agreed.response, codec: new PerMessageDeflate(agreed.params, 'server', options, maxPayload) };
}

/**
 * Client: what to offer, and a function validating the server's answer into a codec. Throws
 * TypeError or RangeError for invalid options.
 */
export function clientDeflate(option: DeflateOption, maxPayload: number): {
  offer: string | undefined;
  accept(responseHeader: string): PerMessageDeflate | undefined;
} {
  const options = resolve(option === undefined ? true : option, CLIENT_DEFAULTS);
  return {
    offer: options === undefined ? undefined : buildDeflateOffer(options),
    accept(responseHeader) {
      if (responseHeader === '') return undefined;
      const fail = (message: string): never => {
        throw new HandshakeError(101, message);
      };
      if (options === undefined) return fail('the server answered with an extension that was not offered');
      let elements;
      try {
        elements = parseExtensionHeader(responseHeader);
      } catch (error) {
        return fail(`invalid Sec-WebSocket-Extensions in the response: ${(error as Error).message}`);
      }
      if (elements.length !== 1 || elements[0]!.name !== EXTENSION_NAME) return fail('the server answered with an extension that was not offered');
      try {
        return new PerMessageDeflate(acceptDeflateResponse(elements[0]!, options), 'client', options, maxPayload);
      } catch (error) {
        if (error instanceof DeflateNegotiationError) return fail(error.message);
        throw error;
      }
    },
  };
}
