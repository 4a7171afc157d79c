import { HandshakeError } from '../errors.js';
import { MAX_TIMER_DELAY } from '../io/timer-delay.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/**
 * When to reconnect and how long to wait first — shared by the handler-style client and the
 * standard WebSocket class (where it is opt-in). Counts failed attempts in a row; an attempt that
 * opens resets the count.
 */

export interface ReconnectOptions extends BackoffOptions {
  /** Default true (once reconnection options are given). */
  enabled?: boolean;
  /** Retries after the first failed attempt before giving up (so at most 1 + maxRetries attempts in a row). Default: no limit. */
  maxRetries?: number;
  /** Close codes that normally mean "do not come back" (1000, 1008, 4000–4999) but should. */
  retryOnCodes?: readonly number[];
}

/** Handshake answers that mean "do not come back" (a different answer needs a different request). */
const NO_RETRY_HTTP = new Set([400, 401, 403, 404, 426]);

export class RetryPolicy {
  readonly options: Readonly<ReconnectOptions & { enabled: boolean }>;
  /** Failed attempts in a row. */
  retries = 0;

  constructor(reconnect: boolean | ReconnectOptions | undefined, enabledByDefault: boolean) {
    const given = reconnect ?? enabledByDefault;
    this.options = typeof given === 'boolean' ? { enabled: given } : { ...given, enabled: given.enabled ?? true };
  }

  /**
   * After an open connection closed with `code`: the wait before reconnecting, or undefined for
   * "do not". 1000 (the server meant it), 1008 (policy) and 4000–4999 (the application said so)
   * do not retry unless listed in retryOnCodes; 1013 (try again later) waits the longest. The
   * first attempt after a drop is always made: `maxRetries` counts the failed ones that follow.
   */
  afterClose(code: number): number | undefined {
    if (!this.options.enabled) return undefined;
    const retry = this.options.retryOnCodes?.includes(code) || (code !== 1000 && code !== 1008 && !(code >= 4000 && code <= 4999));
    if (!retry) return undefined;
    return timerDelay(code === 1013 ? (this.options.maxDelay ?? 30_000) : backoffDelay(this.retries, this.options));
  }

  /**
   * After an attempt failed (network, TLS, timeout, refused handshake): the wait before the next
   * one (a `Retry-After` header wins over the backoff), or undefined for "give up" (401, 403 and
   * the other answers that will not change, or maxRetries reached). Counts the failure.
   */
  afterFailure(error: Error): { wait: number | undefined; httpStatus: number | undefined } {
    const httpStatus = error instanceof HandshakeError && error.status >= 200 ? error.status : undefined;
    let wait: number | undefined;
    if (this.options.enabled && !(httpStatus !== undefined && NO_RETRY_HTTP.has(httpStatus)) && this.retries < (this.options.maxRetries ?? Infinity)) {
      const retryAfter = error instanceof HandshakeError ? retryAfterMs(error.headers['retry-after'], Date.now()) : undefined;
      wait = timerDelay(retryAfter ?? backoffDelay(this.retries, this.options));
    }
    this.retries++;
    return { wait, httpStatus };
  }
}

/**
 * RFC 9110 §10.2.3: `Retry-After` is a number of seconds or an HTTP date. Anything else (an empty
 * value, say) is ignored: the backoff applies. A date in the past means now.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A wait as a timer can hold it (see {@link MAX_TIMER_DELAY}). */
function timerDelay(wait: number): number {
  return Math.min(wait, MAX_TIMER_DELAY);
}
