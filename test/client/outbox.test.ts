/**
 * Outbox: what a reconnecting client holds while disconnected, in order, bounded in count and
 * bytes, with the 'reject' and 'drop-oldest' policies.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Outbox, OutboxFullError, SockwaveError } from '../../src/index.js';

const entry = (text: string, binary = false): { data: Buffer; binary: boolean } => ({ data: Buffer.from(text, 'utf8'), binary });
const texts = (entries: ReadonlyArray<{ data: Buffer }>): string[] => entries.map((e) => e.data.toString('utf8'));

function isOutboxFull(error: unknown): boolean {
  return error instanceof OutboxFullError && error instanceof SockwaveError && error.code === 'SW_OUTBOX_FULL';
}

describe('Outbox', () => {
  test('keeps entries in order, with their type, and drain() returns them oldest first and empties it', () => {
    const outbox = new Outbox();
    assert.deepEqual(outbox.push(entry('one')), []);
    assert.deepEqual(outbox.push(entry('two', true)), []);
    assert.deepEqual(outbox.push(entry('three ✓')), []);
    assert.equal(outbox.size, 3);
    assert.equal(outbox.byteSize, 3 + 3 + Buffer.byteLength('three ✓'));
    const drained = outbox.drain();
    assert.deepEqual(texts(drained), ['one', 'two', 'three ✓']);
    assert.deepEqual(drained.map((e) => e.binary), [false, true, false]);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.byteSize, 0);
    assert.deepEqual(outbox.drain(), []);
    // Usable again after a drain.
    outbox.push(entry('four'));
    assert.deepEqual(texts(outbox.drain()), ['four']);
  });

  test("defaults: 1024 messages, policy 'reject'", () => {
    const outbox = new Outbox();
    assert.equal(outbox.policy, 'reject');
    for (let i = 0; i < 1024; i++) outbox.push(entry(String(i)));
    assert.throws(() => outbox.push(entry('1024')), isOutboxFull);
    assert.equal(outbox.size, 1024);
  });

  test('default maxBytes: 16 MiB (a message of exactly 16 MiB fits, one byte more does not)', () => {
    const outbox = new Outbox();
    outbox.push({ data: Buffer.alloc(16 * 1024 * 1024 - 1), binary: true });
    assert.throws(() => outbox.push(entry('ab')), isOutboxFull);
    outbox.push(entry('a'));
    assert.equal(outbox.byteSize, 16 * 1024 * 1024);
    assert.deepEqual(new Outbox().push({ data: Buffer.alloc(16 * 1024 * 1024), binary: true }), [], 'one message of the whole size');
    assert.throws(() => new Outbox().push({ data: Buffer.alloc(16 * 1024 * 1024 + 1), binary: true }), isOutboxFull);
  });

  test('maxBytes 0 takes only empty messages (it is a limit, not "the default")', () => {
    const outbox = new Outbox({ maxBytes: 0 });
    assert.throws(() => outbox.push(entry('a')), isOutboxFull);
    assert.deepEqual(outbox.push(entry('')), []);
    assert.equal(outbox.size, 1);
  });

  test("'reject': the message past maxMessages throws OutboxFullError (SW_OUTBOX_FULL) and changes nothing", () => {
    const outbox = new Outbox({ maxMessages: 2, policy: 'reject' });
    outbox.push(entry('a'));
    outbox.push(entry('b'));
    assert.throws(() => outbox.push(entry('c')), isOutboxFull);
    assert.equal(outbox.size, 2);
    assert.equal(outbox.byteSize, 2);
    assert.deepEqual(texts(outbox.drain()), ['a', 'b']);
  });

  test("'reject': the message past maxBytes throws; a message that fills it exactly fits", () => {
    const outbox = new Outbox({ maxBytes: 10, policy: 'reject' });
    outbox.push(entry('12345'));
    outbox.push(entry('6789'));
    assert.equal(outbox.byteSize, 9);
    assert.throws(() => outbox.push(entry('ab')), isOutboxFull);
    assert.equal(outbox.byteSize, 9);
    outbox.push(entry('0'));
    assert.equal(outbox.byteSize, 10);
    assert.throws(() => outbox.push(entry('x')), isOutboxFull);
    assert.deepEqual(texts(outbox.drain()), ['12345', '6789', '0']);
  });

  test("'drop-oldest': makes room by dropping the oldest and returns what it dropped (count bound)", () => {
    const outbox = new Outbox({ maxMessages: 3, policy: 'drop-oldest' });
    for (const text of ['a', 'b', 'c']) assert.deepEqual(outbox.push(entry(text)), []);
    assert.deepEqual(texts(outbox.push(entry('d'))), ['a']);
    assert.deepEqual(texts(outbox.push(entry('e'))), ['b']);
    assert.equal(outbox.size, 3);
    assert.equal(outbox.byteSize, 3);
    assert.deepEqual(texts(outbox.drain()), ['c', 'd', 'e']);
  });

  test("'drop-oldest': drops as many of the oldest as the bytes of the new one need, oldest first", () => {
    const outbox = new Outbox({ maxBytes: 10, policy: 'drop-oldest' });
    outbox.push(entry('aaa'));
    outbox.push(entry('bbb'));
    outbox.push(entry('cc'));
    assert.equal(outbox.byteSize, 8);
    // 8 + 7 > 10: 'aaa' (→ 5 + 7 > 10) and 'bbb' (→ 2 + 7 ≤ 10) go.
    assert.deepEqual(texts(outbox.push(entry('ddddddd'))), ['aaa', 'bbb']);
    assert.equal(outbox.size, 2);
    assert.equal(outbox.byteSize, 9);
    assert.deepEqual(texts(outbox.drain()), ['cc', 'ddddddd']);
  });

  test('a message larger than the whole outbox is refused with both policies, and nothing is dropped for it', () => {
    for (const policy of ['reject', 'drop-oldest'] as const) {
      const outbox = new Outbox({ maxBytes: 8, policy });
      outbox.push(entry('keep'));
      assert.throws(() => outbox.push(entry('123456789')), isOutboxFull, policy);
      assert.equal(outbox.size, 1, policy);
      assert.equal(outbox.byteSize, 4, policy);
      assert.deepEqual(texts(outbox.drain()), ['keep'], policy);
      // Even into an empty outbox.
      assert.throws(() => outbox.push(entry('123456789')), isOutboxFull, policy);
      assert.equal(outbox.size, 0, policy);
    }
  });

  test("maxMessages 0 holds nothing: both policies throw OutboxFullError (nothing to drop for 'drop-oldest')", () => {
    for (const policy of ['reject', 'drop-oldest'] as const) {
      const outbox = new Outbox({ maxMessages: 0, policy });
      assert.throws(() => outbox.push(entry('a')), isOutboxFull, policy);
      assert.equal(outbox.size, 0);
    }
  });

  test('count and byte bounds apply together', () => {
    const outbox = new Outbox({ maxMessages: 3, maxBytes: 6, policy: 'reject' });
    outbox.push(entry('a'));
    outbox.push(entry('b'));
    assert.throws(() => outbox.push(entry('cccccc')), isOutboxFull); // bytes
    outbox.push(entry('c'));
    assert.throws(() => outbox.push(entry('d')), isOutboxFull); // count
    assert.deepEqual(texts(outbox.drain()), ['a', 'b', 'c']);
  });
});
