/**
 * A fake clock for deterministic timing tests: `setTimeout`, `setInterval` and `Date` are Node's
 * mock timers, and sockwave's coarse clock reads them too. Time moves only when `advance()` says;
 * I/O (streams, nextTick, setImmediate) still runs for real, so in-memory sockets keep working.
 */
import { type TestContext } from 'node:test';
import { coarseClock } from '../../src/io/coarse-clock.js';

export class FakeClock {
  private readonly t: TestContext;
  private readonly realPrecise = coarseClock.precise;
  private readonly realMonotonic = coarseClock.monotonic;

  private constructor(t: TestContext, start: number) {
    this.t = t;
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: start });
    coarseClock.precise = () => Date.now();
    coarseClock.monotonic = () => Date.now();
    coarseClock.tick();
    t.after(() => this.uninstall());
  }

  /** Installs the fake clock for the rest of test `t` (undone after it). */
  static install(t: TestContext, start = 1_000_000): FakeClock {
    return new FakeClock(t, start);
  }

  get now(): number {
    return Date.now();
  }

  /** Moves time forward by `ms`, in `step`s, firing due timers and letting I/O run between steps. */
  async advance(ms: number, step = Math.max(1, Math.floor(ms / 20))): Promise<void> {
    for (let done = 0; done < ms; done += step) {
      this.t.mock.timers.tick(Math.min(step, ms - done));
      coarseClock.tick();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private uninstall(): void {
    coarseClock.precise = this.realPrecise;
    coarseClock.monotonic = this.realMonotonic;
    this.t.mock.timers.reset();
    coarseClock.tick();
  }
}
