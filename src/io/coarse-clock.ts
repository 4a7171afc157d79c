/**
 * A coarse clock for per-message bookkeeping (last activity): reading `coarseClock.now` costs a
 * property load, not a system call. Whoever needs it fresher (the heartbeat timer) calls `tick()`.
 * Every time here is on the same monotonic scale as {@link precise} (the process's time origin plus
 * `performance.now()`): setting the wall clock moves none of them, and they can be compared.
 */
export const coarseClock = {
  now: performance.timeOrigin + performance.now(),
  /**
   * When this process started counting: times stored per connection are kept relative to it, so
   * that they are small integers (a field holding a small integer costs nothing more, where a
   * full millisecond timestamp needs a heap number of its own).
   */
  epoch: performance.timeOrigin + performance.now(),
  /** Refreshes `now` (from {@link precise}) and returns it. */
  tick(): number {
    this.now = this.precise();
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
  /**
   * The current time in milliseconds with sub-millisecond precision (round-trip times, heartbeat
   * deadlines): the time origin plus the monotonic clock, so it never jumps with the wall clock.
   */
  precise(): number {
    return performance.timeOrigin + performance.now();
  },
};
