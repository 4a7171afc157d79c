import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LentSocket } from '../../src/io/lent-socket.js';
import { writeToHandle } from '../../src/io/handle-writer.js';
import { WriteBatcher } from '../../src/io/write-batcher.js';
import { slabOf } from '../support/slabs.js';
import { payloadBytes, sha256, withTimeout } from '../support/net.js';

/** A lent client socket (`far`, the one written) and the server's side of it (`near`, paused: it reads nothing until resumed). */
async function lentPair(t: TestContext): Promise<{ near: Socket; far: LentSocket }> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = new LentSocket().connect({ port, host: '127.0.0.1' });
  const [near] = await accepted;
  await once(far, 'connect');
  t.after(() => {
    near.destroy();
    far.destroy();
    server.close();
  });
  return { near, far };
}

/** Everything `near` receives from now until `far` ends its side (joined). */
async function readAll(near: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  near.on('data', (chunk: Buffer) => chunks.push(chunk));
  near.resume();
  await withTimeout(once(near, 'end'), 'the peer reads to the end', 20_000);
  return Buffer.concat(chunks);
}

/** Writes `chunk` straight to the handle until some of it waits there (the peer reads nothing); the bytes written. Bounded: 256 MiB. */
function fillHandle(far: LentSocket, chunk: Buffer, written: Buffer[]): void {
  for (let i = 0; far.unsentBytes === 0; i++) {
    assert.ok(i < 4096, 'the kernel took 256 MiB without the peer reading');
    assert.equal(writeToHandle(far, chunk), true);
    written.push(chunk);
  }
}

describe('writeToHandle', { timeout: 30_000 }, () => {
  // First in the file (a file's tests run in a process of their own): the first writeToHandle()
  // of the process learns Node's write request, and here it is made on a failed socket.
  test("declines a socket whose stream failed but is not destroyed yet (Node destroys it a tick later), without giving up for other sockets", async (t) => {
    const { near, far } = await lentPair(t);
    far.on('error', () => {});
    // The socket stops reading, so only a write finds out that the peer is gone.
    (far as unknown as { _handle: { readStop(): number } })._handle.readStop();
    near.resetAndDestroy();
    const failed = (): boolean => (far as unknown as { _writableState: { errored: Error | null } })._writableState.errored !== null;
    for (let i = 0; !failed(); i++) {
      assert.ok(i < 1000, 'the reset never reached the writer');
      far.write('x');
      if (!failed()) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(far.destroyed, false);
    assert.equal(writeToHandle(far, Buffer.from('y')), false);
    const other = await lentPair(t);
    assert.equal(writeToHandle(other.far, Buffer.from('still written directly')), true);
    assert.equal(other.far.bytesWritten, 22);
    other.far.end();
    assert.equal((await readAll(other.near)).toString(), 'still written directly');
  });

  test('writes a buffer, or buffers in order, to the handle: the stream is not used, and bytesWritten counts them', async (t) => {
    const { near, far } = await lentPair(t);
    let streamWrites = 0;
    const write = far.write.bind(far);
    // (The first direct write learns Node's write request from one empty stream write.)
    assert.equal(writeToHandle(far, Buffer.from('one ')), true);
    far.write = ((...args: Parameters<Socket['write']>) => {
      streamWrites++;
      return write(...args);
    }) as Socket['write'];
    assert.equal(writeToHandle(far, [Buffer.from('two '), Buffer.from('three '), Buffer.from('four')]), true);
    assert.equal(streamWrites, 0);
    assert.equal(far.writableLength, 0);
    assert.equal(far.unsentBytes, 0);
    assert.equal(far.bytesWritten, 18);
    far.write = write;
    far.end();
    assert.equal((await readAll(near)).toString(), 'one two three four');
  });

  test('declines while the stream has its own bytes (in flight, queued or corked), is ending, or is still connecting', async (t) => {
    const { near, far } = await lentPair(t);
    far.cork();
    assert.equal(writeToHandle(far, Buffer.from('x')), false, 'corked');
    far.write('corked ');
    far.uncork();
    assert.equal(writeToHandle(far, Buffer.from('direct ')), true);
    // More than the kernel takes while the peer reads nothing: the rest stays in the stream's write.
    const big = payloadBytes(32 * 1024 * 1024, 9);
    far.write(big);
    assert.ok(far.writableLength > 0, 'the stream has a write in flight');
    assert.equal(writeToHandle(far, Buffer.from('x')), false, 'in flight');
    far.end('last');
    assert.equal(writeToHandle(far, Buffer.from('x')), false, 'ended');
    const received = await readAll(near);
    assert.equal(sha256(received), sha256(Buffer.concat([Buffer.from('corked direct '), big, Buffer.from('last')])));

    const connecting = new LentSocket().connect({ port: (near.localPort as number) + 0, host: '127.0.0.1' });
    connecting.on('error', () => {});
    t.after(() => connecting.destroy());
    assert.equal(connecting.connecting, true);
    assert.equal(writeToHandle(connecting, Buffer.from('x')), false, 'connecting');
  });

  test('what the kernel cannot take waits in the handle, counted in unsentBytes; later writes go through the stream behind it, in order', async (t) => {
    const { near, far } = await lentPair(t);
    const chunk = payloadBytes(64 * 1024, 7);
    const written: Buffer[] = [];
    fillHandle(far, chunk, written);
    const waiting = far.unsentBytes;
    assert.ok(waiting > 0 && waiting <= chunk.length, `${waiting} bytes wait in the handle`);
    assert.equal(far.writableLength, 0, 'the stream knows nothing of them');
    // While they wait, writes go through the stream (which holds what follows and writes it at once).
    assert.equal(writeToHandle(far, chunk), false);
    far.write(chunk);
    written.push(chunk);
    const tail = Buffer.from('the stream write, last');
    const streamDone = new Promise<Error | null | undefined>((resolve) => far.write(tail, resolve));
    written.push(tail);
    far.end();
    const received = await readAll(near);
    assert.equal(await streamDone, null);
    assert.equal(far.unsentBytes, 0, 'the handle reported every waiting write done');
    assert.equal(received.length, Buffer.concat(written).length);
    assert.equal(sha256(received), sha256(Buffer.concat(written)));
  });

  test('a write the connection refuses destroys the socket with the write error (code and syscall), not the process', async (t) => {
    const { near, far } = await lentPair(t);
    const errors: NodeJS.ErrnoException[] = [];
    far.on('error', (error: NodeJS.ErrnoException) => errors.push(error));
    // (Not events.once(): it would reject with the error this test expects.)
    const closed = new Promise((resolve) => far.on('close', resolve));
    const written: Buffer[] = [];
    fillHandle(far, payloadBytes(64 * 1024, 3), written);
    // The peer goes away without reading: the waiting write fails (or the read sees the reset first).
    near.resetAndDestroy();
    await withTimeout(closed, 'the written socket closes');
    assert.equal(far.destroyed, true);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.code ?? '', /^(ECONNRESET|EPIPE)$/);
    assert.equal(writeToHandle(far, Buffer.from('x')), false, 'a destroyed socket is declined');
  });
});

