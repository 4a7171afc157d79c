import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { LentSocket } from '../../src/io/lent-socket.js';
import { bindSocket, lendsReads } from '../../src/io/socket-events.js';
import { Queue, withTimeout } from '../support/net.js';
import { catchUncaught } from '../support/server-kit.js';

/** `count` lent client sockets, each with the server's side of it (`near`). */
async function lentPairs(t: TestContext, count: number): Promise<{ near: Socket; far: LentSocket }[]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const pairs: { near: Socket; far: LentSocket }[] = [];
  t.after(() => {
    for (const { near, far } of pairs) {
      near.destroy();
      far.destroy();
    }
    server.close();
  });
  for (let i = 0; i < count; i++) {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const far = new LentSocket().connect({ port, host: '127.0.0.1' });
    far.on('error', () => {});
    const [near] = await accepted;
    await once(far, 'connect');
    pairs.push({ near, far });
  }
  return pairs;
}

/** Binds `socket` (allowHalfOpen, as a connection does) to a target that records what it is told. */
function bindRecording(socket: Socket, onReceived?: (chunk: Buffer) => void): { events: Queue<string>; views: Buffer[]; chunks: Buffer[] } {
  const events = new Queue<string>();
  // What was received (lent: valid only during the call), and copies of it.
  const views: Buffer[] = [];
  const chunks: Buffer[] = [];
  socket.allowHalfOpen = true;
  bindSocket(socket, {
    received(chunk) {
      views.push(chunk);
      chunks.push(Buffer.from(chunk));
      events.push(`data ${chunk.toString('latin1')}`);
      onReceived?.(chunk);
    },
    socketEnded: () => events.push('ended'),
    socketClosed: () => events.push('closed'),
    socketErrored: (error) => events.push(`error ${(error as NodeJS.ErrnoException).code}`),
    socketDrained: () => {},
  });
  socket.resume();
  return { events, views, chunks };
}

/** Resolves once `check()` holds (checked every few milliseconds; fails after 5 s). */
async function until(check: () => boolean, label: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    label,
  );
}

/** Data events until `stop` (joined), and the event that stopped them. */
async function dataUntil(events: Queue<string>, stop: string): Promise<string> {
  let data = '';
  for (;;) {
    const event = await events.next(`data, then ${stop}`);
    if (event === stop) return data;
    assert.match(event, /^data /);
    data += event.slice(5);
  }
}

