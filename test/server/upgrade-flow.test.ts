/**
 * The upgrade flow's edges that the end-to-end suites do not reach: what it does with the socket
 * an http server hands to handleUpgrade(), and the limits and answers it gives on the way to a
 * 101 (in memory, test/support/memory-socket.ts, unless a test needs a listener or TCP's own
 * buffering), and what it does with sockets that admission, the application or close() answer
 * meanwhile.
 */
import { strict as assert } from 'node:assert';
import { type IncomingMessage } from 'node:http';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect as netConnect, type Server, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { type ServerOptions } from '../../src/server/options.js';
import { WebSocketServer } from '../../src/server/server.js';
import { refuse } from '../../src/server/admission.js';
import { MemoryBackplane } from '../../src/server/memory-backplane.js';
import { lendsReads } from '../../src/io/socket-events.js';
import WebSocket from 'ws';
import { FaultyPeer } from '../support/fault-injector.js';
import { socketPair, type MemorySocket } from '../support/memory-socket.js';
import { clientFrame, closeBody } from '../support/frames.js';
import { closePayload, closeWs, RawClient, upgradeRequest, withTimeout } from '../support/net.js';
import { selfSigned } from '../support/server-kit.js';
import { FakeClock } from '../support/fake-clock.js';

function server(t: TestContext, options: ServerOptions = {}): WebSocketServer<unknown> {
  const srv = new WebSocketServer(options);
  srv.on('error', () => {});
  t.after(() => srv.close({ timeout: 100 }));
  return srv;
}

