/**
 * JobLimiter: the process-wide bound on compression jobs in the thread pool.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { JobLimiter } from '../../../src/extensions/permessage-deflate/limiter.js';

/** The `fail` of jobs that must not throw. */
function unexpected(error: unknown): never {
  assert.fail(`a job threw: ${String(error)}`);
}

/** Jobs that record when they start and finish only when the test says so. */
function harness(limiter: JobLimiter): {
  started: number[];
  running: () => number;
  maxRunning: () => number;
  add: (id: number) => void;
  finish: (id: number) => void;
} {
  const started: number[] = [];
  const done = new Map<number, () => void>();
  let running = 0;
  let max = 0;
  return {
    started,
    running: () => running,
    maxRunning: () => max,
    add(id) {
      limiter.run((finish) => {
        started.push(id);
        running++;
        max = Math.max(max, running);
        done.set(id, () => {
          running--;
          finish();
        });
      }, unexpected);
    },
    finish(id) {
      const f = done.get(id);
      assert.ok(f, `job ${id} has not started`);
      done.delete(id);
      f();
    },
  };
}

describe('JobLimiter', () => {
  test('jobs under the limit start at once, synchronously', () => {
    const limiter = new JobLimiter(3);
    const h = harness(limiter);
    h.add(1);
    h.add(2);
    h.add(3);
    assert.deepEqual(h.started, [1, 2, 3]);
    assert.equal(limiter.active, 3);
    assert.equal(limiter.waiting, 0);
  });

  test('jobs over the limit wait, and start in the order they were added as slots free up', () => {
    const limiter = new JobLimiter(2);
    const h = harness(limiter);
    for (let id = 1; id <= 6; id++) h.add(id);
    assert.deepEqual(h.started, [1, 2]);
    assert.equal(limiter.waiting, 4);
    h.finish(2);
    assert.deepEqual(h.started, [1, 2, 3]);
    h.finish(1);
    assert.deepEqual(h.started, [1, 2, 3, 4]);
    h.finish(4);
    h.finish(3);
    assert.deepEqual(h.started, [1, 2, 3, 4, 5, 6]);
    assert.equal(limiter.waiting, 0);
    h.finish(5);
    h.finish(6);
    assert.equal(limiter.active, 0);
  });

  test('the number of running jobs never exceeds the concurrency, whatever the finishing order', () => {
    for (const concurrency of [1, 2, 5]) {
      const limiter = new JobLimiter(concurrency);
      const h = harness(limiter);
      const total = 40;
      for (let id = 0; id < total; id++) h.add(id);
      let next = 0;
      // Finish jobs in a scrambled order, checking the bound after every step.
      while (h.started.length < total || h.running() > 0) {
        assert.ok(h.running() <= concurrency, `running ${h.running()} > ${concurrency}`);
        assert.equal(limiter.active, h.running());
        const candidates = h.started.filter((id) => id >= 0);
        const pick = candidates[(next * 7) % candidates.length]!;
        h.started[h.started.indexOf(pick)] = -1 - pick;
        h.finish(pick);
        next++;
      }
      assert.equal(h.maxRunning(), concurrency);
      assert.equal(limiter.active, 0);
      assert.equal(limiter.waiting, 0);
      // Every job ran exactly once, in the order added.
      assert.deepEqual(h.started.map((x) => -1 - x), Array.from({ length: total }, (_, i) => i));
    }
  });

  test('a job added from inside a finishing job waits its turn behind those already waiting', () => {
    const limiter = new JobLimiter(1);
    const order: string[] = [];
    let finishA!: () => void;
    limiter.run((done) => {
      order.push('a');
      finishA = () => {
        limiter.run((d) => {
          order.push('c');
          d();
        }, unexpected);
        done();
      };
    }, unexpected);
    limiter.run((done) => {
      order.push('b');
      done();
    }, unexpected);
    assert.deepEqual(order, ['a']);
    finishA();
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(limiter.active, 0);
  });

  test('a concurrency below 1 is treated as 1', () => {
    const limiter = new JobLimiter(0);
    const h = harness(limiter);
    h.add(1);
    h.add(2);
    assert.deepEqual(h.started, [1]);
    h.finish(1);
    assert.deepEqual(h.started, [1, 2]);
    h.finish(2);
  });

  test('jobs that finish asynchronously (thread-pool style) keep the bound and the order', async () => {
    const limiter = new JobLimiter(3);
    let running = 0;
    let max = 0;
    const order: number[] = [];
    await Promise.race([
      Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Promise<void>((resolve) =>
            limiter.run((done) => {
              order.push(i);
              running++;
              max = Math.max(max, running);
              setTimeout(() => {
                running--;
                done();
                resolve();
              }, (i * 3) % 7);
            }, unexpected),
          ),
        ),
      ),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out waiting for the jobs')), 5000).unref()),
    ]);
    assert.equal(max, 3);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  });

  test('a job that throws before calling done gives its slot back and its error goes to its fail, not to the caller', () => {
    const limiter = new JobLimiter(2);
    const boom = new Error('boom');
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      assert.doesNotThrow(() =>
        limiter.run(() => {
          throw boom;
        }, (error) => failures.push(error)),
      );
    }
    assert.deepEqual(failures, [boom, boom, boom, boom, boom]);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.waiting, 0);
    // Every slot is still there: two jobs run at once again.
    const h = harness(limiter);
    h.add(1);
    h.add(2);
    h.add(3);
    assert.deepEqual(h.started, [1, 2]);
    h.finish(1);
    h.finish(2);
    h.finish(3);
    assert.equal(limiter.active, 0);
  });

  test('a waiting job that throws when its turn comes passes its slot on and reports to its own fail', () => {
    const limiter = new JobLimiter(1);
    const h = harness(limiter);
    const failures: unknown[] = [];
    h.add(1);
    limiter.run(() => {
      throw new RangeError('bad option');
    }, (error) => failures.push(error));
    h.add(2);
    assert.equal(limiter.waiting, 2);
    // Finishing job 1 starts the thrower, which fails, and then job 2: nothing escapes from finish.
    h.finish(1);
    assert.equal(failures.length, 1);
    assert.ok(failures[0] instanceof RangeError);
    assert.deepEqual(h.started, [1, 2]);
    assert.equal(limiter.active, 1);
    h.finish(2);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.waiting, 0);
  });

  test('done called twice releases one slot only', () => {
    const limiter = new JobLimiter(1);
    let first!: () => void;
    limiter.run((done) => {
      first = done;
    }, unexpected);
    const h = harness(limiter);
    h.add(1);
    h.add(2);
    first();
    first();
    assert.deepEqual(h.started, [1], 'the second done() did not start job 2 beside job 1');
    h.finish(1);
    h.finish(2);
    assert.equal(limiter.active, 0);
  });

  test('a job that throws after calling done is finished: the error goes on up and fail is not called', () => {
    const limiter = new JobLimiter(1);
    const boom = new Error('after done');
    let failed = false;
    assert.throws(
      () =>
        limiter.run((done) => {
          done();
          throw boom;
        }, () => (failed = true)),
      (error: unknown) => error === boom,
    );
    assert.equal(failed, false);
    assert.equal(limiter.active, 0);
  });
});
