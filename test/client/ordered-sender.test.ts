/**
 * OrderedSender: what the standard WebSocket's send() and close() hand over, in order, a Blob
 * holding what follows it until it is read, bounded while no connection is attached. Driven here
 * over a stand-in connection that records what it is given.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { OutboxFullError } from '../../src/client/outbox.js';
import { droppedError, OrderedSender, type Outgoing } from '../../src/client/ordered-sender.js';
import { type BlobRead } from '../../src/client/websocket-support.js';
import { type Connection } from '../../src/io/connection.js';

/** Records sends and closes; each send's callback is kept, to be completed by the test. */
class StandInConnection {
  readonly log: string[] = [];
  /** What Connection.status reports; a test sets 'closing' for a connection whose close began. */
  status: 'open' | 'closing' = 'open';
  readonly callbacks: Array<(error?: Error | null) => void> = [];
  send(data: string | Buffer, callback: (error?: Error | null) => void): void {
    this.log.push(typeof data === 'string' ? `text ${data}` : `binary ${data.toString()}`);
    this.callbacks.push(callback);
  }
  close(code: number | undefined, reason: string): void {
    this.log.push(`close ${code} ${reason}`);
  }
  get connection(): Connection {
    return this as unknown as Connection;
  }
}

/** An OrderedSender whose hooks are recorded. */
function sender(limits = {}) {
  const hooks: string[] = [];
  const ordered = new OrderedSender(
    {
      blobUnreadable: (error, size, attached) => hooks.push(`unreadable ${String((error as Error).message)} ${size} ${attached}`),
      sent: (size) => hooks.push(`sent ${size}`),
      lost: (size) => hooks.push(`lost ${size}`),
    },
    limits,
  );
  return { ordered, hooks };
}

const text = (data: string): Outgoing => ({ kind: 'message', data, size: Buffer.byteLength(data) });
const close = (code?: number, reason = ''): Outgoing => ({ kind: 'close', code, reason });

/** A Blob item whose read the test completes. */
function blob(size: number): { item: Outgoing; read(result: BlobRead): void } {
  let read!: (result: BlobRead) => void;
  const promise = new Promise<BlobRead>((resolve) => (read = resolve));
  return { item: { kind: 'blob', read: promise, size }, read };
}

/** Lets the pump's awaits run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Detaches `ordered` from its connection, attaches a new one, and says what that one was given. */
async function sentOnNext(ordered: OrderedSender): Promise<string[]> {
  ordered.detach();
  const next = new StandInConnection();
  ordered.attach(next.connection);
  await settle();
  return next.log;
}

