import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { acceptLentSockets } from '../../src/io/lent-accept.js';
import { LentSocket } from '../../src/io/lent-socket.js';
import { lendsReads } from '../../src/io/socket-events.js';
import { Queue, withTimeout } from '../support/net.js';

/** A plain listener with lent sockets, as the standalone server makes it: what it accepts, in a queue. */
async function lendingServer(t: TestContext, setUp?: (server: Server) => void): Promise<{ server: Server; port: number; accepted: Queue<Socket>; viaEvent: Queue<Socket> }> {
  const accepted = new Queue<Socket>();
  const viaEvent = new Queue<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => viaEvent.push(socket));
  acceptLentSockets(server, (socket) => accepted.push(socket));
  setUp?.(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { server, port: (server.address() as AddressInfo).port, accepted, viaEvent };
}

function dial(t: TestContext, port: number): Socket {
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  t.after(() => client.destroy());
  return client;
}

function connectionCount(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

describe('acceptLentSockets', () => {
  test('accepted sockets are LentSockets handed to accept(), not to the connection event; half-open, reading, writing', async (t) => {
    const { port, accepted, viaEvent } = await lendingServer(t);
    const client = dial(t, port);
    const socket = await accepted.next('accepted socket');
    assert.ok(socket instanceof LentSocket);
    assert.equal(lendsReads(socket), true);
    assert.equal(socket.allowHalfOpen, true);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(socket.remotePort, client.localPort);
    // No delay, as the listener asks for (where this Node keeps the setting under the name it has in Node 20).
    const noDelay = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'kSetNoDelay');
    if (noDelay !== undefined) assert.equal((socket as unknown as Record<symbol, unknown>)[noDelay], true, 'no delay');
    // Reads reach data listeners (copies of their own before a connection binds the socket).
    client.write('hello');
    const [chunk] = (await withTimeout(once(socket, 'data'), 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'hello');
    socket.write('back');
    const [reply] = (await withTimeout(once(client, 'data'), 'reply')) as [Buffer];
    assert.equal(reply.toString(), 'back');
    // Half-open: the client's FIN leaves the server's side writable.
    client.end();
    await withTimeout(once(socket, 'end'), 'end');
    assert.equal(socket.writable, true);
    socket.end('after');
    const [late] = (await withTimeout(once(client, 'data'), 'late reply')) as [Buffer];
    assert.equal(late.toString(), 'after');
    assert.equal(viaEvent.history.length, 0);
  });

  test("the server counts lent sockets: getConnections() sees them, and close() waits for them, then calls back", async (t) => {
    const { server, port, accepted } = await lendingServer(t);
    dial(t, port);
    dial(t, port);
    const first = await accepted.next('first');
    const second = await accepted.next('second');
    assert.equal(await connectionCount(server), 2);
    let closed = false;
    server.close(() => (closed = true));
    first.destroy();
    await withTimeout(once(first, 'close'), 'first close');
    assert.equal(await connectionCount(server), 1);
    assert.equal(closed, false, 'close() called back with a socket still open');
    second.destroy();
    await withTimeout(once(server, 'close'), 'server close');
    assert.equal(closed, true);
  });

  test('the accepted socket is published on net.server.socket, as Node publishes its own', async (t) => {
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => void published.push((message as { socket: unknown }).socket);
    subscribe('net.server.socket', onMessage);
    t.after(() => unsubscribe('net.server.socket', onMessage));
    const { port, accepted } = await lendingServer(t);
    dial(t, port);
    const socket = await accepted.next('accepted socket');
    assert.deepEqual(published, [socket]);
  });

  test("a server with maxConnections keeps Node's own sockets, and Node's limit", async (t) => {
    const { port, accepted, viaEvent } = await lendingServer(t, (server) => (server.maxConnections = 1));
    dial(t, port);
    const socket = await viaEvent.next('socket from the connection event');
    assert.equal(socket instanceof LentSocket, false);
    const second = dial(t, port);
    await withTimeout(once(second, 'end'), 'second connection dropped');
    assert.equal(viaEvent.history.length, 1);
    assert.equal(accepted.history.length, 0);
  });

  test("where Node's internals are not as expected, nothing is replaced", () => {
    const onconnection = (): void => {};
    const cases: { name: string; internals: Record<string, unknown> }[] = [
      { name: 'no handle', internals: { _handle: null, _connections: 0 } },
      { name: 'no onconnection', internals: { _handle: {}, _connections: 0 } },
      { name: 'onconnection not a function', internals: { _handle: { onconnection: 'x' }, _connections: 0 } },
      { name: 'no connection count', internals: { _handle: { onconnection }, _connections: undefined } },
      { name: 'a count that is not a number', internals: { _handle: { onconnection }, _connections: '0' } },
    ];
    for (const { name, internals } of cases) {
      const fake = Object.assign(new EventEmitter(), internals);
      const handleBefore = fake._handle as { onconnection?: unknown } | null;
      const before = handleBefore?.onconnection;
      acceptLentSockets(fake as unknown as Server, () => assert.fail('accepted'));
      fake.emit('listening');
      assert.equal(handleBefore?.onconnection, before, name);
    }
    // The same fake with everything in place is taken over (so the cases above can fail).
    const fake = Object.assign(new EventEmitter(), { _handle: { onconnection }, _connections: 0 });
    acceptLentSockets(fake as unknown as Server, () => {});
    fake.emit('listening');
    assert.notEqual(fake._handle.onconnection, onconnection);
  });

  test("a failed accept goes to Node's callback, which reports it", () => {
    const calls: unknown[][] = [];
    const fake = Object.assign(new EventEmitter(), {
      _handle: {
        onconnection(...args: unknown[]) {
          calls.push(args);
        },
      },
      _connections: 0,
    });
    acceptLentSockets(fake as unknown as Server, () => assert.fail('accepted'));
    fake.emit('listening');
    (fake._handle.onconnection as (status: number, handle?: object) => void)(-24);
    assert.deepEqual(calls, [[-24, undefined]]);
    assert.equal(fake._connections, 0);
  });
});
