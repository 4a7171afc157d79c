/**
 * End to end over real sockets: sockwave's client (connect) against the `ws` package's server.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { connect, HandshakeError, SockwaveError, type ClientOptions, type Connection } from '../../src/index.js';
import {
  BINARY_SIZES,
  MULTIBYTE_TEXTS,
  closedPort,
  payloadBytes,
  record,
  recordWs,
  sha256,
  startSilentServer,
  startWsServer,
  withTimeout,
  type ConnectionRecord,
  type StartedWsServer,
  type WsRecord,
} from '../support/net.js';

type WsServerOptions = Parameters<typeof startWsServer>[0];

async function wsServer(t: TestContext, options: WsServerOptions = {}, echo = true): Promise<StartedWsServer> {
  const srv = await startWsServer(options);
  if (echo) srv.wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  t.after(() => srv.close());
  return srv;
}

async function client(t: TestContext, url: string, options?: ClientOptions): Promise<{ conn: Connection; rec: ConnectionRecord }> {
  const conn = await withTimeout(connect(url, options), `connect(${url})`);
  t.after(() => conn.terminate());
  return { conn, rec: record(conn, 'the client') };
}

/** The server side of the next connection, recorded. */
async function serverSide(srv: StartedWsServer): Promise<{ ws: WebSocket; rec: WsRecord; request: import('node:http').IncomingMessage }> {
  const { ws, request } = await srv.connections.next('the ws server-side socket');
  return { ws, request, rec: recordWs(ws, 'the ws server-side socket') };
}

/** Asserts `promise` rejects, and returns the rejection (bounded). */
async function rejection(promise: Promise<unknown>, label: string): Promise<unknown> {
  try {
    await withTimeout(promise, label);
  } catch (error) {
    return error;
  }
  assert.fail(`${label}: resolved, expected a rejection`);
}

async function httpServer(t: TestContext, handler: Parameters<typeof createHttpServer>[1]): Promise<number> {
  const server: HttpServer = createHttpServer(handler);
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the http server to listen');
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return (server.address() as AddressInfo).port;
}

