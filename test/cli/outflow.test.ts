import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { Outflow, type OutflowTarget } from '../../src/cli/outflow.js';
import { type Outgoing } from '../../src/cli/message-format.js';
import { type Connection } from '../../src/io/connection.js';

type Result = 'sent' | 'backpressure' | 'dropped';

/** A connection as Outflow sees it: a status, and 'drain' events. */
class FakeConnection extends EventEmitter {
  status = 'open';
  /** What send() answers, one per call; 'sent' once empty. */
  answers: Result[] = [];
}

/** A target recording every call; `current` is the connection offered. */
class FakeTarget implements OutflowTarget {
  current: FakeConnection | undefined;
  readonly sent: Array<{ on: FakeConnection | undefined; message: Outgoing }> = [];
  pauses = 0;
  resumes = 0;
  drains = 0;

  connection(): Connection | undefined {
    return this.current as Connection | undefined;
  }
  send(message: Outgoing): string {
    this.sent.push({ on: this.current, message });
    return this.current?.answers.shift() ?? 'sent';
  }
  pauseInput(): void {
    this.pauses++;
  }
  resumeInput(): void {
    this.resumes++;
  }
  drained(): void {
    this.drains++;
  }
  /** The messages sent, in order. */
  messages(): Outgoing[] {
    return this.sent.map((s) => s.message);
  }
}

function setup(connected = false): { target: FakeTarget; outflow: Outflow; connection: FakeConnection } {
  const target = new FakeTarget();
  const connection = new FakeConnection();
  if (connected) target.current = connection;
  return { target, outflow: new Outflow(target), connection };
}

const lines = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `line ${from + i}`);
const MIB = 1024 * 1024;

