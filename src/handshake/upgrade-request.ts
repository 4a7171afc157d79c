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
  /** Every header line as [name, value], in order. */
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
 * The request as admission sees it. The query, the cookies and the raw header lines are made on
 * first use (most admissions read none of them, and an upgrade should not pay for them), through
 * own enumerable getters: spreading or serializing the request still shows them.
 */
export function toUpgradeRequest(
  head: RequestHead,
  protocols: readonly string[],
  remote: { address: string; port: number; secure: boolean },
): UpgradeRequest {
  const target = head.target;
  const q = target.indexOf('?');
  let query: URLSearchParams | undefined;
  let cookies: Record<string, string> | undefined;
  return {
    method: head.method,
    url: target,
    path: q === -1 ? target : target.slice(0, q),
    get query(): URLSearchParams {
      return (query ??= new URLSearchParams(q === -1 ? '' : target.slice(q + 1)));
    },
    headers: head.headers,
    get rawHeaders(): ReadonlyArray<readonly [string, string]> {
      return head.rawHeaders;
    },
    get cookies(): Record<string, string> {
      return (cookies ??= parseCookies(head.headers['cookie']));
    },
    protocols,
    origin: head.headers['origin'],
    remoteAddress: remote.address,
    remotePort: remote.port,
    secure: remote.secure,
  };
}
