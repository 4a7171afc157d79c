import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { idOf, nextSerial, serialOf } from '../../src/io/connection-id.js';

describe('connection ids', () => {
  test('an id reads back as the serial it was made from; serials are never reused', () => {
    const a = nextSerial();
    const b = nextSerial();
    assert.notEqual(a, b);
    for (const serial of [a, b, 0, 35, 36, 1_000_000, Number.MAX_SAFE_INTEGER]) assert.equal(serialOf(idOf(serial)), serial);
    assert.match(idOf(36), /^[0-9a-f]{8}\.10$/);
  });

  test('ids of another process, and other spellings of the same number, name no connection', () => {
    const id = idOf(36);
    const prefix = id.slice(0, id.indexOf('.') + 1);
    for (const other of ['', '10', `x${id}`, `${prefix}`, `${prefix}010`, `${prefix}10!`, `${prefix}+10`, `${prefix}-1`, `${prefix}1A`, `${prefix} 10`, `00000000.10`]) {
      assert.equal(serialOf(other), undefined, JSON.stringify(other));
    }
  });
});
