/**
 * A per-connection rate limit on what the peer sends: two token buckets, one counting messages
 * (control frames included) and one counting payload bytes. Each refills at its rate per second
 * and holds at most `burst` seconds' worth, so short bursts pass and a sustained flood does not.
 * One call per message, no timers.
 */
export interface RateLimitOptions {
  /** Messages, pings and pongs per second; 0 for no limit. */
  messagesPerSecond?: number | undefined;
  /** Payload bytes per second; 0 for no limit. */
  bytesPerSecond?: number | undefined;
  /** Seconds of traffic a bucket holds (the largest burst); above 0. Default 1. */
  burst?: number | undefined;
}

export class RateLimiter {
  private readonly messageRate: number;
  private readonly byteRate: number;
  private readonly messageCapacity: number;
  private readonly byteCapacity: number;
  private messages: number;
  private bytes: number;
  private last: number;

  constructor(options: RateLimitOptions, now: number) {
    const burst = options.burst ?? 1;
    this.messageRate = options.messagesPerSecond ?? 0;
    this.byteRate = options.bytesPerSecond ?? 0;
    this.messageCapacity = this.messageRate * burst;
    this.byteCapacity = this.byteRate * burst;
    this.messages = this.messageCapacity;
    this.bytes = this.byteCapacity;
    this.last = now;
  }

  /** Whether the options limit anything at all. */
  static enabled(options: RateLimitOptions | false | undefined): options is RateLimitOptions {
    return options !== undefined && options !== false && ((options.messagesPerSecond ?? 0) > 0 || (options.bytesPerSecond ?? 0) > 0);
  }

  /** Takes one message of `size` bytes at time `now` (ms); false when it is over the limit. */
  admit(size: number, now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.last = now;
      this.messages = Math.min(this.messageCapacity, this.messages + (elapsed * this.messageRate) / 1000);
      this.bytes = Math.min(this.byteCapacity, this.bytes + (elapsed * this.byteRate) / 1000);
    }
    let ok = true;
    if (this.messageRate > 0 && --this.messages < 0) ok = false;
    if (this.byteRate > 0) {
      // A message larger than the bucket passes when the bucket is full, and leaves it in debt: it
      // would otherwise never pass (a maxPayload above bytesPerSecond × burst), and the rate still
      // holds over time, since the debt is paid before the next message passes.
      const capacity = this.byteCapacity;
      if (size > capacity ? capacity === 0 || this.bytes < capacity : this.bytes < size) ok = false;
      this.bytes -= size;
    }
    return ok;
  }
}