/** What Node's http server gives to an 'upgrade' listener, as far as the upgrade flow reads it. */
function upgradeMessage(path = '/', extra: Array<[string, string]> = []): IncomingMessage {
  const headers: Array<[string, string]> = [
    ['Host', '127.0.0.1'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Version', '13'],
    ...extra,
  ];
  return { method: 'GET', url: path, httpVersion: '1.1', rawHeaders: headers.flat() } as unknown as IncomingMessage;
}

/** The bytes the client end receives, as latin1 text, gathered as they come. */
function received(client: MemorySocket): { text: string } {
  const out = { text: '' };
  client.on('data', (chunk: Buffer) => (out.text += chunk.toString('latin1')));
  client.on('error', () => {});
  return out;
}

async function turns(check: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${label}`);
}

describe('upgrade flow', () => {
  test("handleUpgrade() keeps a socket error quiet while admission runs (Node's http server took its own listener off)", async (t) => {
    let admit!: () => void;
    const srv = server(t, { onConnection: () => new Promise((resolve) => (admit = () => resolve({}))) });
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    assert.doesNotThrow(() => end.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
    admit();
    await turns(() => got.text.includes('\r\n\r\n'), 'the 101');
    assert.match(got.text, /^HTTP\/1\.1 101 /);
  });

  test('a connection an asynchronous admission let in is no longer waiting for it: close() closes it as a WebSocket, without a 503 or a refusal', async (t) => {
    const srv = server(t, { onConnection: async () => ({}) });
    const refusals: number[] = [];
    srv.on('refused', (status) => refusals.push(status));
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    await turns(() => got.text.includes('\r\n\r\n'), 'the 101');
    assert.match(got.text, /^HTTP\/1\.1 101 /);
    const closing = srv.close({ timeout: 100 });
    assert.deepEqual(refusals, []);
    assert.equal(srv.stats().refused, 0);
    await closing;
    assert.doesNotMatch(got.text, /HTTP\/1\.1 503/);
  });

  test('a socket that died while an asynchronous admission ran gets no connection when admission then accepts it', async (t) => {
    let admit!: () => void;
    const srv = server(t, { onConnection: () => new Promise((resolve) => (admit = () => resolve({}))) });
    let connections = 0;
    srv.on('connection', () => connections++);
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    end.destroy();
    admit();
    // (Admission's answer is taken a few microtasks later: a few turns are plenty.)
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(connections, 0);
    assert.equal(srv.clients.size, 0);
    assert.equal(srv.stats().connectionsTotal, 0);
    assert.equal(got.text, '');
  });

  test('a server that only takes handleUpgrade() (never listening, never attached) still pings its connections', async (t) => {
    const clock = FakeClock.install(t);
    const srv = server(t, { pingInterval: 50, onConnection: () => ({}) });
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    await turns(() => got.text.includes('\r\n\r\n'), 'the 101');
    const afterHead = (): string => got.text.slice(got.text.indexOf('\r\n\r\n') + 4);
    assert.equal(afterHead(), '');
    await clock.advance(200);
    await turns(() => afterHead() !== '', 'a frame');
    assert.equal(afterHead().charCodeAt(0), 0x89, 'a ping');
  });

  test('a failure after the 101 but before the connection opened (a backplane that throws when told of it): reported, the connection forgotten, the socket dropped without a close frame', async (t) => {
    class FailingBackplane extends MemoryBackplane {
      override presenceChanged(): void {
        throw new Error('backplane down');
      }
    }
    const srv = server(t, { backplane: new FailingBackplane(), onConnection: () => ({}) });
    const errors: Error[] = [];
    srv.on('error', (error) => errors.push(error));
    let connections = 0;
    srv.on('connection', () => connections++);
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    await turns(() => end.destroyed, 'the socket to be dropped');
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    // (The 101 itself may be lost with the socket.)
    assert.equal(got.text.replace(/^HTTP\/1\.1 101 [^]*?\r\n\r\n/, ''), '', 'nothing but the 101: no close frame');
    assert.deepEqual(errors.map((error) => error.message), ['backplane down']);
    assert.equal(srv.clients.size, 0);
    assert.equal(connections, 0);
  });

  test('an asynchronous admission that fails: answered 500, and the socket is no longer kept among those waiting for admission', async (t) => {
    const srv = server(t, { onConnection: () => Promise.reject(new Error('no database')) });
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    await turns(() => got.text.includes('\r\n\r\n'), 'the 500');
    assert.match(got.text, /^HTTP\/1\.1 500 /);
    // (The set is private: a socket left in it would be held until close(), a leak per failure.)
    const flow = (srv as unknown as { upgrades: { awaiting: ReadonlySet<unknown> } }).upgrades;
    assert.equal(flow.awaiting.size, 0);
  });

  test('a plain HTTP request answered by onHttpRequest is no longer kept among those waiting for the application', async (t) => {
    const srv = server(t, { onHttpRequest: async () => ({ status: 200, body: 'hello' }) });
    const { client, server: end } = socketPair();
    const got = received(client);
    const plain = { method: 'GET', url: '/', httpVersion: '1.1', rawHeaders: ['Host', '127.0.0.1'] } as unknown as IncomingMessage;
    srv.handleUpgrade(plain, end, Buffer.alloc(0));
    await turns(() => got.text.includes('hello'), 'the answer');
    assert.match(got.text, /^HTTP\/1\.1 200 /);
    const flow = (srv as unknown as { upgrades: { awaiting: ReadonlySet<unknown> } }).upgrades;
    assert.equal(flow.awaiting.size, 0);
  });

  test("a plain HTTP request close() answered 503 while onHttpRequest ran: the application's late answer is dropped", async (t) => {
    let answer!: () => void;
    const srv = server(t, { onHttpRequest: () => new Promise((resolve) => (answer = () => resolve({ status: 200, body: 'late' }))) });
    const errors: Error[] = [];
    srv.on('error', (error) => errors.push(error));
    const { client, server: end } = socketPair();
    const got = received(client);
    let ended = false;
    client.on('end', () => (ended = true));
    const plain = { method: 'GET', url: '/', httpVersion: '1.1', rawHeaders: ['Host', '127.0.0.1'] } as unknown as IncomingMessage;
    srv.handleUpgrade(plain, end, Buffer.alloc(0));
    await turns(() => answer !== undefined, 'the application to be asked');
    const closing = srv.close({ timeout: 100 });
    answer();
    await turns(() => ended, 'the end of the answer');
    assert.match(got.text, /^HTTP\/1\.1 503 /);
    assert.doesNotMatch(got.text, /late/);
    await closing;
    assert.deepEqual(errors, []);
  });

  /**
   * Sends `request` over TCP and reads nothing until the server has answered (megabytes then wait
   * in the server's socket), then calls close() and reads: how many bytes the client got.
   */
  async function readAfterClose(t: TestContext, srv: WebSocketServer<unknown>, request: string, answered: () => boolean): Promise<number> {
    const { port } = await srv.listen();
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    t.after(() => raw.destroy());
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    raw.pause();
    raw.write(request);
    await turns(answered, 'the server to answer');
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    const closing = srv.close({ timeout: 100 });
    let bytes = 0;
    raw.on('data', (chunk: Buffer) => (bytes += chunk.length));
    raw.resume();
    await withTimeout(new Promise<void>((resolve) => raw.once('close', () => resolve())), 'the client to read the answer');
    await closing;
    return bytes;
  }

  test('a plain HTTP answer still on its way when close() comes is no handshake to drop: the client reads it whole', async (t) => {
    const body = Buffer.alloc(8 * 1024 * 1024, 0x61);
    let asked = false;
    const srv = server(t, { host: '127.0.0.1', onHttpRequest: () => ((asked = true), { status: 200, body }) });
    const bytes = await readAfterClose(t, srv, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', () => asked);
    assert.ok(bytes > body.length, `the whole answer: ${bytes} bytes read`);
  });

  test('a refusal still on its way when close() comes is no handshake to drop: the client reads it whole', async (t) => {
    const body = 'r'.repeat(8 * 1024 * 1024);
    let refusals = 0;
    const srv = server(t, { host: '127.0.0.1', onConnection: () => refuse(403, { body }) });
    srv.on('refused', () => refusals++);
    const bytes = await readAfterClose(t, srv, upgradeRequest(), () => refusals === 1);
    assert.ok(bytes > body.length, `the whole refusal: ${bytes} bytes read`);
  });

  test("a socket the application answered itself while an asynchronous admission ran is theirs: no 101, and close() leaves it alone", async (t) => {
    let admit!: () => void;
    const srv = server(t, { onConnection: () => new Promise((resolve) => (admit = () => resolve({}))) });
    const { client, server: end } = socketPair();
    const got = received(client);
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    await turns(() => admit !== undefined, 'admission to be asked');
    // (An attached server's own 'upgrade' listener, say.)
    end.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 0\r\n\r\n');
    admit();
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await srv.close({ timeout: 100 });
    assert.match(got.text, /^HTTP\/1\.1 418 /);
    assert.doesNotMatch(got.text, / 101 /);
    assert.equal(end.destroyed, false, 'close() dropped a socket that was not its own');
  });

  test('a socket gone while an asynchronous admission ran is no refusal when close() answers those still waiting', async (t) => {
    const srv = server(t, { onConnection: () => new Promise(() => {}) });
    const refusals: number[] = [];
    srv.on('refused', (status) => refusals.push(status));
    const { client, server: end } = socketPair();
    client.on('error', () => {});
    srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
    end.destroy();
    await turns(() => end.closed, 'the socket to close');
    await srv.close({ timeout: 100 });
    assert.deepEqual(refusals, []);
    assert.equal(srv.stats().refused, 0);
  });

  test('limits and retryAfter of 0 are taken as 0, not as their defaults: maxConnections 0 and maxConnectionsPerAddress 0 refuse every upgrade, with Retry-After: 0, before admission', async (t) => {
    let asked = 0;
    const answer = async (options: ServerOptions): Promise<string> => {
      const srv = server(t, { retryAfter: 0, ...options, onConnection: () => (asked++, {}) });
      const { client, server: end } = socketPair();
      const got = received(client);
      srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
      await turns(() => got.text.includes('\r\n\r\n'), 'the answer');
      return got.text;
    };
    const full = await answer({ maxConnections: 0 });
    assert.match(full, /^HTTP\/1\.1 503 /);
    assert.match(full, /\r\nRetry-After: 0\r\n/);
    const perAddress = await answer({ maxConnectionsPerAddress: 0 });
    assert.match(perAddress, /^HTTP\/1\.1 429 /);
    assert.match(perAddress, /\r\nRetry-After: 0\r\n/);
    assert.equal(asked, 0, 'admission is not asked for a refused upgrade');
  });

  test("close()'s 503 to a request waiting for admission says Retry-After: 5 by default, 0 when retryAfter is 0", async (t) => {
    for (const [retryAfter, said] of [[undefined, '5'], [0, '0']] as const) {
      const srv = server(t, { retryAfter, onConnection: () => new Promise(() => {}) });
      const { client, server: end } = socketPair();
      const got = received(client);
      srv.handleUpgrade(upgradeMessage(), end, Buffer.alloc(0));
      await srv.close({ timeout: 100 });
      await turns(() => got.text.includes('\r\n\r\n'), 'the 503');
      assert.match(got.text, /^HTTP\/1\.1 503 /);
      assert.match(got.text, new RegExp(`\r\nRetry-After: ${said}\r\n`), `retryAfter ${retryAfter}`);
    }
  });

  test('handleUpgrade() past maxConnectionsPerAddress answers 429 and does not ask admission', async (t) => {
    let asked = 0;
    const srv = server(t, { maxConnectionsPerAddress: 1, onConnection: () => (asked++, {}) });
    const first = socketPair('10.0.0.7', 50_001);
    const firstGot = received(first.client);
    srv.handleUpgrade(upgradeMessage(), first.server, Buffer.alloc(0));
    await turns(() => firstGot.text.includes('\r\n\r\n'), 'the first 101');
    assert.match(firstGot.text, /^HTTP\/1\.1 101 /);
    const second = socketPair('10.0.0.7', 50_002);
    const secondGot = received(second.client);
    srv.handleUpgrade(upgradeMessage(), second.server, Buffer.alloc(0));
    await turns(() => secondGot.text.includes('\r\n\r\n'), 'the 429');
    assert.match(secondGot.text, /^HTTP\/1\.1 429 /);
    assert.match(secondGot.text, /\r\nRetry-After: 5\r\n/, 'the default retryAfter');
    assert.equal(asked, 1);
  });

  test('a malformed request head is refused 400, and is no limit hit', async (t) => {
    const srv = server(t, { onConnection: () => ({}) });
    const limits: string[] = [];
    srv.on('limit', (event) => limits.push(event.limit));
    const peer = await FaultyPeer.connect(srv, { request: 'NOT AN HTTP REQUEST\r\n\r\n' });
    assert.equal(peer.status, 400);
    assert.deepEqual(limits, []);
    assert.equal(srv.stats().limits.maxHeaderBytes, 0);
  });

  test('a socket handed over after close() is dropped unread: no answer, and admission is not asked', async (t) => {
    let asked = 0;
    const srv = server(t, { onConnection: () => (asked++, {}) });
    await srv.close({ timeout: 100 });
    const peer = await FaultyPeer.connect(srv);
    assert.equal(peer.closed, true);
    assert.equal(peer.responseHead, '');
    assert.equal(peer.bytesReceived, 0);
    assert.equal(asked, 0);
  });
});

describe('upgrade flow over lent sockets (the standalone plain TCP listener)', () => {
  // The bytes after the head either came with it (put back into the socket) or arrived while
  // admission ran (held by the paused socket): the FIN read after them must wait behind them.
  for (const withRequest of [false, true]) {
    test(`a client that sends a message, its close frame and its FIN ${withRequest ? 'with its request' : 'while an asynchronous admission runs'} gets the echo and the close echo, admission answering after the FIN was read`, async (t) => {
      let admit!: () => void;
      const srv = server(t, {
        host: '127.0.0.1',
        port: 0,
        onConnection: () =>
          new Promise((resolve) => (admit = () => resolve({ onMessage: (connection, data, binary) => void connection.send(data, { binary }) }))),
      });
      const accepted: Socket[] = [];
      const onSocket = (message: unknown): void => void accepted.push((message as { socket: Socket }).socket);
      subscribe('net.server.socket', onSocket);
      t.after(() => unsubscribe('net.server.socket', onSocket));
      const { port } = await srv.listen();
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      const frames = Buffer.concat([clientFrame({ opcode: 0x1, payload: 'hello' }), clientFrame({ opcode: 0x8, payload: closeBody(1000) })]);
      if (withRequest) raw.socket.end(Buffer.concat([Buffer.from(upgradeRequest()), frames]));
      else raw.write(upgradeRequest());
      await turns(() => admit !== undefined, 'admission to be asked');
      const socket = accepted[0]!;
      assert.equal(lendsReads(socket), true);
      if (!withRequest) raw.socket.end(frames);
      // The server has read the FIN (its socket said so) before admission answers.
      await withTimeout(new Promise<void>((resolve) => (socket.readableEnded ? resolve() : socket.once('end', () => resolve()))), "the server's side to read the FIN");
      admit();
      assert.equal((await raw.readResponse()).status, 101);
      const echo = await raw.readFrame();
      assert.deepEqual([echo.opcode, echo.payload.toString()], [0x1, 'hello']);
      const close = await raw.readFrame();
      assert.deepEqual([close.opcode, closePayload(close.payload).code], [0x8, 1000]);
    });
  }
});

describe('upgrade flow: a FIN read while an asynchronous admission ran', () => {
  for (const lent of [true, false]) {
    test(`${lent ? 'lent socket' : "Node's socket (maxConnections set)"}: an onOpen that throws gets the client its 1011 close and the server's FIN at once, not after closeTimeout`, async (t) => {
      let admit!: () => void;
      const srv = server(t, {
        host: '127.0.0.1',
        port: 0,
        // Longer than the test waits: the server's FIN must not wait for it.
        closeTimeout: 60_000,
        onConnection: () =>
          new Promise((resolve) =>
            (admit = () =>
              resolve({
                onOpen: () => {
                  throw new Error('onOpen failed');
                },
              })),
          ),
      });
      const accepted: Socket[] = [];
      const onSocket = (message: unknown): void => void accepted.push((message as { socket: Socket }).socket);
      subscribe('net.server.socket', onSocket);
      t.after(() => unsubscribe('net.server.socket', onSocket));
      const { port } = await srv.listen();
      // (Node's own sockets when the listener has maxConnections, which lent sockets defer to.)
      if (!lent) ((srv as unknown as { listener: { maxConnections: number } }).listener.maxConnections = 1000);
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest());
      await turns(() => admit !== undefined, 'admission to be asked');
      const socket = accepted[0]!;
      assert.equal(lendsReads(socket), lent);
      const ended = new Promise<void>((resolve) => raw.socket.once('end', () => resolve()));
      raw.socket.end();
      await withTimeout(new Promise<void>((resolve) => (socket.readableEnded ? resolve() : socket.once('end', () => resolve()))), "the server's side to read the FIN");
      admit();
      assert.equal((await raw.readResponse()).status, 101);
      const close = await raw.readFrame();
      assert.deepEqual([close.opcode, closePayload(close.payload).code], [0x8, 1011]);
      await withTimeout(ended, "the server's FIN");
    });
  }
});

