/**
 * Attached mode over real sockets: handleUpgrade() from an http.Server, attach() of several
 * sockwave servers to one http.Server (dispatch by path), and attach() to raw net and tls servers
 * (SNI through the tls server's own SNICallback).
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { type Duplex } from 'node:stream';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { connect as http2Connect, createSecureServer as createHttp2SecureServer } from 'node:http2';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer as WsServer } from 'ws';
import { UsageError, WebSocketServer, connect, type Connection, type ConnectionHandler, type UpgradeRequest } from '../../src/index.js';
import { clientFrame } from '../support/frames.js';
import { Queue, RawClient, acceptFor, record, upgradeRequest, withTimeout } from '../support/net.js';
import { eventually, refusedWs, selfSigned, sleep, wsClient } from '../support/server-kit.js';

const echo: ConnectionHandler = {
  onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
};

/** A sockwave server without a listener of its own, closed after the test. */
function attachedServer<D = unknown>(t: TestContext, options: ConstructorParameters<typeof WebSocketServer<D>>[0]): WebSocketServer<D> {
  const wss = new WebSocketServer<D>(options);
  wss.on('error', () => {});
  t.after(() => withTimeout(wss.close({ timeout: 500 }), 'the attached sockwave server to close'));
  return wss;
}

/** Listens on 127.0.0.1:0; closed (connections and all) after the test. Returns the port. */
async function listen(t: TestContext, server: HttpServer | NetServer): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the server to listen');
  t.after(() =>
    withTimeout(
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
      'the underlying server to close',
    ),
  );
  return (server.address() as AddressInfo).port;
}

/** A ws client of `url` trusting `ca`, open; terminated after the test. */
async function wssClient(t: TestContext, url: string, ca: string, label: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { ca });
  t.after(() => ws.terminate());
  ws.on('error', () => {});
  await withTimeout(new Promise((resolve) => ws.once('open', resolve)), label);
  return ws;
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send(text);
  assert.equal(await withTimeout(reply, `the echo of ${JSON.stringify(text)}`), text);
}

async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const raw = await RawClient.connect(port);
  try {
    raw.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const response = await raw.readResponse();
    return { status: response.status, body: response.body.toString() };
  } finally {
    raw.destroy();
  }
}

