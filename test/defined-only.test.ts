/** definedOnly: options given as undefined are left out, as if not given. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { definedOnly } from '../src/defined-only.js';

test('keys whose value is undefined are left out; every other value (null, 0, false, "") is kept; the original is not changed', () => {
  const given = { a: undefined, b: null, c: 0, d: false, e: '', f: { g: undefined } };
  const copy = definedOnly(given);
  assert.deepEqual(Object.keys(copy), ['b', 'c', 'd', 'e', 'f']);
  assert.equal(copy.f, given.f, 'shallow: nested objects are the same objects');
  assert.ok('a' in given);
  assert.deepEqual({ ...{ a: 1, c: 2 }, ...definedOnly(given) }, { a: 1, b: null, c: 0, d: false, e: '', f: given.f }, 'a default named with undefined is kept');
});
