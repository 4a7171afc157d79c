/**
 * The server object itself (src/server/server.ts), for what its other tests leave open: the
 * public servesPath() once closed, listen()'s overrides checked before they are taken, a listen()
 * cut short by stop() while another listen() followed, the listening socket's later errors,
 * sendTo() in a cluster, what the backplane is told of this node's presence, a fresh server's
 * stats, an admission failure with no 'error' listener, a pongTimeout of 0, close()'s options.
 */
import { strict as assert } from 'node:assert';
import { type Server as NetServer } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { MemoryBackplane, MemoryBus, SockwaveError, WebSocketServer } from '../../src/index.js';
import { rawUpgrade, withTimeout, type RawClient } from '../support/net.js';
import { catchUncaught, eventually, refusedWs, serve, wsClient } from '../support/server-kit.js';
import { type Envelope } from '../../src/server/backplane.js';
import { type Heartbeat } from '../../src/server/heartbeat.js';
import { FakeClock } from '../support/fake-clock.js';

describe('servesPath()', () => {
  test('with routes, a path of no route is served only when there is an onConnection for it', () => {
    const routesOnly = new WebSocketServer().route('/chat', () => ({}));
    assert.equal(routesOnly.servesPath('/chat'), true);
    assert.equal(routesOnly.servesPath('/other'), false);
    const withDefault = new WebSocketServer({ onConnection: () => ({}) }).route('/chat', () => ({}));
    assert.equal(withDefault.servesPath('/chat'), true);
    assert.equal(withDefault.servesPath('/other'), true);
  });

  test('a closed server serves no path, not even one it served before (its path option or its routes)', async () => {
    const byOption = new WebSocketServer({ path: '/live' });
    const byRoute = new WebSocketServer().route('/chat', () => ({}));
    const any = new WebSocketServer();
    assert.equal(byOption.servesPath('/live'), true);
    assert.equal(byRoute.servesPath('/chat'), true);
    assert.equal(any.servesPath('/anything'), true);
    await withTimeout(Promise.all([byOption.close(), byRoute.close(), any.close()]), 'the servers to close');
    assert.equal(byOption.servesPath('/live'), false);
    assert.equal(byRoute.servesPath('/chat'), false);
    assert.equal(any.servesPath('/anything'), false);
  });
});

describe('listen() overrides', () => {
  test("an invalid override is refused by the server's own check, naming it, and is not kept: the next listen() uses the options as they were", async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1' });
    t.after(() => server.close({ timeout: 0 }));
    // (Node's own check of a bad port words it differently: "options.port should be >= 0 and < 65536".)
    await assert.rejects(server.listen({ port: -5 }), { name: 'RangeError', message: /WebSocketServer: port must be a whole number from 0 to 65535/ });
    await assert.rejects(server.listen({ backlog: 'many' as unknown as number }), { name: 'TypeError', message: /backlog/ });
    const info = await withTimeout(server.listen(), 'listen() with the options as they were');
    assert.equal(info.host, '127.0.0.1');
    assert.notEqual(info.port, 0);
  });

  test('with no port given, each server listens on a free port of its own', async (t) => {
    const servers = [new WebSocketServer({ host: '127.0.0.1' }), new WebSocketServer({ host: '127.0.0.1' })];
    t.after(() => Promise.all(servers.map((server) => server.close({ timeout: 0 }))));
    const [first, second] = await withTimeout(Promise.all(servers.map((server) => server.listen())), 'both servers to listen');
    assert.notEqual(first!.port, second!.port);
  });
});

describe('listen() and stop()', () => {
  test("a listen() cut short by stop() does not undo the listen() called after it: the server listens, and address() and stop() know it", async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1' });
    t.after(() => server.close({ timeout: 0 }));
    const first = server.listen();
    await server.stop();
    const second = server.listen();
    await assert.rejects(first, (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE');
    const info = await withTimeout(second, 'the second listen()');
    assert.deepEqual(server.address(), info);
    // (Still its listener: a third listen() is refused as already listening.)
    await assert.rejects(server.listen(), (error: unknown) => error instanceof SockwaveError && /already listening/.test(error.message));
  });

  test("an error of the listening socket after listen() is reported as the server's 'error' event", async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1' });
    t.after(() => server.close({ timeout: 0 }));
    const errors: Error[] = [];
    server.on('error', (error) => errors.push(error));
    await server.listen();
    // (Such errors are rare, EMFILE on accept say: the test emits one on the private listening socket.)
    const listening = (server as unknown as { listener: NetServer }).listener;
    const failure = new Error('accept failed: EMFILE');
    listening.emit('error', failure);
    assert.deepEqual(errors, [failure]);
  });
});

