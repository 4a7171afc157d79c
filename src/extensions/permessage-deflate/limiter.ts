/**
 * A process-wide limit on compression jobs running in the thread pool at once: a burst of large
 * messages queues here instead of exhausting memory or libuv's threads.
 *
 * A slot is held from a job's start until it calls `done` (once; later calls do nothing). A job that
 * throws before calling `done` gives its slot back and its error goes to its `fail`: the
 * error never escapes to whoever happened to start the job, and the slot is never lost (a lost slot
 * would stall every later thread-pool job in the process).
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

  /**
   * Runs `job` when a slot is free; `job` calls the function it is given when it finishes. If `job`
   * throws, its slot is released and `fail` gets the error (synchronously, from where the job ran).
   */
  run(job: (done: () => void) => void, fail: (error: unknown) => void): void {
    if (this.running < this.concurrency) {
      this.running++;
      this.start(job, fail);
    } else {
      this.queue.push(() => this.start(job, fail));
    }
  }

  private start(job: (done: () => void) => void, fail: (error: unknown) => void): void {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      this.release();
    };
    try {
      job(done);
    } catch (error) {
      // Thrown after `done`: the job had finished, so the error is not about starting it (and
      // its callback may have run already): it goes on up.
      if (finished) throw error;
      done();
      fail(error);
    }
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}
