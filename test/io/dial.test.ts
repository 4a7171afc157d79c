import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { connect, HandshakeError, SockwaveError, WebSocketServer, type Connection } from '../../src/index.js';
import { lendsReads } from '../../src/io/socket-events.js';
import { dial } from '../../src/io/dial.js';
import { selfSignedCertificate } from '../interop/support/tls.js';
import { startProxy } from '../support/proxy.js';
import { acceptFor, deferred, withTimeout } from '../support/net.js';
import { closeBody, serverFrame } from '../support/frames.js';
import { Opcode } from '../../src/protocol/opcodes.js';

/** Which client sockets read into the shared buffer, and what that must not change. */

function socketOf(conn: Connection<unknown>): Socket {
  return (conn as unknown as { socket: Socket }).socket;
}

/** What the server sends on connection `index`: every size class the client's parser treats apart. */
function burst(index: number): { data: Buffer | string; fragmentSize?: number }[] {
  const bytes = (length: number, salt: number): Buffer => {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = (i * 7 + index * 13 + salt) & 0xff;
    return out;
  };
  return [
    { data: bytes(10, 1) },
    { data: `text ${index}: ${'é'.repeat(50)}` },
    { data: bytes(1000, 2) },
    { data: bytes(40 * 1024, 3) },
    { data: bytes(100 * 1024, 4) },
    { data: bytes(3000, 5), fragmentSize: 700 },
    { data: `fragmented text ${index} ${'ü'.repeat(400)}`, fragmentSize: 100 },
    { data: bytes(5, 6) },
  ];
}

async function burstServer(t: TestContext, tls?: { cert: string; key: string }): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) });
  server.route('/burst', (request) => {
    const index = Number(request.query.get('i'));
    return {
      onOpen(conn) {
        for (const { data, fragmentSize } of burst(index)) conn.send(data, { binary: typeof data !== 'string', ...(fragmentSize ? { fragmentSize } : {}) });
      },
    };
  });
  const info = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  return `${info.url}/burst`;
}

test('a ws:// client reads into the shared buffer; what many connections receive at once stays intact after later reads', async (t) => {
  const url = await burstServer(t);
  const count = 8;
  const received: (Buffer | string)[][] = Array.from({ length: count }, () => []);
  const done = deferred<void>();
  let left = count * burst(0).length;
  const conns = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      connect(`${url}?i=${i}`, {
        handler: {
          onMessage(_conn, data) {
            received[i]!.push(data);
            if (--left === 0) done.resolve();
          },
        },
      }),
    ),
  );
  t.after(() => conns.forEach((conn) => conn.terminate()));
  for (const conn of conns) assert.equal(lendsReads(socketOf(conn)), true);
  await withTimeout(done.promise, 'every burst');
  // Checked only now, after every connection's reads went through the same buffer.
  for (let i = 0; i < count; i++) {
    assert.deepEqual(
      received[i],
      burst(i).map(({ data }) => data),
      `connection ${i}`,
    );
  }
});

test('wss:// and proxied clients read through their socket stream, and receive the same', async (t) => {
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const secureUrl = await burstServer(t, pem);
  const plainUrl = await burstServer(t);
  const proxy = await startProxy(t);
  for (const [url, options] of [
    [`${secureUrl}?i=1`, { tls: { ca: pem.cert } }],
    [`${plainUrl}?i=2`, { proxy: proxy.url }],
  ] as const) {
    const messages: (Buffer | string)[] = [];
    const done = deferred<void>();
    const conn = await connect(url, {
      ...options,
      handler: {
        onMessage(_conn, data) {
          if (messages.push(data) === burst(0).length) done.resolve();
        },
      },
    });
    t.after(() => conn.terminate());
    assert.equal(lendsReads(socketOf(conn)), false, url);
    await withTimeout(done.promise, `the burst from ${url}`);
    assert.deepEqual(
      messages,
      burst(Number(url.slice(-1))).map(({ data }) => data),
      url,
    );
  }
});

test('a paused ws:// connection still sees the server go away (its FIN is read, as a stream reads on while paused)', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const serverSide = deferred<Connection<unknown>>();
  server.route('/', () => ({ onOpen: (conn) => serverSide.resolve(conn) }));
  const info = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  const client = await connect(`${info.url}/`);
  t.after(() => client.terminate());
  assert.equal(lendsReads(socketOf(client)), true);
  const closed = deferred<number>();
  client.on('close', (event) => closed.resolve(event.code));
  client.pause();
  (await withTimeout(serverSide.promise, 'the server side')).terminate();
  assert.equal(await withTimeout(closed.promise, "the client's close while paused"), 1006);
});