describe('sockwave client ↔ ws server (real sockets)', { timeout: 60_000 }, () => {
  test('text with multibyte UTF-8 and emoji is received by ws as text and echoed back as text', async (t) => {
    const srv = await wsServer(t);
    const { conn, rec } = await client(t, srv.url);
    for (const text of MULTIBYTE_TEXTS) {
      conn.send(text);
      const back = await rec.messages.next('the echo');
      assert.equal(back.isBinary, false);
      assert.equal(back.data, text);
    }
  });

  for (const size of BINARY_SIZES) {
    test(`a binary message of ${size} bytes reaches ws intact and comes back intact`, { timeout: 30_000 }, async (t) => {
      const srv = await wsServer(t, {}, false);
      const { conn, rec } = await client(t, srv.url);
      const side = await serverSide(srv);
      side.ws.on('message', (data, isBinary) => side.ws.send(data, { binary: isBinary }));
      const payload = payloadBytes(size, size + 11);
      conn.send(payload);
      const atServer = await side.rec.messages.next('the message at ws', 20_000);
      assert.equal(atServer.isBinary, true);
      assert.equal(atServer.data.length, size);
      assert.equal(sha256(atServer.data), sha256(payload));
      const back = await rec.messages.next('the echo', 20_000);
      assert.equal(back.isBinary, true);
      assert.equal(back.data.length, size);
      assert.equal(sha256(back.data), sha256(payload));
    });
  }

  test('fragments sent by ws with { fin: false } arrive as fragment events, then one message', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { rec } = await client(t, srv.url);
    const { ws } = await serverSide(srv);
    // '€' (e2 82 ac) is cut across the frames.
    ws.send(Buffer.from([0x41, 0xe2]), { binary: false, fin: false });
    ws.send(Buffer.from([0x82]), { fin: false });
    ws.send(Buffer.from([0xac, 0x42]), { fin: true });
    ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
    ws.send(Buffer.from([3]), { fin: true });
    const text = await rec.messages.next('the text message');
    assert.deepEqual([text.data, text.isBinary], ['A€B', false]);
    const binary = await rec.messages.next('the binary message');
    assert.deepEqual([binary.data, binary.isBinary], [Buffer.from([1, 2, 3]), true]);
    assert.deepEqual(rec.fragments.history.map((f) => [f.data.toString('hex'), f.isBinary, f.fin]), [
      ['41e2', false, false],
      ['82', false, false],
      ['ac42', false, true],
      ['0102', true, false],
      ['03', true, true],
    ]);
  });

  test('a message sent with fragmentSize is reassembled by ws', async (t) => {
    const srv = await wsServer(t);
    const { conn, rec } = await client(t, srv.url);
    const text = '𝄞'.repeat(1000);
    conn.send(text, { fragmentSize: 7 });
    const back = await rec.messages.next('the echo');
    assert.equal(back.data, text);
  });

  test('a ping from the ws server is answered with a pong carrying its payload', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    side.ws.ping('ws ping ✓');
    assert.equal((await rec.pings.next('the ping at the client')).toString(), 'ws ping ✓');
    assert.equal((await side.rec.pongs.next('the pong at ws')).toString(), 'ws ping ✓');
  });

  test('a client ping is answered by the ws server', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { conn, rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    conn.ping(Buffer.from([0xde, 0xad]));
    assert.deepEqual(await side.rec.pings.next('the ping at ws'), Buffer.from([0xde, 0xad]));
    assert.deepEqual(await rec.pongs.next('the pong at the client'), Buffer.from([0xde, 0xad]));
  });

  test('a client close with a code and reason reaches ws, and the client sees the echo cleanly', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { conn, rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    conn.close(4001, 'client bye ✓');
    assert.deepEqual(await side.rec.closed(), { code: 4001, reason: 'client bye ✓' });
    // ws echoes the code and the reason.
    assert.deepEqual(await rec.closed(), { code: 4001, reason: 'client bye ✓', wasClean: true, remote: false });
  });

  test('a ws server close with a code and reason reaches the client, cleanly and marked remote', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    side.ws.close(4002, 'server bye');
    assert.deepEqual(await rec.closed(), { code: 4002, reason: 'server bye', wasClean: true, remote: true });
    assert.equal((await side.rec.closed()).code, 4002);
  });

  test('a ws server close without a code is reported as 1005', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    side.ws.close();
    assert.deepEqual(await rec.closed(), { code: 1005, reason: '', wasClean: true, remote: true });
    assert.equal((await side.rec.closed()).code, 1005);
  });

  test('a ws server terminate() is reported as 1006, not clean', async (t) => {
    const srv = await wsServer(t, {}, false);
    const { rec } = await client(t, srv.url);
    const side = await serverSide(srv);
    side.ws.terminate();
    const info = await rec.closed();
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
  });

  test('custom headers (repeated keys from arrays) and Origin reach the ws server', async (t) => {
    const srv = await wsServer(t, {}, false);
    await client(t, `${srv.url}/path?q=1`, {
      headers: { 'X-Multi': ['one', 'two'], 'X-Single': 'solo', Cookie: 'a=1' },
      origin: 'https://app.example',
    });
    const { request } = await serverSide(srv);
    assert.equal(request.url, '/path?q=1');
    assert.equal(request.headers['x-single'], 'solo');
    assert.equal(request.headers['x-multi'], 'one, two');
    assert.equal(request.headers.origin, 'https://app.example');
    const multi: string[] = [];
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      if (request.rawHeaders[i]!.toLowerCase() === 'x-multi') multi.push(request.rawHeaders[i + 1]!);
    }
    assert.deepEqual(multi, ['one', 'two']);
  });

  test('connect() rejects a header the handshake sets itself, with TypeError', async () => {
    await assert.rejects(async () => connect('ws://127.0.0.1:1/', { headers: { 'Sec-WebSocket-Key': 'x' } }), TypeError);
  });

  test('the subprotocol chosen by the ws server is negotiated', async (t) => {
    const offered: string[][] = [];
    const srv = await wsServer(t, {
      handleProtocols: (protocols) => {
        offered.push([...protocols]);
        return protocols.has('v2.chat') ? 'v2.chat' : false;
      },
    });
    const { conn } = await client(t, srv.url, { protocols: ['v1.chat', 'v2.chat'] });
    assert.equal(conn.protocol, 'v2.chat');
    assert.deepEqual(offered, [['v1.chat', 'v2.chat']]);
    const { ws } = await serverSide(srv);
    assert.equal(ws.protocol, 'v2.chat');
  });

  test('with no subprotocol chosen by the server the connection opens with protocol ""', async (t) => {
    const srv = await wsServer(t, { handleProtocols: () => false });
    const { conn } = await client(t, srv.url, { protocols: ['x'] });
    assert.equal(conn.protocol, '');
  });

  test('a ws server refusing with 403 makes connect() reject with a HandshakeError carrying status, headers and body', async (t) => {
    const srv = await wsServer(t, {
      verifyClient: (_info, callback) => callback(false, 403, 'Forbidden', { 'X-Reason': 'banned' }),
    });
    const error = await rejection(connect(srv.url), 'connect() to a refusing server');
    assert.ok(error instanceof HandshakeError, `got ${String(error)}`);
    assert.equal(error.status, 403);
    assert.equal(error.headers['x-reason'], 'banned');
    assert.ok(error.body.startsWith('Forbidden'), `body: ${JSON.stringify(error.body)}`);
    assert.equal(error.code, 'SW_HANDSHAKE_FAILED');
  });

  test('a plain HTTP server answering 200 makes connect() reject with a HandshakeError and the body start', async (t) => {
    const body = `not a websocket server ${'x'.repeat(5000)}`;
    const port = await httpServer(t, (_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), 'X-Server': 'plain' });
      response.end(body);
    });
    const error = await rejection(connect(`ws://127.0.0.1:${port}/`), 'connect() to a plain http server');
    assert.ok(error instanceof HandshakeError, `got ${String(error)}`);
    assert.equal(error.status, 200);
    assert.equal(error.headers['x-server'], 'plain');
    assert.ok(error.body.length > 0 && body.startsWith(error.body), `body: ${JSON.stringify(error.body.slice(0, 40))}`);
  });

  /** A raw server that answers the upgrade request with `answer` and then ends (or keeps) the connection. */
  async function rawAnswer(t: TestContext, answer: string, end: boolean): Promise<number> {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    silent.sockets.next('the connection').then(
      (socket) =>
        socket.once('data', () => {
          if (end) socket.end(answer);
          else socket.write(answer);
        }),
      () => {},
    );
    return silent.port;
  }

  test('a non-101 answer with a body delimited by the close is reported with that body', async (t) => {
    const port = await rawAnswer(t, 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ntry later', true);
    const error = await rejection(connect(`ws://127.0.0.1:${port}/`), 'connect() to a 503');
    assert.ok(error instanceof HandshakeError, `got ${String(error)}`);
    assert.equal(error.status, 503);
    assert.equal(error.body, 'try later');
  });

  test(
    'a non-101 answer with a chunked body is reported with the decoded body, not the chunk framing',
    async (t) => {
      const port = await rawAnswer(t, 'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n', true);
      const error = await rejection(connect(`ws://127.0.0.1:${port}/`), 'connect() to a chunked 404');
      assert.ok(error instanceof HandshakeError, `got ${String(error)}`);
      assert.equal(error.status, 404);
      assert.equal(error.body, 'nope');
    },
  );

  test(
    'a complete chunked non-101 answer on a connection kept open rejects with the HandshakeError, not a timeout',
    async (t) => {
      const port = await rawAnswer(t, 'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n', false);
      const error = await rejection(connect(`ws://127.0.0.1:${port}/`, { connectTimeout: 2000 }), 'connect() to a kept-alive chunked 404');
      assert.ok(error instanceof HandshakeError, `got ${String(error)} (${(error as SockwaveError).code})`);
      assert.equal(error.status, 404);
    },
  );

  test('a 101 with a wrong Sec-WebSocket-Accept makes connect() reject with a HandshakeError', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    silent.sockets.next('the connection').then(
      (socket) =>
        socket.once('data', () =>
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n'),
        ),
      () => {},
    );
    const error = await rejection(connect(`ws://127.0.0.1:${silent.port}/`), 'connect() with a bad accept');
    assert.ok(error instanceof HandshakeError, `got ${String(error)}`);
    assert.equal(error.status, 101);
  });

  test('a refused TCP connection makes connect() reject with SockwaveError SW_SOCKET_ERROR', async () => {
    const port = await closedPort();
    const error = await rejection(connect(`ws://127.0.0.1:${port}/`), 'connect() to a closed port');
    assert.ok(error instanceof SockwaveError, `got ${String(error)}`);
    assert.equal(error.code, 'SW_SOCKET_ERROR');
    assert.match(error.message, /connection refused/);
  });

  test('connectTimeout rejects when the server accepts TCP but never answers', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const error = await rejection(connect(`ws://127.0.0.1:${silent.port}/`, { connectTimeout: 200 }), 'connect() with connectTimeout');
    assert.ok(error instanceof SockwaveError, `got ${String(error)}`);
    assert.equal(error.code, 'SW_HANDSHAKE_TIMEOUT');
    // The client gave up: its socket is closed from the server's point of view.
    const socket = await silent.sockets.next('the accepted socket');
    if (!socket.destroyed) {
      await withTimeout(new Promise((resolve) => socket.once('close', resolve)), 'the abandoned socket to close');
    }
  });

  test('an AbortSignal aborted during the handshake rejects connect()', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const controller = new AbortController();
    const attempt = connect(`ws://127.0.0.1:${silent.port}/`, { signal: controller.signal, connectTimeout: 30_000 });
    await silent.sockets.next('the accepted socket');
    controller.abort(new Error('user cancelled'));
    const error = await rejection(attempt, 'the aborted connect()');
    assert.ok(error instanceof SockwaveError, `got ${String(error)}`);
    assert.equal(error.code, 'SW_ABORTED');
    assert.equal((error.cause as Error).message, 'user cancelled');
  });

  test('an AbortSignal already aborted rejects connect() without connecting', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const error = await rejection(connect(`ws://127.0.0.1:${silent.port}/`, { signal: AbortSignal.abort() }), 'connect() with an aborted signal');
    assert.ok(error instanceof SockwaveError, `got ${String(error)}`);
    assert.equal(silent.sockets.history.length, 0);
  });

  test('connect() rejects an invalid URL with SyntaxError', async () => {
    await assert.rejects(async () => connect('ftp://127.0.0.1/'), SyntaxError);
    await assert.rejects(async () => connect('ws://127.0.0.1/#frag'), SyntaxError);
  });

  test('http:// URLs are accepted and mapped to ws://', async (t) => {
    const srv = await wsServer(t);
    const { conn, rec } = await client(t, srv.url.replace('ws://', 'http://'));
    conn.send('over http: url');
    assert.equal((await rec.messages.next('the echo')).data, 'over http: url');
  });

  test('a message the ws server sends right after the handshake is not lost', async (t) => {
    const srv = await wsServer(t, {}, false);
    srv.wss.on('connection', (ws) => {
      ws.send('hello at once');
      ws.send(Buffer.from([1]));
    });
    const { rec } = await client(t, srv.url);
    assert.deepEqual((await rec.messages.take(2, 'both greetings')).map((m) => m.data), ['hello at once', Buffer.from([1])]);
  });
});
