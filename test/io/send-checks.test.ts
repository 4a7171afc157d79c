/** The checks of what is passed to send() and to the server's fan-outs, made before anything is sent. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { checkFanOutOptions, checkSendOptions } from '../../src/io/send-checks.js';

describe('send checks', () => {
  test('checkSendOptions: undefined or null (not given), an empty object and fields of their types (or null) pass', () => {
    checkSendOptions('send', undefined);
    checkSendOptions('send', null);
    checkSendOptions('send', { binary: null, fragmentSize: null });
    checkSendOptions('send', {});
    checkSendOptions('send', { binary: true, fragmentSize: 1 });
    checkSendOptions('send', { binary: false, fragmentSize: 65536 });
    checkSendOptions('send', { binary: undefined, fragmentSize: undefined });
  });

  test('checkSendOptions: options that are not an object, and a binary that is not a boolean, are TypeErrors naming the method', () => {
    for (const options of ['binary', 42, true]) {
      assert.throws(() => checkSendOptions('send', options), { name: 'TypeError', message: /^send: options must be an object, not / }, String(options));
    }
    for (const binary of ['yes', 1, 0]) {
      assert.throws(() => checkSendOptions('broadcast', { binary }), { name: 'TypeError', message: /^broadcast: binary must be a boolean, not / }, String(binary));
    }
  });

  test('checkSendOptions: a fragmentSize that is not a positive whole number is a RangeError (NaN and other types: TypeError)', () => {
    for (const fragmentSize of [0, -1, 1.5, Infinity]) {
      assert.throws(() => checkSendOptions('publish', { fragmentSize }), { name: 'RangeError', message: /^publish: fragmentSize must be a whole number at least 1/ }, String(fragmentSize));
    }
    for (const fragmentSize of [NaN, 'big', '10']) {
      assert.throws(() => checkSendOptions('sendTo', { fragmentSize }), { name: 'TypeError', message: /^sendTo: fragmentSize must be a number, not / }, String(fragmentSize));
    }
  });

  test('checkFanOutOptions: a filter that is a function, a boolean report, and except of ids and connections pass', () => {
    checkFanOutOptions('broadcast', {}, undefined);
    checkFanOutOptions('broadcast', { filter: null }, undefined);
    checkFanOutOptions('broadcast', { filter: () => true, report: true }, []);
    checkFanOutOptions('publish', { report: false }, ['a.1', { serial: 3 }]);
  });

  test('checkFanOutOptions: a filter not a function, a report not a boolean, or an except item that is neither an id nor a connection are TypeErrors', () => {
    assert.throws(() => checkFanOutOptions('broadcast', { filter: 'notfn' }, undefined), { name: 'TypeError', message: /^broadcast: filter must be a function, not "notfn"/ });
    // (null is "not given"; false, 0 and '' are not.)
    for (const filter of [false, 0, '']) {
      assert.throws(() => checkFanOutOptions('broadcast', { filter }, undefined), { name: 'TypeError', message: /^broadcast: filter must be a function, not / }, String(filter));
    }
    assert.throws(() => checkFanOutOptions('publish', { report: 'yes' }, undefined), { name: 'TypeError', message: /^publish: report must be a boolean, not "yes"/ });
    for (const item of [5, null, {}, { serial: '3' }, undefined]) {
      assert.throws(() => checkFanOutOptions('broadcast', {}, ['a.1', item]), { name: 'TypeError', message: /^broadcast: except takes connections and connection ids/ }, String(item));
    }
  });
});
