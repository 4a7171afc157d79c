/**
 * What send() makes of its argument: strings as text, binary views as binary, other values as
 * JSON text; and objects JSON would quietly turn into "{}" (a Blob, a forgotten await, a Map, a
 * Set) refused with a TypeError that says what to send instead.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { toPayload } from '../../src/io/payload.js';

describe('toPayload', () => {
  test('strings, bytes and JSON values', () => {
    assert.deepEqual(toPayload('hé'), { bytes: Buffer.from('hé'), binary: false });
    assert.deepEqual(toPayload(new Uint8Array([1, 2])), { bytes: Buffer.from([1, 2]), binary: true });
    assert.equal(toPayload({ a: [1, null] }).bytes.toString(), '{"a":[1,null]}');
    assert.equal(toPayload({ toJSON: () => 'custom' }).bytes.toString(), '"custom"');
    assert.equal(toPayload(new Date(0)).bytes.toString(), '"1970-01-01T00:00:00.000Z"');
  });

  test('a Blob, a Promise or thenable, a Map and a Set are TypeErrors saying what to send instead, not "{}"', () => {
    const cases: ReadonlyArray<[unknown, RegExp]> = [
      [new Blob(['x']), /a Blob is not sent by a Connection/],
      [Promise.resolve('x'), /await it first/],
      [{ then: () => {} }, /await it first/],
      [new Map([['a', 1]]), /Object\.fromEntries/],
      [new Set([1]), /\[\.\.\.set\]/],
    ];
    for (const [value, message] of cases) assert.throws(() => toPayload(value as object), { name: 'TypeError', message }, String(value));
  });
});