describe('Outflow: sending in order', () => {
  test('on an open connection, a message goes out at once, and drained() follows', () => {
    const { target, outflow } = setup(true);
    outflow.push('hello');
    assert.deepEqual(target.messages(), ['hello']);
    assert.equal(outflow.pending, 0);
    assert.equal(target.drains, 1);
  });

  test('without a connection, messages wait, in order, until flush() finds one open', () => {
    const { target, outflow, connection } = setup();
    outflow.push('a');
    outflow.push(Buffer.from('b'));
    outflow.push('c');
    assert.equal(outflow.pending, 3);
    assert.deepEqual(target.sent, []);
    assert.equal(target.drains, 0);
    connection.status = 'connecting';
    target.current = connection;
    outflow.flush();
    assert.deepEqual(target.sent, []);
    assert.equal(outflow.pending, 3);
    connection.status = 'open';
    outflow.flush();
    assert.deepEqual(target.messages(), ['a', Buffer.from('b'), 'c']);
    assert.equal(outflow.pending, 0);
    assert.equal(target.drains, 1);
  });

  test('flush() with nothing waiting sends nothing and does not report drained', () => {
    const { target, outflow } = setup(true);
    outflow.flush();
    assert.deepEqual(target.sent, []);
    assert.equal(target.drains, 0);
  });

  test('a message the connection drops stays first in line; nothing more goes to it before its drain', () => {
    const { target, outflow, connection } = setup(true);
    connection.answers = ['dropped'];
    outflow.push('first');
    outflow.push('second');
    outflow.flush();
    assert.deepEqual(target.messages(), ['first']);
    assert.equal(outflow.pending, 2);
    assert.equal(target.drains, 0);
    connection.emit('drain');
    assert.deepEqual(target.messages(), ['first', 'first', 'second']);
    assert.equal(outflow.pending, 0);
    assert.equal(target.drains, 1);
  });

  test('a message accepted with backpressure has gone; the next wait for the drain', () => {
    const { target, outflow, connection } = setup(true);
    connection.answers = ['backpressure'];
    outflow.push('first');
    assert.equal(outflow.pending, 0);
    assert.equal(target.drains, 1);
    outflow.push('second');
    outflow.push('third');
    assert.deepEqual(target.messages(), ['first']);
    assert.equal(outflow.pending, 2);
    connection.emit('drain');
    assert.deepEqual(target.messages(), ['first', 'second', 'third']);
    assert.equal(target.drains, 2);
  });

  test('backpressure in the middle: what went is gone, the rest waits, drained() only once all went', () => {
    const { target, outflow, connection } = setup();
    for (const line of lines(4)) outflow.push(line);
    target.current = connection;
    connection.answers = ['sent', 'backpressure'];
    outflow.flush();
    assert.deepEqual(target.messages(), lines(2));
    assert.equal(outflow.pending, 2);
    assert.equal(target.drains, 0);
    connection.emit('drain');
    assert.deepEqual(target.messages(), lines(4));
    assert.equal(target.drains, 1);
  });

  test('a new connection is not blocked by the old one, and the old one\'s late drain flushes nothing', () => {
    const { target, outflow, connection: old } = setup(true);
    old.answers = ['dropped'];
    outflow.push('kept');
    const next = new FakeConnection();
    next.answers = ['dropped'];
    target.current = next;
    outflow.flush();
    assert.deepEqual(target.sent, [{ on: old, message: 'kept' }, { on: next, message: 'kept' }]);
    old.emit('drain');
    assert.equal(target.sent.length, 2);
    next.emit('drain');
    assert.deepEqual(target.sent.at(-1), { on: next, message: 'kept' });
    assert.equal(target.sent.length, 3);
    assert.equal(outflow.pending, 0);
  });

  test('a drain after the block was lifted by a flush on the same connection does nothing more', () => {
    const { target, outflow, connection } = setup(true);
    connection.answers = ['dropped'];
    outflow.push('x');
    const other = new FakeConnection();
    target.current = other;
    other.answers = ['dropped'];
    outflow.flush(); // blocked on `other` now
    target.current = connection;
    connection.answers = ['dropped'];
    connection.emit('drain'); // `connection` is no longer the one blocked on
    assert.equal(target.sent.length, 2);
  });

  test("a flush on a new connection lifts the old one's block for good: the old one's late drain sends nothing", () => {
    const { target, outflow, connection: old } = setup(true);
    old.answers = ['dropped'];
    outflow.push('a');
    const next = new FakeConnection();
    target.current = next;
    outflow.flush();
    assert.deepEqual(target.messages(), ['a', 'a']);
    next.status = 'closing';
    outflow.push('b');
    const third = new FakeConnection();
    target.current = third; // open, and not flushed yet
    old.emit('drain');
    assert.deepEqual(target.messages(), ['a', 'a'], 'the drain of a connection no longer blocked on flushed');
    outflow.flush();
    assert.deepEqual(target.sent.at(-1), { on: third, message: 'b' });
  });

  test('thousands of messages, sent in bursts: each exactly once, in order', () => {
    const { target, outflow, connection } = setup();
    for (const line of lines(3000)) outflow.push(line);
    target.current = connection;
    connection.answers = [...Array<Result>(1499).fill('sent'), 'backpressure'];
    outflow.flush();
    assert.equal(outflow.pending, 1500);
    for (const line of lines(1000, 3000)) outflow.push(line);
    connection.answers = [...Array<Result>(1099).fill('sent'), 'dropped'];
    connection.emit('drain');
    assert.equal(outflow.pending, 1401);
    connection.emit('drain');
    assert.equal(outflow.pending, 0);
    assert.deepEqual(target.messages(), [...lines(1500), ...lines(1100, 1500), ...lines(1401, 2599)]);
    assert.equal(target.drains, 1);
  });
});

