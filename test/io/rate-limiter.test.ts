/** The per-connection rate limiter: token buckets for messages and bytes, on a clock passed in. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { RateLimiter } from '../../src/io/rate-limiter.js';

describe('RateLimiter', () => {
  test('a full bucket lets a burst of one second through, and not one message more', () => {
    const limiter = new RateLimiter({ messagesPerSecond: 100 }, 0);
    for (let i = 0; i < 100; i++) assert.equal(limiter.admit(1, 0), true, `message ${i}`);
    assert.equal(limiter.admit(1, 0), false);
  });

  test('the bucket refills at the rate, up to `burst` seconds of it', () => {
    const limiter = new RateLimiter({ messagesPerSecond: 10, burst: 2 }, 0);
    for (let i = 0; i < 20; i++) assert.equal(limiter.admit(0, 0), true);
    assert.equal(limiter.admit(0, 0), false);
    // 500 ms later: 5 more tokens (the failed attempt took one, so 4 pass).
    let passed = 0;
    for (let i = 0; i < 10; i++) if (limiter.admit(0, 500)) passed++;
    assert.equal(passed, 4);
    // A long pause refills only up to the burst.
    passed = 0;
    for (let i = 0; i < 50; i++) if (limiter.admit(0, 100_000)) passed++;
    assert.equal(passed, 20);
  });

  test('bytes are limited on their own: one large message can empty the bucket', () => {
    const limiter = new RateLimiter({ bytesPerSecond: 1000 }, 0);
    assert.equal(limiter.admit(900, 0), true);
    assert.equal(limiter.admit(200, 0), false);
  });

  test('a message larger than the bucket passes when the bucket is full, then the debt is paid at the rate before the next', () => {
    const limiter = new RateLimiter({ bytesPerSecond: 1000 }, 0);
    assert.equal(limiter.admit(5000, 0), true, 'a full bucket lets a 5 s message through');
    assert.equal(limiter.admit(1, 4000), false, 'still 1000 bytes in debt after 4 s');
    const later = new RateLimiter({ bytesPerSecond: 1000 }, 0);
    assert.equal(later.admit(5000, 0), true);
    assert.equal(later.admit(1, 5001), true, 'the debt is paid after 5 s');
    const notFull = new RateLimiter({ bytesPerSecond: 1000 }, 0);
    assert.equal(notFull.admit(10, 0), true);
    assert.equal(notFull.admit(5000, 0), false, 'a bucket not full does not let a larger message through');
    const empty = new RateLimiter({ bytesPerSecond: 1000, burst: 0 }, 0);
    assert.equal(empty.admit(1, 10_000), false, 'a bucket that holds nothing lets nothing through');
  });

  test('enabled() is false for no options, false, or zero rates', () => {
    assert.equal(RateLimiter.enabled(undefined), false);
    assert.equal(RateLimiter.enabled(false), false);
    assert.equal(RateLimiter.enabled({ messagesPerSecond: 0, bytesPerSecond: 0 }), false);
    assert.equal(RateLimiter.enabled({ bytesPerSecond: 1 }), true);
    assert.equal(RateLimiter.enabled({}), false);
    assert.equal(RateLimiter.enabled({ messagesPerSecond: 0 }), false);
    assert.equal(RateLimiter.enabled({ bytesPerSecond: 0 }), false);
    assert.equal(RateLimiter.enabled({ messagesPerSecond: 1 }), true);
    assert.equal(RateLimiter.enabled({ messagesPerSecond: 0.5 }), true);
  });

  test('a rate not given does not limit: bytes alone leave the count free, messages alone the size', () => {
    const bytesOnly = new RateLimiter({ bytesPerSecond: 1000 }, 0);
    for (let i = 0; i < 5; i++) assert.equal(bytesOnly.admit(1, 0), true, `message ${i}`);
    const messagesOnly = new RateLimiter({ messagesPerSecond: 2 }, 0);
    assert.equal(messagesOnly.admit(1e9, 0), true);
    assert.equal(messagesOnly.admit(1e9, 0), true);
    assert.equal(messagesOnly.admit(0, 0), false);
  });

  test('burst 0 is taken as given (an empty bucket that never fills), not as the default 1', () => {
    const limiter = new RateLimiter({ messagesPerSecond: 10, burst: 0 }, 0);
    assert.equal(limiter.admit(0, 0), false);
    assert.equal(limiter.admit(0, 10_000), false);
  });

  test('the refill is exact: one millisecond at 1000/s is one message, one second is the rate and no more', () => {
    const limiter = new RateLimiter({ messagesPerSecond: 1000, burst: 2 }, 0);
    let passed = 0;
    for (let i = 0; i < 2001; i++) if (limiter.admit(0, 0)) passed++;
    assert.equal(passed, 2000);
    // The failed attempt took a token too (-1): 2 ms later one is left, then each 1 ms gives one.
    assert.equal(limiter.admit(0, 2), true);
    assert.equal(limiter.admit(0, 3), true);
    passed = 0;
    for (let i = 0; i < 1100; i++) if (limiter.admit(0, 1003)) passed++;
    assert.equal(passed, 1000);
  });

  test('the byte bucket: a message may take it to exactly 0, it refills at the rate from what is left, up to burst seconds', () => {
    const limiter = new RateLimiter({ bytesPerSecond: 1000, burst: 2 }, 0);
    assert.equal(limiter.admit(2000, 0), true);
    assert.equal(limiter.admit(0, 0), true, 'an empty message on an empty bucket');
    assert.equal(limiter.admit(1000, 1000), true);
    assert.equal(limiter.admit(1, 1000), false);
    // -1 left; 501 ms later 500 bytes: what was left counts.
    assert.equal(limiter.admit(500, 1501), true);
    assert.equal(limiter.admit(1, 1501), false);
    // A long pause fills it to burst × rate and no further.
    assert.equal(limiter.admit(2000, 1_000_000), true);
    assert.equal(limiter.admit(1, 1_000_000), false);
  });

  test('a rate of 1 per second limits too', () => {
    const messages = new RateLimiter({ messagesPerSecond: 1 }, 0);
    assert.equal(messages.admit(0, 0), true);
    assert.equal(messages.admit(0, 0), false);
    const bytes = new RateLimiter({ bytesPerSecond: 1 }, 0);
    assert.equal(bytes.admit(1, 0), true);
    assert.equal(bytes.admit(1, 0), false);
  });
});
