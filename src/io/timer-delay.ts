/**
 * The longest delay Node's timers hold: 2^31 - 1 ms (about 24.8 days). A longer one fires after
 * 1 ms (with a TimeoutOverflowWarning), so a wait that long is held to this instead.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;