describe('LentSocket', () => {
  test('lends its reads: bound sockets get views of one shared buffer; before binding, data listeners get copies of their own', async (t) => {
    const [a, b, c] = await lentPairs(t, 3);
    assert.equal(lendsReads(a!.far), true);
    assert.equal(lendsReads(a!.near), false, 'a server socket');
    const boundA = bindRecording(a!.far);
    const boundB = bindRecording(b!.far);
    a!.near.write('to a');
    assert.equal(await boundA.events.next(), 'data to a');
    b!.near.write('to b');
    assert.equal(await boundB.events.next(), 'data to b');
    const shared = boundA.views[0]!.buffer;
    assert.equal(boundB.views[0]!.buffer, shared, 'the same memory for both sockets');
    const copies: Buffer[] = [];
    c!.far.on('data', (chunk: Buffer) => copies.push(chunk));
    c!.near.write('handshake bytes');
    await until(() => copies.length === 1, "c's data");
    assert.notEqual(copies[0]!.buffer, shared);
    a!.near.write('overwrites the shared buffer');
    assert.equal(await boundA.events.next(), 'data overwrites the shared buffer');
    assert.equal(copies[0]!.toString(), 'handshake bytes');
  });

  test('paused, it holds what arrives and delivers it on resume, in order, with the FIN behind it', async (t) => {
    const [{ near, far }] = await lentPairs(t, 1);
    const { events } = bindRecording(far);
    far.pause();
    near.write('one ');
    await until(() => far.bytesRead === 4, 'the first read');
    near.end('two');
    await once(far, 'end');
    assert.equal(events.pending, 0, 'nothing delivered while paused');
    far.resume();
    assert.equal(await dataUntil(events, 'ended'), 'one two');
  });

  test("paused with nothing held, the peer's FIN and reset still arrive", async (t) => {
    const [fin, reset] = await lentPairs(t, 2);
    const finned = bindRecording(fin!.far);
    fin!.far.pause();
    fin!.near.end();
    assert.equal(await finned.events.next("the FIN while paused"), 'ended');
    const reseted = bindRecording(reset!.far);
    reset!.far.pause();
    reset!.near.resetAndDestroy();
    assert.equal(await reseted.events.next('the reset while paused'), 'error ECONNRESET');
    assert.equal(await reseted.events.next(), 'closed');
  });

  test('paused, it stops reading past 16 KiB, and reads the rest after resume', async (t) => {
    const [{ near, far }] = await lentPairs(t, 1);
    const { events, chunks } = bindRecording(far);
    far.pause();
    const sent = Buffer.alloc(200 * 1024);
    for (let i = 0; i < sent.length; i++) sent[i] = 97 + (i % 26);
    near.end(sent);
    await until(() => far.bytesRead >= 16 * 1024, 'the first 16 KiB');
    // Reading has stopped if two looks 100 ms apart see the same count, short of everything.
    let seen = -1;
    await until(() => {
      const now = far.bytesRead;
      const still = now === seen;
      seen = now;
      return still;
    }, 'reading to stop');
    assert.ok(far.bytesRead < sent.length, `read ${far.bytesRead} of ${sent.length} bytes while paused`);
    assert.equal(events.pending, 0, 'nothing delivered while paused');
    far.resume();
    await dataUntil(events, 'ended');
    assert.deepEqual(Buffer.concat(chunks), sent);
  });

  test('a target that pauses while held bytes are delivered stops the delivery there', async (t) => {
    const [{ near, far }] = await lentPairs(t, 1);
    const { events } = bindRecording(far, (chunk) => {
      if (chunk.toString() === 'a') far.pause();
    });
    far.pause();
    near.write('a');
    await until(() => far.bytesRead === 1, "'a' read");
    near.write('b');
    await until(() => far.bytesRead === 2, "'b' read");
    far.resume();
    assert.equal(await events.next(), 'data a');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(events.pending, 0, "'b' stays held: the target paused");
    far.resume();
    assert.equal(await events.next(), 'data b');
  });

  test('unshift() puts bytes back in front of what is held, and a FIN read after them waits behind them', async (t) => {
    const [{ near, far }] = await lentPairs(t, 1);
    const { events } = bindRecording(far);
    far.pause();
    far.unshift(Buffer.from('put back, '));
    near.end('then read');
    await once(far, 'end');
    assert.equal(events.pending, 0, 'nothing delivered while paused');
    far.resume();
    assert.equal(await dataUntil(events, 'ended'), 'put back, then read');
  });

  test('a target that throws while held bytes are delivered does not strand the rest: it goes on the next tick', async (t) => {
    const [{ near, far }] = await lentPairs(t, 1);
    const { events } = bindRecording(far, (chunk) => {
      if (chunk.toString() === 'a') throw new Error('the target threw');
    });
    far.pause();
    near.write('a');
    await until(() => far.bytesRead === 1, "'a' read");
    near.end('b');
    await once(far, 'end');
    // The throw escapes to the process, as a throwing 'data' listener's would: caught here instead
    // of by the test runner, for this one delivery.
    const uncaught = catchUncaught(t);
    far.resume();
    await until(() => uncaught.messages.length !== 0, 'the throw');
    uncaught.restore();
    assert.deepEqual(uncaught.messages, ['the target threw']);
    assert.equal(await events.next(), 'data a');
    assert.equal(await events.next('the rest, after the throw'), 'data b');
    assert.equal(await events.next(), 'ended');
  });
});

/** A LentSocket never connected, its reads fed by hand (as Node's `onread` would), delivering to a recording target. */
function fedByHand(): { socket: LentSocket; received: string[]; ended: () => number } {
  const socket = new LentSocket();
  const received: string[] = [];
  let ends = 0;
  socket.target = {
    received: (chunk) => received.push(chunk.toString('latin1')),
    socketEnded: () => ends++,
    socketClosed: () => {},
    socketErrored: () => {},
    socketDrained: () => {},
  };
  return { socket, received, ended: () => ends };
}

