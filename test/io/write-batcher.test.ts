import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SockwaveError } from '../../src/errors.js';
import { WriteBatcher } from '../../src/io/write-batcher.js';
import { slabOf } from '../support/slabs.js';

/** The part of a socket the batcher uses, recording each write call (a corked run counts as one). */
function fakeSocket() {
  const writes: Buffer[][] = [];
  /** The chunks as handed over (not copied), to see which memory they view. */
  const handed: Buffer[] = [];
  let corked: Buffer[] | null = null;
  const socket = {
    destroyed: false,
    writableEnded: false,
    /** Bytes waiting in the socket's own queue (a slow reader's backlog). */
    writableLength: 0,
    /** What the socket's write callback reports (null: written). */
    writeError: null as Error | null,
    write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
      handed.push(chunk);
      if (corked) corked.push(Buffer.from(chunk));
      else writes.push([Buffer.from(chunk)]);
      if (callback) queueMicrotask(() => callback(socket.writeError));
      return true;
    },
    cork() {
      corked = [];
    },
    uncork() {
      if (corked) writes.push(corked);
      corked = null;
    },
  };
  return { socket: socket as unknown as Socket, writes, handed, fake: socket };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** A real TCP connection on 127.0.0.1 whose far end never reads. */
async function stalledPair(): Promise<{ socket: Socket; server: Server }> {
  const server = createServer((peer) => peer.pause());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  return { socket, server };
}

/** The write callback's argument, once it comes. */
function callbackResult(batcher: WriteBatcher, chunk: Buffer): Promise<Error | null | undefined> {
  return new Promise((resolve) => batcher.write(chunk, resolve));
}