describe('sendTo() in a cluster', () => {
  test('a local id is sent here and reported as local; only the ids of no local connection go through the backplane', async (t) => {
    const bus = new MemoryBus();
    const a = await serve(t, { backplane: new MemoryBackplane(bus) });
    const b = await serve(t, { backplane: new MemoryBackplane(bus) });
    const onA = await wsClient(t, a.url);
    const onB = await wsClient(t, b.url);
    const { connection: aSide } = await a.connections.next();
    const { connection: bSide } = await b.connections.next();
    const results = a.server.sendTo([aSide.id, bSide.id], 'hello');
    assert.deepEqual(
      results.map((result) => [result.id, result.success, result.remote]),
      [
        [aSide.id, true, undefined],
        [bSide.id, true, true],
      ],
    );
    assert.ok(results[0]!.wireSize > 0, "the local result is the local send's report");
    assert.equal(String((await onA.rec.messages.next()).data), 'hello');
    assert.equal(String((await onB.rec.messages.next()).data), 'hello');
  });

  test('ids all of local connections: nothing goes through the backplane', async (t) => {
    const published: Envelope[] = [];
    class RecordingBackplane extends MemoryBackplane {
      override publish(envelope: Envelope): boolean {
        published.push(envelope);
        return super.publish(envelope);
      }
    }
    const bus = new MemoryBus();
    const a = await serve(t, { backplane: new RecordingBackplane(bus) });
    await serve(t, { backplane: new MemoryBackplane(bus) });
    const onA = await wsClient(t, a.url);
    const { connection: aSide } = await a.connections.next();
    assert.deepEqual(a.server.sendTo([aSide.id], 'local').map((result) => [result.success, result.remote]), [[true, undefined]]);
    assert.equal(String((await onA.rec.messages.next()).data), 'local');
    assert.deepEqual(published, []);
  });

  test('a closed server has left the cluster: sendTo() on the other one then has no other node to pass an unknown id to', async (t) => {
    const bus = new MemoryBus();
    const a = await serve(t, { backplane: new MemoryBackplane(bus) });
    const b = await serve(t, { backplane: new MemoryBackplane(bus) });
    assert.deepEqual(a.server.sendTo(['nobody.0'], 'x').map((result) => [result.success, result.remote]), [[true, true]]);
    await b.close();
    assert.deepEqual(a.server.sendTo(['nobody.0'], 'x').map((result) => [result.success, result.remote]), [[false, undefined]]);
  });
});

describe("the backplane is told of this node's presence", () => {
  /** A MemoryBackplane that counts the server's presenceChanged() calls. */
  class CountingBackplane extends MemoryBackplane {
    changes = 0;
    override presenceChanged(): void {
      this.changes++;
    }
  }

  test('once per connection opened or closed and per subscription changed; a subscription that changes nothing is not told', async (t) => {
    const backplane = new CountingBackplane();
    const srv = await serve(t, { backplane });
    assert.equal(backplane.changes, 0);
    const { ws } = await wsClient(t, srv.url);
    const { connection, rec } = await srv.connections.next();
    assert.equal(backplane.changes, 1, 'a connection opened');
    assert.equal(connection.subscribe('news'), true);
    assert.equal(backplane.changes, 2, 'a subscription');
    assert.equal(connection.subscribe('news'), false);
    assert.equal(backplane.changes, 2, 'subscribed already: nothing changed');
    assert.equal(connection.unsubscribe('news'), true);
    assert.equal(backplane.changes, 3, 'an unsubscription');
    assert.equal(connection.subscribe('sport'), true);
    assert.equal(backplane.changes, 4);
    ws.close();
    await rec.closed();
    // (The close drops its subscription, then the connection itself.)
    assert.equal(backplane.changes, 6, 'its last subscription left, and the connection closed');
  });
});

describe('stats()', () => {
  test('a new server counts nothing yet: every counter starts at 0', () => {
    const stats = new WebSocketServer().stats();
    const { closeCodes, limits, ...counts } = stats;
    for (const [name, value] of Object.entries(counts)) assert.equal(value, 0, name);
    assert.deepEqual(closeCodes, {});
    for (const [name, value] of Object.entries(limits)) assert.equal(value, 0, `limits.${name}`);
  });
});

