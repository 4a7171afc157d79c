import { BlockList, isIP, isIPv6 } from 'node:net';

/** NO_PROXY matching: whether a target is reached directly rather than through the proxy. */

/** A target host, lower case without its trailing dot, and its address family (0: a name). */
interface Target {
  readonly host: string;
  readonly family: number;
}

/**
 * Whether the NO_PROXY list (entries separated by commas or white space) names host:port. An entry
 * is `*` (every host); a name, which matches it and its subdomains, written `name`, `.name` or
 * `*.name`; an IP address, which matches that address however it is written (`0:0:0:0:0:0:0:1` is
 * `::1`), never by text; or a CIDR block (`10.0.0.0/8`, `fd00::/8`). A name or an address may end in
 * `:port` (an IPv6 address then in brackets, `[::1]:8080`) to match that port only. Case and one
 * trailing dot are ignored, on both sides. A name never matches an address, nor an address a name
 * (no DNS), and an entry that is none of these matches nothing.
 */
export function noProxyMatches(host: string, port: number, list: string): boolean {
  const name = withoutTrailingDot(host.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
  const target: Target = { host: name, family: isIP(name) };
  return list.split(/[\s,]+/).some((raw) => entryMatches(raw.toLowerCase(), target, port));
}

function entryMatches(entry: string, target: Target, port: number): boolean {
  if (entry === '*') return true;
  const slash = entry.indexOf('/');
  if (slash !== -1) return inBlock(entry.slice(0, slash).replace(/^\[(.*)\]$/, '$1'), entry.slice(slash + 1), target);
  const parts = hostAndPort(entry);
  if (parts === undefined || (parts.port !== undefined && parts.port !== port)) return false;
  const pattern = withoutTrailingDot(parts.host);
  const family = isIP(pattern);
  if (family !== 0) return inBlock(pattern, String(family === 4 ? 32 : 128), target);
  const suffix = pattern.replace(/^\*?\./, '');
  if (target.family !== 0 || suffix === '') return false;
  return target.host === suffix || target.host.endsWith(`.${suffix}`);
}

/** An entry's host and port: `[v6]:port`, `[v6]`, a bare IPv6 address (no port), `host:port` or `host`; undefined when malformed. */
function hostAndPort(entry: string): { host: string; port?: number | undefined } | undefined {
  let host = entry;
  let port: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close === -1) return undefined;
    host = entry.slice(1, close);
    const rest = entry.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    if (rest !== '') port = rest.slice(1);
  } else if (!isIPv6(entry)) {
    const colon = entry.indexOf(':');
    if (colon !== -1 && entry.indexOf(':', colon + 1) !== -1) return undefined;
    if (colon !== -1) [host, port] = [entry.slice(0, colon), entry.slice(colon + 1)];
  }
  if (port !== undefined && !/^\d+$/.test(port)) return undefined;
  return { host, port: port === undefined ? undefined : Number(port) };
}

/** Whether the target is an address in the block address/prefix (an IPv4 block covers IPv4-mapped IPv6 addresses too). */
function inBlock(address: string, prefix: string, target: Target): boolean {
  const family = isIP(address);
  if (family === 0 || target.family === 0 || !/^\d+$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return false;
  const block = new BlockList();
  block.addSubnet(address, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
  return block.check(target.host, target.family === 4 ? 'ipv4' : 'ipv6');
}

function withoutTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
