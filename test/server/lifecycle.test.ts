/**
 * A server's life over real sockets: listening (again, IPv6, dual stack, TLS), its connections
 * (identity, properties, status, sending, closing, maxPayload, permessage-deflate), and shutdown
 * (stop, close with a timeout, no accepted message lost).
 */
import { strict as assert } from 'node:assert';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import {
  SockwaveError,
  WebSocketServer,
  connect,
  type CloseInfo,
  type Connection,
  type ConnectionHandler,
  type ServerOptions,
  type UpgradeRequest,
} from '../../src/index.js';
import { Queue, closedPort, closeWs, deferred, payloadBytes, record, recordWs, sha256, withTimeout } from '../support/net.js';
import { RawPeer, catchUncaught, eventually, hasIpv6Loopback, runIsolated, selfSigned, serve, sleep, tcpConnectError, wsClient } from '../support/server-kit.js';

const echo: ConnectionHandler = {
  onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
};

/** A server built by the test itself (host, tls...), closed after it. */
function ownServer<Data = unknown>(t: TestContext, options: ServerOptions<Data>): WebSocketServer<Data> {
  const server = new WebSocketServer<Data>(options);
  server.on('error', () => {});
  t.after(async () => {
    await withTimeout(server.close({ timeout: 500 }), 'the server to close').catch((error: unknown) => {
      for (const connection of server.clients) connection.terminate();
      throw error;
    });
  });
  return server;
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send(text);
  assert.equal(await withTimeout(reply, `the echo of ${JSON.stringify(text)}`), text);
}

describe('construction', () => {
  test('an invalid permessage-deflate option throws at construction (RangeError, TypeError), naming the option', () => {
    assert.throws(() => new WebSocketServer({ perMessageDeflate: { serverMaxWindowBits: 16 } }), { name: 'RangeError', message: /serverMaxWindowBits/ });
    assert.throws(() => new WebSocketServer({ perMessageDeflate: { level: 12 } }), { name: 'RangeError', message: /level/ });
    assert.throws(() => new WebSocketServer({ perMessageDeflate: { memLevel: '9' as unknown as number } }), { name: 'TypeError', message: /memLevel/ });
  });

  test('perMessageDeflate that is neither a boolean nor an options object (0, null, "no", 42) throws a TypeError at construction instead of turning compression on', () => {
    for (const value of [0, null, 'no', 'false', 42]) {
      assert.throws(() => new WebSocketServer({ perMessageDeflate: value as never }), { name: 'TypeError', message: /perMessageDeflate/ }, JSON.stringify(value));
    }
  });
});

