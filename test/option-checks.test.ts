/** The option checks shared by servers and clients: what passes, and the error that names the option. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { checkNumber, checkOneOf, checkStringList, checkType, isAbortSignal, shown } from '../src/option-checks.js';

describe('option checks', () => {
  test('checkNumber: undefined and values in range pass; NaN and other types are TypeErrors; out of range, Infinity unless allowed and fractions where whole numbers are asked are RangeErrors', () => {
    for (const value of [undefined, 0, 5, 1.5]) checkNumber('X', 'n', value);
    checkNumber('X', 'n', Infinity, { infinite: true });
    checkNumber('X', 'n', 7, { integer: true, min: 1, max: 7 });
    for (const value of [NaN, '5', null, {}, true]) assert.throws(() => checkNumber('X', 'n', value), { name: 'TypeError', message: /^X: n must be a number, not / }, String(value));
    for (const [value, rule] of [[-1, {}], [Infinity, {}], [-Infinity, { infinite: true }], [1.5, { integer: true }], [8, { max: 7 }], [0, { min: 1 }]] as const) {
      assert.throws(() => checkNumber('X', 'n', value, rule), { name: 'RangeError', message: /^X: n must be a (whole|finite) number / }, `${value} ${JSON.stringify(rule)}`);
    }
  });

  test('checkOneOf, checkType and checkStringList', () => {
    checkOneOf('X', 'mode', 'a', ['a', 'b']);
    checkOneOf('X', 'mode', undefined, ['a']);
    assert.throws(() => checkOneOf('X', 'mode', 'c', ['a', 'b']), { name: 'TypeError', message: 'X: mode must be one of "a", "b", not "c"' });
    checkType('X', 'flag', false, 'boolean');
    checkType('X', 'o', {}, 'object');
    assert.throws(() => checkType('X', 'o', null, 'object'), { name: 'TypeError', message: 'X: o must be an object, not null' });
    assert.throws(() => checkType('X', 'flag', 'no', 'boolean'), { name: 'TypeError', message: 'X: flag must be a boolean, not "no"' });
    checkStringList('X', 'list', ['a', 'b']);
    checkStringList('X', 'list', () => true, true);
    assert.throws(() => checkStringList('X', 'list', 'https://a'), { name: 'TypeError', message: 'X: list must be an array of strings, not "https://a"' });
    assert.throws(() => checkStringList('X', 'list', ['a', 1]), TypeError);
    assert.throws(() => checkStringList('X', 'list', () => true), TypeError);
  });

  test('shown: strings quoted, functions, arrays, null and objects by kind, anything else as String() gives it', () => {
    assert.deepEqual(
      ['a', () => 1, [1], null, {}, 5, true, undefined, 1n].map(shown),
      ['"a"', 'a function', 'an array', 'null', 'an object', '5', 'true', 'undefined', '1'],
    );
  });

  test('the RangeError says "(or Infinity)" where Infinity is allowed, and gives the range', () => {
    assert.throws(() => checkNumber('X', 'n', -1, { infinite: true }), { name: 'RangeError', message: 'X: n must be a finite number at least 0 (or Infinity), not -1' });
    assert.throws(() => checkNumber('X', 'n', 9, { min: 1, max: 8, integer: true }), { name: 'RangeError', message: 'X: n must be a whole number from 1 to 8, not 9' });
  });

  test('isAbortSignal: a boolean aborted and an addEventListener function, both', () => {
    assert.equal(isAbortSignal(new AbortController().signal), true);
    assert.equal(isAbortSignal({ aborted: false, addEventListener() {} }), true);
    for (const value of [{ aborted: false }, { addEventListener() {} }, { aborted: 'no', addEventListener() {} }, { aborted: false, addEventListener: 1 }, null, 'signal']) {
      assert.equal(isAbortSignal(value), false, JSON.stringify(value));
    }
  });
});