test('the frames that come with the 101 are delivered before a FIN read in the same poll (they fill the first 64 KiB read)', async (t) => {
  let fillerLength = 0;
  const server = createServer((socket) => {
    socket.once('data', (request: Buffer) => {
      const key = /sec-websocket-key:\s*(\S+)/i.exec(request.toString('latin1'))?.[1] ?? '';
      const head = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`, 'latin1');
      const hello = serverFrame({ opcode: Opcode.Text, payload: 'hello' });
      const close = serverFrame({ opcode: Opcode.Close, payload: closeBody(1001, 'gone') });
      // A binary frame that makes the whole answer exactly 64 KiB (a 4-byte header: 126 ≤ size < 65536).
      fillerLength = 64 * 1024 - head.length - hello.length - close.length - 4;
      const filler = serverFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(fillerLength, 7) });
      const answer = Buffer.concat([head, hello, filler, close]);
      assert.equal(answer.length, 64 * 1024);
      socket.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const client = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  t.after(() => client.terminate());
  const received: (string | number)[] = [];
  client.on('message', (data) => received.push(typeof data === 'string' ? data : data.length));
  const closed = deferred<{ code: number; reason: string }>();
  client.on('close', (event) => closed.resolve({ code: event.code, reason: event.reason }));
  assert.deepEqual(await withTimeout(closed.promise, 'the close'), { code: 1001, reason: 'gone' });
  assert.deepEqual(received, ['hello', fillerLength]);
});

/** Abort listeners on `signal` (node:events reads them off an EventTarget). */
function listenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** A TCP server that accepts and never answers; `accepted` counts its connections. */
async function silentServer(t: TestContext): Promise<{ port: number; accepted: () => number; firstSocket: Promise<Socket> }> {
  let count = 0;
  const first = deferred<Socket>();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
    first.resolve(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => count, firstSocket: first.promise };
}

test('dial() with a signal aborted before it starts rejects with SW_ABORTED, and hands out no socket', async (t) => {
  const { port } = await silentServer(t);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(dial({ host: '127.0.0.1', port, secure: false }, controller.signal), (error: unknown) => (error as { code?: string }).code === 'SW_ABORTED');
});

test('dial() aborted while the TLS handshake waits rejects with SW_ABORTED and destroys the socket; the signal keeps no listener', async (t) => {
  // wss:// to a TCP server that never answers the ClientHello: only the abort can end the wait.
  const { port, firstSocket } = await silentServer(t);
  const controller = new AbortController();
  const listeners = (): number => listenerCount(controller.signal);
  const dialing = dial({ host: '127.0.0.1', port, secure: true }, controller.signal);
  const serverSide = await withTimeout(firstSocket, 'the TCP connection at the server');
  assert.equal(listeners(), 1, 'one abort listener while waiting');
  const closed = new Promise<void>((resolve) => serverSide.once('close', () => resolve()));
  controller.abort();
  await assert.rejects(dialing, (error: unknown) => (error as { code?: string }).code === 'SW_ABORTED');
  await withTimeout(closed, 'the server side to see the socket closed');
  assert.equal(listeners(), 0, 'no abort listener left behind');
});

test('dial() that succeeds leaves no listener of its own: none on the signal, none for connect or error on the socket', async (t) => {
  const { port } = await silentServer(t);
  const controller = new AbortController();
  const socket = await dial({ host: '127.0.0.1', port, secure: false }, controller.signal);
  t.after(() => socket.destroy());
  assert.equal(listenerCount(controller.signal), 0);
  assert.equal(socket.listenerCount('connect'), 0);
  assert.equal(socket.listenerCount('error'), 0, "the connection's own error handling is added later, by the connection");
});

/** A fake HTTP proxy: `answer` gets each socket once its CONNECT request arrives; `sockets` are the proxy's sides. */
async function fakeProxy(t: TestContext, answer: (socket: Socket) => void): Promise<{ url: URL; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('data', () => answer(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), sockets };
}

/** dial() to a made-up target through `proxy`, settled: the socket, or what it rejected with. */
function dialThrough(proxy: URL, signal: AbortSignal = new AbortController().signal): Promise<Socket | Error> {
  return withTimeout(
    dial({ host: '127.0.0.1', port: 9, secure: false, proxy }, signal).catch((caught: unknown) => caught as Error),
    'dial() through the proxy',
  );
}

function closeOf(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

test('dial() through a proxy leaves no listener of its own: none on the signal, none for data, error or close on the socket', async (t) => {
  const proxy = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 200 Connection established\r\n\r\n'));
  const controller = new AbortController();
  const socket = await dialThrough(proxy.url, controller.signal);
  assert.ok(!(socket instanceof Error), String(socket));
  t.after(() => socket.destroy());
  assert.equal(listenerCount(controller.signal), 0);
  assert.deepEqual(
    ['data', 'error', 'close'].map((event) => [event, socket.listenerCount(event)]),
    [
      ['data', 0],
      ['error', 0],
      ['close', 0],
    ],
  );
});

test("a proxy answer split across reads opens the tunnel, and the bytes after it are the tunnel's first", async (t) => {
  const proxy = await fakeProxy(t, (socket) => {
    socket.write('HTTP/1.1 200 Connection established\r\n');
    setTimeout(() => socket.write('\r\nAFTER'), 20);
  });
  const socket = await dialThrough(proxy.url);
  assert.ok(!(socket instanceof Error), String(socket));
  t.after(() => socket.destroy());
  const data = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  socket.resume();
  const first = await withTimeout(data, 'the first tunnel bytes');
  assert.equal(first, 'AFTER');
});

test('a proxy answer head over 16 KiB is refused as too large', async (t) => {
  const proxy = await fakeProxy(t, (socket) => socket.write(`HTTP/1.1 200 Connection established\r\nX-Filler: ${'a'.repeat(17 * 1024)}`));
  const error = await dialThrough(proxy.url);
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, /too large/);
});

test('a proxy that refuses the tunnel: rejected with its status and headers, and the socket to the proxy is closed', async (t) => {
  const proxy = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nX-Policy: no tunnels\r\n\r\n'));
  const error = await dialThrough(proxy.url);
  assert.ok(error instanceof HandshakeError && error.code === 'SW_PROXY_REFUSED', String(error));
  assert.match(error.message, /refused the tunnel: 403 Forbidden/);
  assert.equal(error.status, 403);
  assert.equal(error.headers['x-policy'], 'no tunnels');
  await withTimeout(closeOf(proxy.sockets[0]!), 'the client to close its socket to the proxy');
});

test('a proxy that resets before answering rejects with the reset; one that closes, with SW_SOCKET_ERROR', async (t) => {
  const resetting = await fakeProxy(t, (socket) => socket.resetAndDestroy());
  const reset = await dialThrough(resetting.url);
  assert.ok(reset instanceof Error && (reset as NodeJS.ErrnoException).code === 'ECONNRESET', String(reset));
  const closing = await fakeProxy(t, (socket) => socket.end());
  const closed = await dialThrough(closing.url);
  assert.ok(closed instanceof SockwaveError && closed.code === 'SW_SOCKET_ERROR', String(closed));
  assert.match(closed.message, /the proxy closed the connection/);
});

test('dial() through a proxy: a signal aborted before, or while the proxy has not answered, rejects with SW_ABORTED and closes the socket', async (t) => {
  const proxy = await fakeProxy(t, () => {});
  const early = await dialThrough(proxy.url, AbortSignal.abort());
  assert.ok(early instanceof SockwaveError && early.code === 'SW_ABORTED', String(early));
  const controller = new AbortController();
  const pending = dialThrough(proxy.url, controller.signal);
  await withTimeout((async () => { while (proxy.sockets.length === 0) await new Promise((resolve) => setTimeout(resolve, 5)); })(), 'the CONNECT at the proxy');
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort();
  const error = await pending;
  assert.ok(error instanceof SockwaveError && error.code === 'SW_ABORTED', String(error));
  await withTimeout(closeOf(proxy.sockets[0]!), 'the client to close its socket to the proxy');
});

test('a proxy answer head of 16 KiB exactly opens the tunnel; one byte more is too large', async (t) => {
  const head = (size: number): string => {
    const start = 'HTTP/1.1 200 Connection established\r\nX-Filler: ';
    return `${start}${'a'.repeat(size - start.length - 4)}\r\n\r\n`;
  };
  const fits = await fakeProxy(t, (socket) => socket.write(head(16 * 1024)));
  const socket = await dialThrough(fits.url);
  assert.ok(!(socket instanceof Error), String(socket));
  socket.destroy();
  const over = await fakeProxy(t, (socket) => socket.write(head(16 * 1024 + 1)));
  const error = await dialThrough(over.url);
  assert.ok(error instanceof SockwaveError && /too large/.test(error.message), String(error));
});

test('a proxy answer that is not HTTP, or a status under 100 (099), refuses the tunnel; 100 and 199 are interim and skipped', async (t) => {
  for (const [answer, expected] of [
    ['nonsense\r\nno colon\r\n\r\n', /did not answer with HTTP/],
    ['HTTP/1.1 099 Odd\r\n\r\n', /refused the tunnel: 99 Odd/],
  ] as const) {
    const proxy = await fakeProxy(t, (socket) => socket.write(answer));
    const error = await dialThrough(proxy.url);
    assert.ok(error instanceof SockwaveError && expected.test(error.message), String(error));
  }
  const interim = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 199 Interim\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'));
  const socket = await dialThrough(interim.url);
  assert.ok(!(socket instanceof Error), String(socket));
  socket.destroy();
});

test('a proxy at an IPv6 address that cannot be reached is named in brackets', async () => {
  const error = await dialThrough(new URL('http://[::1]:9'));
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, /^the proxy \[::1\]:9 could not be reached/);
});

test('any 2xx from the proxy opens the tunnel (299 too); a 300 refuses it', async (t) => {
  for (const status of [201, 299]) {
    const proxy = await fakeProxy(t, (socket) => socket.write(`HTTP/1.1 ${status} Fine\r\n\r\n`));
    const socket = await dialThrough(proxy.url);
    assert.ok(!(socket instanceof Error), `${status}: ${String(socket)}`);
    socket.destroy();
  }
  const refusing = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 300 Choices\r\n\r\n'));
  const error = await dialThrough(refusing.url);
  assert.ok(error instanceof SockwaveError && /refused the tunnel: 300/.test(error.message), String(error));
});

/** A fake proxy that tunnels every CONNECT, whatever host it names, to 127.0.0.1:`port` (no DNS needed). */
function tunnelingProxy(t: TestContext, port: number): Promise<{ url: URL; sockets: Socket[] }> {
  return fakeProxy(t, (socket) => {
    const upstream = netConnect({ host: '127.0.0.1', port }, () => {
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    t.after(() => upstream.destroy());
  });
}

test('TLS to a host written with a trailing dot sends its name as SNI without the dot (RFC 6066 §3); a tls.servername given is sent as it is', async (t) => {
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const sni: string[] = [];
  const server = createTlsServer({ ...pem, SNICallback: (name, callback) => (sni.push(name), callback(null, undefined)) }, (socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const proxy = await tunnelingProxy(t, (server.address() as AddressInfo).port);
  const signal = new AbortController().signal;
  const dotted = await withTimeout(dial({ host: 'localhost.', port: 443, secure: true, tls: { ca: pem.cert }, proxy: proxy.url }, signal), 'TLS to localhost.');
  dotted.destroy();
  assert.deepEqual(sni, ['localhost'], 'SNI without the trailing dot (and the certificate for localhost verified)');
  const given = await withTimeout(dial({ host: 'localhost.', port: 443, secure: true, tls: { ca: pem.cert, servername: 'localhost.' }, proxy: proxy.url }, signal), 'TLS with servername localhost.');
  given.destroy();
  assert.deepEqual(sni, ['localhost', 'localhost.']);
});

test("a proxy's refusal carries the start of its body, where proxies explain it: by Content-Length, chunked, or up to the close; 1 KiB at most", async (t) => {
  const refuse = async (answer: string, close: boolean): Promise<HandshakeError> => {
    const proxy = await fakeProxy(t, (socket) => (close ? socket.end(answer) : socket.write(answer)));
    const error = await dialThrough(proxy.url);
    assert.ok(error instanceof HandshakeError && error.code === 'SW_PROXY_REFUSED', String(error));
    return error;
  };
  const sized = await refuse('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\nblocked by policy #1234', false);
  assert.equal(sized.body, 'blocked by policy #1234');
  assert.equal(sized.status, 403);
  assert.equal(sized.headers['content-type'], 'text/plain');
  const chunked = await refuse('HTTP/1.1 407 Proxy Authentication Required\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nlog in: \r\n4\r\nSSO!\r\n0\r\n\r\n', false);
  assert.equal(chunked.body, 'log in: SSO!');
  assert.equal((await refuse('HTTP/1.1 502 Bad Gateway\r\n\r\nno route to the target', true)).body, 'no route to the target');
  assert.equal((await refuse(`HTTP/1.1 403 Forbidden\r\nContent-Length: 3000\r\n\r\n${'é'.repeat(200)}${'x'.repeat(2600)}`, false)).body, `${'é'.repeat(200)}${'x'.repeat(624)}`);
  assert.equal((await refuse('HTTP/1.1 304 Not Modified\r\n\r\n', false)).body, '', 'a 304 has no body (RFC 9112 §6.3)');
});

test("a proxy's refusal whose body does not end is reported after a short wait, with what came of it; so is one whose proxy then fails", async (t) => {
  const open = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nthe start'));
  const waited = await dialThrough(open.url);
  assert.ok(waited instanceof HandshakeError && waited.code === 'SW_PROXY_REFUSED', String(waited));
  assert.equal(waited.body, 'the start');
  await withTimeout(closeOf(open.sockets[0]!), 'the client to close its socket to the proxy');
  const failing = await fakeProxy(t, (socket) => socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nthe start', () => socket.destroy()));
  const failed = await dialThrough(failing.url);
  assert.ok(failed instanceof HandshakeError && failed.code === 'SW_PROXY_REFUSED', String(failed));
  assert.equal(failed.body, 'the start');
});