describe('LentSocket, reads fed by hand', () => {
  test('a socket neither paused nor holding delivers each read at once, and reads on', () => {
    const { socket, received } = fedByHand();
    assert.equal(socket.lentRead(Buffer.from('abc')), true);
    assert.deepEqual(received, ['abc']);
  });

  test('isPaused() answers as a stream would: true from pause() to resume()', () => {
    const { socket } = fedByHand();
    assert.equal(socket.isPaused(), false);
    socket.pause();
    assert.equal(socket.isPaused(), true);
    socket.resume();
    assert.equal(socket.isPaused(), false);
  });

  test('paused, it holds up to 16 KiB (unshifted bytes count), then asks Node to stop reading', () => {
    const { socket, received } = fedByHand();
    socket.pause();
    assert.equal(socket.lentRead(Buffer.alloc(16 * 1024 - 1)), true);
    assert.equal(socket.lentRead(Buffer.alloc(1)), false);
    assert.deepEqual(received, []);
    const unshifted = fedByHand().socket;
    unshifted.unshift(Buffer.alloc(16 * 1024 - 1));
    assert.equal(unshifted.lentRead(Buffer.alloc(1)), false, 'bytes put back are held like read ones');
  });

  test('what was held and delivered no longer counts against the limit', async () => {
    const { socket, received } = fedByHand();
    socket.pause();
    assert.equal(socket.lentRead(Buffer.alloc(16 * 1024 - 1, 'a')), true);
    socket.resume();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(received.length, 1);
    socket.pause();
    assert.equal(socket.lentRead(Buffer.alloc(16 * 1024 - 1, 'b')), true, 'the first 16 KiB went: room for as much again');
    socket.destroy();
  });

  test('before a connection takes it, a target set by hand (the head reader) gets each read as it is (a view of the buffer read into), told which socket, and data listeners nothing meanwhile; without one, data listeners get copies', () => {
    const socket = new LentSocket();
    // (Memory of its own, not of the pool small copies come from.)
    const read = Buffer.allocUnsafeSlow(10);
    read.write('lent bytes');
    const lentGot: [Buffer, Socket][] = [];
    const dataGot: Buffer[] = [];
    const ignore = (): void => {};
    socket.target = { received: (chunk, from) => void lentGot.push([chunk, from]), socketEnded: ignore, socketClosed: ignore, socketErrored: ignore, socketDrained: ignore };
    socket.on('data', (chunk: Buffer) => dataGot.push(chunk));
    socket.lentRead(read);
    assert.equal(lentGot.length, 1);
    assert.equal(lentGot[0]![0], read, 'the read itself, not a copy');
    assert.equal(lentGot[0]![1], socket);
    assert.equal(dataGot.length, 0);
    socket.target = undefined;
    socket.lentRead(read);
    assert.equal(lentGot.length, 1);
    assert.equal(dataGot.length, 1);
    assert.ok(dataGot[0]!.equals(read));
    assert.notEqual(dataGot[0]!.buffer, read.buffer, 'a copy of its own');
    socket.destroy();
  });

  test('before a connection takes it, data listeners get the bytes put back as they are (they are the socket\'s own)', async () => {
    const socket = new LentSocket();
    const chunk = Buffer.from('put back');
    const got: Buffer[] = [];
    socket.on('data', (data: Buffer) => got.push(data));
    socket.pause();
    socket.unshift(chunk);
    socket.resume();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(got.length, 1);
    assert.equal(got[0], chunk, 'no copy of a buffer the socket already owns');
    socket.destroy();
  });

  test('a target that throws while held bytes are delivered (no FIN held) does not strand the rest', async (t) => {
    const { socket, received } = fedByHand();
    const target = socket.target!;
    const receive = target.received.bind(target);
    target.received = (chunk, from) => {
      receive(chunk, from);
      if (chunk.toString() === 'a') throw new Error('the target threw');
    };
    socket.pause();
    socket.lentRead(Buffer.from('a'));
    socket.lentRead(Buffer.from('b'));
    // Caught here instead of by the test runner, for this one delivery (as in the test above).
    const uncaught = catchUncaught(t);
    socket.resume();
    await until(() => uncaught.messages.length !== 0, 'the throw');
    uncaught.restore();
    assert.deepEqual(uncaught.messages, ['the target threw']);
    await until(() => received.length === 2, 'the rest, after the throw');
    assert.deepEqual(received, ['a', 'b']);
    socket.destroy();
  });

  test('unshift() of nothing holds nothing; of one byte, puts it before what is held', async () => {
    const { socket, received } = fedByHand();
    socket.unshift(Buffer.alloc(0));
    assert.equal(socket.holdEnd(), false, 'nothing held: a FIN would not wait');
    socket.lentRead(Buffer.from('x'));
    assert.deepEqual(received, ['x']);
    socket.pause();
    socket.lentRead(Buffer.from('b'));
    socket.unshift(Buffer.from('a'));
    socket.resume();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(received, ['x', 'a', 'b']);
    socket.destroy();
  });
});
