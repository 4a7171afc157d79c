/** The options a frame parser and a session share, checked when one is made. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { checkProtocolOptions } from '../../src/protocol/option-checks.js';

describe('checkProtocolOptions', () => {
  test('a role is required, and must be server or client', () => {
    checkProtocolOptions('P', { role: 'server', maxPayload: 1 });
    checkProtocolOptions('P', { role: 'client', maxPayload: 1 });
    assert.throws(() => checkProtocolOptions('P', { maxPayload: 1 }), { name: 'TypeError', message: 'P: role must be one of "server", "client", not null' });
    assert.throws(() => checkProtocolOptions('P', { role: 'Server', maxPayload: 1 }), { name: 'TypeError', message: /^P: role must be one of / });
    assert.throws(() => checkProtocolOptions('P', { role: '', maxPayload: 1 }), { name: 'TypeError', message: 'P: role must be one of "server", "client", not ""' });
  });

  test('maxFragments: a whole number from 1, or Infinity', () => {
    for (const maxFragments of [1, 2, Infinity, undefined]) checkProtocolOptions('P', { role: 'server', maxPayload: 1, maxFragments });
    for (const maxFragments of [0, 1.5]) {
      assert.throws(() => checkProtocolOptions('P', { role: 'server', maxPayload: 1, maxFragments }), { name: 'RangeError', message: /^P: maxFragments must be a whole number at least 1/ }, String(maxFragments));
    }
  });
});