describe('listening', { timeout: 60_000 }, () => {
  test('listen() resolves with host, port and a ws:// url, address() agrees, and a second listen() is refused', async (t) => {
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    const events: string[] = [];
    server.on('listening', () => events.push('listening'));
    const info = await withTimeout(server.listen(), 'listen()');
    assert.equal(info.host, '127.0.0.1');
    assert.ok(info.port > 0);
    assert.equal(info.url, `ws://127.0.0.1:${info.port}`);
    assert.deepEqual(server.address(), info);
    assert.deepEqual(events, ['listening']);
    await assert.rejects(server.listen(), (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE');
    const { ws } = await wsClient(t, info.url);
    await echoes(ws, 'listening');
  });

  test('after stop(), new connections are refused while existing ones keep working', async (t) => {
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    const { port, url } = await server.listen();
    const { ws } = await wsClient(t, url);
    void server.stop();
    assert.equal(await tcpConnectError(port), 'ECONNREFUSED');
    assert.equal(server.address(), undefined);
    await echoes(ws, 'still connected after stop()');
    assert.equal(server.clients.size, 1);
  });

  test('stop() resolves while clients are still connected', async (t) => {
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    const { url } = await server.listen();
    const { ws } = await wsClient(t, url);
    await withTimeout(server.stop(), 'stop() with one client connected', 2000);
    await echoes(ws, 'still connected');
  });

  test('listen({ port }) after stop() listens on the new port; the old port refuses; old connections survive', async (t) => {
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    const first = await server.listen();
    const old = await wsClient(t, first.url);
    void server.stop();
    const port = await closedPort();
    const second = await withTimeout(server.listen({ port }), 'listen() again');
    assert.equal(second.port, port);
    assert.equal(second.url, `ws://127.0.0.1:${port}`);
    assert.equal(await tcpConnectError(first.port), 'ECONNREFUSED');
    const fresh = await wsClient(t, second.url);
    await echoes(fresh.ws, 'on the new port');
    await echoes(old.ws, 'on the old connection');
    assert.equal(server.clients.size, 2);
  });

  test('listen() after close() is refused (SW_INVALID_STATE): close() ended the server and its backplane for good', async (t) => {
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    await server.listen();
    await withTimeout(server.close({ timeout: 500 }), 'close()');
    await assert.rejects(server.listen(), (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE' && /close\(\) ends it for good/.test(error.message));
    assert.equal(server.address(), undefined);
  });

  for (const host of ['127.0.0.1', 'localhost', undefined]) {
    test(`close() or stop() while listen() is pending (host ${String(host)}): listen() rejects (SW_INVALID_STATE), and stop() lets it listen again`, async (t) => {
      const refused = (error: unknown): boolean => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE' && /before the server was listening/.test(error.message);
      const closed = ownServer(t, { host, port: 0, onConnection: () => ({ ...echo }) });
      const first = closed.listen();
      await withTimeout(closed.close({ timeout: 500 }), 'close()');
      await assert.rejects(withTimeout(first, 'the pending listen() to settle'), refused);
      assert.equal(closed.address(), undefined);
      const stopped = ownServer(t, { host, port: 0, onConnection: () => ({ ...echo }) });
      const second = stopped.listen();
      await stopped.stop();
      await assert.rejects(withTimeout(second, 'the pending listen() to settle'), refused);
      const info = await withTimeout(stopped.listen(), 'listen() again after stop()');
      const { ws } = await wsClient(t, info.url.replace('[::1]', '127.0.0.1').replace('[::]', '127.0.0.1'));
      await echoes(ws, 'listening after a stopped listen()');
    });
  }

  test('a listen() that fails (EADDRINUSE) leaves the server able to listen again', async (t) => {
    const blocker = createNetServer();
    await withTimeout(new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve())), 'the blocking server to listen');
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const busy = (blocker.address() as AddressInfo).port;
    const server = ownServer(t, { host: '127.0.0.1', port: busy, onConnection: () => ({ ...echo }) });
    await assert.rejects(withTimeout(server.listen(), 'listen() on a busy port'), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
    assert.equal(server.address(), undefined);
    const info = await withTimeout(server.listen({ port: 0 }), 'listen() again on a free port');
    assert.notEqual(info.port, busy);
    assert.deepEqual(server.address(), info);
    const { ws } = await wsClient(t, info.url);
    await echoes(ws, 'listening after a failed listen()');
  });

  test("host '::1': listens on the IPv6 loopback with a bracketed url", async (t) => {
    if (!(await hasIpv6Loopback())) return t.skip('no IPv6 loopback on this machine');
    const requests = new Queue<UpgradeRequest>();
    const server = ownServer(t, {
      host: '::1',
      port: 0,
      onConnection: (request) => {
        requests.push(request);
        return { ...echo };
      },
    });
    const info = await server.listen();
    assert.equal(info.host, '::1');
    assert.equal(info.url, `ws://[::1]:${info.port}`);
    const { ws } = await wsClient(t, info.url);
    await echoes(ws, 'over IPv6');
    assert.equal((await requests.next('the request')).remoteAddress, '::1');
    assert.equal([...server.clients][0]!.remoteAddress, '::1');
    assert.equal(await tcpConnectError(info.port, '127.0.0.1'), 'ECONNREFUSED');
  });

  test("host '::' (dual stack) accepts an IPv4 client on 127.0.0.1 and an IPv6 client on ::1", async (t) => {
    if (!(await hasIpv6Loopback())) return t.skip('no IPv6 loopback on this machine');
    const server = ownServer(t, { host: '::', port: 0, onConnection: () => ({ ...echo }) });
    const info = await server.listen();
    assert.equal(info.url, `ws://[::]:${info.port}`);
    const v4 = await wsClient(t, `ws://127.0.0.1:${info.port}`);
    await echoes(v4.ws, 'IPv4 on a dual-stack server');
    const v6 = await wsClient(t, `ws://[::1]:${info.port}`);
    await echoes(v6.ws, 'IPv6 on a dual-stack server');
    const addresses = [...server.clients].map((c) => c.remoteAddress);
    assert.match(addresses[0]!, /^(::ffff:)?127\.0\.0\.1$/);
    assert.equal(addresses[1], '::1');
  });

  test('tls: a wss:// server (self-signed certificate) serves sockwave and ws clients that trust its certificate', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const requests = new Queue<UpgradeRequest>();
    const server = ownServer(t, {
      host: '127.0.0.1',
      port: 0,
      tls: { cert: pair.cert, key: pair.key },
      onConnection: (request) => {
        requests.push(request);
        return { ...echo };
      },
    });
    const info = await server.listen();
    assert.equal(info.url, `wss://127.0.0.1:${info.port}`);
    const client = await withTimeout(connect(info.url, { tls: { ca: pair.cert } }), 'a sockwave client over TLS');
    t.after(() => client.terminate());
    const rec = record(client as Connection<unknown>, 'the TLS client');
    client.send('secret ✓');
    assert.equal((await rec.messages.next('the echo over TLS')).data, 'secret ✓');
    assert.equal((await requests.next('the request')).secure, true);
    const { ws } = await wsClient(t, info.url, undefined, { ca: pair.cert });
    await echoes(ws, 'ws over TLS');
    assert.equal(server.clients.size, 2);
  });

  test('tls: a client that does not trust the certificate is rejected, and server.close() still resolves', async (t) => {
    if (!selfSigned()) return t.skip('openssl is not available');
    // In a child process: the server socket left behind would keep this process alive.
    const pair = selfSigned()!;
    const run = await runIsolated(
      t,
      `
      import { WebSocketServer, connect } from '{{index}}';
      const tls = { cert: ${JSON.stringify(pair.cert)}, key: ${JSON.stringify(pair.key)} };
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0, tls, onConnection: () => ({}) });
      const { url } = await server.listen();
      const outcome = await connect(url).then(() => 'accepted', (error) => 'rejected: ' + error.message);
      console.log(outcome);
      const trusted = await connect(url, { tls: { ca: tls.cert } });
      console.log('trusted client open: ' + trusted.status);
      await server.close({ timeout: 300 });
      console.log('closed');
      `,
      8000,
    );
    assert.match(run.output, /rejected: TLS error/);
    assert.match(run.output, /trusted client open: open/);
    assert.equal(run.timedOut, false, `server.close() did not resolve; output: ${run.output}`);
    assert.match(run.output, /closed/);
    assert.equal(run.code, 0, run.output);
  });

  test('tls: handshakeTimeout covers the TLS handshake and the request head together, from the TCP connection', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const server = ownServer(t, { host: '127.0.0.1', port: 0, tls: { cert: pair.cert, key: pair.key }, handshakeTimeout: 1000, onConnection: () => ({}) });
    const { port } = await server.listen();
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    t.after(() => raw.destroy());
    await withTimeout(new Promise<void>((resolve) => raw.once('connect', () => resolve())), 'the TCP connection');
    const arrived = performance.now();
    await sleep(700);
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
    secure.on('error', () => {});
    const closed = new Promise<void>((resolve) => secure.once('close', () => resolve()));
    await withTimeout(new Promise<void>((resolve) => secure.once('secureConnect', () => resolve())), 'the TLS handshake');
    secure.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await withTimeout(closed, 'the server to drop the slow client', 5000);
    const elapsed = performance.now() - arrived;
    // Dropped about 1000 ms after the TCP connection; restarting the clock after the TLS
    // handshake would take about 1700 ms.
    assert.ok(elapsed < 1500, `dropped ${Math.round(elapsed)} ms after the TCP connection (handshakeTimeout 1000)`);
    assert.equal(server.stats().limits.handshakeTimeout, 1);
  });

  test('tls: sockets still in their TLS handshake count under maxConnectionsPerAddress', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const server = ownServer(t, { host: '127.0.0.1', port: 0, tls: { cert: pair.cert, key: pair.key }, maxConnectionsPerAddress: 2, onConnection: () => ({}) });
    const limits: string[] = [];
    server.on('limit', (event) => limits.push(event.limit));
    const { port, url } = await server.listen();
    const idle = await Promise.all(
      [0, 1].map(async () => {
        const socket = netConnect({ host: '127.0.0.1', port });
        socket.on('error', () => {});
        t.after(() => socket.destroy());
        await withTimeout(new Promise<void>((resolve) => socket.once('connect', () => resolve())), 'an idle TCP connection');
        return socket;
      }),
    );
    // The two idle sockets never start TLS (accepted before the third, in order): a third socket
    // from the address is one too many, dropped without an answer since it has no TLS yet.
    const third = new WebSocket(url, { ca: pair.cert });
    third.on('error', () => {});
    t.after(() => closeWs(third));
    const outcome = await withTimeout(
      new Promise<string>((resolve) => {
        third.once('open', () => resolve('open'));
        third.once('error', () => resolve('dropped'));
        third.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
      }),
      'the third client',
    );
    assert.equal(outcome, 'dropped');
    assert.deepEqual(limits, ['maxConnectionsPerAddress']);
    // Once they leave, there is room again. They only end their side (a FIN, as a port probe or
    // a health check does): before the TLS handshake that lets the socket go at once, not at
    // handshakeTimeout (10 s here).
    for (const socket of idle) socket.end();
    let opened = false;
    for (let attempt = 0; attempt < 20 && !opened; attempt++) {
      const ws = new WebSocket(url, { ca: pair.cert });
      ws.on('error', () => {});
      t.after(() => closeWs(ws));
      opened = await withTimeout(
        new Promise<boolean>((resolve) => {
          ws.once('open', () => resolve(true));
          ws.once('error', () => resolve(false));
        }),
        'a client once the idle sockets are gone',
      );
      if (!opened) await sleep(50);
    }
    assert.ok(opened, 'a client gets in once the idle sockets have closed');
  });

  test("listen() with overrides given as undefined keeps the constructor's port and TLS (a wss:// server stays one)", async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const port = await closedPort();
    const server = ownServer(t, { host: '127.0.0.1', port, tls: { cert: pair.cert, key: pair.key }, onConnection: () => ({ ...echo }) });
    const config: { port?: number; tls?: { cert: string; key: string } } = {};
    const info = await server.listen({ port: config.port, tls: config.tls, host: undefined, backlog: undefined });
    assert.equal(info.url, `wss://127.0.0.1:${port}`);
    const { ws } = await wsClient(t, info.url, undefined, { ca: pair.cert });
    await echoes(ws, 'still over TLS');
  });

  test('listen({ tls }) after stop() turns a ws:// server into a wss:// one', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const server = ownServer(t, { host: '127.0.0.1', port: 0, onConnection: () => ({ ...echo }) });
    const plain = await server.listen();
    assert.match(plain.url, /^ws:\/\//);
    await server.stop();
    const secure = await server.listen({ tls: { cert: pair.cert, key: pair.key } });
    assert.equal(secure.url, `wss://127.0.0.1:${secure.port}`);
    const { ws } = await wsClient(t, secure.url, undefined, { ca: pair.cert });
    await echoes(ws, 'now over TLS');
  });
});