describe("errors with no 'error' listener", () => {
  test("an admission function that throws, on a server nobody listens to for 'error': the request is answered 500, and nothing is thrown", async (t) => {
    const uncaught = catchUncaught(t);
    const server = new WebSocketServer({
      host: '127.0.0.1',
      onConnection: () => {
        throw new Error('admission failed');
      },
    });
    t.after(() => server.close({ timeout: 0 }));
    const { url } = await server.listen();
    const refused = await refusedWs(url);
    assert.equal(refused.status, 500);
    assert.equal(server.stats().refused, 1);
    uncaught.restore();
    assert.deepEqual(uncaught.messages, []);
  });
});

describe('heartbeat options', () => {
  test('pongTimeout: 0 is taken as 0, not as the default: a ping still unanswered at the next look drops the peer', async (t) => {
    // (A long pingInterval keeps the server's own timer out of the way; the test ticks by hand.)
    const srv = await serve(t, { pingInterval: 60_000, pongTimeout: 0 });
    const heartbeat = (srv.server as unknown as { heartbeat: Heartbeat }).heartbeat;
    // A raw client: it never answers a ping.
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.socket.destroy());
    const { connection } = await srv.connections.next();
    heartbeat.tick(connection.lastActivity + 60_000);
    assert.notEqual(connection.pingSentAt, 0, 'a ping was sent');
    // No time has passed since the ping: with a pongTimeout of 0 it is late already.
    heartbeat.tick(connection.pingSentAt);
    // (Judged once the reads of the tick's turn are done.)
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(srv.server.stats().heartbeatTimeouts, 1);
    await eventually(() => connection.status === 'closed', 'the peer to be dropped');
  });
});

describe("close()'s options", () => {
  /** `count` turns of the event loop, for I/O to come through while the clock stands still. */
  async function turns(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  test('code 0 is refused (RangeError), not taken as the default 1001, and changes nothing', async (t) => {
    const srv = await serve(t);
    const { rec } = await wsClient(t, srv.url);
    await srv.connections.next();
    await assert.rejects(srv.server.close({ code: 0 }), { name: 'RangeError' });
    assert.equal(srv.server.clients.size, 1);
    await withTimeout(srv.server.close(), 'a valid close()');
    assert.equal((await rec.closed()).code, 1001);
  });

  test('with no timeout given, close() waits 5000 ms for a client that never answers its close frame, then terminates it', async (t) => {
    const { srv, connection, rec, clock } = await serveSilentPeer(t);
    const closing = srv.server.close();
    await clock.advance(4999);
    assert.equal(connection.status, 'closing', 'still waiting for the client at 4999 ms');
    await clock.advance(1);
    await turns(10);
    assert.equal(connection.status, 'closed', 'terminated at 5000 ms');
    assert.equal((await rec.closed()).code, 1006);
    await closing;
  });

  test('timeout: 0 is taken as 0, not as the default: a client that never answers is terminated at once', async (t) => {
    const { srv, connection, rec, clock } = await serveSilentPeer(t);
    const closing = srv.server.close({ timeout: 0 });
    await clock.advance(1);
    await turns(10);
    assert.equal(connection.status, 'closed');
    assert.equal((await rec.closed()).code, 1006);
    await closing;
  });

  test('timeout: Infinity is accepted: close() waits for every client, then resolves', async (t) => {
    const srv = await serve(t);
    const { rec } = await wsClient(t, srv.url);
    await srv.connections.next();
    await withTimeout(srv.server.close({ timeout: Infinity }), 'close() with no timeout');
    assert.equal((await rec.closed()).code, 1001);
    assert.equal(srv.server.clients.size, 0);
  });
});

/**
 * A server with one raw client that never answers a close frame, and a fake clock installed. The
 * connection's own closeTimeout (5000 ms by default, as close()'s) is set out of the way.
 */
async function serveSilentPeer(t: TestContext) {
  // (Registered first, so that it runs before the server's close: a failure leaves no wait.)
  const peers: RawClient[] = [];
  t.after(() => peers.forEach((peer) => peer.socket.destroy()));
  const srv = await serve(t, { closeTimeout: 60_000 });
  peers.push(await rawUpgrade(srv.port));
  const { connection, rec } = await srv.connections.next();
  return { srv, connection, rec, clock: FakeClock.install(t) };
}
