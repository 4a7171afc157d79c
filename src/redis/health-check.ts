import { type Redis } from 'ioredis';
import { BackplaneError } from '../errors.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * Notices a Redis that stopped answering without closing the connection (a host frozen or cut off
 * without a reset): TCP alone would wait for ever. Every `timeout` ms it sends a PING on a ready
 * connection; when no answer came `timeout` ms later, the connection is dropped and ioredis
 * reconnects, so that the backplane's usual outage path runs ('disconnected', buffering, replay).
 * A PING waits behind a blocking command on the same connection: `timeout` must exceed its block.
 */
export class HealthCheck {
  private interval: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Redis,
    private readonly timeout: number,
    /** Called with the reason, just before the connection is dropped. */
    private readonly unresponsive: (error: BackplaneError) => void,
  ) {}

  start(): void {
    this.interval ??= setInterval(() => this.check(), timerDelay(this.timeout));
    this.interval.unref();
  }

  stop(): void {
    clearInterval(this.interval);
    clearTimeout(this.deadline);
    this.interval = this.deadline = undefined;
  }

  private check(): void {
    if (this.deadline !== undefined || this.client.status !== 'ready') return;
    const deadline = setTimeout(() => {
      this.deadline = undefined;
      if (this.client.status !== 'ready') return;
      this.unresponsive(new BackplaneError(`Redis did not answer a PING within ${this.timeout} ms`));
      // (true: ioredis reconnects, as after any other loss.)
      this.client.disconnect(true);
    }, timerDelay(this.timeout));
    deadline.unref();
    this.deadline = deadline;
    const answered = (): void => {
      if (this.deadline !== deadline) return;
      clearTimeout(deadline);
      this.deadline = undefined;
    };
    // (A failed PING is an outage ioredis reports itself.)
    this.client.ping().then(answered, answered);
  }
}
