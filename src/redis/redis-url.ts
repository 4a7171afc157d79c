/**
 * Checks a Redis URL as the backplane takes it, `redis://[user:password@]HOST[:PORT][/DB]` (or
 * `rediss://`), where ioredis would not: it reads another scheme as a Unix socket path, and a DB
 * that is no number as NaN, which Redis refuses in a rejection nobody handles.
 */
export function checkRedisUrl(owner: string, url: unknown): void {
  if (url === undefined) return;
  if (typeof url !== 'string') throw new TypeError(`${owner}: url must be a string, not ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`${owner}: url must be redis://[user:password@]HOST[:PORT][/DB], not ${JSON.stringify(shownRedisUrl(url))}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`${owner}: url must start with redis:// or rediss://, not ${parsed.protocol}//`);
  }
  if (parsed.hostname === '') throw new TypeError(`${owner}: url needs a host: ${JSON.stringify(shownRedisUrl(url))}`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,9}$/.test(db)) throw new RangeError(`${owner}: the DB in url must be a number from 0, not ${JSON.stringify(decodeURIComponent(db))}`);
}

/** A Redis URL as it may be shown (in an error, on stderr): its password replaced by ***. */
export function shownRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href.replace(/\/$/, '');
  } catch {
    // (Not a URL: the password, if it looks like one, is still hidden.)
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
  }
}
