/**
 * The longest delay Node's timers hold: 2^31 - 1 ms (about 24.8 days). A longer one fires after
 * 1 ms (with a TimeoutOverflowWarning), so a wait that long is held to this instead.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * `ms` as a timer can hold it: at most {@link MAX_TIMER_DELAY}. A longer wait (Infinity included)
 * is as good as never for a timeout, and must not become 1 ms.
 */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_DELAY);
}
