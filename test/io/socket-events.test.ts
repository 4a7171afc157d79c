import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { bindSocket, type SocketEventsTarget } from '../../src/io/socket-events.js';

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

  test("the socket's 'drain' and 'error' reach the target", async (t) => {
    const { near, far } = await socketPair(t, true);
    const target = recordingTarget();
    bindSocket(near, target);
    // More than the socket takes at once, at a peer that is not reading: the write waits, then drains.
    far.pause();
    assert.equal(near.write(Buffer.alloc(8 * 1024 * 1024)), false);
    far.on('data', () => {});
    far.resume();
    await once(near, 'drain');
    assert.deepEqual(target.calls, ['drained']);
    // (An 'error' without a listener would throw here.)
    near.emit('error', new Error('boom'));
    assert.deepEqual(target.calls, ['drained', 'errored boom']);
  });
});