describe('WriteBatcher', () => {
  test('frames written in one turn leave in one write on the next tick, in order', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    batcher.write(Buffer.from('a'));
    batcher.write(Buffer.from('bc'));
    const slab = Buffer.from('xyzw');
    batcher.writeSlab(slabOf(slab), 0, 2);
    batcher.writeSlab(slabOf(slab), 2, 4);
    assert.equal(batcher.pendingBytes, 7);
    assert.equal(writes.length, 0, 'nothing is written synchronously');
    await nextTick();
    assert.equal(writes.length, 1);
    assert.equal(Buffer.concat(writes[0]!).toString(), 'abcxyzw');
    assert.equal(batcher.pendingBytes, 0);
  });

  test('chunks that continue one another in memory leave as one view of that memory, not copied together', async () => {
    const { socket, writes, handed } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const memory = Buffer.from('frame1frame2frame3');
    batcher.write(memory.subarray(0, 6));
    batcher.write(memory.subarray(6, 12));
    batcher.writeSlab(slabOf(memory), 12, 18);
    await nextTick();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.toString(), 'frame1frame2frame3');
    assert.equal(handed[0]!.buffer, memory.buffer, 'the write views the chunks\' own memory');
    assert.equal(handed[0]!.byteOffset, memory.byteOffset);
    assert.equal(handed[0]!.length, 18);
  });

  test('behind a backlog, small views of a slab are copied out (a slow reader holds its own bytes, not the slab); large chunks are not', async () => {
    const { socket, writes, handed, fake } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const slab = Buffer.alloc(64 * 1024, 7);
    fake.writableLength = 100;
    batcher.writeSlab(slabOf(slab), 10, 30);
    await nextTick();
    assert.equal(handed[0]!.length, 20);
    assert.notEqual(handed[0]!.buffer, slab.buffer, 'a copy of its own');
    assert.equal(handed[0]!.buffer.byteLength, 20);
    const big = Buffer.alloc(20_000, 1);
    batcher.write(big);
    await nextTick();
    assert.equal(handed[1], big, 'a large chunk is written as it is');
    fake.writableLength = 0;
    batcher.writeSlab(slabOf(slab), 40, 60);
    await nextTick();
    assert.equal(handed[2]!.buffer, slab.buffer, 'with no backlog, the view itself');
    assert.equal(writes.length, 3);
  });

  test('frames of a slab are leased until the flush: two slabs at most, the older of three released as shared; a stream write leaves them shared', async () => {
    const { socket } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const [a, b, c] = [slabOf(Buffer.alloc(64)), slabOf(Buffer.alloc(64)), slabOf(Buffer.alloc(64))];
    batcher.writeSlab(a, 0, 8);
    batcher.writeSlab(a, 8, 16);
    assert.equal(a.leases, 1, 'one lease however many frames');
    batcher.writeSlab(b, 0, 8);
    assert.deepEqual([a.leases, b.leases], [1, 1]);
    batcher.writeSlab(c, 0, 8);
    assert.deepEqual([a.leases, a.shared], [0, true], 'the oldest of three: released, never to be reused');
    assert.deepEqual([b.leases, c.leases], [1, 1]);
    await nextTick();
    // Not a LentSocket: the frames went through the stream, which may keep them.
    for (const slab of [b, c]) assert.deepEqual([slab.leases, slab.shared], [0, true]);
  });

  test('frames dropped because the socket is gone end their lease with the slab free', () => {
    const { socket, fake } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const slab = slabOf(Buffer.alloc(64));
    batcher.writeSlab(slab, 0, 8);
    fake.destroyed = true;
    batcher.flush();
    assert.deepEqual([slab.leases, slab.shared], [0, false]);
  });

  test('a single chunk is written as itself; chunks of one memory out of order are kept apart, in write order', async () => {
    const { socket, writes, handed } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const memory = Buffer.from('abcdef');
    const only = memory.subarray(2, 4);
    batcher.write(only);
    await nextTick();
    assert.equal(handed[0], only, 'no new view for a chunk alone');
    batcher.write(memory.subarray(3, 6));
    batcher.write(memory.subarray(0, 3));
    batcher.write(memory.subarray(4, 6));
    await nextTick();
    assert.equal(writes.length, 2);
    assert.equal(Buffer.concat(writes[1]!).toString(), 'defabcef');
  });

  test('while held, nothing is scheduled: the pending frames leave in one write at release()', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    batcher.hold();
    const slab = Buffer.from('0123456789');
    batcher.writeSlab(slabOf(slab), 0, 3);
    batcher.writeSlab(slabOf(slab), 3, 6);
    batcher.write(Buffer.from('!'));
    await nextTick();
    await nextTick();
    assert.equal(writes.length, 0, 'no next-tick flush while held');
    batcher.release();
    assert.equal(writes.length, 1, 'release() writes at once');
    assert.equal(Buffer.concat(writes[0]!).toString(), '012345!');
    await nextTick();
    assert.equal(writes.length, 1, 'and nothing more later');
  });

  test('release() with nothing pending writes nothing; writes after it are scheduled again', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    batcher.hold();
    batcher.release();
    assert.equal(writes.length, 0);
    batcher.write(Buffer.from('late'));
    await nextTick();
    assert.deepEqual(writes.map((w) => Buffer.concat(w).toString()), ['late']);
  });

  test('a flush already scheduled before hold() finds the frames gone after release()', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    batcher.write(Buffer.from('one'));
    batcher.hold();
    batcher.write(Buffer.from('two'));
    batcher.release();
    await nextTick();
    assert.deepEqual(writes.map((w) => Buffer.concat(w).toString()), ['onetwo']);
  });

  test('past 16 KiB pending, frames go out corked (one writev) instead of being copied together', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const big = Buffer.alloc(20_000, 1);
    batcher.write(Buffer.from('h'));
    batcher.write(big);
    let called = 0;
    batcher.write(Buffer.from('t'), () => called++);
    await nextTick();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 3, 'three buffers in one corked write');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(called, 1, 'the callback ran once the write completed');
  });

  test('callbacks get an error, and nothing is written, once the socket is destroyed', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const errors: Array<Error | null | undefined> = [];
    batcher.write(Buffer.from('x'), (error) => errors.push(error));
    (socket as unknown as { destroyed: boolean }).destroyed = true;
    await nextTick();
    assert.equal(writes.length, 0);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]?.message), /closed/);
  });

  test('with nothing waiting for the write, a destroyed socket drops the frames silently (the flush does not throw)', () => {
    const { socket, writes, fake } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    batcher.hold();
    batcher.write(Buffer.from('x'));
    fake.destroyed = true;
    assert.doesNotThrow(() => batcher.release());
    assert.equal(writes.length, 0);
    assert.equal(batcher.pendingBytes, 0);
  });

  test('a socket already ended (end() called) is written nothing, and the callbacks get an error', async () => {
    const { socket, writes, fake } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    fake.writableEnded = true;
    const error = await callbackResult(batcher, Buffer.from('x'));
    assert.equal(writes.length, 0, 'nothing written after end()');
    assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
    assert.match(error.message, /closed before the data was sent/);
  });

  test("a write the socket fails is reported to the callbacks as SW_SOCKET_ERROR with the socket's error as cause; a SockwaveError as it is", async () => {
    const { socket, fake } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    fake.writeError = epipe;
    const error = await callbackResult(batcher, Buffer.from('x'));
    assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
    assert.equal(error.cause, epipe);
    assert.match(error.message, /write EPIPE/);
    const own = new SockwaveError('SW_SOCKET_ERROR', 'reset by the connection');
    fake.writeError = own;
    assert.equal(await callbackResult(batcher, Buffer.from('y')), own, 'not wrapped again');
  });

  test('each callback is called once: a later flush without callbacks does not call the earlier ones again', async () => {
    const { socket, writes } = fakeSocket();
    const batcher = new WriteBatcher(socket);
    let called = 0;
    batcher.write(Buffer.from('a'), () => called++);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(called, 1);
    batcher.write(Buffer.from('b'));
    batcher.write(Buffer.from('c'), () => called++);
    await new Promise((resolve) => setImmediate(resolve));
    batcher.write(Buffer.from('d'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes.length, 3);
    assert.equal(called, 2, 'one call per callback, however many flushes follow');
  });
});

