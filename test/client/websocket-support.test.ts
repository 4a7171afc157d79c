/**
 * The small conversions behind the browser-standard WebSocket, on their own: the second
 * constructor argument, Blob reading, copies to ArrayBuffer and the errors it makes. How the
 * WebSocket uses them is tested in websocket.test.ts.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import {
  abortError,
  BINARY_TYPES,
  CLOSED,
  CLOSING,
  CONNECTING,
  domException,
  FAILED_CLOSE,
  isIterable,
  OPEN,
  readBlob,
  splitSecondArgument,
  toArrayBuffer,
  toError,
} from '../../src/client/websocket-support.js';
import { SockwaveError } from '../../src/errors.js';
import { type WebSocketOptions } from '../../src/client/websocket-types.js';

describe('websocket-support', () => {
  test('ready states, binary types and the failed close are the standard ones', () => {
    assert.deepEqual([CONNECTING, OPEN, CLOSING, CLOSED], [0, 1, 2, 3]);
    assert.deepEqual([...BINARY_TYPES].sort(), ['arraybuffer', 'blob', 'nodebuffer']);
    assert.deepEqual(FAILED_CLOSE, { code: 1006, reason: '', wasClean: false, remote: false });
  });

  describe('splitSecondArgument', () => {
    test('nothing: no protocols, no options', () => {
      assert.deepEqual(splitSecondArgument(undefined), { offered: [], options: {} });
    });

    test('a string (or null, or another non-object, as WebIDL converts it) is one protocol, lone surrogates replaced', () => {
      assert.deepEqual(splitSecondArgument('chat'), { offered: 'chat', options: {} });
      assert.deepEqual(splitSecondArgument(null as unknown as undefined), { offered: 'null', options: {} });
      assert.deepEqual(splitSecondArgument(7 as unknown as string), { offered: '7', options: {} });
      assert.deepEqual(splitSecondArgument('a\uD800b'), { offered: 'a\uFFFDb', options: {} });
    });

    test('any iterable is a sequence of protocols, each converted to a string', () => {
      assert.deepEqual(splitSecondArgument(['a', 'b']), { offered: ['a', 'b'], options: {} });
      assert.deepEqual(splitSecondArgument(new Set(['x', 'y']) as unknown as string[]), { offered: ['x', 'y'], options: {} });
      assert.deepEqual(splitSecondArgument([1, true] as unknown as string[]), { offered: ['1', 'true'], options: {} });
      assert.deepEqual(splitSecondArgument([]), { offered: [], options: {} });
    });

    test('an options object: its protocols are offered, the rest are options, and handler/data are dropped', () => {
      const options = { protocols: ['v2', 'v1'], pingInterval: 5, handler: {}, data: 1 } as WebSocketOptions;
      assert.deepEqual(splitSecondArgument(options), { offered: ['v2', 'v1'], options: { pingInterval: 5 } });
      assert.deepEqual(splitSecondArgument({ protocols: 'one' }), { offered: 'one', options: {} });
      assert.deepEqual(splitSecondArgument({ pongTimeout: 3 }), { offered: [], options: { pongTimeout: 3 } });
      // The caller's object is left as it was.
      assert.deepEqual(Object.keys(options), ['protocols', 'pingInterval', 'handler', 'data']);
    });
  });

  test('isIterable looks for a callable Symbol.iterator', () => {
    assert.equal(isIterable([]), true);
    assert.equal(isIterable(new Map()), true);
    assert.equal(isIterable({}), false);
    assert.equal(isIterable({ [Symbol.iterator]: 1 }), false);
  });

  test('readBlob resolves with the bytes, or with the error of a Blob that cannot be read', async () => {
    const read = await readBlob(new Blob(['hé']));
    assert.deepEqual(read, { ok: true, bytes: Buffer.from('hé') });
    const failure = new Error('unreadable');
    const broken = { arrayBuffer: () => Promise.reject(failure) } as unknown as Blob;
    assert.deepEqual(await readBlob(broken), { ok: false, error: failure });
  });

  test('toArrayBuffer copies exactly the view, not the memory around it', () => {
    const whole = Buffer.from([9, 1, 2, 3, 9]);
    const copy = toArrayBuffer(whole.subarray(1, 4));
    assert.equal(copy.byteLength, 3);
    assert.deepEqual([...new Uint8Array(copy)], [1, 2, 3]);
    whole[2] = 0;
    assert.deepEqual([...new Uint8Array(copy)], [1, 2, 3]);
  });

  test('toError keeps an Error and wraps anything else as a failed handshake', () => {
    const e = new RangeError('r');
    assert.equal(toError(e), e);
    const wrapped = toError('no luck');
    assert.ok(wrapped instanceof SockwaveError);
    assert.equal(wrapped.code, 'SW_HANDSHAKE_FAILED');
    assert.equal(wrapped.message, 'no luck');
  });

  test('domException takes an Error\'s message, or the value as text', () => {
    const fromError = domException(new Error('bad url'), 'SyntaxError');
    assert.ok(fromError instanceof DOMException);
    assert.deepEqual([fromError.name, fromError.message], ['SyntaxError', 'bad url']);
    assert.equal(domException(42, 'SyntaxError').message, '42');
  });

  test('abortError carries the abort reason as its cause', () => {
    const reason = new Error('user left');
    const e = abortError(reason);
    assert.equal(e.code, 'SW_ABORTED');
    assert.equal(e.cause, reason);
    assert.match(e.message, /aborted/);
  });
});