describe('attached mode', { timeout: 60_000 }, () => {
  test("a request asking for another protocol's upgrade (h2c) is still the app's to answer, for a path server and a catch-all alike", async (t) => {
    const h2c = (path: string, extra = ''): string =>
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n${extra}\r\n`;
    for (const options of [{ path: '/ws' }, {}]) {
      const http = createHttpServer((request, response) => response.end(`app ${request.url}`));
      const port = await listen(t, http);
      const wss = attachedServer(t, { ...options, onConnection: () => ({ ...echo }) });
      wss.attach(http);
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      raw.write(h2c('/index.html'));
      const response = await raw.readResponse();
      assert.deepEqual([response.status, response.body.toString(), response.headers['connection']], [200, 'app /index.html', 'close'], JSON.stringify(options));
      // A WebSocket upgrade is still ours.
      const { ws } = await wsClient(t, `ws://127.0.0.1:${port}/ws`);
      await echoes(ws, 'still a WebSocket');
      // One with a body is not handed over: Node would never read its body.
      const withBody = await RawClient.connect(port);
      t.after(() => withBody.destroy());
      withBody.write(`${h2c('/form', 'Content-Length: 3\r\n')}abc`);
      assert.notEqual((await withBody.readResponse()).status, 200, JSON.stringify(options));
    }
  });

  test("another protocol's upgrade with nobody listening for requests is refused as before (404 on a path none serves)", async (t) => {
    const http = createHttpServer();
    const port = await listen(t, http);
    attachedServer(t, { path: '/ws', onConnection: () => ({ ...echo }) }).attach(http);
    const raw = await RawClient.connect(port);
    t.after(() => raw.destroy());
    raw.write('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    assert.equal((await raw.readResponse()).status, 404);
  });

  test('handleUpgrade() from a plain http.Server: the request, bytes sent with the upgrade, and plain HTTP still served', async (t) => {
    const requests = new Queue<UpgradeRequest>();
    const wss = attachedServer(t, {
      onConnection: (request) => {
        requests.push(request);
        return { ...echo };
      },
    });
    const http = createHttpServer((request, response) => response.end(`plain ${request.url}`));
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket as Socket, head));
    const port = await listen(t, http);
    // A frame in the same packet as the upgrade request reaches the server as `head`.
    const raw = await RawClient.connect(port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    raw.write(Buffer.concat([Buffer.from(upgradeRequest({ path: '/live?room=9', key, extra: ['Cookie: a=1'] })), clientFrame({ opcode: 0x1, payload: 'early bird' })]));
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-accept'], acceptFor(key));
    const frame = await raw.readFrame();
    assert.deepEqual([frame.opcode, frame.payload.toString()], [0x1, 'early bird']);
    const request = await requests.next('the upgrade request');
    assert.equal(request.path, '/live');
    assert.equal(request.query.get('room'), '9');
    assert.equal(request.cookies['a'], '1');
    assert.equal(request.remoteAddress, '127.0.0.1');
    assert.equal(request.remotePort, raw.socket.localPort);
    const { ws } = await wsClient(t, `ws://127.0.0.1:${port}/other`);
    await echoes(ws, 'via handleUpgrade');
    assert.equal(wss.clients.size, 2);
    assert.deepEqual(await httpGet(port, '/page'), { status: 200, body: 'plain /page' });
  });

  test('attach(): two sockwave servers on different paths share one http.Server; each has its own clients; an unknown path gets 404', async (t) => {
    const greet = (label: string): ConnectionHandler => ({
      onOpen: (connection) => void connection.send(label),
      onMessage: (connection, data) => void connection.send(`${label}:${String(data)}`),
    });
    const a = attachedServer(t, { path: '/a', onConnection: () => greet('A') });
    const b = attachedServer(t, { path: ['/b', '/b2'], onConnection: () => greet('B') });
    const http = createHttpServer((request, response) => response.end(`http ${request.url}`));
    a.attach(http);
    b.attach(http);
    const port = await listen(t, http);
    const base = `ws://127.0.0.1:${port}`;
    const clientA1 = await wsClient(t, `${base}/a`);
    const clientA2 = await wsClient(t, `${base}/a?x=1`);
    const clientB = await wsClient(t, `${base}/b`);
    const clientB2 = await wsClient(t, `${base}/b2`);
    for (const [client, label] of [[clientA1, 'A'], [clientA2, 'A'], [clientB, 'B'], [clientB2, 'B']] as const) {
      assert.equal((await client.rec.messages.next('the greeting')).data.toString(), label);
    }
    assert.equal(a.clients.size, 2);
    assert.equal(b.clients.size, 2);
    assert.equal((await refusedWs(`${base}/c`)).status, 404);
    assert.deepEqual(await httpGet(port, '/index.html'), { status: 200, body: 'http /index.html' });
    // Broadcasts stay within their server.
    assert.equal(a.broadcast('to A'), 2);
    assert.equal(b.broadcast('to B'), 2);
    for (const [client, expected] of [[clientA1, 'to A'], [clientA2, 'to A'], [clientB, 'to B'], [clientB2, 'to B']] as const) {
      assert.equal((await client.rec.messages.next('the broadcast')).data.toString(), expected);
    }
    // Closing one leaves the other serving.
    await withTimeout(a.close({ timeout: 500 }), 'server A to close');
    assert.equal((await clientA1.rec.closed()).code, 1001);
    clientB.ws.send('still?');
    assert.equal((await clientB.rec.messages.next('the reply from B')).data.toString(), 'B:still?');
    // The closed server no longer holds its path: an answer (404), not a socket dropped in silence,
    // and a server attached in its place takes the path.
    assert.equal((await refusedWs(`${base}/a`)).status, 404);
    const a2 = attachedServer(t, { path: '/a', onConnection: () => greet('A2') });
    a2.attach(http);
    const clientA3 = await wsClient(t, `${base}/a`);
    assert.equal((await clientA3.rec.messages.next('the greeting of the new server')).data.toString(), 'A2');
  });

  test("a late handleUpgrade() (after the client's FIN went by) answers 101, delivers the bytes sent with the request, then sees the FIN", async (t) => {
    for (const admission of ['sync', 'async'] as const) {
      const events = new Queue<string>();
      const handler: ConnectionHandler = {
        onMessage: (_connection, data) => events.push(`message ${String(data)}`),
        onClose: (_connection, info) => events.push(`close ${info.code}`),
      };
      const wss = attachedServer(t, {
        onConnection: admission === 'sync' ? () => handler : async () => handler,
      });
      const http = createHttpServer();
      http.on('upgrade', (request, socket: Socket, head: Buffer) => {
        // An 'upgrade' listener that checks something first: the socket's 'end' goes by meanwhile.
        const wait = (): void => {
          if (!socket.readableEnded) return void setTimeout(wait, 5);
          wss.handleUpgrade(request, socket, head);
        };
        wait();
      });
      const port = await listen(t, http);
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      raw.socket.end(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame({ opcode: 0x1, payload: 'sent with the request' })]));
      assert.equal((await raw.readResponse()).status, 101, admission);
      assert.equal(await events.next(`${admission}: the message`), 'message sent with the request');
      assert.equal(await events.next(`${admission}: the close`), 'close 1006', 'the client left without a close frame');
    }
  });

  test('handleUpgrade() on a closed server answers 503', async (t) => {
    const wss = attachedServer(t, { onConnection: () => ({}) });
    const http = createHttpServer();
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head));
    const port = await listen(t, http);
    await withTimeout(wss.close({ timeout: 500 }), 'the server to close');
    assert.equal((await refusedWs(`ws://127.0.0.1:${port}/`)).status, 503);
  });

  test('attach() to an https.Server: wss upgrades by path, and its own HTTPS requests answered by it alone', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const https = createHttpsServer({ cert: pair.cert, key: pair.key }, (request, response) => response.end(`https ${request.url}`));
    const wss = attachedServer(t, { path: '/ws', onConnection: () => ({ ...echo }) });
    wss.attach(https);
    const port = await listen(t, https);
    const ws = await wssClient(t, `wss://127.0.0.1:${port}/ws`, pair.cert, 'a wss client');
    await echoes(ws, 'over https');
    assert.equal(wss.clients.size, 1);
    const page = await withTimeout(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        httpsGet(`https://127.0.0.1:${port}/page`, { ca: pair.cert, agent: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        }).on('error', reject);
      }),
      'an HTTPS GET',
    );
    assert.deepEqual(page, { status: 200, body: 'https /page' });
    assert.equal(wss.stats().refused, 0, 'plain HTTPS requests are not the WebSocket server\'s');
  });

  test('attach() to a raw tls.Server: SNICallback picks the certificate, and both names are served over wss', async (t) => {
    const certA = selfSigned('a.test', ['a.test'], []);
    const certB = selfSigned('b.test', ['b.test'], []);
    if (!certA || !certB) return t.skip('openssl is not available');
    const asked: string[] = [];
    const contexts = new Map([
      ['a.test', createSecureContext({ cert: certA.cert, key: certA.key })],
      ['b.test', createSecureContext({ cert: certB.cert, key: certB.key })],
    ]);
    const tlsServer = createTlsServer({
      SNICallback: (servername, callback) => {
        asked.push(servername);
        callback(null, contexts.get(servername));
      },
    });
    const requests = new Queue<UpgradeRequest>();
    const wss = attachedServer(t, {
      onConnection: (request) => {
        requests.push(request);
        return { ...echo };
      },
    });
    wss.attach(tlsServer);
    const port = await listen(t, tlsServer);
    const url = `wss://127.0.0.1:${port}/secure`;
    for (const [name, pair] of [['a.test', certA], ['b.test', certB]] as const) {
      const options: WebSocket.ClientOptions & { servername: string } = { servername: name, ca: pair.cert };
      const ws = new WebSocket(url, options);
      const subject = new Promise<string>((resolve) => ws.once('upgrade', (response) => resolve(String((response.socket as TLSSocket).getPeerCertificate().subject.CN))));
      t.after(() => ws.terminate());
      ws.on('error', () => {});
      await withTimeout(new Promise((resolve) => ws.once('open', resolve)), `a ws client for ${name}`);
      assert.equal(await subject, name);
      await echoes(ws, `hello ${name}`);
      const request = await requests.next('the request');
      assert.equal(request.secure, true);
      assert.equal(request.path, '/secure');
    }
    const client = await withTimeout(connect(url, { tls: { servername: 'b.test', ca: certB.cert } }), 'a sockwave client for b.test');
    t.after(() => client.terminate());
    const rec = record(client as Connection<unknown>);
    client.send('sockwave over SNI');
    assert.equal((await rec.messages.next('the echo')).data, 'sockwave over SNI');
    assert.deepEqual(asked, ['a.test', 'b.test', 'b.test']);
    assert.equal(wss.clients.size, 3);
  });

  test("connection.rawHeaders keeps repeated request lines apart, attached (Node's parser) as standalone (the head's text)", async (t) => {
    const seen: string[][] = [];
    const handler = { onOpen: (connection: Connection) => void seen.push(connection.rawHeaders.filter(([name]) => name === 'x-tag').map(([, value]) => value)) };
    const attached = attachedServer(t, { onConnection: () => handler });
    const http = createHttpServer();
    attached.attach(http);
    const port = await listen(t, http);
    await wsClient(t, `ws://127.0.0.1:${port}/`, undefined, { headers: { 'X-Tag': ['a, b', 'c'] as unknown as string } });
    const standalone = attachedServer(t, { onConnection: () => handler });
    const { url } = await standalone.listen({ port: 0, host: '127.0.0.1' });
    await wsClient(t, url, undefined, { headers: { 'X-Tag': ['a, b', 'c'] as unknown as string } });
    await eventually(() => seen.length === 2, 'both connections open');
    assert.deepEqual(seen, [['a, b', 'c'], ['a, b', 'c']]);
  });

  test('attach() to a raw net.Server: every connection is taken as an upgrade', async (t) => {
    const wss = attachedServer(t, { onConnection: () => ({ ...echo }) });
    const server = createNetServer();
    wss.attach(server);
    const port = await listen(t, server);
    const { ws } = await wsClient(t, `ws://127.0.0.1:${port}/`);
    await echoes(ws, 'over a raw net server');
    assert.equal(wss.clients.size, 1);
  });
});

