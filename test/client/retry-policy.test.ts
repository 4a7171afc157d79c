/**
 * RetryPolicy: when to reconnect and how long to wait (shared by the handler-style client and the
 * reconnecting WebSocket): Retry-After's two forms and what is ignored, maxRetries, and waits held
 * to what a Node timer can hold.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../src/index.js';
import { RetryPolicy, retryAfterMs } from '../../src/client/retry-policy.js';
import { MAX_TIMER_DELAY } from '../../src/io/timer-delay.js';

const refused = (retryAfter: string): HandshakeError => new HandshakeError(503, 'busy', { 'retry-after': retryAfter });

describe('retryAfterMs (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-11-22T20:00:00Z');
  test('a number of seconds, surrounding whitespace allowed', () => {
    assert.equal(retryAfterMs('5', now), 5000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('120', now), 120_000);
  });
  test('an HTTP date: the time until it, and 0 for a date already past', () => {
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 20:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 19:00:00 GMT', now), 0);
    assert.equal(retryAfterMs('SUN, 22 NOV 2026 20:00:30 GMT', now), 30_000);
  });
  test('anything else is ignored (undefined): empty, negative, fractional, junk, absent', () => {
    for (const value of ['', '   ', '-1', '1.5', '5s', 'soon', '0x10']) assert.equal(retryAfterMs(value, now), undefined, JSON.stringify(value));
    assert.equal(retryAfterMs(undefined, now), undefined);
  });
});

describe('RetryPolicy', () => {
  test('options given as undefined are left out of the options in force, as if not given', () => {
    const policy = new RetryPolicy({ maxRetries: undefined, maxDelay: undefined, enabled: undefined }, false);
    assert.deepEqual(policy.options, { enabled: true });
  });

  test('an empty Retry-After gets the backoff, not an immediate retry', () => {
    const policy = new RetryPolicy({ minDelay: 1000, maxDelay: 1000 }, true);
    const waits = Array.from({ length: 200 }, () => policy.afterFailure(refused('')).wait!);
    // Full jitter over [0, 1000): 200 zeros in a row would be a broken backoff.
    assert.ok(waits.some((wait) => wait > 0), 'every wait was 0');
    assert.ok(waits.every((wait) => wait >= 0 && wait < 1000));
  });

  test('a Retry-After longer than a timer can hold is held to 2^31 - 1 ms (a longer delay would fire at once)', () => {
    const policy = new RetryPolicy(true, true);
    assert.equal(policy.afterFailure(refused('3000000')).wait, MAX_TIMER_DELAY);
    assert.equal(policy.afterFailure(refused('30')).wait, 30_000);
  });

  test('1013 (try again later): clients told it together come back spread over half of maxDelay to maxDelay', () => {
    const waits = Array.from({ length: 50 }, () => new RetryPolicy({ minDelay: 100, maxDelay: 3000 }, true).afterClose(1013)!);
    assert.ok(waits.every((wait) => wait >= 1500 && wait <= 3000), waits.join());
    assert.ok(new Set(waits).size > 10, `the same waits: ${waits.join()}`);
  });

  test('maxDelay: Infinity with 1013 (try again later) waits as long as a timer can hold', () => {
    const policy = new RetryPolicy({ maxDelay: Infinity }, true);
    assert.equal(policy.afterClose(1013), MAX_TIMER_DELAY);
  });

  test('maxRetries: 0 still makes the first attempt after a drop, and gives up once it fails', () => {
    const policy = new RetryPolicy({ maxRetries: 0, minDelay: 10, maxDelay: 10 }, true);
    const wait = policy.afterClose(1006);
    assert.equal(typeof wait, 'number', 'no attempt after the drop');
    assert.equal(policy.afterFailure(new Error('refused')).wait, undefined);
  });

  test('maxRetries: 2 gives up on the third failure in a row; an open connection starts the count again', () => {
    const policy = new RetryPolicy({ maxRetries: 2, minDelay: 10, maxDelay: 10 }, true);
    assert.notEqual(policy.afterFailure(new Error('1')).wait, undefined);
    assert.notEqual(policy.afterFailure(new Error('2')).wait, undefined);
    assert.equal(policy.afterFailure(new Error('3')).wait, undefined);
    policy.retries = 0;
    assert.notEqual(policy.afterClose(1006), undefined);
  });

  test('minUptime: a connection that closes sooner takes the backoff a step further; maxRetries still counts failed attempts only', (t) => {
    // The backoff's ceiling is minDelay × 2^step: with random() near 1 the wait shows the step.
    t.mock.method(Math, 'random', () => 0.9999);
    const policy = new RetryPolicy({ maxRetries: 2, minDelay: 10, maxDelay: 100_000 }, true);
    const waits: Array<number | undefined> = [];
    // Four connections in a row, each dropped 100 ms after opening (default minUptime 5000).
    for (let i = 0; i < 4; i++) {
      policy.opened(1000 * i);
      waits.push(policy.afterClose(1011, 1000 * i + 100));
      assert.equal(policy.retries, 0, `after short-lived connection ${i + 1}: no failed attempt`);
    }
    assert.deepEqual(waits, [9, 19, 39, 79], 'the backoff grows');
    // Then the server is down: two retries, as maxRetries 2 allows, the backoff going on.
    const failures = [1, 2, 3].map((i) => policy.afterFailure(new Error(`refused ${i}`)).wait);
    assert.deepEqual(failures, [159, 319, undefined]);
    // A connection that lasts brings the backoff back to minDelay.
    policy.opened(10_000);
    assert.equal(policy.afterClose(1006, 20_000), 9);
    assert.equal(policy.afterFailure(new Error('refused')).wait, 9);
  });

  test('minUptime: maxRetries 0 still makes the attempt after a short connection, and gives up once it fails', () => {
    const policy = new RetryPolicy({ maxRetries: 0, minDelay: 10, maxDelay: 10 }, true);
    policy.opened(0);
    assert.equal(typeof policy.afterClose(1001, 300), 'number', 'no attempt after the drop');
    assert.equal(policy.afterFailure(new Error('refused')).wait, undefined);
    // 1013 within minUptime: from half of maxDelay to maxDelay, as ever.
    const busy = new RetryPolicy({ maxRetries: 0, maxDelay: 1234 }, true);
    busy.opened(0);
    const wait = busy.afterClose(1013, 10)!;
    assert.ok(wait >= 617 && wait <= 1234, String(wait));
  });

  test('minUptime: a connection that lasted it starts the count again, and the first attempt after it is always made', () => {
    const policy = new RetryPolicy({ maxRetries: 0, minDelay: 10, maxDelay: 10, minUptime: 1000 }, true);
    policy.afterFailure(new Error('refused'));
    policy.opened(0);
    assert.equal(typeof policy.afterClose(1006, 1000), 'number');
    assert.deepEqual([policy.retries, policy.step], [0, 0]);
    // minUptime 0: never short-lived.
    const off = new RetryPolicy({ maxRetries: 0, minUptime: 0 }, true);
    off.opened(0);
    assert.equal(typeof off.afterClose(1006, 0), 'number');
    assert.deepEqual([off.retries, off.step], [0, 0]);
  });

  test('codes that mean "do not come back" stop it unless listed in retryOnCodes', () => {
    const policy = new RetryPolicy({ retryOnCodes: [4001] }, true);
    assert.equal(policy.afterClose(1000), undefined);
    assert.equal(policy.afterClose(1008), undefined);
    assert.equal(policy.afterClose(4000), undefined);
    assert.notEqual(policy.afterClose(4001), undefined);
    assert.notEqual(policy.afterClose(1006), undefined);
  });

  test('gives up at once on 400, 401, 403, 404, 407 (a proxy asking for credentials) and 426 only; the statuses next to them are retried', () => {
    for (const status of [400, 401, 403, 404, 407, 426]) {
      const result = new RetryPolicy(true, true).afterFailure(new HandshakeError(status, 'no'));
      assert.deepEqual(result, { wait: undefined, httpStatus: status }, String(status));
    }
    for (const status of [399, 402, 405, 406, 408, 425, 427]) {
      const result = new RetryPolicy(true, true).afterFailure(new HandshakeError(status, 'no'));
      assert.equal(typeof result.wait, 'number', String(status));
      assert.equal(result.httpStatus, status);
    }
  });

  test('reconnect false, or enabled: false, turns it off even where it is on by default', () => {
    for (const reconnect of [false, { enabled: false }] as const) {
      const policy = new RetryPolicy(reconnect, true);
      assert.equal(policy.afterClose(1006), undefined);
      assert.equal(policy.afterFailure(new Error('refused')).wait, undefined);
    }
    assert.equal(typeof new RetryPolicy({}, false).afterClose(1006), 'number', 'an object without enabled turns it on');
  });

  test('4000-4999 stop it, 3999 and 5000 do not; maxDelay 0 makes 1013 wait 0; a Retry-After of 0 means now', () => {
    const policy = new RetryPolicy({ minDelay: 10, maxDelay: 10 }, true);
    assert.equal(typeof policy.afterClose(3999), 'number');
    assert.equal(policy.afterClose(4999), undefined);
    assert.equal(typeof policy.afterClose(5000), 'number');
    assert.equal(new RetryPolicy({ maxDelay: 0 }, true).afterClose(1013), 0);
    assert.equal(new RetryPolicy({ minDelay: 1000, maxDelay: 1000 }, true).afterFailure(refused('0')).wait, 0);
  });

  test('1013 waits from half of the default maxDelay (30 000 ms) to all of it, at random; a Retry-After date is counted from Date.now()', (t) => {
    const random = t.mock.method(Math, 'random', () => 0);
    assert.equal(new RetryPolicy(true, true).afterClose(1013), 15_000);
    random.mock.mockImplementation(() => 0.5);
    assert.equal(new RetryPolicy(true, true).afterClose(1013), 22_500);
    random.mock.mockImplementation(() => 1 - Number.EPSILON);
    assert.equal(new RetryPolicy(true, true).afterClose(1013), 29_999);
    random.mock.restore();
    t.mock.method(Date, 'now', () => Date.parse('2026-11-22T20:00:00Z'));
    assert.equal(new RetryPolicy(true, true).afterFailure(refused('Sun, 22 Nov 2026 20:00:30 GMT')).wait, 30_000);
  });

  test('the default minUptime is 5000 ms, and a policy that never opened has no short-lived connection', () => {
    const short = new RetryPolicy(true, true);
    short.opened(0);
    short.afterClose(1006, 4999);
    assert.equal(short.step, 1);
    const lasted = new RetryPolicy(true, true);
    lasted.opened(0);
    lasted.afterClose(1006, 5000);
    assert.equal(lasted.step, 0);
    const never = new RetryPolicy(true, true);
    never.afterClose(1006, 100);
    assert.equal(never.step, 0);
  });

  test('httpStatus is the status of a refused handshake with an HTTP answer (200 and up) only', () => {
    const statusOf = (error: Error) => new RetryPolicy(true, true).afterFailure(error).httpStatus;
    assert.equal(statusOf(new HandshakeError(200, 'ok but no upgrade')), 200);
    assert.equal(statusOf(new HandshakeError(503, 'busy')), 503);
    for (const status of [0, 101, 199]) assert.equal(statusOf(new HandshakeError(status, 'x')), undefined, String(status));
    assert.equal(statusOf(Object.assign(new Error('x'), { status: 500 })), undefined);
  });
});
