/**
 * What send() makes of its argument: strings as text, binary views as binary, other values as
 * JSON text; and objects JSON would quietly turn into "{}" (a Blob, a forgotten await, a Map, a
 * Set) refused with a TypeError that says what to send instead.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { toPayload, type SendData } from '../../src/io/payload.js';

describe('toPayload', () => {
  test('strings, bytes and JSON values', () => {
    assert.deepEqual(toPayload('hé'), { bytes: Buffer.from('hé'), binary: false, borrowed: false });
    assert.deepEqual(toPayload(new Uint8Array([1, 2])), { bytes: Buffer.from([1, 2]), binary: true, borrowed: true });
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

  test('binary: given, it wins over the kind of data; bytes sent as text must be UTF-8', () => {
    assert.deepEqual(toPayload('hé', true), { bytes: Buffer.from('hé'), binary: true, borrowed: false });
    assert.deepEqual(toPayload('hé', false), { bytes: Buffer.from('hé'), binary: false, borrowed: false });
    assert.deepEqual(toPayload(Buffer.from('ok'), false), { bytes: Buffer.from('ok'), binary: false, borrowed: true });
    assert.deepEqual(toPayload({ a: 1 }), { bytes: Buffer.from('{"a":1}'), binary: false, borrowed: false });
    assert.deepEqual(toPayload({ a: 1 }, true), { bytes: Buffer.from('{"a":1}'), binary: true, borrowed: false });
    assert.deepEqual(toPayload(Buffer.from([0xff])), { bytes: Buffer.from([0xff]), binary: true, borrowed: true });
    assert.deepEqual(toPayload(Buffer.from([0xff]), true), { bytes: Buffer.from([0xff]), binary: true, borrowed: true });
    assert.throws(() => toPayload(Buffer.from([0xff]), false), { name: 'TypeError', message: /must be valid UTF-8/ });
    assert.throws(() => toPayload(new Uint8Array([0x68, 0xc3]), false), { name: 'TypeError', message: /must be valid UTF-8/ });
  });

  test('a view is sent as the bytes it covers, not its whole buffer; an ArrayBuffer and a SharedArrayBuffer whole', () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5]);
    assert.deepEqual(toPayload(new Uint8Array(whole.buffer, 1, 3)).bytes, Buffer.from([2, 3, 4]));
    assert.deepEqual(toPayload(new DataView(whole.buffer, 2, 2)).bytes, Buffer.from([3, 4]));
    assert.deepEqual(toPayload(whole.buffer), { bytes: Buffer.from([1, 2, 3, 4, 5]), binary: true, borrowed: true });
    const shared = new SharedArrayBuffer(2);
    new Uint8Array(shared).set([7, 8]);
    assert.deepEqual(toPayload(shared), { bytes: Buffer.from([7, 8]), binary: true, borrowed: true });
  });

  test('borrowed: the bytes are the caller\'s memory (bytes given), not made for the message (a string, JSON)', () => {
    const given = Buffer.from('caller');
    const payload = toPayload(given);
    assert.equal(payload.borrowed, true);
    assert.equal(payload.bytes.buffer, given.buffer, 'the same memory: no copy on the way in');
    assert.equal(toPayload(new Uint8Array(4).buffer).borrowed, true);
    assert.equal(toPayload('text').borrowed, false);
    assert.equal(toPayload({ a: 1 }).borrowed, false);
  });

  test('null and objects with a "then" that is not a function go as JSON; values without a JSON form are TypeErrors', () => {
    assert.equal(toPayload(null).bytes.toString(), 'null');
    assert.equal(toPayload({ then: 1 }).bytes.toString(), '{"then":1}');
    assert.equal(toPayload(5).bytes.toString(), '5');
    for (const value of [undefined, () => 1, Symbol('s')]) {
      assert.throws(() => toPayload(value as unknown as object), { name: 'TypeError', message: /it has no JSON form/ }, String(typeof value));
    }
  });

  test('a WeakMap and a WeakSet are refused like a Map and a Set', () => {
    assert.throws(() => toPayload(new WeakMap() as unknown as SendData), { name: 'TypeError', message: /Object\.fromEntries/ });
    assert.throws(() => toPayload(new WeakSet() as unknown as SendData), { name: 'TypeError', message: /\[\.\.\.set\]/ });
  });

  test('a generator, another non-array iterable and a tagged built-in are refused; with a toJSON() they are sent', () => {
    function* numbers(): Generator<number> {
      yield 1;
    }
    assert.throws(() => toPayload(numbers() as unknown as SendData), { name: 'TypeError', message: /iterable has no JSON form \(send \[\.\.\.iterable\]\)/ });
    const iterable = { *[Symbol.iterator]() { yield 1; } };
    assert.throws(() => toPayload(iterable as unknown as SendData), { name: 'TypeError', message: /iterable has no JSON form/ });
    assert.throws(() => toPayload(new WeakRef({}) as unknown as SendData), { name: 'TypeError', message: /a WeakRef has no JSON form/ });
    const listed = { *[Symbol.iterator]() { yield 1; }, toJSON: () => [1] };
    assert.equal(toPayload(listed).bytes.toString(), '[1]');
    assert.equal(toPayload([1, [2]]).bytes.toString(), '[1,[2]]');
  });

  test('SendData: the compiler refuses what toPayload refuses at run time, and takes what it sends', () => {
    interface Move { player: string; at: Date; tags?: readonly string[] }
    const move: Move = { player: 'a', at: new Date(0) };
    const loose: object = { a: 1 };
    const record: Record<string, unknown> = { a: 1 };
    class Point { x = 1; norm(): number { return this.x; } }
    const taken: SendData[] = [move, loose, record, new Point(), { toJSON: () => 1 }, { then: 1 }, [move], new SharedArrayBuffer(1), new DataView(new ArrayBuffer(1))];
    for (const value of taken) assert.doesNotThrow(() => toPayload(value));
    const relay = <T extends SendData>(value: T): string => toPayload(value).bytes.toString();
    assert.equal(relay(move), '{"player":"a","at":"1970-01-01T00:00:00.000Z"}');

    const refused: unknown[] = [];
    const keep = (value: SendData): void => void refused.push(value);
    // @ts-expect-error a Promise (a forgotten await)
    keep(Promise.resolve('x'));
    // @ts-expect-error a thenable
    keep({ then: () => {} });
    // @ts-expect-error a Map
    keep(new Map([['a', 1]]));
    // @ts-expect-error a Set
    keep(new Set([1]));
    // @ts-expect-error a function
    keep(() => 1);
    // @ts-expect-error a generator
    keep((function* () { yield 1; })());
    // @ts-expect-error a WeakRef
    keep(new WeakRef({}));
    // @ts-expect-error a Blob
    keep(new Blob(['x']));
    for (const value of refused) assert.throws(() => toPayload(value as SendData), { name: 'TypeError' }, String(value));
    assert.equal(refused.length, 8);
    // Nested values are checked only where the type is an object literal's (JSON would send "{}").
    // @ts-expect-error an object literal holding a Promise
    keep({ a: Promise.resolve(1) });
  });
});
