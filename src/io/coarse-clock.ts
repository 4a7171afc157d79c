/**
 * A coarse clock for per-message bookkeeping (last activity): reading `coarseClock.now` costs a
 * property load, not a system call. Whoever needs it fresher (the heartbeat timer) calls `tick()`.
 */
export const coarseClock = {
  now: Date.now(),
  /**
   * When this process started counting: times stored per connection are kept relative to it, so
   * that they are small integers (a field holding a small integer costs nothing more, where a
   * full millisecond timestamp needs a heap number of its own).
   */
  epoch: Date.now(),
  /** Refreshes `now` and returns it. */
  tick(): number {
    this.now = Date.now();
    return this.now;
  },
  /**
   * `time` (ms) after {@link epoch}, as a small integer where it fits: Math.floor gives V8 a small
   * integer, where a plain subtraction gives a heap number (16 B more on every object keeping it).
   */
  sinceEpoch(time: number): number {
    return Math.floor(time - this.epoch);
  },
  /** Milliseconds on a clock that never jumps (wall-clock changes do not move it): for deadlines. */
  monotonic(): number {
    return performance.now();
  },
  /** The current time in milliseconds with sub-millisecond precision (for round-trip times). */
  precise(): number {
    return performance.timeOrigin + performance.now();
  },
};