describe('upgrade flow behind the TLS listener', () => {
  function tlsServer(t: TestContext, options: ServerOptions): WebSocketServer<unknown> | undefined {
    const pair = selfSigned();
    if (!pair) return undefined;
    const srv = new WebSocketServer({ host: '127.0.0.1', port: 0, tls: { cert: pair.cert, key: pair.key }, onConnection: () => ({}), ...options });
    srv.on('error', () => {});
    t.after(() => srv.close({ timeout: 100 }));
    return srv;
  }

  /** How a wss:// client of `url` fares: 'open', 'dropped' (no HTTP answer), or the refusal's status. */
  async function outcome(t: TestContext, url: string): Promise<string> {
    const ws = new WebSocket(url, { ca: selfSigned()!.cert });
    ws.on('error', () => {});
    t.after(() => closeWs(ws));
    return withTimeout(
      new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('error', () => resolve('dropped'));
        ws.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
      }),
      'the wss:// client',
    );
  }

  test('maxConnectionsPerAddress 1: one client over TLS opens (its TCP and TLS sockets count once)', async (t) => {
    const srv = tlsServer(t, { maxConnectionsPerAddress: 1 });
    if (!srv) return t.skip('openssl is not available');
    const { url } = await srv.listen();
    assert.equal(await outcome(t, url), 'open');
    assert.equal(srv.stats().limits.maxConnectionsPerAddress, 0);
  });

  test('maxConnectionsPerAddress 0: a client over TLS is dropped on arrival, as a limit hit', async (t) => {
    const srv = tlsServer(t, { maxConnectionsPerAddress: 0 });
    if (!srv) return t.skip('openssl is not available');
    const limits: string[] = [];
    srv.on('limit', (event) => limits.push(event.limit));
    const { url } = await srv.listen();
    assert.equal(await outcome(t, url), 'dropped');
    assert.deepEqual(limits, ['maxConnectionsPerAddress']);
  });

  test('close() drops a TCP connection still before its TLS handshake, without waiting for handshakeTimeout', async (t) => {
    const srv = tlsServer(t, { handshakeTimeout: 600_000 });
    if (!srv) return t.skip('openssl is not available');
    const { port } = await srv.listen();
    // (The server's listening socket is private: its 'connection' event tells that the server has
    // taken the TCP connection, after the server's own listener counted it.)
    const listening = (srv as unknown as { listener: Server }).listener;
    const taken = new Promise<void>((resolve) => listening.once('connection', () => resolve()));
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    t.after(() => raw.destroy());
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    await withTimeout(taken, 'the server to take the TCP connection');
    await srv.close({ timeout: 100 });
    await withTimeout(closed, 'the server to drop the TCP connection');
  });
});
