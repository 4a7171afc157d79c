/**
 * Reconnection delays: exponential backoff with full jitter (a uniformly random delay between 0
 * and min(maxDelay, minDelay × 2^attempt)), so that many clients cut off at once do not come back
 * at once. Pure: the random source is a parameter.
 */
export interface BackoffOptions {
  /** Base of the backoff in milliseconds (not a floor: with full jitter a wait may be shorter). Default 500. */
  minDelay?: number | undefined;
  /**
   * Cap in milliseconds on the backoff's wait (a server's Retry-After may ask for longer). Default
   * 30 000. At least minDelay: the clients refuse a smaller one given with it (here, it counts as
   * minDelay); a minDelay above the default cap raises the cap to it.
   */
  maxDelay?: number | undefined;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = options.minDelay ?? 500;
  const max = Math.max(min, options.maxDelay ?? 30_000);
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