test('writeToHandle: destroy() while bytes wait in the handle drops them quietly: no error, nothing left counted', async (t) => {
  const { far } = await lentPair(t);
  const errors: Error[] = [];
  far.on('error', (error) => errors.push(error));
  fillHandle(far, payloadBytes(64 * 1024, 4), []);
  assert.ok(far.unsentBytes > 0);
  far.destroy();
  await withTimeout(once(far, 'close'), 'the socket closes');
  assert.equal(far.unsentBytes, 0);
  assert.deepEqual(errors, []);
});

/** V8's full garbage collection, made callable in this process (each test file has its own). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

for (const shape of ['one buffer', 'six buffers (writev)'] as const) {
  test(`writeToHandle: bytes waiting in the handle are kept alive until written, though no one else holds them: ${shape}`, async (t) => {
    const { near, far } = await lentPair(t);
    const gc = collector();
    // (A first write learns how this Node writes to a handle; it goes through the stream.)
    assert.equal(writeToHandle(far, Buffer.from('first ')), true);
    const expected = { digest: '', length: 0 };
    // Made and written in a function of its own: once it returns, only the handle's request holds
    // the bytes (16 MiB, far more than the kernel takes while the peer reads nothing).
    const writeUnreferenced = (): void => {
      const chunks = shape === 'one buffer' ? [payloadBytes(16 * 1024 * 1024, 7)] : Array.from({ length: 6 }, (_, i) => payloadBytes(3 * 1024 * 1024, 11 + i));
      const all = Buffer.concat([Buffer.from('first '), ...chunks]);
      expected.digest = sha256(all);
      expected.length = all.length;
      assert.equal(writeToHandle(far, chunks.length === 1 ? chunks[0]! : chunks), true);
    };
    writeUnreferenced();
    assert.ok(far.unsentBytes > 0, 'bytes wait in the handle');
    // Collected and their memory reused, were they not kept: the peer would read other bytes (or
    // the write would fail with EFAULT).
    for (let i = 0; i < 3; i++) {
      gc();
      Buffer.alloc(16 * 1024 * 1024, 0xee);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const received = readAll(near);
    await withTimeout(new Promise<void>((resolve) => {
      const check = (): void => (far.unsentBytes === 0 ? resolve() : void setTimeout(check, 5));
      check();
    }), 'the handle to write what waited');
    far.end();
    const bytes = await received;
    assert.equal(bytes.length, expected.length);
    assert.equal(sha256(bytes), expected.digest);
  });
}

test('writeToHandle: a write refused at once (the peer has reset the connection) destroys the socket with that write error', async (t) => {
  const { near, far } = await lentPair(t);
  const errors: NodeJS.ErrnoException[] = [];
  far.on('error', (error: NodeJS.ErrnoException) => errors.push(error));
  // The socket stops reading, so only a write can find out that the peer is gone.
  (far as unknown as { _handle: { readStop(): number } })._handle.readStop();
  // (A first write, while the peer is there, learns Node's write request: it writes through the stream.)
  assert.equal(writeToHandle(far, Buffer.from('x')), true);
  near.resetAndDestroy();
  for (let i = 0; !far.destroyed; i++) {
    assert.ok(i < 1000, 'the reset never reached the writer');
    assert.equal(writeToHandle(far, Buffer.from('x')), true);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.syscall, 'write');
  assert.match(errors[0]!.code ?? '', /^(ECONNRESET|EPIPE)$/);
  assert.equal(typeof errors[0]!.errno, 'number');
});

describe('WriteBatcher over a LentSocket', { timeout: 30_000 }, () => {
  test('writes no one waits for go straight to the handle; a write with a callback goes through the stream; order is kept', async (t) => {
    const { near, far } = await lentPair(t);
    const batcher = new WriteBatcher(far);
    const streamWrites: string[] = [];
    const write = far.write.bind(far);
    far.write = ((chunk: Buffer, ...rest: unknown[]) => {
      streamWrites.push(Buffer.from(chunk).toString());
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as Socket['write'];
    batcher.write(Buffer.from('a'));
    batcher.write(Buffer.from('b'));
    batcher.flush();
    const written = new Promise<Error | null | undefined>((resolve) => batcher.write(Buffer.from('c'), resolve));
    batcher.flush();
    assert.equal(await written, null);
    batcher.write(Buffer.from('d'));
    batcher.flush();
    // (The first direct write learnt Node's write request from an empty stream write, if no earlier test did.)
    assert.deepEqual(
      streamWrites.filter((chunk) => chunk !== ''),
      ['c'],
    );
    far.write = write;
    far.end();
    assert.equal((await readAll(near)).toString(), 'abcd');
  });

  test('frames the kernel takes during the write free their slab; frames left waiting in the handle, or behind a write someone waits for, leave it shared', async (t) => {
    const { near, far } = await lentPair(t);
    const batcher = new WriteBatcher(far);
    const taken = slabOf(payloadBytes(64 * 1024, 1));
    batcher.writeSlab(taken, 0, 1000);
    batcher.writeSlab(taken, 1000, 2000);
    batcher.flush();
    assert.equal(far.unsentBytes, 0, 'the kernel took 2,000 bytes at once');
    assert.deepEqual([taken.leases, taken.shared], [0, false]);
    // Behind a write with a callback: the stream writes them, and may keep them meanwhile.
    const behind = slabOf(payloadBytes(1024, 2));
    batcher.write(Buffer.from('x'), () => {});
    batcher.writeSlab(behind, 0, 100);
    batcher.flush();
    assert.deepEqual([behind.leases, behind.shared], [0, true]);
    // More than the kernel takes: the rest waits in the handle, read from the slab itself.
    const large = slabOf(payloadBytes(32 * 1024 * 1024, 3));
    await new Promise((resolve) => setImmediate(resolve));
    batcher.writeSlab(large, 0, large.buffer.length);
    batcher.flush();
    assert.ok(far.unsentBytes > 0, 'some of 32 MiB waits in the handle');
    assert.deepEqual([large.leases, large.shared], [0, true]);
    far.end();
    const received = await readAll(near);
    assert.equal(sha256(received), sha256(Buffer.concat([taken.buffer.subarray(0, 2000), Buffer.from('x'), behind.buffer.subarray(0, 100), large.buffer])));
  });

  test('unsentBytes counts what waits in the handle, and pending frames behind it are copied out of shared memory', async (t) => {
    const { near, far } = await lentPair(t);
    const batcher = new WriteBatcher(far);
    const written: Buffer[] = [];
    fillHandle(far, payloadBytes(64 * 1024, 5), written);
    const waiting = far.unsentBytes;
    const slab = Buffer.alloc(1024, 0x61);
    batcher.writeSlab(slabOf(slab), 0, 16);
    assert.equal(batcher.unsentBytes, 16 + waiting);
    batcher.flush();
    assert.equal(batcher.unsentBytes, waiting + 16);
    written.push(slab.subarray(0, 16));
    // The slab is reused at once: the bytes waiting behind the backlog were copied out of it.
    slab.fill(0x62);
    far.end();
    const received = await readAll(near);
    assert.equal(sha256(received), sha256(Buffer.concat([...written.slice(0, -1), Buffer.alloc(16, 0x61)])));
    assert.equal(batcher.unsentBytes, 0);
  });
});
