import { checkNumber, checkOneOf, checkStringList, checkType, isAbortSignal, shown } from '../option-checks.js';
import { type OutboxOptions } from './outbox.js';
import { type ReconnectOptions } from './retry-policy.js';

/**
 * The clients' option checks (see src/option-checks.ts): a TypeError or RangeError naming the
 * option, from connect(), createClient() and new WebSocket() alike, when they are called. (The
 * subprotocol list, the URL, the headers and the deflate options have checks of their own.)
 */

const TIME = { infinite: true } as const;

/** The options every client style passes on to connect(). */
export interface CheckedClientOptions {
  protocols?: unknown;
  headers?: unknown;
  origin?: unknown;
  maxPayload?: unknown;
  connectTimeout?: unknown;
  autoPong?: unknown;
  closeTimeout?: unknown;
  highWaterMark?: unknown;
  tls?: unknown;
  proxyTls?: unknown;
  socketPath?: unknown;
  maxRedirects?: unknown;
  signal?: unknown;
  proxy?: unknown;
}

export function checkClientOptions(owner: string, options: CheckedClientOptions): void {
  checkStringList(owner, 'protocols', options.protocols);
  checkType(owner, 'headers', options.headers, 'object');
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== 'string' && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) {
      throw new TypeError(`${owner}: headers[${JSON.stringify(name)}] must be a string or an array of strings, not ${shown(value)}`);
    }
  }
  checkType(owner, 'origin', options.origin, 'string');
  checkNumber(owner, 'maxPayload', options.maxPayload, { infinite: true });
  checkNumber(owner, 'connectTimeout', options.connectTimeout, TIME);
  checkType(owner, 'autoPong', options.autoPong, 'boolean');
  checkNumber(owner, 'closeTimeout', options.closeTimeout, TIME);
  checkNumber(owner, 'highWaterMark', options.highWaterMark, { infinite: true });
  checkType(owner, 'tls', options.tls, 'object');
  checkType(owner, 'proxyTls', options.proxyTls, 'object');
  checkType(owner, 'socketPath', options.socketPath, 'string');
  checkNumber(owner, 'maxRedirects', options.maxRedirects, { integer: true });
  if (options.signal != null && !isAbortSignal(options.signal)) throw new TypeError(`${owner}: signal must be an AbortSignal, not ${shown(options.signal)}`);
  const proxy = options.proxy;
  if (proxy != null && proxy !== false && typeof proxy !== 'string' && !(proxy instanceof URL)) throw new TypeError(`${owner}: proxy must be a URL (a string or URL) or false, not ${shown(proxy)}`);
}

/** The options of the reconnecting styles: reconnection, the outbox, the heartbeat. */
export function checkReconnectingOptions(
  owner: string,
  options: { reconnect?: unknown; outbox?: unknown; pingInterval?: unknown; pongTimeout?: unknown },
): void {
  const { reconnect, outbox } = options;
  if (typeof reconnect !== 'boolean') {
    checkType(owner, 'reconnect', reconnect, 'object');
    const r = (reconnect ?? {}) as Record<keyof ReconnectOptions, unknown>;
    checkType(owner, 'reconnect.enabled', r.enabled, 'boolean');
    checkNumber(owner, 'reconnect.minDelay', r.minDelay);
    checkNumber(owner, 'reconnect.maxDelay', r.maxDelay, TIME);
    checkNumber(owner, 'reconnect.maxRetries', r.maxRetries, { integer: true, infinite: true });
    checkNumber(owner, 'reconnect.minUptime', r.minUptime, TIME);
    if (typeof r.minDelay === 'number' && typeof r.maxDelay === 'number' && r.maxDelay < r.minDelay) {
      throw new RangeError(`${owner}: reconnect.maxDelay (${r.maxDelay}) must be at least reconnect.minDelay (${r.minDelay}): it caps the backoff's waits`);
    }
    if (r.retryOnCodes !== undefined && !(Array.isArray(r.retryOnCodes) && r.retryOnCodes.every((code) => Number.isInteger(code)))) {
      throw new TypeError(`${owner}: reconnect.retryOnCodes must be an array of close codes`);
    }
  }
  checkType(owner, 'outbox', outbox, 'object');
  const o = (outbox ?? {}) as Record<keyof OutboxOptions, unknown>;
  checkNumber(owner, 'outbox.maxMessages', o.maxMessages, { integer: true, infinite: true });
  checkNumber(owner, 'outbox.maxBytes', o.maxBytes, { infinite: true });
  checkOneOf(owner, 'outbox.policy', o.policy, ['reject', 'drop-oldest']);
  checkNumber(owner, 'pingInterval', options.pingInterval, TIME);
  checkNumber(owner, 'pongTimeout', options.pongTimeout, TIME);
}