describe('Outflow: backpressure on the input', () => {
  test('reading pauses once 1024 messages wait, once only', () => {
    const { target, outflow } = setup();
    for (const line of lines(1023)) outflow.push(line);
    assert.equal(target.pauses, 0);
    outflow.push('the 1024th');
    assert.equal(target.pauses, 1);
    outflow.push('more');
    assert.equal(target.pauses, 1);
  });

  test('reading pauses once 1 MiB waits, counted in bytes (UTF-8 for text)', () => {
    const under = setup();
    under.outflow.push(Buffer.alloc(MIB - 1));
    assert.equal(under.target.pauses, 0);
    under.outflow.push('x');
    assert.equal(under.target.pauses, 1);
    const text = setup();
    // 349526 characters of 3 bytes: fewer than 1 MiB characters, more than 1 MiB bytes.
    text.outflow.push('€'.repeat(349_526));
    assert.equal(text.target.pauses, 1);
  });

  test('a message sent at once does not count', () => {
    const { target, outflow } = setup(true);
    for (const line of lines(2000)) outflow.push(line);
    outflow.push(Buffer.alloc(2 * MIB));
    assert.equal(target.pauses, 0);
  });

  test('reading resumes once fewer than 512 messages wait, not at 512', () => {
    const { target, outflow, connection } = setup();
    for (const line of lines(1024)) outflow.push(line);
    assert.equal(target.pauses, 1);
    target.current = connection;
    connection.answers = [...Array<Result>(511).fill('sent'), 'backpressure'];
    outflow.flush();
    assert.equal(outflow.pending, 512);
    assert.equal(target.resumes, 0);
    connection.answers = ['backpressure'];
    connection.emit('drain');
    assert.equal(outflow.pending, 511);
    assert.equal(target.resumes, 1);
    connection.emit('drain');
    assert.equal(target.resumes, 1);
    assert.equal(outflow.pending, 0);
  });

  test('reading resumes once fewer than 512 KiB wait, not at 512 KiB', () => {
    const at = setup();
    at.outflow.push(Buffer.alloc(MIB / 2));
    at.outflow.push(Buffer.alloc(MIB / 2));
    assert.equal(at.target.pauses, 1);
    at.target.current = at.connection;
    at.connection.answers = ['backpressure'];
    at.outflow.flush();
    assert.equal(at.target.resumes, 0, '512 KiB still wait');

    const under = setup();
    under.outflow.push(Buffer.alloc(1));
    under.outflow.push(Buffer.alloc(MIB / 2));
    under.outflow.push(Buffer.alloc(MIB / 2 - 2));
    assert.equal(under.target.pauses, 0);
    under.outflow.push('x');
    assert.equal(under.target.pauses, 1);
    under.target.current = under.connection;
    under.connection.answers = ['backpressure'];
    under.outflow.flush();
    assert.equal(under.target.resumes, 0);
    under.connection.answers = ['backpressure'];
    under.connection.emit('drain');
    assert.equal(under.outflow.pending, 2);
    assert.equal(under.target.resumes, 1, 'one byte under 512 KiB waits');
  });

  test('after a resume, reading pauses again when the queue fills again', () => {
    const { target, outflow, connection } = setup();
    for (const line of lines(1024)) outflow.push(line);
    target.current = connection;
    outflow.flush();
    assert.equal(target.resumes, 1);
    target.current = undefined;
    for (const line of lines(1024)) outflow.push(line);
    assert.equal(target.pauses, 2);
  });

  test('not paused, a flush does not resume', () => {
    const { target, outflow, connection } = setup();
    outflow.push('a');
    target.current = connection;
    outflow.flush();
    assert.equal(target.resumes, 0);
  });
});

describe('Outflow: discard', () => {
  test('forgets what waits and says how many: nothing more is sent, and the bytes are forgotten too', () => {
    const { target, outflow, connection } = setup();
    outflow.push(Buffer.alloc(MIB - 2));
    outflow.push('a');
    assert.equal(outflow.discard(), 2);
    assert.equal(outflow.pending, 0);
    assert.equal(outflow.discard(), 0);
    outflow.push(Buffer.alloc(MIB - 1));
    assert.equal(target.pauses, 0, 'the discarded bytes still counted');
    target.current = connection;
    outflow.flush();
    assert.deepEqual(target.messages(), [Buffer.alloc(MIB - 1)]);
  });

  test('after some were sent: only those still waiting are counted', () => {
    const { outflow, connection, target } = setup();
    for (const line of lines(5)) outflow.push(line);
    target.current = connection;
    connection.answers = ['sent', 'backpressure'];
    outflow.flush();
    assert.equal(outflow.discard(), 3);
    assert.equal(outflow.pending, 0);
    target.current = undefined;
    outflow.push('next');
    assert.equal(outflow.pending, 1);
    assert.equal(outflow.discard(), 1);
  });
});
