import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { bindSocket, endedBeforeBinding, type SocketEventsTarget } from '../../src/io/socket-events.js';
import { LentSocket } from '../../src/io/lent-socket.js';
import { socketPair } from '../support/net.js';

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

  test("endedBeforeBinding: a lent socket whose FIN was read while it was paused, before binding, reports it after the bytes it held; another socket at once", async (t) => {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const lent = new LentSocket().connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
    lent.on('error', () => {});
    lent.allowHalfOpen = true;
    const [far] = await accepted;
    t.after(() => {
      lent.destroy();
      far.destroy();
      server.close();
    });
    await once(lent, 'connect');
    lent.pause();
    far.end('held bytes');
    // A paused lent socket holds the bytes, and its stream says 'end' at once.
    await once(lent, 'end');
    const target = recordingTarget();
    bindSocket(lent, target);
    lent.resume();
    endedBeforeBinding(lent);
    assert.deepEqual(target.calls, [], 'nothing before the held bytes are delivered, on a later tick');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(target.calls, ['received held bytes', 'ended']);

    const { near, far: peer } = await socketPair(t, true);
    peer.end();
    near.resume();
    await once(near, 'end');
    const plain = recordingTarget();
    bindSocket(near, plain);
    endedBeforeBinding(near);
    assert.deepEqual(plain.calls, ['ended']);
  });
});
