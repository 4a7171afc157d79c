/**
 * A process-wide limit on compression jobs running in the thread pool at once: a burst of large
 * messages queues here instead of exhausting memory or libuv's threads.
 */
export class JobLimiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private readonly concurrency: number;

  constructor(concurrency: number) {
    this.concurrency = Math.max(1, concurrency);
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `job` when a slot is free; `job` calls the function it is given when it finishes. */
  run(job: (done: () => void) => void): void {
    if (this.running < this.concurrency) {
      this.running++;
      job(() => this.release());
    } else {
      this.queue.push(() => job(() => this.release()));
    }
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}
