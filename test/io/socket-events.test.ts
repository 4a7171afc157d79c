import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { Queue } from '../support/net.js';
import { bindSocket, lendReads, lendsReads, sharedReadOption, type SocketEventsTarget } from '../../src/io/socket-events.js';

/** A connected pair on 127.0.0.1: `near` is the accepted socket, `far` the client's. */
async function socketPair(t: TestContext, allowHalfOpen: boolean): Promise<{ near: Socket; far: Socket }> {
  const server = createServer({ allowHalfOpen });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [near] = await accepted;
  t.after(() => {
    near.destroy();
    far.destroy();
    server.close();
  });
  return { near, far };
}

/** Records which of the target's methods the socket's events called, in order. */
function recordingTarget(): SocketEventsTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    received: (chunk) => void calls.push(`received ${chunk.toString()}`),
    socketEnded: () => void calls.push('ended'),
    socketClosed: () => void calls.push('closed'),
    socketErrored: (error) => void calls.push(`errored ${error.message}`),
    socketDrained: () => void calls.push('drained'),
  };
}

describe('bindSocket', () => {
  test('on an allowHalfOpen socket, its listener replaces Node\'s own "end" listener (one listener, not an array of two), and the peer\'s FIN still arrives', async (t) => {
    const { near, far } = await socketPair(t, true);
    assert.equal(near.listenerCount('end'), 1, "Node's own listener, before");
    const target = recordingTarget();
    bindSocket(near, target);
    assert.equal(near.listenerCount('end'), 1);
    far.end('last words');
    await once(near, 'end');
    assert.deepEqual(target.calls, ['received last words', 'ended']);
    // With allowHalfOpen, our side stays writable after the peer's FIN until the target ends it.
    assert.equal(near.writable, true);
    near.end();
    await once(near, 'close');
    assert.deepEqual(target.calls, ['received last words', 'ended', 'closed']);
  });

  test('without allowHalfOpen, Node\'s own "end" listener stays beside its own', async (t) => {
    const { near, far } = await socketPair(t, false);
    const target = recordingTarget();
    bindSocket(near, target);
    assert.equal(near.listenerCount('end'), 2);
    far.end();
    await once(near, 'close');
    assert.deepEqual(target.calls, ['ended', 'closed']);
  });
});

describe('sharedReadOption', () => {
  /** A server whose accepted sockets are handed out, and `count` client sockets reading into the shared buffer. */
  async function lendingPairs(t: TestContext, count: number): Promise<{ near: Socket; far: Socket }[]> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const pairs: { near: Socket; far: Socket }[] = [];
    for (let i = 0; i < count; i++) {
      const accepted = once(server, 'connection') as Promise<[Socket]>;
      const far = connect({ port, host: '127.0.0.1', onread: sharedReadOption() });
      lendReads(far);
      const [near] = await accepted;
      await once(far, 'connect');
      pairs.push({ near, far });
    }
    t.after(() => {
      for (const { near, far } of pairs) {
        near.destroy();
        far.destroy();
      }
      server.close();
    });
    return pairs;
  }

  test('is one buffer for every socket; a socket made with it says so, others do not', async (t) => {
    assert.equal(sharedReadOption(), sharedReadOption());
    const [{ near, far }] = await lendingPairs(t, 1);
    assert.equal(lendsReads(far), true);
    assert.equal(lendsReads(near), false);
  });

  test("before a target is bound, 'data' listeners get copies of their own that later reads leave intact", async (t) => {
    const pairs = await lendingPairs(t, 2);
    const kept: Buffer[] = [];
    for (const [i, { near, far }] of pairs.entries()) {
      const got = once(far, 'data') as Promise<[Buffer]>;
      near.write(`handshake bytes of socket ${i}`);
      const [chunk] = await got;
      assert.notEqual(chunk.buffer, sharedReadOption().buffer, 'a copy, not the shared memory');
      kept.push(chunk);
    }
    assert.deepEqual(kept.map(String), ['handshake bytes of socket 0', 'handshake bytes of socket 1']);
  });

  test('once bound, the target gets views of the shared buffer, socket after socket; pause() stops reading and resume() goes on', async (t) => {
    const pairs = await lendingPairs(t, 2);
    const seen = new Queue<string>();
    const targets = pairs.map(({ far }, i) => {
      const target = recordingTarget();
      target.received = (chunk) => {
        assert.equal(chunk.buffer, (sharedReadOption().buffer as Buffer).buffer, 'lent: the shared memory');
        seen.push(`${i}:${chunk.toString()}`);
        if (chunk.toString() === 'pause') far.pause();
      };
      bindSocket(far, target);
      far.resume();
      return target;
    });
    pairs[0]!.near.write('a');
    assert.equal(await seen.next(), '0:a');
    pairs[1]!.near.write('pause');
    assert.equal(await seen.next(), '1:pause');
    pairs[1]!.near.write('held while paused');
    pairs[0]!.near.write('b');
    assert.equal(await seen.next(), '0:b');
    // The paused socket's bytes wait in the kernel (a short look: they must not come while paused).
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(seen.pending, 0, 'nothing read from the paused socket');
    pairs[1]!.far.resume();
    assert.equal(await seen.next(), '1:held while paused');
    pairs[0]!.near.end();
    await once(pairs[0]!.far, 'end');
    assert.deepEqual(targets[0]!.calls, ['ended']);
  });
});
