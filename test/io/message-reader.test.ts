import { strict as assert } from 'node:assert';
import { EventEmitter, getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { catchUncaught } from '../support/server-kit.js';
import { connect, ConnectionClosedError, MessageReader, SockwaveError, WebSocketServer, type CloseInfo, type Connection, type NextMessageOptions } from '../../src/index.js';

/** The pull style: nextMessage(), for await, hasBufferedMessage, and backpressure from its bounded buffer. */

async function server(t: { after(fn: () => unknown): void }, onOpen: (conn: Connection) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.route('/', () => ({ onOpen }));
  const { url } = await wss.listen();
  t.after(() => wss.close({ timeout: 500 }));
  return `${url}/`;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

/**
 * A client whose reader holds at most `maxBufferedMessages`, and a server that has sent it `total`
 * messages of 1 KiB (far more than one socket read); resolves once the full reader paused reading.
 * Message i is `m<i> <filler>`.
 */
async function floodedReader(
  t: { after(fn: () => unknown): void },
  maxBufferedMessages: number,
  total: number,
): Promise<{ conn: Connection; reader: ReturnType<Connection['messages']>; filler: string }> {
  let peer: Connection | undefined;
  const url = await server(t, (conn) => void (peer = conn));
  const conn = await connect(url);
  t.after(() => conn.terminate());
  const reader = conn.messages({ maxBufferedMessages });
  const filler = 'x'.repeat(1024);
  for (let i = 0; i < total; i++) peer!.send(`m${i} ${filler}`);
  await within(
    (async () => {
      while (!conn.isPaused) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    'the full reader to pause reading',
  );
  return { conn, reader, filler };
}

test('for await yields every message in order and ends when the server closes cleanly', async (t) => {
  const url = await server(t, (conn) => {
    for (let i = 0; i < 100; i++) conn.send(i % 2 ? `text ${i}` : Buffer.from([i]));
    conn.close(1000, 'done');
  });
  const conn = await connect(url);
  const seen: Array<string | number> = [];
  await within(
    (async () => {
      // (Testing isBinary narrows data: Buffer's readUInt8, string's toUpperCase, with no cast.)
      for await (const { data, isBinary } of conn) seen.push(isBinary ? data.readUInt8(0) : data.toUpperCase());
    })(),
    5000,
    'the iteration to end',
  );
  assert.equal(seen.length, 100);
  assert.deepEqual(seen.slice(0, 4), [0, 'TEXT 1', 2, 'TEXT 3']);
  assert.equal(conn.status, 'closed');
});

test('nextMessage() with a timeout that is not a number from 0, or a signal that is not an AbortSignal, rejects with TypeError or RangeError and takes no message', async (t) => {
  let peer: Connection | undefined;
  const url = await server(t, (conn) => void (peer = conn));
  const conn = await connect(url);
  t.after(() => conn.terminate());
  for (const [options, name] of [
    [{ timeout: 'abc' }, 'TypeError'],
    [{ timeout: NaN }, 'TypeError'],
    [{ timeout: -5 }, 'RangeError'],
    [{ signal: {} }, 'TypeError'],
  ] as const) {
    const error = await conn.nextMessage(options as unknown as { timeout: number }).catch((caught: unknown) => caught);
    assert.ok(error instanceof Error && error.name === name, `${JSON.stringify(options)}: ${String(error)}`);
  }
  peer!.send('one');
  // (null, as not given.)
  assert.deepEqual(await within(conn.nextMessage({ signal: null as unknown as AbortSignal }), 5000, 'the message, left for a valid call'), { data: 'one', isBinary: false });
});

test('nextMessage() resolves at once when hasBufferedMessage, and rejects with SW_TIMEOUT or SW_ABORTED', async (t) => {
  let peer: Connection | undefined;
  const url = await server(t, (conn) => void (peer = conn));
  const conn = await connect(url);
  t.after(() => conn.terminate());
  const timedOut = await conn.nextMessage({ timeout: 50 }).catch((error: unknown) => error);
  assert.ok(timedOut instanceof SockwaveError && timedOut.code === 'SW_TIMEOUT', String(timedOut));
  const controller = new AbortController();
  const pending = conn.nextMessage({ signal: controller.signal });
  controller.abort();
  const aborted = await pending.catch((error: unknown) => error);
  assert.ok(aborted instanceof SockwaveError && aborted.code === 'SW_ABORTED', String(aborted));
  assert.equal(conn.hasBufferedMessage, false);
  peer!.send('one');
  peer!.send('two');
  assert.deepEqual(await within(conn.nextMessage(), 5000, 'the first message'), { data: 'one', isBinary: false });
  await within(
    (async () => {
      while (!conn.hasBufferedMessage) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    'the second message to be buffered',
  );
  assert.deepEqual(await conn.nextMessage({ timeout: 0 }), { data: 'two', isBinary: false });
});

test('a full buffer pauses reading from the peer, and reading resumes as the application catches up', async (t) => {
  // 2,000 messages of 1 KiB: far more than one socket read, so a pause leaves most of them unread.
  const total = 2000;
  const { conn, reader, filler } = await floodedReader(t, 50, total);
  assert.ok(reader.bufferedMessages >= 50 && reader.bufferedMessages < total, `buffered ${reader.bufferedMessages}`);
  for (let i = 0; i < total; i++) assert.equal((await within(conn.nextMessage(), 5000, `message ${i}`)).data, `m${i} ${filler}`);
  assert.equal(conn.isPaused, false);
});

test("the reader's pause and the application's pause() are apart: neither undoes the other", async (t) => {
  const total = 400;
  const { conn, reader, filler } = await floodedReader(t, 4, total);
  // The application's pause() and resume() leave the reader's pause in place.
  conn.pause();
  conn.resume();
  assert.equal(conn.isPaused, true);
  const held = reader.bufferedMessages;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(reader.bufferedMessages, held, 'reading went on past the full buffer');
  // The application pauses; emptying the reader does not resume reading behind its back.
  conn.pause();
  for (let i = 0; i < held; i++) assert.equal((await within(conn.nextMessage(), 5000, `message ${i}`)).data, `m${i} ${filler}`);
  assert.equal(conn.isPaused, true);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(reader.bufferedMessages, 0, 'reading resumed while the application had paused it');
  // Once the application resumes, every message arrives, in order.
  conn.resume();
  for (let i = held; i < total; i++) assert.equal((await within(conn.nextMessage(), 5000, `message ${i}`)).data, `m${i} ${filler}`);
});

test('nextMessage({ timeout: Infinity }) waits for the message (no timer that fires at once)', async (t) => {
  let peer: Connection | undefined;
  const url = await server(t, (conn) => void (peer = conn));
  const conn = await connect(url);
  t.after(() => conn.terminate());
  let settled = false;
  const next = conn.nextMessage({ timeout: Infinity }).finally(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(settled, false, 'nextMessage settled before any message came');
  peer!.send('late');
  assert.deepEqual(await within(next, 5000, 'the message'), { data: 'late', isBinary: false });
});

test('messages buffered before an abnormal close are still returned, then iteration throws ConnectionClosedError 1006', async (t) => {
  const url = await server(t, (conn) => {
    conn.send('last words');
    setTimeout(() => conn.terminate(), 50);
  });
  const conn = await connect(url);
  conn.messages();
  await within(new Promise<void>((resolve) => conn.once('close', () => resolve())), 5000, 'the close');
  const seen: unknown[] = [];
  const thrown = await (async () => {
    for await (const { data } of conn) seen.push(data);
  })().catch((error: unknown) => error);
  assert.deepEqual(seen, ['last words']);
  assert.ok(thrown instanceof ConnectionClosedError, String(thrown));
  assert.equal(thrown.closeCode, 1006);
  assert.equal(thrown.wasClean, false);
});

test('a reader made after a clean close reports that close (1000, clean), not 1006, and for await ends', async (t) => {
  const url = await server(t, (conn) => conn.close(1000, 'bye'));
  const conn = await connect(url);
  const [info] = (await within(new Promise((resolve) => conn.once('close', (...args) => resolve(args))), 5000, 'the close')) as [{ code: number; wasClean: boolean }];
  assert.deepEqual([info.code, info.wasClean], [1000, true]);
  const error = await conn.nextMessage().then(
    () => assert.fail('a message after the close'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.deepEqual([error.closeCode, error.reason, error.wasClean], [1000, 'bye', true]);
  const seen: unknown[] = [];
  for await (const message of conn) seen.push(message);
  assert.deepEqual(seen, [], 'for await over a cleanly closed connection ends without a message or an error');
});

/** A server that answers every message with m1, m2 and m3 (sent on request, so that the client's reader is ready). */
function threeOnRequest(t: { after(fn: () => unknown): void }): Promise<string> {
  return server(t, (peer) => peer.on('message', () => ['m1', 'm2', 'm3'].forEach((m) => peer.send(m))));
}

for (const thrower of ['handler', 'listener'] as const) {
  test(`a message whose ${thrower === 'handler' ? 'handler object' : 'message listener, added before the reader,'} throws still reaches the reader, as do the ones after it`, async (t) => {
    const uncaught = catchUncaught(t);
    const url = await threeOnRequest(t);
    const throwOnM2 = (data: unknown): void => {
      if (data === 'm2') throw new Error(`the ${thrower} threw on m2`);
    };
    const conn = await connect(url, thrower === 'handler' ? { handler: { onMessage: (_conn, data) => throwOnM2(data) } } : {});
    t.after(() => conn.terminate());
    if (thrower === 'listener') conn.on('message', throwOnM2);
    conn.messages();
    conn.send('go');
    const pulled: unknown[] = [];
    for (let i = 1; i <= 3; i++) pulled.push((await within(conn.nextMessage(), 3000, `m${i}`)).data);
    assert.deepEqual(pulled, ['m1', 'm2', 'm3']);
    assert.deepEqual(uncaught.messages, [`the ${thrower} threw on m2`], 'the error still reaches the process');
  });
}

test('a reader made by a message handler starts with the next message, not the one being handled', async (t) => {
  const url = await threeOnRequest(t);
  let made: (reader: MessageReader) => void = () => {};
  const reader = new Promise<MessageReader>((resolve) => (made = resolve));
  const conn = await connect(url, { handler: { onMessage: (c, data) => void (data === 'm1' && made(c.messages())) } });
  t.after(() => conn.terminate());
  conn.send('go');
  assert.equal(await within(reader, 3000, 'the reader'), conn.messages(), 'messages() returns the reader the handler made');
  assert.deepEqual(await within(conn.nextMessage(), 3000, 'm2'), { data: 'm2', isBinary: false });
  assert.deepEqual(await within(conn.nextMessage(), 3000, 'm3'), { data: 'm3', isBinary: false });
});

test('a connection has one reader: messages() returns the one made over it, and another is refused with SW_INVALID_STATE', async (t) => {
  const url = await threeOnRequest(t);
  const conn = await connect(url);
  t.after(() => conn.terminate());
  const first = new MessageReader(conn, { maxBufferedMessages: 8 });
  assert.equal(conn.messages(), first);
  assert.throws(
    () => new MessageReader(conn),
    (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE',
  );
  conn.send('go');
  assert.deepEqual(await within(first.next(), 3000, 'm1'), { data: 'm1', isBinary: false }, 'the first reader still takes the messages');
});

test('messages(limits) on an existing reader changes its limits: a raised limit resumes reading, a lowered one pauses', async (t) => {
  const total = 400;
  const { conn, reader, filler } = await floodedReader(t, 4, total);
  assert.equal(conn.messages(), reader, 'one reader per connection');
  const held = reader.bufferedMessages;
  // Raised: the buffer is now under half of its limit, so reading resumes and everything arrives.
  assert.equal(conn.messages({ maxBufferedMessages: 10_000 }), reader);
  assert.equal(conn.isPaused, false, 'a raised limit left reading paused');
  await within(
    (async () => {
      while (reader.bufferedMessages < total) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    `all ${total} messages to be buffered (had ${held})`,
  );
  // Lowered under what is held: reading pauses at once.
  conn.messages({ maxBufferedMessages: 8 });
  assert.equal(conn.isPaused, true, 'a lowered limit did not pause reading');
  for (let i = 0; i < total; i++) assert.equal((await within(conn.nextMessage(), 5000, `message ${i}`)).data, `m${i} ${filler}`);
  assert.equal(conn.isPaused, false);
});

test('a limit that is not a positive integer is refused with RangeError, and the reader keeps its limits', async (t) => {
  let peer: Connection | undefined;
  const url = await server(t, (conn) => void (peer = conn));
  const conn = await connect(url);
  t.after(() => conn.terminate());
  for (const bad of [0, -1, 1.5, Number.NaN, -Infinity]) {
    assert.throws(() => conn.messages({ maxBufferedMessages: bad }), RangeError, `maxBufferedMessages ${bad}`);
    assert.throws(() => conn.messages({ maxBufferedBytes: bad }), RangeError, `maxBufferedBytes ${bad}`);
  }
  conn.messages({ maxBufferedBytes: Infinity }); // no limit
  const reader = conn.messages({ maxBufferedMessages: 3 });
  assert.throws(() => conn.messages({ maxBufferedMessages: 10, maxBufferedBytes: 0 }), RangeError);
  assert.equal(conn.messages(), reader);
  assert.equal(conn.isPaused, false);
  // Still 3 messages: the third fills it.
  for (const text of ['a', 'b', 'c']) peer!.send(text);
  await within(
    (async () => {
      while (reader.bufferedMessages < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    'three messages',
  );
  assert.equal(conn.isPaused, true, 'the refused call changed the limit');
});

test("once this side's close frame is out, a lowered limit or pause() does not keep the peer's close frame unread", async (t) => {
  for (const stop of ['a lowered limit', 'pause()'] as const) {
    let peer: Connection | undefined;
    const url = await server(t, (conn) => void (peer = conn));
    // Unread, the close would end by this timeout: 1006, not clean.
    const conn = await connect(url, { closeTimeout: 2000 });
    t.after(() => conn.terminate());
    const reader = conn.messages({ maxBufferedMessages: 1000 });
    for (let i = 0; i < 10; i++) peer!.send(`m${i}`);
    await within(
      (async () => {
        while (reader.bufferedMessages < 10) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      5000,
      'ten buffered messages',
    );
    const closed = new Promise<CloseInfo>((resolve) => conn.once('close', resolve));
    conn.close(1000);
    if (stop === 'pause()') conn.pause();
    else conn.messages({ maxBufferedMessages: 2 });
    assert.equal(conn.isPaused, false, `${stop} paused reading during the close handshake`);
    const info = await within(closed, 5000, 'the close');
    assert.deepEqual([info.code, info.wasClean], [1000, true], stop);
    assert.equal(reader.bufferedMessages, 10, 'the buffered messages are kept');
  }
});

/**
 * MessageReader over a stand-in for its connection (the ReadableConnection it is given): every
 * message, close, pause and resume is driven and seen directly, without sockets.
 */
class StandInConnection extends EventEmitter {
  status = 'open';
  closeInfo: CloseInfo | undefined;
  private reader: MessageReader | undefined;
  /** Calls of pauseReading / resumeReading / limitReached, in order. */
  readonly calls: string[] = [];
  pauseReading(): void {
    this.calls.push('pause');
  }
  resumeReading(): void {
    this.calls.push('resume');
  }
  limitReached(limit: string, detail: string): void {
    this.calls.push(`limit ${limit}: ${detail}`);
  }
  attachReader(reader: MessageReader): void {
    this.reader = reader;
  }
  deliver(data: string | Buffer, isBinary = typeof data !== 'string'): void {
    this.reader?.take(data, isBinary);
  }
}

/** Timers that keep the process alive (unref'd ones are not listed). */
const liveTimeouts = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

describe('MessageReader over a stand-in connection', () => {
  test('defaults: reading pauses at the 1024th message held, or at 16 MiB held, not before', () => {
    const byCount = new StandInConnection();
    const counted = new MessageReader(byCount);
    for (let i = 0; i < 1023; i++) byCount.deliver('x');
    assert.deepEqual(byCount.calls, [], '1023 messages do not fill it');
    byCount.deliver('x');
    assert.equal(counted.bufferedMessages, 1024);
    assert.deepEqual(byCount.calls.slice(1), ['pause'], 'the 1024th fills it');
    const bySize = new StandInConnection();
    new MessageReader(bySize);
    bySize.deliver(Buffer.alloc(16 * 1024 * 1024 - 1));
    assert.deepEqual(bySize.calls, [], '16 MiB - 1 byte does not fill it');
    bySize.deliver(Buffer.alloc(1));
    assert.deepEqual(bySize.calls.slice(1), ['pause'], 'the byte that makes 16 MiB fills it');
  });

  test('maxBufferedBytes: the message that reaches it pauses reading; at half of it or less, reading resumes', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn, { maxBufferedBytes: 4 });
    conn.deliver('a');
    conn.deliver('bc');
    assert.deepEqual(conn.calls, [], '3 of 4 characters');
    conn.deliver('d');
    assert.equal(conn.calls.length, 2);
    assert.match(conn.calls[0]!, /^limit receiveBuffer: pull buffer full \(3 messages, 4 bytes\)/);
    assert.equal(conn.calls[1], 'pause');
    assert.deepEqual(await reader.next(), { data: 'a', isBinary: false });
    assert.equal(conn.calls.length, 2, '3 bytes left: over half, still paused (though 2 messages are far under half of theirs)');
    assert.deepEqual(await reader.next(), { data: 'bc', isBinary: false });
    assert.deepEqual(conn.calls.slice(2), ['resume'], '1 byte left: at most half');
  });

  test('reading resumes once the bytes held are exactly half of maxBufferedBytes', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn, { maxBufferedBytes: 4 });
    conn.deliver('ab');
    conn.deliver('cd');
    assert.equal(conn.calls.at(-1), 'pause');
    await reader.next();
    assert.equal(conn.calls.at(-1), 'resume', '2 of 4 bytes');
  });

  test('a limit of 1 is allowed: each message fills the buffer', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn, { maxBufferedMessages: 1, maxBufferedBytes: 1 });
    conn.deliver(Buffer.from([7]));
    assert.equal(conn.calls.at(-1), 'pause');
    assert.deepEqual(await reader.next(), { data: Buffer.from([7]), isBinary: true });
    assert.equal(conn.calls.at(-1), 'resume');
  });

  test('messages that still arrive while reading is paused are kept, and the limit is reported once per pause', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn, { maxBufferedMessages: 2 });
    for (const text of ['a', 'b', 'c', 'd']) conn.deliver(text);
    assert.equal(reader.bufferedMessages, 4);
    assert.deepEqual(conn.calls.slice(1), ['pause'], 'one pause, one report');
    for (const text of ['a', 'b']) assert.equal((await reader.next()).data, text);
    assert.deepEqual(conn.calls.slice(1), ['pause'], '2 of 2 left: still paused');
    assert.equal((await reader.next()).data, 'c');
    assert.deepEqual(conn.calls.slice(1), ['pause', 'resume'], 'resumed at 1 of 2');
    conn.deliver('e');
    conn.deliver('f');
    assert.equal(conn.calls.filter((call) => call.startsWith('limit')).length, 2, 'filled again: reported again');
  });

  test('a connection already closed with no CloseInfo is taken as 1006, not clean, not remote', async () => {
    const conn = new StandInConnection();
    conn.status = 'closed';
    const reader = new MessageReader(conn);
    const error = await reader.next().catch((caught: unknown) => caught);
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.deepEqual([error.closeCode, error.reason, error.wasClean, error.remote], [1006, '', false, false]);
    await assert.rejects(
      (async () => {
        for await (const message of reader) assert.fail(`a message: ${String(message.data)}`);
      })(),
      ConnectionClosedError,
      'iteration throws: the close was not clean',
    );
  });

  test('a signal already aborted rejects at once with SW_ABORTED (its reason as cause), and the message that comes later waits for the next call', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn);
    const reason = new Error('gave up');
    const error = await reader.next({ signal: AbortSignal.abort(reason) }).catch((caught: unknown) => caught);
    assert.ok(error instanceof SockwaveError && error.code === 'SW_ABORTED', String(error));
    assert.equal(error.cause, reason);
    conn.deliver('kept');
    assert.equal(reader.bufferedMessages, 1, 'no waiter was left to take it');
    assert.deepEqual(await reader.next(), { data: 'kept', isBinary: false });
  });

  test('options that are not an object are refused with TypeError', async () => {
    const reader = new MessageReader(new StandInConnection());
    await assert.rejects(reader.next(5 as unknown as NextMessageOptions), TypeError);
  });

  test('a signal that is not an AbortSignal is refused with TypeError, not taken as aborted', async () => {
    const reader = new MessageReader(new StandInConnection());
    const notASignal = { aborted: 'yes' };
    const error = await reader.next({ signal: notASignal as unknown as AbortSignal }).catch((caught: unknown) => caught);
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, /signal must be an AbortSignal/);
  });

  test('with more than 1024 messages held, every one is returned once, in order, as the buffer is read', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn, { maxBufferedMessages: 2000 });
    for (let i = 0; i < 1500; i++) conn.deliver(`m${i}`);
    for (let i = 0; i < 1500; i++) assert.equal((await reader.next()).data, `m${i}`);
    assert.equal(reader.hasBufferedMessage, false);
    conn.deliver('after');
    assert.deepEqual(await reader.next(), { data: 'after', isBinary: false });
  });

  test('of two calls waiting, aborting the first leaves the second waiting for the next message', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn);
    const controller = new AbortController();
    const first = reader.next({ signal: controller.signal });
    const second = reader.next();
    const third = reader.next({ timeout: 60_000 });
    controller.abort();
    await assert.rejects(first, (error: unknown) => error instanceof SockwaveError && error.code === 'SW_ABORTED');
    conn.deliver('one');
    conn.deliver('two');
    assert.deepEqual(await second, { data: 'one', isBinary: false });
    assert.deepEqual(await third, { data: 'two', isBinary: false });
  });

  test('a call answered by a message leaves no timer and no abort listener behind', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn);
    const controller = new AbortController();
    const before = liveTimeouts();
    const next = reader.next({ timeout: 60_000, signal: controller.signal });
    assert.equal(liveTimeouts(), before + 1, 'the timeout is armed');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    conn.deliver('m');
    assert.deepEqual(await next, { data: 'm', isBinary: false });
    assert.equal(liveTimeouts(), before, 'the timeout was cleared');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the abort listener was removed');
  });

  test('a call rejected by the close leaves no timer and no abort listener behind', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn);
    const controller = new AbortController();
    const before = liveTimeouts();
    const next = reader.next({ timeout: 60_000, signal: controller.signal });
    conn.status = 'closed';
    conn.emit('close', { code: 1000, reason: 'bye', wasClean: true, remote: true });
    await assert.rejects(next, ConnectionClosedError);
    assert.equal(liveTimeouts(), before, 'the timeout was cleared');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the abort listener was removed');
  });

  test('a timeout longer than a timer can hold (2^32 ms) does not fire at once', async () => {
    const conn = new StandInConnection();
    const reader = new MessageReader(conn);
    let settled = false;
    const next = reader.next({ timeout: 2 ** 32 }).finally(() => (settled = true));
    // (Node runs a delay it cannot hold after 1 ms: a 20 ms timer set after it fires after it.)
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false);
    conn.deliver('in time');
    assert.deepEqual(await next, { data: 'in time', isBinary: false });
  });
});
