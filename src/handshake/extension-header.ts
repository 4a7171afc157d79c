import { isToken } from './http-head.js';

/**
 * The Sec-WebSocket-Extensions grammar (RFC 6455 §9.1):
 *   extension-list = 1#extension
 *   extension      = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" ( token | quoted-string ) ]
 * A quoted value must itself be a token once unquoted (§9.1).
 */

export interface ExtensionOffer {
  name: string;
  /** Parameters in order; a value-less parameter has the value `true`. */
  params: Array<[name: string, value: string | true]>;
}

/** Thrown for a header that does not follow the grammar. */
export class ExtensionHeaderError extends Error {}

/** Parses a Sec-WebSocket-Extensions value (possibly several headers joined by ", "). */
export function parseExtensionHeader(header: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  for (const element of splitOutsideQuotes(header, ',')) {
    const trimmed = element.trim();
    if (trimmed === '') continue;
    const [first, ...rest] = splitOutsideQuotes(trimmed, ';').map((part) => part.trim());
    if (!first || !isToken(first)) throw new ExtensionHeaderError('invalid extension name');
    const params: ExtensionOffer['params'] = [];
    for (const param of rest) {
      const eq = param.indexOf('=');
      const name = (eq === -1 ? param : param.slice(0, eq)).trim();
      if (!isToken(name)) throw new ExtensionHeaderError('invalid extension parameter name');
      if (eq === -1) {
        params.push([name, true]);
        continue;
      }
      let value = param.slice(eq + 1).trim();
      if (value.startsWith('"')) {
        if (value.length < 2 || !value.endsWith('"')) throw new ExtensionHeaderError('unterminated quoted value');
        value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      if (!isToken(value)) throw new ExtensionHeaderError('invalid extension parameter value');
      params.push([name, value]);
    }
    offers.push({ name: first, params });
  }
  return offers;
}

/** Serializes one extension with its parameters. */
export function formatExtension(offer: ExtensionOffer): string {
  return [offer.name, ...offer.params.map(([name, value]) => (value === true ? name : `${name}=${value}`))].join('; ');
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw new ExtensionHeaderError('unterminated quoted value');
  parts.push(text.slice(start));
  return parts;
}
