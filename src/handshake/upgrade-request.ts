import { type HeaderMap, type RequestHead } from './http-head.js';

/**
 * What a server knows about a client asking to upgrade, as given to admission (`onConnection`).
 */
export interface UpgradeRequest {
  method: string;
  /** The request target as sent: path and query. */
  url: string;
  /** The path alone, percent-decoding left to the caller. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased names; repeated headers joined with ", " (cookies with "; "). */
  headers: Readonly<HeaderMap>;
  /** Every header line as [name, value], in order, repeated ones apart; names lower-cased, as in `headers`. */
  rawHeaders: ReadonlyArray<readonly [string, string]>;
  cookies: Readonly<Record<string, string>>;
  /** Subprotocols the client offered, in its order of preference. */
  protocols: readonly string[];
  origin: string | undefined;
  remoteAddress: string;
  remotePort: number;
  /** True over TLS. */
  secure: boolean;
}

/** Parses a Cookie header into name → value (first occurrence wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null) as Record<string, string>;
  if (!header) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== '' && !(name in cookies)) {
      try {
        cookies[name] = decodeURIComponent(value);
      } catch {
        cookies[name] = value;
      }
    }
  }
  return cookies;
}

/**
 * The request as admission sees it: a plain object of data properties, so that spreading or
 * serializing it shows every field. The query and the cookies are parsed here, at once: an object
 * literal with getters (to make them on first use) cost V8 about 1 µs per upgrade, more than
 * parsing them (an empty query and no Cookie header take tens of nanoseconds).
 */
export function toUpgradeRequest(
  head: RequestHead,
  protocols: readonly string[],
  remote: { address: string; port: number; secure: boolean },
  target: string = head.target,
): UpgradeRequest {
  const q = target.indexOf('?');
  const headers = head.headers;
  return {
    method: head.method,
    url: target,
    path: q === -1 ? target : target.slice(0, q),
    // From the "?" on: the constructor drops that one, and keeps a second (`/p??a=1` has "?a").
    query: new URLSearchParams(q === -1 ? '' : target.slice(q)),
    headers,
    rawHeaders: head.rawHeaders,
    cookies: parseCookies(headers['cookie']),
    protocols,
    origin: headers['origin'],
    remoteAddress: remote.address,
    remotePort: remote.port,
    secure: remote.secure,
  };
}

const ABSOLUTE_URI = /^(?:https?|wss?):\/\//i;

/**
 * A request target in origin form (the path and query the server routes by): as it is when it
 * starts with "/", the path and query of an absolute http(s) or ws(s) URI (which a server must
 * accept: RFC 9112 §3.2.2, and RFC 6455 §4.2.1 names both), undefined for any other form (`*`,
 * an authority) or a target with a fragment, which no request may carry.
 */
export function originForm(target: string): string | undefined {
  if (target.includes('#')) return undefined;
  if (target.charCodeAt(0) === 0x2f) return target;
  if (!ABSOLUTE_URI.test(target)) return undefined;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return undefined;
  }
}
