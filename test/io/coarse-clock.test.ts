import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { coarseClock } from '../../src/io/coarse-clock.js';

/** Rounding room for sums with performance.timeOrigin (about 1.7e12 ms: a few µs of precision lost). */
const ROUNDING = 0.01;

describe('coarseClock', () => {
  test('tick() refreshes now and returns that same value; now never goes back', () => {
    const before = coarseClock.now;
    assert.ok(before >= performance.timeOrigin, 'now starts on the same scale, before any tick()');
    const ticked = coarseClock.tick();
    assert.equal(coarseClock.now, ticked, 'tick() returns the new now');
    assert.ok(ticked >= before, `${ticked} after ${before}`);
    assert.ok(coarseClock.tick() >= ticked);
  });

  test('sinceEpoch() gives the whole milliseconds after the epoch', () => {
    assert.equal(coarseClock.sinceEpoch(coarseClock.epoch), 0);
    assert.equal(coarseClock.sinceEpoch(coarseClock.epoch + 1.75), 1);
    assert.equal(coarseClock.sinceEpoch(coarseClock.epoch + 86_400_000.5), 86_400_000);
  });

  test("precise(), now and the epoch are on one scale (the time origin plus the monotonic clock), at or after the epoch", () => {
    const first = coarseClock.monotonic();
    const precise = coarseClock.precise();
    const last = coarseClock.monotonic();
    const onMonotonicScale = precise - performance.timeOrigin;
    assert.ok(first <= onMonotonicScale + ROUNDING && onMonotonicScale <= last + ROUNDING, `${first} <= ${onMonotonicScale} <= ${last}`);
    assert.ok(precise >= coarseClock.epoch, 'precise() is not before the epoch');
    assert.ok(coarseClock.sinceEpoch(coarseClock.tick()) >= 0, 'now is not before the epoch');
    // The epoch was taken when the module loaded: after the process's time origin, before now.
    assert.ok(coarseClock.epoch >= performance.timeOrigin && coarseClock.epoch <= coarseClock.now + ROUNDING);
  });
});
