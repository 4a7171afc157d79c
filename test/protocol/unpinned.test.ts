/**
 * `unpinned()`: what the parser keeps of a small piece of a large read is copied into memory of
 * its own, so it does not hold the whole read alive; anything else is kept as the view it is.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { unpinned } from '../../src/protocol/unpinned.js';

/** `length` bytes at `offset` of a fresh `backing`-byte ArrayBuffer, filled with a pattern. */
function view(backing: number, offset: number, length: number): Buffer {
  const all = Buffer.from(new ArrayBuffer(backing));
  for (let i = 0; i < backing; i++) all[i] = (i * 7 + 3) & 0xff;
  return all.subarray(offset, offset + length);
}

describe('unpinned', () => {
  test('a small view of much larger memory is copied: same bytes, memory of its own size', () => {
    const data = view(64 * 1024, 1000, 10);
    const kept = unpinned(data, 16);
    assert.notEqual(kept.buffer, data.buffer);
    assert.equal(kept.buffer.byteLength, 10);
    assert.deepEqual(kept, data);
    // A copy: changing the read afterwards does not change what was kept.
    const before = Buffer.from(kept);
    data.fill(0);
    assert.deepEqual(kept, before);
  });

  test('a view at or over the limit is kept as it is', () => {
    for (const length of [16, 17]) {
      const data = view(64 * 1024, 0, length);
      assert.equal(unpinned(data, 16), data, `length ${length}`);
    }
    assert.equal(unpinned(view(64 * 1024, 0, 15), 16).buffer.byteLength, 15);
  });

  test('a view of memory under twice its size is kept as it is; at exactly twice, it is copied', () => {
    const under = view(19, 0, 10);
    assert.equal(unpinned(under, 16), under);
    const whole = view(10, 0, 10);
    assert.equal(unpinned(whole, 16), whole);
    const twice = view(20, 5, 10);
    const kept = unpinned(twice, 16);
    assert.notEqual(kept, twice);
    assert.equal(kept.buffer.byteLength, 10);
    assert.deepEqual(kept, twice);
  });
});