describe('connections', { timeout: 60_000 }, () => {
  test('each connection has a unique id, its peer address and port, url, request headers, subprotocol, extensions and server', async (t) => {
    const srv = await serve(t, { protocols: ['chat'], perMessageDeflate: true, onConnection: () => ({}) });
    const a = await wsClient(t, `${srv.url}/room/1?x=y`, ['chat'], { headers: { 'X-Client': 'a' } });
    const sideA = (await srv.connections.next('connection a')).connection;
    const raw = await RawPeer.open(srv.port, { path: '/raw' });
    t.after(() => raw.destroy());
    const sideB = (await srv.connections.next('connection b')).connection;
    const c = await wsClient(t, srv.url, undefined, { perMessageDeflate: false });
    const sideC = (await srv.connections.next('connection c')).connection;
    const ids = [sideA.id, sideB.id, sideC.id];
    assert.equal(new Set(ids).size, 3, `ids: ${ids.join(' ')}`);
    for (const id of ids) assert.ok(typeof id === 'string' && id.length > 0);
    assert.equal(sideA.url, '/room/1?x=y');
    assert.equal(sideA.headers['x-client'], 'a');
    assert.equal(sideA.protocol, 'chat');
    assert.match(sideA.extensions, /^permessage-deflate\b/);
    assert.equal(a.ws.extensions, 'permessage-deflate', 'the ws client agrees');
    assert.equal(sideA.role, 'server');
    assert.equal(sideB.url, '/raw');
    assert.equal(sideB.protocol, '');
    assert.equal(sideB.extensions, '');
    assert.equal(sideB.remoteAddress, '127.0.0.1');
    assert.equal(sideB.remotePort, raw.socket.localPort);
    assert.equal(sideC.extensions, '');
    assert.equal(c.ws.extensions, '');
    for (const side of [sideA, sideB, sideC]) assert.equal(side.server, srv.server);
  });

  test('status goes open → closing → closed (readyState 1 → 2 → 3) through a server-initiated close', async (t) => {
    const statuses = new Queue<[string, string, number]>();
    const srv = await serve(t, {
      onConnection: () => ({
        onOpen: (c) => statuses.push(['onOpen', c.status, c.readyState]),
        onClose: (c) => statuses.push(['onClose', c.status, c.readyState]),
      }),
    });
    const { rec } = await wsClient(t, srv.url);
    const side = (await srv.connections.next('the server-side connection')).connection;
    assert.deepEqual(await statuses.next('onOpen'), ['onOpen', 'open', 1]);
    side.close(1000, 'bye');
    assert.deepEqual([side.status, side.readyState], ['closing', 2]);
    assert.deepEqual(await statuses.next('onClose'), ['onClose', 'closed', 3]);
    assert.deepEqual(await rec.closed(), { code: 1000, reason: 'bye' });
    assert.equal(side.send('too late'), 'dropped');
  });

  test('send() sends a string as text, bytes as binary, and other values as JSON text', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = (await srv.connections.next('the server-side connection')).connection;
    const results = [
      side.send('text ✓'),
      side.send(Buffer.from([1, 2, 3])),
      side.send(new Uint8Array([4, 5])),
      side.send(new Uint16Array([0x0201]).buffer),
      side.send({ a: 1, list: [1, 'two', null], nested: { ok: true } }),
      side.send([1, 2]),
      side.send(42),
      side.send('as binary', { binary: true }),
    ];
    assert.deepEqual(results, Array(8).fill('sent'));
    const got = await rec.messages.take(8, 'eight messages');
    assert.deepEqual([got[0]!.data.toString(), got[0]!.isBinary], ['text ✓', false]);
    assert.deepEqual([got[1]!.data, got[1]!.isBinary], [Buffer.from([1, 2, 3]), true]);
    assert.deepEqual([got[2]!.data, got[2]!.isBinary], [Buffer.from([4, 5]), true]);
    assert.deepEqual([got[3]!.data, got[3]!.isBinary], [Buffer.from([1, 2]), true]);
    assert.equal(got[4]!.isBinary, false);
    assert.deepEqual(JSON.parse(got[4]!.data.toString()), { a: 1, list: [1, 'two', null], nested: { ok: true } });
    assert.deepEqual([got[5]!.data.toString(), got[5]!.isBinary], ['[1,2]', false]);
    assert.deepEqual([got[6]!.data.toString(), got[6]!.isBinary], ['42', false]);
    assert.deepEqual([got[7]!.data.toString(), got[7]!.isBinary], ['as binary', true]);
  });

  test('send() with a callback that is not a function, options that are not an object, or a binary that is not a boolean throws a TypeError at once and sends nothing', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = (await srv.connections.next('the server-side connection')).connection;
    const bad: Array<[string, () => unknown]> = [
      ['a string callback', () => side.send('x', {}, 'not a function' as never)],
      ['a number callback with fragmentSize', () => side.send('y', { fragmentSize: 1 }, 42 as never)],
      ['a callback object after no options', () => side.send(Buffer.from('z'), undefined, {} as never)],
      ['options that are a string', () => side.send('x', 'binary' as never)],
      ['options that are a number', () => side.send(Buffer.alloc(3), 7 as never)],
      ['a string binary', () => side.send('x', { binary: 'yes' as never })],
      ['a number binary on bytes', () => side.send(Buffer.from('x'), { binary: 0 as never })],
    ];
    for (const [name, call] of bad) assert.throws(call, TypeError, name);
    for (const fragmentSize of [0, -1, 1.5]) assert.throws(() => side.send('x', { fragmentSize }), RangeError, `fragmentSize ${fragmentSize}`);
    assert.equal(side.status, 'open');
    assert.equal(side.stats.messagesOut, 0, 'nothing was counted as sent');
    const called = deferred<Error | null | undefined>();
    assert.equal(side.send('marker', {}, (error) => called.resolve(error)), 'sent');
    assert.equal(await withTimeout(called.promise, 'the callback of a valid send') ?? undefined, undefined);
    const first = await rec.messages.next('the first message');
    assert.equal(first.data.toString(), 'marker', 'no rejected send reached the client');
    // Nothing crashes later either (a bad callback used to be called on a later tick).
    await sleep(50);
    assert.equal(rec.messages.pending, 0);
    assert.equal(side.status, 'open');
  });

  test('bufferedAmount counts bytes not yet handed to the OS and falls back to 0 once the client has read them', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = (await srv.connections.next('the server-side connection')).connection;
    assert.equal(side.bufferedAmount, 0);
    const payload = payloadBytes(2 * 1024 * 1024, 9);
    side.send(payload);
    assert.ok(side.bufferedAmount >= payload.length, `bufferedAmount right after send: ${side.bufferedAmount}`);
    const message = await rec.messages.next('the 2 MiB message');
    assert.equal(sha256(message.data), sha256(payload));
    await eventually(() => side.bufferedAmount === 0, 'bufferedAmount to reach 0');
  });

  test('close(code, reason) reaches the client, and onClose reports a clean close started locally', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    side.connection.close(4001, 'bye ✓');
    assert.deepEqual(await rec.closed(), { code: 4001, reason: 'bye ✓' });
    assert.deepEqual(await side.rec.closed(), { code: 4001, reason: 'bye ✓', wasClean: true, remote: false });
    assert.equal(srv.server.clients.size, 0);
    assert.throws(() => side.connection.close(1005), RangeError);
  });

  test('terminate() drops the connection at once: the client sees 1006, onClose reports 1006, not clean', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    side.connection.terminate();
    assert.equal(side.connection.send('after terminate'), 'dropped');
    assert.equal((await rec.closed()).code, 1006);
    const info: CloseInfo = await side.rec.closed();
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    assert.equal(side.connection.status, 'closed');
    assert.equal(rec.messages.history.length, 0);
  });

  test('connection.data starts as what admission returned and can be changed by handlers', async (t) => {
    const srv = await serve<{ count: number }>(t, {
      onConnection: () => ({
        data: { count: 10 },
        onMessage: (connection) => {
          connection.data = { count: connection.data.count + 1 };
          connection.send(String(connection.data.count));
        },
      }),
    });
    const { ws, rec } = await wsClient(t, srv.url);
    ws.send('a');
    ws.send('b');
    assert.deepEqual((await rec.messages.take(2, 'two replies')).map((m) => m.data.toString()), ['11', '12']);
    assert.deepEqual((await srv.connections.next('the connection')).connection.data, { count: 12 });
  });

  test('maxPayload: a message at the limit is delivered, one byte more closes the connection with 1009', async (t) => {
    const srv = await serve(t, { maxPayload: 1024, onConnection: () => ({ ...echo }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    ws.send(Buffer.alloc(1024, 1));
    assert.equal((await rec.messages.next('the echo of 1024 bytes')).data.length, 1024);
    ws.send(Buffer.alloc(1025, 2));
    assert.equal((await rec.closed()).code, 1009);
    assert.equal((await side.rec.closed()).code, 1009);
    assert.equal(side.rec.messages.history.length, 1);
  });

  test('perMessageDeflate: negotiated with a ws client; compressible messages both ways arrive intact and cross the wire compressed', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({ ...echo }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    assert.match(side.connection.extensions, /^permessage-deflate\b/);
    assert.match(side.connection.extensions, /server_no_context_takeover/);
    assert.equal(ws.extensions, 'permessage-deflate', 'the ws client agrees');
    const small = 'x'.repeat(64 * 1024);
    const large = JSON.stringify(Array.from({ length: 40_000 }, (_, i) => ({ id: i, name: `item ${i % 97}`, ok: i % 2 === 0 })));
    assert.ok(large.length > 1024 * 1024);
    for (const text of [small, large, 'short']) {
      ws.send(text);
      const atServer = await side.rec.messages.next('the message at the server');
      assert.equal(atServer.data, text);
      const back = await rec.messages.next('the echo');
      assert.equal(back.data.toString(), text);
    }
    const stats = side.connection.stats;
    assert.ok(stats.wireBytesIn < stats.bytesIn / 4, `in: ${stats.wireBytesIn} wire bytes for ${stats.bytesIn} bytes`);
    assert.ok(stats.wireBytesOut < stats.bytesOut / 4, `out: ${stats.wireBytesOut} wire bytes for ${stats.bytesOut} bytes`);
  });

  test(
    'close() right after a send compressed in the thread pool sends the close frame after that message',
    async (t) => {
      const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({}) });
      const { rec } = await wsClient(t, srv.url);
      const side = await srv.connections.next('the server-side connection');
      const big = 'abcdefgh'.repeat(48 * 1024); // 384 KiB: over the 256 KiB synchronous-compression limit
      side.connection.send(big);
      side.connection.close(4002, 'after the big one');
      assert.equal((await rec.messages.next('the big message')).data.toString(), big);
      assert.deepEqual(await rec.closed(2000), { code: 4002, reason: 'after the big one' });
      assert.equal((await side.rec.closed()).code, 4002);
    },
  );

  test('without perMessageDeflate the server declines the extension a ws client offers', async (t) => {
    const srv = await serve(t, { onConnection: () => ({ ...echo }) });
    const { ws } = await wsClient(t, srv.url);
    assert.equal(ws.extensions, '');
    assert.equal((await srv.connections.next('the connection')).connection.extensions, '');
    await echoes(ws, 'x'.repeat(5000));
  });
});

