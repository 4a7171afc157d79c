import { HandshakeError } from '../errors.js';
import { MAX_TIMER_DELAY } from '../io/timer-delay.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { definedOnly } from '../defined-only.js';

/**
 * When to reconnect and how long to wait first — shared by the handler-style client and the
 * standard WebSocket class (where it is opt-in). Counts failed attempts in a row, for
 * `maxRetries`; an attempt that opens resets that count. The backoff has its own step, which a
 * connection that closes within `minUptime` of opening does not reset but raises.
 */

export interface ReconnectOptions extends BackoffOptions {
  /** Default true (once reconnection options are given). */
  enabled?: boolean | undefined;
  /** Retries after the first failed attempt before giving up (so at most 1 + maxRetries attempts in a row). Default: no limit. */
  maxRetries?: number | undefined;
  /**
   * Close codes that normally mean "do not come back" (1000, 1008, 4000–4999) but should. A
   * handshake refused with HTTP 400, 401, 403, 404 or 426 is never retried: the same request
   * would get the same answer (a target function is not asked again); the client closes, with
   * the HandshakeError reported first.
   */
  retryOnCodes?: readonly number[] | undefined;
  /**
   * A connection that closes sooner than this (ms) after opening does not bring the backoff back
   * to `minDelay`: it takes it one step further, so that a server that accepts and then drops
   * every connection at once sees the waits grow instead of a reconnection every `minDelay`.
   * `maxRetries` is not affected: it counts failed attempts, and the attempt opened. 0 turns it
   * off. Default 5000.
   */
  minUptime?: number | undefined;
}

/**
 * Handshake answers that mean "do not come back" (a different answer needs a different request).
 * 407 is a proxy's: asking again with the same credentials would only be refused again (and may
 * lock their account).
 */
const NO_RETRY_HTTP = new Set([400, 401, 403, 404, 407, 426]);

export class RetryPolicy {
  readonly options: Readonly<ReconnectOptions & { enabled: boolean }>;
  /** Failed attempts in a row (for maxRetries). */
  retries = 0;
  /** The backoff's step: failed attempts and short-lived connections in a row. */
  step = 0;
  /** When the current connection opened (performance.now()), or -1 before any did. */
  private openedAt = -1;
  /** The step before it: where the backoff goes on if it proves short-lived. */
  private stepBeforeOpen = 0;

  constructor(reconnect: boolean | ReconnectOptions | undefined, enabledByDefault: boolean) {
    const given = reconnect ?? enabledByDefault;
    this.options = typeof given === 'boolean' ? { enabled: given } : { ...definedOnly(given), enabled: given.enabled ?? true };
  }

  /** An attempt opened a connection: the count starts again, and the step unless it proves short-lived. */
  opened(now = performance.now()): void {
    this.stepBeforeOpen = this.step;
    this.retries = 0;
    this.step = 0;
    this.openedAt = now;
  }

  /**
   * After an open connection closed with `code`: the wait before reconnecting, or undefined for
   * "do not". 1000 (the server meant it), 1008 (policy) and 4000–4999 (the application said so)
   * do not retry unless listed in retryOnCodes; 1013 (try again later) waits from half of
   * maxDelay to maxDelay, at random (a server that sent it to every client does not see them all
   * come back at the same moment). The
   * first attempt after a drop is always made: `maxRetries` counts the failed ones that follow.
   * After a connection shorter than `minUptime`, the backoff goes on from the step before it.
   */
  afterClose(code: number, now = performance.now()): number | undefined {
    if (!this.options.enabled) return undefined;
    const retry = this.options.retryOnCodes?.includes(code) || (code !== 1000 && code !== 1008 && !(code >= 4000 && code <= 4999));
    if (!retry) return undefined;
    const longest = this.options.maxDelay ?? 30_000;
    // Short-lived: no fresh start for the backoff, which goes on from the step before it.
    const shortLived = this.openedAt >= 0 && now - this.openedAt < (this.options.minUptime ?? 5000);
    const step = shortLived ? this.stepBeforeOpen : this.step;
    if (shortLived) this.step = step + 1;
    return timerDelay(code === 1013 ? Math.floor(longest * (0.5 + Math.random() / 2)) : backoffDelay(step, this.options));
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
      wait = timerDelay(retryAfter ?? backoffDelay(this.step, this.options));
    }
    this.retries++;
    this.step++;
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