describe('WriteBatcher: over a real socket', { timeout: 30_000 }, () => {
  test('bytes still on their way when the socket is destroyed are reported as not sent (Node 20 calls back with null, Node 24 with ECANCELED)', async () => {
    const { socket, server } = await stalledPair();
    try {
      const batcher = new WriteBatcher(socket);
      // Far more than the two kernel buffers hold: the write stays in flight.
      const result = callbackResult(batcher, Buffer.alloc(64 * 1024 * 1024));
      await nextTick();
      assert.ok(socket.writableLength > 0, 'the write is still in flight');
      socket.destroy();
      const error = await result;
      assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
      assert.match(error.message, /closed before the data was sent|the data was not sent: write ECANCELED/);
    } finally {
      server.close();
    }
  });

  test('bytes the kernel took during write() are reported as sent, even if the socket is destroyed before the callback', async () => {
    const { socket, server } = await stalledPair();
    try {
      const batcher = new WriteBatcher(socket);
      const result = callbackResult(batcher, Buffer.from('small'));
      batcher.flush();
      assert.equal(socket.writableLength, 0, 'the kernel took it at once');
      socket.destroy();
      assert.equal(await result, null);
    } finally {
      server.close();
    }
  });
});

describe('WriteBatcher: many batchers in one tick', () => {
  test('every batcher written in one turn is flushed on the next tick, each with its own write', async () => {
    const sockets = Array.from({ length: 50 }, () => fakeSocket());
    const batchers = sockets.map((s) => new WriteBatcher(s.socket));
    batchers.forEach((b, i) => b.write(Buffer.from(`m${i}`)));
    await nextTick();
    sockets.forEach((s, i) => assert.deepEqual(s.writes.map((w) => Buffer.concat(w).toString()), [`m${i}`]));
  });

  test('a write callback that throws does not stop the other batchers from flushing', async () => {
    const a = fakeSocket();
    const b = fakeSocket();
    const first = new WriteBatcher(a.socket);
    const second = new WriteBatcher(b.socket);
    (a.socket as unknown as { destroyed: boolean }).destroyed = true;
    first.write(Buffer.from('x'), () => {
      throw new Error('callback failure');
    });
    second.write(Buffer.from('y'));
    const thrown = await new Promise<Error>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const l of listeners) process.on('uncaughtException', l);
        resolve(error);
      });
    });
    assert.equal(thrown.message, 'callback failure');
    await nextTick();
    assert.deepEqual(b.writes.map((w) => Buffer.concat(w).toString()), ['y']);
  });
});