describe('shutdown', { timeout: 60_000 }, () => {
  test('close({ code: 1001, reason, timeout }) sends close frames to all, terminates a client that never answers, and resolves', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const a = await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const silent = await RawPeer.open(srv.port, { echoClose: false });
    t.after(() => silent.destroy());
    const sides = await srv.connections.take(3, 'three server-side connections');
    const closed = deferred<void>();
    srv.server.once('close', () => closed.resolve());
    await withTimeout(srv.server.close({ code: 1001, reason: 'maintenance', timeout: 300 }), 'server.close()');
    await withTimeout(closed.promise, "the server's close event", 100);
    assert.deepEqual(await a.rec.closed(), { code: 1001, reason: 'maintenance' });
    assert.deepEqual(await b.rec.closed(), { code: 1001, reason: 'maintenance' });
    await silent.waitClosed('the silent client to be terminated');
    assert.deepEqual(silent.closeFrame, { code: 1001, reason: 'maintenance' });
    const infos = await Promise.all(sides.map((side) => side.rec.closed()));
    assert.deepEqual(infos.map((info) => info.wasClean), [true, true, false]);
    assert.equal(srv.server.clients.size, 0);
    assert.equal(await tcpConnectError(srv.port), 'ECONNREFUSED');
  });

  test('graceful shutdown: 1000 messages sent just before close() all reach the client, in order, before the close frame', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const ws = new WebSocket(srv.url);
    const received: string[] = [];
    const closedAt = deferred<{ code: number; count: number }>();
    ws.on('message', (data) => received.push(String(data)));
    ws.on('close', (code) => closedAt.resolve({ code, count: received.length }));
    ws.on('error', () => {});
    t.after(() => closeWs(ws));
    const side = (await srv.connections.next('the server-side connection')).connection;
    for (let i = 0; i < 1000; i++) assert.notEqual(side.send(`message ${i}`), 'dropped');
    await withTimeout(srv.server.close(), 'server.close()');
    const { code, count } = await withTimeout(closedAt.promise, 'the client to close');
    assert.equal(code, 1001);
    assert.equal(count, 1000);
    assert.deepEqual(received, Array.from({ length: 1000 }, (_, i) => `message ${i}`));
  });

  test(
    'graceful shutdown with permessage-deflate: large messages compressed in the thread pool still go out before the close frame',
    async (t) => {
    // A high-water mark above everything queued here keeps clear of the busy loop tested in backpressure.test.ts.
    const srv = await serve(t, { perMessageDeflate: true, highWaterMark: 256 * 1024 * 1024, onConnection: () => ({}) });
    const ws = new WebSocket(srv.url);
    const received: string[] = [];
    const closedAt = deferred<{ code: number; count: number }>();
    ws.on('message', (data) => received.push(String(data)));
    ws.on('close', (code) => closedAt.resolve({ code, count: received.length }));
    ws.on('error', () => {});
    t.after(() => closeWs(ws));
    const side = (await srv.connections.next('the server-side connection')).connection;
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      // Every third message is over the synchronous-compression limit (256 KiB).
      const text = i % 3 === 0 ? `${i}:${'abcdefgh'.repeat(48 * 1024)}` : `small ${i}`;
      expected.push(text);
      assert.notEqual(side.send(text), 'dropped');
    }
    await withTimeout(srv.server.close({ timeout: 1500 }), 'server.close()', 10_000);
    const { code, count } = await withTimeout(closedAt.promise, 'the client to close');
    assert.equal(code, 1001);
    assert.equal(count, expected.length);
    assert.equal(received.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.equal(received[i], expected[i], `message ${i}`);
    },
  );

  test('a connection whose reading the application paused still completes its close handshake (server.close(), and close())', async (t) => {
    for (const how of ['server.close()', 'connection.close()'] as const) {
      const infos: CloseInfo[] = [];
      const srv = await serve(t, { onConnection: () => ({ onClose: (_c, info) => void infos.push(info) }) });
      const limits: string[] = [];
      srv.server.on('limit', (event) => limits.push(event.limit));
      const { rec } = await wsClient(t, srv.url);
      const side = (await srv.connections.next(`${how}: the server-side connection`)).connection;
      side.pause();
      if (how === 'server.close()') await withTimeout(srv.server.close({ timeout: 3000 }), 'server.close()', 10_000);
      else side.close(1000, 'done');
      assert.equal((await rec.closed(10_000)).code, how === 'server.close()' ? 1001 : 1000);
      await eventually(() => infos.length === 1, `${how}: the server-side close`);
      assert.equal(infos[0]!.wasClean, true, `${how}: ${JSON.stringify(infos[0])}`);
      assert.equal(infos[0]!.code, how === 'server.close()' ? 1001 : 1000);
      assert.deepEqual(limits, [], `${how}: limits hit`);
    }
  });

  test('close() with a code that may not be sent rejects with a RangeError and changes nothing; a second close() shares the first', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    let closeEvents = 0;
    srv.server.on('close', () => closeEvents++);
    const { rec } = await wsClient(t, srv.url);
    await srv.connections.next('the server-side connection');
    await assert.rejects(srv.server.close({ code: 1005 }), RangeError);
    await assert.rejects(srv.server.close({ reason: 'x'.repeat(124) }), RangeError);
    // Still listening, its connection still open.
    const second = await wsClient(t, srv.url);
    await srv.connections.next('a connection made after the refused close()');
    assert.equal(srv.server.clients.size, 2);
    const first = srv.server.close({ code: 4000, reason: 'bye' });
    assert.equal(srv.server.close(), first, 'a second close() returns the first one\'s promise');
    await withTimeout(first, 'server.close()');
    assert.deepEqual(await rec.closed(), { code: 4000, reason: 'bye' });
    assert.equal((await second.rec.closed()).code, 4000);
    await sleep(20);
    assert.equal(closeEvents, 1);
  });

  test('close() with a timeout that is NaN, negative or not a number rejects (TypeError, RangeError) and changes nothing; a later valid close() delivers everything before closing', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    let closeEvents = 0;
    srv.server.on('close', () => closeEvents++);
    const ws = new WebSocket(srv.url);
    const received: Buffer[] = [];
    const closedAt = deferred<{ code: number; count: number }>();
    ws.on('message', (data: Buffer) => received.push(data));
    ws.on('close', (code) => closedAt.resolve({ code, count: received.length }));
    ws.on('error', () => {});
    t.after(() => closeWs(ws));
    const side = (await srv.connections.next('the server-side connection')).connection;
    // Megabytes waiting to be flushed: a close that cut clients off at once would lose them.
    const chunk = payloadBytes(256 * 1024, 5);
    for (let i = 0; i < 40; i++) assert.notEqual(side.send(chunk), 'dropped');
    await assert.rejects(srv.server.close({ timeout: NaN }), TypeError);
    await assert.rejects(srv.server.close({ timeout: -1 }), RangeError);
    await assert.rejects(srv.server.close({ timeout: -Infinity }), RangeError);
    await assert.rejects(srv.server.close({ timeout: 'abc' as unknown as number }), TypeError);
    await assert.rejects(srv.server.close('soon' as never), TypeError);
    assert.equal(side.status, 'open');
    // Still listening, its connection still open.
    const second = await wsClient(t, srv.url);
    await srv.connections.next('a connection made after the refused close() calls');
    assert.equal(srv.server.clients.size, 2);
    await withTimeout(srv.server.close({ timeout: 10_000 }), 'a valid server.close()', 20_000);
    const { code, count } = await withTimeout(closedAt.promise, 'the client to close', 10_000);
    assert.equal(code, 1001);
    assert.equal(count, 40, 'every message sent before close() arrived before the close frame');
    assert.ok(received.every((message) => message.equals(chunk)));
    assert.equal((await second.rec.closed()).code, 1001);
    await sleep(20);
    assert.equal(closeEvents, 1);
  });

  for (const [name, handler, prepare, afterClose, thrown] of [
    [
      "a connection's onClose throws",
      { onClose: () => { throw new Error('boom in onClose'); } },
      () => {},
      () => {},
      'boom in onClose',
    ],
    [
      "a 'close' listener of a connection throws",
      {},
      (connection: Connection) => void connection.on('close', () => { throw new Error('boom in a close listener'); }),
      () => {},
      'boom in a close listener',
    ],
    [
      "the application removes a connection's listeners while the server closes",
      {},
      () => {},
      (connection: Connection) => void connection.removeAllListeners(),
      undefined,
    ],
  ] as const) {
    test(`close() resolves and the server emits 'close' when ${name}`, async (t) => {
      const srv = await serve(t, { onConnection: () => ({ ...handler }) as ConnectionHandler });
      const { rec } = await wsClient(t, srv.url);
      const side = (await srv.connections.next('the server-side connection')).connection;
      prepare(side);
      // What the application throws escapes to the process: caught here instead of by the test runner.
      const { messages: uncaught, restore } = catchUncaught(t);
      const closed = deferred<void>();
      srv.server.once('close', () => closed.resolve());
      const closing = srv.server.close({ timeout: 1000 });
      afterClose(side);
      await withTimeout(closing, 'server.close()');
      await withTimeout(closed.promise, "the server's close event");
      restore();
      assert.equal((await rec.closed()).code, 1001);
      assert.equal(side.status, 'closed');
      assert.equal(srv.server.clients.size, 0);
      assert.deepEqual(uncaught, thrown === undefined ? [] : [thrown]);
    });
  }

  test('close() ends an upgrade whose admission is still pending, and a late admission result opens nothing', async (t) => {
    const gate = deferred<void>();
    const asked = deferred<void>();
    const srv = await serve(t, {
      onConnection: async () => {
        asked.resolve();
        await gate.promise;
        return {};
      },
    });
    const ws = new WebSocket(srv.url);
    const rec = recordWs(ws);
    const opened: string[] = [];
    ws.on('open', () => opened.push('open'));
    t.after(() => closeWs(ws));
    await withTimeout(asked.promise, 'admission to start');
    await withTimeout(srv.server.close({ timeout: 500 }), 'server.close() with an admission pending');
    await rec.closed();
    gate.resolve();
    await sleep(50);
    assert.deepEqual(opened, []);
    assert.equal(srv.server.clients.size, 0);
    assert.equal(srv.server.stats().connectionsTotal, 0);
  });

  test('close() drops a request head still arriving without counting or reporting a refusal (the server ended it, not the client)', async (t) => {
    const srv = await serve(t);
    const refused: Array<[number, string]> = [];
    srv.server.on('refused', (status, reason) => refused.push([status, reason]));
    const { port } = new URL(srv.url);
    const socket = netConnect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    t.after(() => socket.destroy());
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    // Long enough for the server to have read the half of the head.
    await sleep(150);
    await withTimeout(srv.server.close({ timeout: 500 }), 'server.close() with a head half read');
    await withTimeout(closed, 'the half-sent request to be dropped');
    await sleep(20);
    assert.deepEqual(refused, []);
    assert.equal(srv.server.stats().refused, 0);
  });
});
