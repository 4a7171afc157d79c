/**
 * backoffDelay(): exponential backoff with full jitter, a uniformly random delay in
 * [0, min(maxDelay, minDelay × 2^attempt)), with the random source injected.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { backoffDelay } from '../../src/index.js';

/** A random source that always returns `value`. */
const fixed = (value: number) => (): number => value;

describe('backoffDelay', () => {
  test('random 0 gives 0 at every attempt', () => {
    for (const attempt of [0, 1, 2, 5, 10, 30, 31, 100, 1e6]) {
      assert.equal(backoffDelay(attempt, { minDelay: 100, maxDelay: 10_000 }, fixed(0)), 0, `attempt ${attempt}`);
    }
  });

  test('random 0.999 gives just under the ceiling min(maxDelay, minDelay·2^attempt)', () => {
    const options = { minDelay: 100, maxDelay: 10_000 };
    // ceilings: 100, 200, 400, 800, 1600, 3200, 6400, then the cap 10 000
    const expected = [99, 199, 399, 799, 1598, 3196, 6393, 9990, 9990];
    expected.forEach((delay, attempt) => {
      assert.equal(backoffDelay(attempt, options, fixed(0.999)), delay, `attempt ${attempt}`);
    });
  });

  test('a value just below 1 stays below the ceiling (never reaches it)', () => {
    const justBelowOne = 1 - Number.EPSILON;
    assert.equal(backoffDelay(0, { minDelay: 100, maxDelay: 1000 }, fixed(justBelowOne)), 99);
    assert.equal(backoffDelay(3, { minDelay: 100, maxDelay: 1000 }, fixed(justBelowOne)), 799);
    assert.equal(backoffDelay(4, { minDelay: 100, maxDelay: 1000 }, fixed(justBelowOne)), 999);
  });

  test('the delay is the random fraction of the ceiling, rounded down to a whole millisecond', () => {
    assert.equal(backoffDelay(0, { minDelay: 100, maxDelay: 1000 }, fixed(0.5)), 50);
    assert.equal(backoffDelay(2, { minDelay: 100, maxDelay: 1000 }, fixed(0.25)), 100);
    assert.equal(backoffDelay(1, { minDelay: 3, maxDelay: 1000 }, fixed(0.5)), 3);
    assert.ok(Number.isInteger(backoffDelay(1, { minDelay: 7, maxDelay: 1000 }, fixed(0.123))));
  });

  test('maxDelay caps the ceiling', () => {
    const options = { minDelay: 20, maxDelay: 200 };
    // 20·2^4 = 320 > 200: capped.
    assert.equal(backoffDelay(4, options, fixed(0.999)), 199);
    assert.equal(backoffDelay(4, options, fixed(0.5)), 100);
    assert.equal(backoffDelay(3, options, fixed(0.999)), 159);
  });

  test('large attempts stay finite and under the cap (no overflow to Infinity or NaN)', () => {
    const options = { minDelay: 500, maxDelay: 30_000 };
    for (const attempt of [31, 64, 1000, 1024, 1e9, Number.MAX_SAFE_INTEGER]) {
      const high = backoffDelay(attempt, options, fixed(0.999));
      assert.ok(Number.isFinite(high), `attempt ${attempt}: ${high}`);
      assert.equal(high, 29_970, `attempt ${attempt}`);
      assert.equal(backoffDelay(attempt, options, fixed(0)), 0);
    }
    // Even a cap that 2^30 steps cannot reach is respected.
    assert.equal(backoffDelay(1e6, { minDelay: 1, maxDelay: 2 ** 40 }, fixed(0.5)), 2 ** 29);
  });

  test('defaults: minDelay 500, maxDelay 30 000', () => {
    assert.equal(backoffDelay(0, {}, fixed(0.999)), 499);
    assert.equal(backoffDelay(1, undefined, fixed(0.999)), 999);
    assert.equal(backoffDelay(20, {}, fixed(0.999)), 29_970);
  });

  test('a maxDelay below minDelay is raised to minDelay', () => {
    assert.equal(backoffDelay(0, { minDelay: 100, maxDelay: 10 }, fixed(0.999)), 99);
    assert.equal(backoffDelay(5, { minDelay: 100, maxDelay: 10 }, fixed(0.999)), 99);
  });

  test('with Math.random, every delay is a whole number in [0, ceiling)', () => {
    const options = { minDelay: 20, maxDelay: 200 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(200, 20 * 2 ** attempt);
      const seen = new Set<number>();
      for (let i = 0; i < 500; i++) {
        const delay = backoffDelay(attempt, options);
        assert.ok(Number.isInteger(delay) && delay >= 0 && delay < ceiling, `attempt ${attempt}: ${delay} not in [0, ${ceiling})`);
        seen.add(delay);
      }
      // Jitter: not a constant.
      assert.ok(seen.size > 5, `attempt ${attempt}: only ${seen.size} distinct delays`);
    }
  });

  test('minDelay and maxDelay of 0 are used as given, not replaced by the defaults (500 and 30 000)', () => {
    assert.equal(backoffDelay(3, { minDelay: 0 }, fixed(0.5)), 0);
    // maxDelay 0 is below minDelay: the ceiling is minDelay.
    assert.equal(backoffDelay(5, { minDelay: 100, maxDelay: 0 }, fixed(0.5)), 50);
  });

  test('the default cap is exactly 30 000 ms', () => {
    assert.equal(backoffDelay(100, {}, fixed(1 - Number.EPSILON)), 29_999);
  });
});
