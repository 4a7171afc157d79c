import { noProxyMatches } from './no-proxy.js';
import { decodeOrKeep, withoutCredentials } from './url-credentials.js';
/**
 * Which proxy, if any, a client connection goes through: the `proxy` option, else the
 * conventional environment variables (HTTPS_PROXY for wss://, HTTP_PROXY for ws://, lower case
 * too), unless NO_PROXY names the host (see noProxyMatches: `*`, a name and its subdomains, an IP
 * address, a CIDR block, with an optional `:port`).
 */
export function resolveProxy(
  host: string,
  port: number,
  secure: boolean,
  option: string | URL | false | undefined,
  env: NodeJS.ProcessEnv = process.env,
): URL | undefined {
  if (option === false) return undefined;
  if (option != null) return proxyUrl(String(option), 'the proxy option');
  const name = secure ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const raw = env[name] ?? env[name.toLowerCase()];
  if (!raw || noProxyMatches(host, port, env['NO_PROXY'] ?? env['no_proxy'] ?? '')) return undefined;
  try {
    return proxyUrl(raw, name);
  } catch (error) {
    throw new ProxyVariableError((error as Error).message);
  }
}

/**
 * An HTTP(S)_PROXY variable that cannot be used: a TypeError, as an invalid proxy option is, but
 * one the caller did not pass. The standard WebSocket reports it by its events, not by throwing
 * from its constructor.
 */
export class ProxyVariableError extends TypeError {
  override readonly name = 'TypeError';
}

/**
 * A proxy's URL: `host:port` alone means `http://host:port` (as the environment variables are
 * often written); a scheme other than http: or https: is refused (TypeError), since the proxy
 * would be spoken to in HTTP anyway.
 */
function proxyUrl(raw: string, source: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`${source}: not a valid proxy URL: ${withoutCredentials(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${source}: only http:// and https:// proxies are supported, not ${url.protocol}//`);
  return url;
}

/** The CONNECT request for a tunnel to host:port (RFC 9110 §9.3.6), with Basic proxy credentials if the URL has any. */
export function connectRequest(proxy: URL, host: string, port: number): string {
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username !== '' || proxy.password !== '') {
    const credentials = `${decodeOrKeep(proxy.username)}:${decodeOrKeep(proxy.password)}`;
    head += `Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n`;
  }
  return `${head}\r\n`;
}