describe('OrderedSender', () => {
  test('attached with nothing waiting: each message goes out at once; its callback reports it sent or lost', () => {
    const { ordered, hooks } = sender();
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    assert.deepEqual(ordered.push(text('one')), []);
    assert.deepEqual(ordered.push({ kind: 'message', data: Buffer.from('two'), size: 3 }), []);
    assert.deepEqual(conn.log, ['text one', 'binary two']);
    assert.equal(ordered.size, 0);
    conn.callbacks[0]!(null);
    conn.callbacks[1]!(new Error('cut'));
    assert.deepEqual(hooks, ['sent 3', 'lost 3']);
  });

  test('detached, everything waits; attach() sends it in order, close included, then later pushes go straight out', async () => {
    const { ordered } = sender();
    ordered.push(text('a'));
    ordered.push(text('b'));
    ordered.push(close(4000, 'done'));
    assert.equal(ordered.size, 3);
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    await settle();
    assert.deepEqual(conn.log, ['text a', 'text b', 'close 4000 done']);
    assert.equal(ordered.size, 0);
    ordered.push(close(undefined, ''));
    assert.deepEqual(conn.log.at(-1), 'close undefined ');
  });

  test('a single message waiting is sent on attach()', async () => {
    const { ordered } = sender();
    ordered.push(text('only'));
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    await settle();
    assert.deepEqual(conn.log, ['text only']);
  });

  test('a Blob holds what follows it until it is read, also while attached; then its bytes go first', async () => {
    const { ordered } = sender();
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    const first = blob(4);
    ordered.push(first.item);
    ordered.push(text('after'));
    ordered.push(close(1000, 'bye'));
    await settle();
    assert.deepEqual(conn.log, [], 'nothing before the Blob is read');
    assert.equal(ordered.size, 3);
    first.read({ ok: true, bytes: Buffer.from('blob') });
    await settle();
    assert.deepEqual(conn.log, ['binary blob', 'text after', 'close 1000 bye']);
    assert.equal(ordered.size, 0);
  });

  test('a Blob that cannot be read is reported with its size; what follows it stays queued, unsent', async () => {
    const { ordered, hooks } = sender({ maxBytes: 10 });
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    const bad = blob(5);
    ordered.push(bad.item);
    ordered.push(text('next'));
    bad.read({ ok: false, error: new Error('gone') });
    await settle();
    assert.deepEqual(hooks, ['unreadable gone 5 true']);
    assert.deepEqual(conn.log, []);
    assert.equal(ordered.size, 1);
    // Its 5 bytes no longer count: detached, 6 more bytes fit beside the 4 of 'next'.
    ordered.detach();
    ordered.push(text('123456'));
    assert.deepEqual(ordered.clear().map((item) => (item.kind === 'message' ? item.data : item.kind)), ['next', '123456']);
  });

  for (const [how, leave] of [
    ['detached', (ordered: OrderedSender) => ordered.detach()],
    ['its connection closing', (_ordered: OrderedSender, connection: StandInConnection) => void (connection.status = 'closing')],
  ] as const) {
    test(`${how} while a Blob is read: once read, it waits, as bytes, with what follows it, for the next connection`, async () => {
      const { ordered, hooks } = sender();
      const first = new StandInConnection();
      ordered.attach(first.connection);
      const pending = blob(2);
      ordered.push(pending.item);
      ordered.push(text('later'));
      leave(ordered, first);
      pending.read({ ok: true, bytes: Buffer.from('hi') });
      await settle();
      assert.deepEqual(first.log, [], 'the connection that left was given what waited');
      assert.equal(ordered.size, 2);
      assert.deepEqual(await sentOnNext(ordered), ['binary hi', 'text later']);
      assert.deepEqual(hooks, []);
    });
  }

  test('attached to a connection already closing: what waits is not given to it, and goes out in order on the next', async () => {
    const { ordered, hooks } = sender();
    ordered.push(text('one'));
    ordered.push(text('two'));
    const closing = new StandInConnection();
    closing.status = 'closing';
    ordered.attach(closing.connection);
    await settle();
    assert.deepEqual(closing.log, [], 'the closing connection was given what waited');
    assert.equal(ordered.size, 2);
    assert.deepEqual(await sentOnNext(ordered), ['text one', 'text two']);
    assert.deepEqual(hooks, []);
  });

  test('a Blob that fails to read after the connection left is reported as not attached', async () => {
    const { ordered, hooks } = sender();
    ordered.attach(new StandInConnection().connection);
    const bad = blob(3);
    ordered.push(bad.item);
    ordered.detach();
    bad.read({ ok: false, error: new Error('gone') });
    await settle();
    assert.deepEqual(hooks, ['unreadable gone 3 false']);
  });

  test('what waited and went out on attach() no longer counts: detached again, the whole outbox is free', async () => {
    const { ordered } = sender({ maxBytes: 5 });
    ordered.push(text('abc'));
    ordered.push(close(4000, ''));
    ordered.push(text('de'));
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    await settle();
    assert.deepEqual(conn.log, ['text abc', 'close 4000 ', 'text de']);
    ordered.detach();
    assert.deepEqual(ordered.push(text('12345')), []);
    assert.throws(() => ordered.push(text('6')), OutboxFullError, 'and the bound still holds');
  });

  test("maxMessages 0 or maxBytes 0 hold nothing while detached (policy 'reject')", () => {
    assert.throws(() => sender({ maxMessages: 0 }).ordered.push(text('a')), OutboxFullError);
    assert.throws(() => sender({ maxBytes: 0 }).ordered.push(text('a')), OutboxFullError);
  });

  test("maxMessages 0 holds nothing with policy 'drop-oldest' either: OutboxFullError, not a TypeError from an empty queue", () => {
    const { ordered } = sender({ maxMessages: 0, policy: 'drop-oldest' });
    assert.throws(() => ordered.push(text('a')), OutboxFullError);
    assert.throws(() => ordered.push(close(1000, 'bye')), OutboxFullError, 'a close as well');
    assert.deepEqual(ordered.clear(), [], 'nothing held');
  });

  test('a Blob read that completes after clear() sends nothing', async () => {
    const { ordered } = sender();
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    const pending = blob(2);
    ordered.push(pending.item);
    ordered.push(text('later'));
    assert.equal(ordered.clear().length, 2);
    pending.read({ ok: true, bytes: Buffer.from('hi') });
    await settle();
    assert.deepEqual(conn.log, []);
    ordered.push(text('fresh'));
    assert.deepEqual(conn.log, ['text fresh'], 'the queue is empty again: straight out');
  });

  test("detached, policy 'reject' (the default): past maxMessages or maxBytes push throws OutboxFullError and changes nothing", () => {
    const { ordered } = sender({ maxMessages: 2, maxBytes: 5 });
    ordered.push(text('ab'));
    ordered.push(close(1000, 'a close carries no bytes'));
    assert.throws(() => ordered.push(text('c')), OutboxFullError, 'count');
    assert.equal(ordered.size, 2);
    const bytes = sender({ maxBytes: 5 }).ordered;
    bytes.push(text('abc'));
    bytes.push(text('de'));
    assert.throws(() => bytes.push(text('f')), OutboxFullError, 'bytes');
    bytes.push(close(1000, ''));
    assert.equal(bytes.size, 3, 'a close still fits: it has no bytes');
    assert.throws(() => sender({ maxBytes: 5 }).ordered.push(text('123456')), OutboxFullError, 'larger than the whole outbox');
  });

  test("defaults: 1024 items and 16 MiB while detached", () => {
    const { ordered } = sender();
    for (let i = 0; i < 1024; i++) ordered.push(close(1000, ''));
    assert.throws(() => ordered.push(close(1000, '')), OutboxFullError);
    const bytes = sender().ordered;
    bytes.push({ kind: 'message', data: 'x', size: 16 * 1024 * 1024 - 1 });
    bytes.push(text('y'));
    assert.throws(() => bytes.push(text('z')), OutboxFullError);
  });

  test("detached, policy 'drop-oldest': the oldest items make room and are returned, oldest first", () => {
    const { ordered } = sender({ maxMessages: 3, maxBytes: 6, policy: 'drop-oldest' });
    ordered.push(close(1000, ''));
    ordered.push(text('aa'));
    ordered.push(text('bb'));
    assert.deepEqual(ordered.push(text('c')), [close(1000, '')], 'count: the close goes first');
    assert.equal(ordered.size, 3);
    // 5 bytes held: 'dddd' needs 'aa' and 'bb' gone.
    assert.deepEqual(ordered.push(text('dddd')), [text('aa'), text('bb')]);
    assert.deepEqual(ordered.clear(), [text('c'), text('dddd')]);
    assert.deepEqual(ordered.push(text('123456')), [], 'clear() gave back all the room');
    assert.throws(() => ordered.push(text('1234567')), OutboxFullError, 'larger than the whole outbox: nothing dropped for it');
    assert.equal(ordered.size, 1);
  });

  test('attached, behind a Blob, items are not bounded (the connection takes them once the Blob is read)', async () => {
    const { ordered } = sender({ maxMessages: 1 });
    const conn = new StandInConnection();
    ordered.attach(conn.connection);
    const pending = blob(1);
    ordered.push(pending.item);
    assert.deepEqual(ordered.push(text('a')), []);
    assert.deepEqual(ordered.push(text('b')), []);
    pending.read({ ok: true, bytes: Buffer.from('z') });
    await settle();
    assert.deepEqual(conn.log, ['binary z', 'text a', 'text b']);
  });
});

describe('droppedError', () => {
  test('hands back a dropped message as bytes with its type, a Blob not read as nothing', () => {
    const fromText = droppedError(text('héllo'));
    assert.ok(fromText instanceof OutboxFullError && fromText.code === 'SW_OUTBOX_FULL');
    assert.deepEqual(fromText.dropped, { data: Buffer.from('héllo'), binary: false });
    assert.match(fromText.message, /\(6 bytes\)/);
    const bytes = Buffer.from([1, 2, 3]);
    assert.deepEqual(droppedError({ kind: 'message', data: bytes, size: 3 }).dropped, { data: bytes, binary: true });
    const unread = droppedError(blob(10).item);
    assert.equal(unread.dropped, undefined);
    assert.match(unread.message, /\(10 bytes\)/);
    const closeError = droppedError(close(1000, 'x'));
    assert.equal(closeError.dropped, undefined);
    assert.match(closeError.message, /\(0 bytes\)/);
  });
});
