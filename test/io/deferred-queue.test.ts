/**
 * DeferredQueue: actions wait behind an asynchronous job and then run in order.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { DeferredQueue } from '../../src/io/deferred-queue.js';

describe('DeferredQueue', () => {
  test('is inactive until a job begins, active after, and inactive again once drained', () => {
    const queue = new DeferredQueue();
    assert.equal(queue.active, false);
    queue.begin();
    assert.equal(queue.active, true);
    queue.drain();
    assert.equal(queue.active, false);
  });

  test('begin() twice is the same job (no second queue, nothing lost)', () => {
    const queue = new DeferredQueue();
    const ran: number[] = [];
    queue.begin();
    queue.push(() => ran.push(1));
    queue.begin();
    queue.push(() => ran.push(2));
    queue.drain();
    assert.deepEqual(ran, [1, 2]);
  });

  test('drain() with nothing begun does nothing', () => {
    const queue = new DeferredQueue();
    queue.drain();
    assert.equal(queue.active, false);
    assert.equal(queue.bytes, 0);
  });

  test('actions pushed while a job runs wait, then run in the order pushed', () => {
    const queue = new DeferredQueue();
    const ran: number[] = [];
    queue.begin();
    for (let i = 0; i < 10; i++) queue.push(() => ran.push(i));
    assert.deepEqual(ran, []);
    queue.drain();
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(queue.active, false);
  });

  test('bytes counts the waiting actions and goes down as each one runs', () => {
    const queue = new DeferredQueue();
    const seen: number[] = [];
    queue.begin();
    queue.push(() => seen.push(queue.bytes), 100);
    queue.push(() => seen.push(queue.bytes), 20);
    queue.push(() => seen.push(queue.bytes));
    assert.equal(queue.bytes, 120);
    queue.drain();
    // Each action sees the bytes of those still waiting after it.
    assert.deepEqual(seen, [20, 0, 0]);
    assert.equal(queue.bytes, 0);
  });

  test('an action that begins a new job stops the drain; the rest wait for that job and then run in order', () => {
    const queue = new DeferredQueue();
    const ran: string[] = [];
    queue.begin();
    queue.push(() => ran.push('a'));
    queue.push(() => {
      ran.push('b (starts a job)');
      queue.begin();
    });
    queue.push(() => ran.push('c'), 5);
    queue.push(() => ran.push('d'), 7);
    queue.drain();
    assert.deepEqual(ran, ['a', 'b (starts a job)']);
    assert.equal(queue.active, true);
    assert.equal(queue.bytes, 12, 'c and d still count');
    // Pushed while the second job runs: after c and d.
    queue.push(() => ran.push('e'), 1);
    assert.equal(queue.bytes, 13);
    queue.drain();
    assert.deepEqual(ran, ['a', 'b (starts a job)', 'c', 'd', 'e']);
    assert.equal(queue.active, false);
    assert.equal(queue.bytes, 0);
  });

  test('actions pushed by the action that began the new job come after the older waiting ones', () => {
    const queue = new DeferredQueue();
    const ran: string[] = [];
    queue.begin();
    queue.push(() => {
      ran.push('1');
      queue.begin();
      queue.push(() => ran.push('pushed by 1'));
    });
    queue.push(() => ran.push('2'));
    queue.drain();
    assert.deepEqual(ran, ['1']);
    queue.drain();
    assert.deepEqual(ran, ['1', '2', 'pushed by 1']);
  });

  test('a chain of jobs, each begun by a drained action, keeps global order', () => {
    const queue = new DeferredQueue();
    const ran: number[] = [];
    let jobs = 0;
    queue.begin();
    for (let i = 0; i < 12; i++) {
      queue.push(() => {
        ran.push(i);
        // Every third action starts another job.
        if (i % 3 === 2) {
          queue.begin();
          jobs++;
        }
      });
    }
    let drains = 0;
    while (queue.active) {
      queue.drain();
      drains++;
      assert.ok(drains < 100, 'drain terminates');
    }
    assert.deepEqual(ran, Array.from({ length: 12 }, (_, i) => i));
    assert.equal(jobs, 4);
    assert.equal(drains, 5);
  });

  test('an action run during the drain sees the queue inactive when it does not start a job (it may act directly)', () => {
    const queue = new DeferredQueue();
    const states: boolean[] = [];
    queue.begin();
    queue.push(() => states.push(queue.active));
    queue.push(() => states.push(queue.active));
    queue.drain();
    assert.deepEqual(states, [false, false]);
  });
});

describe('DeferredQueue: an action that throws', () => {
  test('stops none of the others: they all run, in order, then the first error is thrown', () => {
    const queue = new DeferredQueue();
    const ran: number[] = [];
    queue.begin();
    queue.push(() => ran.push(1));
    queue.push(() => {
      ran.push(2);
      throw new Error('first');
    });
    queue.push(() => {
      ran.push(3);
      throw new Error('second');
    });
    queue.push(() => ran.push(4), 10);
    assert.throws(() => queue.drain(), /first/);
    assert.deepEqual(ran, [1, 2, 3, 4]);
    assert.equal(queue.active, false);
    assert.equal(queue.bytes, 0);
  });

  test('an action that begins another job after one threw keeps the rest waiting behind it, and the error is still thrown', () => {
    const queue = new DeferredQueue();
    const ran: number[] = [];
    queue.begin();
    queue.push(() => {
      throw new Error('boom');
    });
    queue.push(() => {
      ran.push(2);
      queue.begin();
    });
    queue.push(() => ran.push(3));
    assert.throws(() => queue.drain(), /boom/);
    assert.deepEqual(ran, [2]);
    assert.equal(queue.active, true);
    queue.drain();
    assert.deepEqual(ran, [2, 3]);
  });
});