describe('attached mode: the per-address count', { timeout: 30_000 }, () => {
  test('a closed connection from handleUpgrade() frees its place under maxConnectionsPerAddress', async (t) => {
    const wss = attachedServer(t, { maxConnectionsPerAddress: 2, onConnection: () => echo });
    const http = createHttpServer();
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head));
    const port = await listen(t, http);
    // Five connections one after another, each closed before the next: never more than one open.
    for (let i = 0; i < 5; i++) {
      const conn = await withTimeout(connect(`ws://127.0.0.1:${port}/`), `connection ${i + 1}`);
      const closed = new Promise((resolve) => conn.once('close', resolve));
      conn.close(1000);
      await withTimeout(closed, `connection ${i + 1} to close`);
    }
    assert.equal(wss.stats().limits.maxConnectionsPerAddress, 0, 'no refusal for the address');
  });
});

describe('attach(): sharing the HTTP server, and leaving it', { timeout: 30_000 }, () => {
  for (const wsFirst of [false, true]) {
    test(`another 'upgrade' listener (ws, noServer) keeps the paths sockwave does not serve (${wsFirst ? 'ws' : 'sockwave'} listening first)`, async (t) => {
      const wss = attachedServer(t, { path: '/a', onConnection: () => ({ onOpen: (connection) => void connection.send('from sockwave') }) });
      const other = new WsServer({ noServer: true });
      t.after(() => other.close());
      other.on('connection', (ws) => ws.send('from ws'));
      const http = createHttpServer();
      const theirs = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (request.url === '/w') other.handleUpgrade(request, socket, head, (ws) => other.emit('connection', ws, request));
        else if (request.url !== '/a') socket.end('HTTP/1.1 418 I\'m a teapot\r\nContent-Length: 0\r\n\r\n');
      };
      if (wsFirst) http.on('upgrade', theirs);
      wss.attach(http);
      if (!wsFirst) http.on('upgrade', theirs);
      const port = await listen(t, http);
      const base = `ws://127.0.0.1:${port}`;
      const viaWs = await wsClient(t, `${base}/w`);
      assert.equal((await viaWs.rec.messages.next('the greeting of ws')).data.toString(), 'from ws');
      viaWs.ws.send('and it stays a clean WebSocket');
      await sleep(100);
      assert.equal(viaWs.ws.readyState, WebSocket.OPEN, 'no HTTP answer written into the WebSocket stream');
      const viaSockwave = await wsClient(t, `${base}/a`);
      assert.equal((await viaSockwave.rec.messages.next('the greeting of sockwave')).data.toString(), 'from sockwave');
      // A path nobody serves is answered by the other listener alone.
      assert.equal((await refusedWs(`${base}/nowhere`)).status, 418);
    });
  }

  test('a 404 for a path nobody serves ends the socket even if the client never closes its side', async (t) => {
    const wss = attachedServer(t, { path: '/a', onConnection: () => ({}) });
    const http = createHttpServer();
    wss.attach(http);
    const port = await listen(t, http);
    const socket = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    t.after(() => socket.destroy());
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.write(upgradeRequest({ path: '/nowhere' }));
    let open = -1;
    const poll = setInterval(() => http.getConnections((_error, count) => (open = count)), 10);
    t.after(() => clearInterval(poll));
    await eventually(() => open === 1, 'the connection at the server');
    // The client keeps its side open: only the server can let the socket go.
    await eventually(() => open === 0, 'the server to let the socket of the half-open client go', 10_000);
    assert.match(answer, /^HTTP\/1\.1 404 /);
    assert.equal(socket.destroyed, false, 'the client did not close');
  });

  for (const by of ['path', 'route'] as const) {
    test(`an absolute-form request line is dispatched by its path (a server with the ${by} /chat)`, async (t) => {
      const requests = new Queue<UpgradeRequest>();
      const admit = (request: UpgradeRequest): ConnectionHandler => {
        requests.push(request);
        return {};
      };
      const wss = by === 'path' ? attachedServer(t, { path: '/chat', onConnection: admit }) : attachedServer(t, {}).route('/chat', admit);
      const http = createHttpServer();
      wss.attach(http);
      const port = await listen(t, http);
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest({ path: `http://127.0.0.1:${port}/chat?room=7` }));
      assert.equal((await raw.readResponse()).status, 101);
      const request = await requests.next('admission of /chat');
      assert.equal(request.path, '/chat');
      assert.equal(request.query.get('room'), '7');
      assert.equal(wss.clients.size, 1);
    });
  }

  for (const admission of ['sync', 'async'] as const) {
    test(`an 'upgrade' listener ahead of sockwave's that answers and ends the socket keeps it: no 101 after its answer, no connection (${admission} admission)`, async (t) => {
      const wss = attachedServer(t, { onConnection: admission === 'sync' ? () => ({}) : async () => ({}) });
      let connections = 0;
      wss.on('connection', () => connections++);
      const answer = 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
      const http = createHttpServer();
      http.on('upgrade', (_request: IncomingMessage, socket: Duplex) => void socket.end(answer));
      wss.attach(http);
      const port = await listen(t, http);
      const raw = await RawClient.connect(port);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest());
      await raw.waitClosed("the application's answer to end the socket");
      assert.equal(raw.received.toString('latin1'), answer, 'the application\'s answer alone');
      assert.equal(connections, 0, "no 'connection' event");
      assert.equal(wss.clients.size, 0);
      assert.equal(wss.stats().connectionsTotal, 0);
      assert.equal(wss.stats().refused, 0);
    });
  }

  test('close() answers 503 to an upgrade still waiting for admission, as a standalone server does', async (t) => {
    let admitted!: () => void;
    const admission = new Promise<void>((resolve) => (admitted = resolve));
    t.after(() => admitted());
    let asked!: () => void;
    const askedOnce = new Promise<void>((resolve) => (asked = resolve));
    const wss = attachedServer(t, {
      onConnection: async () => {
        asked();
        await admission;
        return {};
      },
    });
    const http = createHttpServer();
    wss.attach(http);
    const port = await listen(t, http);
    const raw = await RawClient.connect(port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest());
    await withTimeout(askedOnce, 'admission to be asked');
    await withTimeout(wss.close({ timeout: 500 }), 'the server to close');
    // Admission never settles in this test: only close() can answer and end the socket.
    await raw.waitClosed('the pending upgrade to be answered');
    assert.match(raw.received.toString('latin1'), /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  });

  test('close() detaches from the HTTP server: its upgrade listener goes with the last sockwave server, and attach() after close() throws', async (t) => {
    const a = attachedServer(t, { path: '/a', onConnection: () => ({}) });
    const b = attachedServer(t, { path: '/b', onConnection: () => ({ onOpen: (connection) => void connection.send('B') }) });
    const http = createHttpServer((_request, response) => response.end('plain'));
    a.attach(http);
    b.attach(http);
    assert.equal(http.listenerCount('upgrade'), 1, 'one dispatcher for both');
    const port = await listen(t, http);
    await withTimeout(a.close({ timeout: 500 }), 'A to close');
    assert.equal(http.listenerCount('upgrade'), 1);
    const onB = await wsClient(t, `ws://127.0.0.1:${port}/b`);
    assert.equal((await onB.rec.messages.next('the greeting of B')).data.toString(), 'B');
    await withTimeout(b.close({ timeout: 500 }), 'B to close');
    assert.equal(http.listenerCount('upgrade'), 0, 'nothing left attached');
    assert.throws(() => a.attach(http), { code: 'SW_INVALID_STATE' });
    assert.equal(http.listenerCount('upgrade'), 0);
    assert.deepEqual(await httpGet(port, '/'), { status: 200, body: 'plain' });
  });

  test('stop() detaches from the HTTP server: an upgrade is its plain request again, the open connection keeps working, and attach() serves again', async (t) => {
    const wss = attachedServer(t, { path: '/a', onConnection: () => echo });
    const http = createHttpServer((_request, response) => response.end('plain'));
    wss.attach(http);
    const port = await listen(t, http);
    const before = await wsClient(t, `ws://127.0.0.1:${port}/a`);
    await withTimeout(wss.stop(), 'stop()');
    assert.equal(http.listenerCount('upgrade'), 0, 'still attached after stop()');
    // With no 'upgrade' listener left, Node hands the upgrade request to the 'request' handler.
    const refused = await refusedWs(`ws://127.0.0.1:${port}/a`);
    assert.deepEqual([refused.status, refused.body], [200, 'plain']);
    assert.equal(wss.clients.size, 1);
    await echoes(before.ws, 'still open after stop()');
    wss.attach(http);
    const after = await wsClient(t, `ws://127.0.0.1:${port}/a`);
    await echoes(after.ws, 'served after attach() again');
    assert.equal(wss.clients.size, 2);
  });

  test('attach() twice to one HTTP server: one place among its servers, left whole at close(), other servers kept', async (t) => {
    const a = attachedServer(t, { path: '/a', onConnection: () => ({}) });
    const b = attachedServer(t, { path: '/b', onConnection: () => ({ onOpen: (connection) => void connection.send('B') }) });
    const http = createHttpServer();
    a.attach(http);
    a.attach(http);
    b.attach(http);
    const port = await listen(t, http);
    await withTimeout(a.close({ timeout: 500 }), 'A to close');
    const onB = await wsClient(t, `ws://127.0.0.1:${port}/b`);
    assert.equal((await onB.rec.messages.next('the greeting of B')).data.toString(), 'B');
    await withTimeout(b.close({ timeout: 500 }), 'B to close');
    assert.equal(http.listenerCount('upgrade'), 0, 'nothing left attached');
  });

  test('a server attached to an HTTP server after the last one left is served', async (t) => {
    const a = attachedServer(t, { path: '/a', onConnection: () => ({}) });
    const b = attachedServer(t, { path: '/b', onConnection: () => ({ onOpen: (connection) => void connection.send('B') }) });
    const http = createHttpServer();
    a.attach(http);
    const port = await listen(t, http);
    await withTimeout(a.close({ timeout: 500 }), 'A to close');
    assert.equal(http.listenerCount('upgrade'), 0);
    b.attach(http);
    assert.equal(http.listenerCount('upgrade'), 1);
    const onB = await wsClient(t, `ws://127.0.0.1:${port}/b`);
    assert.equal((await onB.rec.messages.next('the greeting of B')).data.toString(), 'B');
  });

  test("after a 404 for a path nobody serves, an error on the socket is kept quiet (Node's http server took its own listener off)", async (t) => {
    const wss = attachedServer(t, { path: '/a', onConnection: () => ({}) });
    const http = createHttpServer();
    wss.attach(http);
    let serverSide: Socket | undefined;
    http.on('connection', (socket: Socket) => (serverSide = socket));
    const port = await listen(t, http);
    const raw = await RawClient.connect(port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ path: '/nowhere' }));
    assert.equal((await raw.readResponse()).status, 404);
    assert.doesNotThrow(() => serverSide!.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
  });

  test('close() detaches from a raw net server too: a server attached after it gets the connections', async (t) => {
    const server = createNetServer();
    const before = server.listenerCount('connection');
    const first = attachedServer(t, { onConnection: () => ({ onOpen: (connection) => void connection.send('first') }) });
    first.attach(server);
    const port = await listen(t, server);
    const one = await wsClient(t, `ws://127.0.0.1:${port}/`);
    assert.equal((await one.rec.messages.next('the greeting of the first')).data.toString(), 'first');
    await withTimeout(first.close({ timeout: 500 }), 'the first to close');
    assert.equal(server.listenerCount('connection'), before + 2, "listen()'s own tracking listener, and one that drops");
    // Meanwhile a connection is dropped, not left open with nobody to read it.
    const orphan = await RawClient.connect(port);
    t.after(() => orphan.destroy());
    orphan.write('GET / HTTP/1.1\r\n');
    await orphan.waitClosed('the connection that came after close() to be dropped');
    const second = attachedServer(t, { onConnection: () => ({ onOpen: (connection) => void connection.send('second') }) });
    second.attach(server);
    assert.equal(server.listenerCount('connection'), before + 2, 'the dropping listener gave way');
    const two = await wsClient(t, `ws://127.0.0.1:${port}/`);
    assert.equal((await two.rec.messages.next('the greeting of the second')).data.toString(), 'second');
  });

  test('a raw net server serves one sockwave server at a time: a second attach() throws SW_INVALID_STATE and the first keeps its connections; attach/close cycles add no listener', async (t) => {
    const server = createNetServer();
    const before = server.listenerCount('connection');
    const first = attachedServer(t, { onConnection: () => ({ onOpen: (connection) => void connection.send('first') }) });
    first.attach(server);
    const second = attachedServer(t, { onConnection: () => ({ onOpen: (connection) => void connection.send('second') }) });
    assert.throws(() => second.attach(server), (error: unknown) => error instanceof UsageError && error.code === 'SW_INVALID_STATE' && /another sockwave server is attached/.test(error.message));
    assert.doesNotThrow(() => first.attach(server), 'the same one again is no conflict');
    const port = await listen(t, server);
    const one = await wsClient(t, `ws://127.0.0.1:${port}/`);
    assert.equal((await one.rec.messages.next('the greeting of the first')).data.toString(), 'first');
    one.ws.close(1000);
    assert.deepEqual(await one.rec.closed(), { code: 1000, reason: '' }, 'a clean close, not a stream broken by a second 101');
    await withTimeout(second.close({ timeout: 500 }), 'the refused one to close');
    const after = await wsClient(t, `ws://127.0.0.1:${port}/`);
    assert.equal((await after.rec.messages.next('the first, still serving')).data.toString(), 'first', "closing the refused one dropped nothing of the first's");
    for (let i = 0; i < 5; i++) {
      const cycle = attachedServer(t, {});
      await withTimeout(first.stop(), 'stop');
      cycle.attach(server);
      await withTimeout(cycle.close({ timeout: 500 }), 'close');
      first.attach(server);
    }
    assert.equal(server.listenerCount('connection'), before + 2, "listen()'s own tracking listener, and ours");
  });

  test('attach() to an http2 server with allowHTTP1: HTTP/1.1 upgrades are served, its HTTP/2 sessions left alone', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const h2 = createHttp2SecureServer({ cert: pair.cert, key: pair.key, allowHTTP1: true }, (request, response) => response.end(`page over ${request.httpVersion}`));
    const wss = attachedServer(t, { path: '/ws', handshakeTimeout: 200, onConnection: () => ({ ...echo }) });
    wss.attach(h2);
    const port = await listen(t, h2);
    const ws = await wssClient(t, `wss://127.0.0.1:${port}/ws`, pair.cert, 'a wss client of the http2 server');
    await echoes(ws, 'over http2 allowHTTP1');
    const session = http2Connect(`https://127.0.0.1:${port}`, { ca: pair.cert });
    t.after(() => session.destroy());
    session.on('error', () => {});
    const get = (): Promise<string> =>
      withTimeout(
        new Promise<string>((resolve, reject) => {
          const stream = session.request({ ':path': '/' });
          let body = '';
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => (body += chunk));
          stream.on('end', () => resolve(body));
          stream.on('error', reject);
        }),
        'an HTTP/2 request',
      );
    assert.equal(await get(), 'page over 2.0');
    // Past the WebSocket handshake timeout, the HTTP/2 session still works: sockwave never took it.
    await sleep(500);
    assert.equal(await get(), 'page over 2.0');
  });
});
