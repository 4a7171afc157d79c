/**
 * connect(): what one handshake leaves behind once it has settled, opened or failed — no timer, no
 * listener on the caller's signal, no listener of its own on the socket the connection keeps, and
 * no socket left open by a failure.
 */
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect, HandshakeError, SockwaveError, tryConnect, WebSocketServer, type ClientOptions } from '../../src/index.js';
import { describeSocketError } from '../../src/client/connect.js';
import { closedPort, startRawWsServer, startSilentServer, withTimeout } from '../support/net.js';

/** Timers pending in this process (a connection, once open, holds none). */
function pendingTimeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

/** Resolves once `socket` has closed. */
function closeOf(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** A TCP server that calls `answer` with each socket once its request arrives; closed after the test. */
async function startAnswering(
  t: TestContext,
  answer: (socket: Socket) => void,
): Promise<{ port: number; sockets: Socket[]; onRequest?: (head: string) => void }> {
  const sockets: Socket[] = [];
  const result: { port: number; sockets: Socket[]; onRequest?: (head: string) => void } = { port: 0, sockets };
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      result.onRequest?.(chunk.toString('latin1'));
      answer(socket);
    });
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the answering server to listen');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 'the answering server to close');
  });
  result.port = (server.address() as AddressInfo).port;
  return result;
}

/** What connect() settles with (no time limit of its own: a handshake that never settles fails the test). */
function settle(port: number, label: string): Promise<unknown> {
  return withTimeout(
    connect(`ws://127.0.0.1:${port}/`, { connectTimeout: 0, proxy: false }).then(
      (conn) => {
        conn.terminate();
        return conn;
      },
      (caught: unknown) => caught,
    ),
    label,
  );
}

test('a client with every option given as undefined connects and talks as one given none', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, onConnection: () => ({ onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }) }) });
  const info = await server.listen();
  t.after(() => server.close({ timeout: 100 }));
  // (Typed so that an option added later and left out here fails to compile.)
  const none: { [K in keyof Required<ClientOptions>]: undefined } = {
    protocols: undefined, headers: undefined, origin: undefined, maxPayload: undefined, connectTimeout: undefined, autoPong: undefined,
    closeTimeout: undefined, highWaterMark: undefined, tls: undefined, proxyTls: undefined, perMessageDeflate: undefined, handler: undefined,
    data: undefined, signal: undefined, proxy: undefined, socketPath: undefined, maxRedirects: undefined,
  };
  const client = await connect(info.url, none);
  t.after(() => client.terminate());
  // The defaults hold: permessage-deflate offered (and taken), no subprotocol.
  assert.match(client.extensions, /^permessage-deflate/);
  assert.equal(client.protocol, '');
  client.send(Buffer.from([1, 2, 3]));
  assert.deepEqual(await client.nextMessage({ timeout: 5000 }), { data: Buffer.from([1, 2, 3]), isBinary: true });
});

test('an open connection keeps nothing of its handshake: no timer, no listener on the signal, only its own listeners on the socket', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const { url } = await withTimeout(server.listen(), 'the server to listen');
  t.after(() => withTimeout(server.close({ timeout: 500 }), 'the server to close'));
  const controller = new AbortController();
  const before = pendingTimeouts();
  const conn = await withTimeout(connect(`${url}/`, { signal: controller.signal, proxy: false }), 'the connection');
  t.after(() => conn.terminate());
  assert.equal(pendingTimeouts(), before, 'the handshake timer is still pending');
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the handshake still listens to the signal');
  // A ws:// connection reads through the shared buffer: no 'data' listener; one each for error and close.
  const socket = (conn as unknown as { socket: Socket }).socket;
  assert.deepEqual(
    ['data', 'error', 'close'].map((event) => [event, socket.listenerCount(event)]),
    [
      ['data', 0],
      ['error', 1],
      ['close', 1],
    ],
  );
});

test('a refusal whose body comes after its head: rejected with the status, then no timer, no listener on the signal, and the socket closed', async (t) => {
  const refusal = await startAnswering(t, (socket) => {
    socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nhello');
    setTimeout(() => socket.write('world'), 20);
  });
  const controller = new AbortController();
  const before = pendingTimeouts();
  const error = await withTimeout(
    connect(`ws://127.0.0.1:${refusal.port}/`, { signal: controller.signal, proxy: false }).catch((caught: unknown) => caught),
    'the refusal',
  );
  assert.ok(error instanceof HandshakeError && error.status === 403, String(error));
  assert.equal(error.body, 'helloworld', 'the body that came after the head');
  assert.equal(pendingTimeouts(), before, 'a timer of the handshake (its deadline, or the wait for the body) is still pending');
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the failed handshake still listens to the signal');
  assert.equal(refusal.sockets.length, 1);
  await withTimeout(closeOf(refusal.sockets[0]!), 'the client to close its socket after the refusal');
});

test('connectTimeout: the socket of a handshake that timed out is closed', async (t) => {
  const silent = await startSilentServer();
  t.after(() => silent.close());
  const error = await withTimeout(
    connect(`ws://127.0.0.1:${silent.port}/`, { connectTimeout: 100, proxy: false }).catch((caught: unknown) => caught),
    'the timeout',
  );
  assert.ok(error instanceof SockwaveError && error.code === 'SW_HANDSHAKE_TIMEOUT', String(error));
  const serverSide = await silent.sockets.next('the connection at the server');
  await withTimeout(closeOf(serverSide), 'the client to close its socket at the timeout');
});

test('an abort while the TLS handshake waits stops the dial: rejected with SW_ABORTED, and the socket is closed', async (t) => {
  // wss:// to a TCP server that never answers the ClientHello: only the abort ends the wait.
  const silent = await startSilentServer();
  t.after(() => silent.close());
  const controller = new AbortController();
  const pending = connect(`wss://127.0.0.1:${silent.port}/`, { signal: controller.signal, proxy: false, connectTimeout: 0 }).catch((caught: unknown) => caught);
  const serverSide = await silent.sockets.next('the connection at the server');
  controller.abort();
  const error = await withTimeout(pending, 'the abort');
  assert.ok(error instanceof SockwaveError && error.code === 'SW_ABORTED', String(error));
  await withTimeout(closeOf(serverSide), 'the client to close its socket at the abort');
});

test('a reset during the handshake rejects with the reset (SW_SOCKET_ERROR), not as a plain close', async (t) => {
  const server = await startAnswering(t, (socket) => socket.resetAndDestroy());
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, /connection reset by the server/);
});

test('a server that closes without answering: rejected at once with SW_SOCKET_ERROR (no deadline needed)', async (t) => {
  const server = await startAnswering(t, (socket) => socket.end());
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, /closed the connection during the handshake/);
});

test('a refusal whose body ends with the connection (no Content-Length) is reported with its status and body', async (t) => {
  const server = await startAnswering(t, (socket) => socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\ngo away'));
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof HandshakeError && error.status === 403, String(error));
  assert.equal(error.body, 'go away');
});

test('a refusal whose body never completes is reported once the body wait is over, while the socket stays open', async (t) => {
  const server = await startAnswering(t, (socket) => socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nhello'));
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof HandshakeError && error.status === 403, String(error));
  assert.equal(error.body, 'hello');
});

test('an answer that is not HTTP rejects with HandshakeError at once, while the socket stays open', async (t) => {
  const server = await startAnswering(t, (socket) => socket.write('nonsense\r\nno colon here\r\n\r\n'));
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof HandshakeError, String(error));
});

test('a response head over 64 KiB rejects with HandshakeError (too large), while the socket stays open', async (t) => {
  const server = await startAnswering(t, (socket) => socket.write(`HTTP/1.1 101 Switching Protocols\r\nX-Filler: ${'a'.repeat(70 * 1024)}`));
  const error = await settle(server.port, 'the rejection');
  assert.ok(error instanceof HandshakeError, String(error));
  assert.match(error.message, /too large/);
});

test('a negotiated permessage-deflate is used: a compressed message from the server arrives', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  const text = 'compress me '.repeat(200);
  server.on('connection', (conn) => conn.send(text));
  const { url } = await withTimeout(server.listen(), 'the server to listen');
  t.after(() => withTimeout(server.close({ timeout: 500 }), 'the server to close'));
  const conn = await withTimeout(connect(`${url}/`, { perMessageDeflate: true, proxy: false }), 'the connection');
  t.after(() => conn.terminate());
  assert.match(conn.extensions, /permessage-deflate/);
  const message = await withTimeout(conn.nextMessage(), 'the compressed message');
  assert.equal(message.data, text);
});

test('maxRedirects: an answer that is no redirect (a 403, even with a Location) is final: one request, rejected with its status', async (t) => {
  const paths: string[] = [];
  const server = await startAnswering(t, (socket) => socket.end('HTTP/1.1 403 Forbidden\r\nLocation: /elsewhere\r\nContent-Length: 4\r\n\r\nnope'));
  server.onRequest = (head) => paths.push(head.split(' ')[1] ?? '');
  const error = await withTimeout(
    connect(`ws://127.0.0.1:${server.port}/first`, { maxRedirects: 3, proxy: false }).catch((caught: unknown) => caught),
    'the refusal',
  );
  assert.ok(error instanceof HandshakeError && error.status === 403, String(error));
  assert.deepEqual(paths, ['/first']);
});

test('a 101 is taken at once: with no connectTimeout, the handshake sets no timer (it waits for no body)', async (t) => {
  const raw = await startRawWsServer();
  t.after(() => raw.close());
  const delays: unknown[] = [];
  const realSetTimeout = globalThis.setTimeout;
  const spy = t.mock.method(globalThis, 'setTimeout', (...args: Parameters<typeof setTimeout>) => {
    delays.push(args[1]);
    return realSetTimeout(...args);
  });
  const conn = await connect(`${raw.url}/`, { connectTimeout: 0, proxy: false, perMessageDeflate: false });
  spy.mock.restore();
  t.after(() => conn.terminate());
  assert.equal(conn.status, 'open');
  assert.deepEqual(delays, [], 'timers set during the handshake');
});

test('describeSocketError: TLS failures are named as such (by code or message), other errors keep their message', () => {
  const error = (code: string | undefined, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });
  assert.equal(describeSocketError(error('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')), 'connection refused');
  assert.equal(describeSocketError(error('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid')), 'host not found');
  assert.equal(describeSocketError(error('EAI_AGAIN', 'getaddrinfo EAI_AGAIN nowhere.invalid')), 'host not found');
  assert.equal(describeSocketError(error('ECONNRESET', 'read ECONNRESET')), 'connection reset by the server');
  assert.equal(describeSocketError(error('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:80')), 'connection timed out');
  assert.equal(describeSocketError(error('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:80')), 'host unreachable');
  assert.equal(describeSocketError(error('ENETUNREACH', 'connect ENETUNREACH 10.0.0.1:80')), 'host unreachable');
  assert.equal(describeSocketError(error('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames\n")), "TLS error: Hostname/IP does not match certificate's altnames");
  assert.equal(describeSocketError(error(undefined, 'self-signed certificate')), 'TLS error: self-signed certificate');
  const openssl = (reason: string): string => `80FC1E5D:error:0A00010B:SSL routines:${reason}:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n`;
  assert.equal(describeSocketError(error('ERR_SSL_WRONG_VERSION_NUMBER', openssl('ssl3_get_record:wrong version number'))), 'TLS error: the server does not speak TLS on this port (a ws:// server?)');
  assert.equal(describeSocketError(error('ERR_SSL_PACKET_LENGTH_TOO_LONG', openssl('ssl3_get_record:packet length too long'))), 'TLS error: the server does not speak TLS on this port (a ws:// server?)');
  assert.equal(describeSocketError(error('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', openssl('ssl3_read_bytes:tlsv13 alert certificate required'))), 'TLS error: the server requires a client certificate (tls.cert and .key)');
  assert.equal(describeSocketError(error('EPIPE', 'write EPIPE\n')), 'write EPIPE');
  assert.equal(describeSocketError(error(undefined, 'something else')), 'something else');
});

/** A refusal head of exactly `size` bytes (blank line included), padded with a header. */
function refusalHead(size: number): string {
  const start = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nX-Filler: ';
  return `${start}${'a'.repeat(size - start.length - 4)}\r\n\r\n`;
}

test('the response head may take 64 KiB exactly; one byte more is too large', async (t) => {
  for (const [size, expected] of [
    [64 * 1024, 403],
    [64 * 1024 + 1, 0],
  ] as const) {
    const server = await startAnswering(t, (socket) => socket.write(refusalHead(size)));
    const error = await settle(server.port, `the answer to a head of ${size} bytes`);
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, expected, `a head of ${size} bytes: ${error.message}`);
  }
});

test('a refusal reports the first 1024 bytes of its body', async (t) => {
  const body = 'b'.repeat(2000);
  const server = await startAnswering(t, (socket) => socket.write(`HTTP/1.1 403 Forbidden\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  const error = await settle(server.port, 'the refusal');
  assert.ok(error instanceof HandshakeError && error.status === 403, String(error));
  assert.equal(error.body.replace(/[^b]/g, ''), 'b'.repeat(1024));
});

test('connectTimeout 1 is a limit of 1 ms (not none): a silent server times out', async (t) => {
  const silent = await startSilentServer();
  t.after(() => silent.close());
  const error = await withTimeout(
    connect(`ws://127.0.0.1:${silent.port}/`, { connectTimeout: 1, proxy: false }).catch((caught: unknown) => caught),
    'the timeout',
  );
  assert.ok(error instanceof SockwaveError && error.code === 'SW_HANDSHAKE_TIMEOUT', String(error));
});

test('a refusal names the URL that answered (after a redirect, the last one), in the message, as url, and as tryConnect\'s uri; each Set-Cookie line is kept in rawHeaders', async (t) => {
  const requests: string[] = [];
  const server = await startAnswering(t, (socket) =>
    socket.end(
      /^GET \/next/.test(requests.at(-1) ?? '')
        ? 'HTTP/1.1 401 Unauthorized\r\nSet-Cookie: a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\nContent-Length: 0\r\n\r\n'
        : 'HTTP/1.1 307 Elsewhere\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n',
    ),
  );
  server.onRequest = (head) => void requests.push(head);
  const first = `ws://127.0.0.1:${server.port}/first`;
  const next = `ws://127.0.0.1:${server.port}/next`;
  const error = await withTimeout(connect(first, { maxRedirects: 1, proxy: false }).catch((caught: unknown) => caught), 'the refusal');
  assert.ok(error instanceof HandshakeError && error.status === 401, String(error));
  assert.equal(error.message, `unexpected server response: 401 Unauthorized (${next})`);
  assert.equal(error.url, next);
  assert.deepEqual(
    error.rawHeaders.filter(([name]) => name === 'set-cookie').map(([, value]) => value),
    ['a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/', 'b=2; HttpOnly'],
  );
  const result = await withTimeout(tryConnect(first, { maxRedirects: 1, proxy: false }), 'tryConnect');
  assert.deepEqual([result.success, result.status, result.uri], [false, 401, next]);
  const direct = await withTimeout(connect(next, { proxy: false }).catch((caught: unknown) => caught), 'the refusal without redirect');
  assert.ok(direct instanceof HandshakeError && direct.url === next && direct.message.endsWith(`(${next})`), String(direct));
});

test("a 101's Set-Cookie lines (a load balancer's sticky cookie, say) stay apart in connection.rawHeaders and tryConnect's rawHeaders", async (t) => {
  const cookies = ['AWSALB=abc; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/', 'session=xyz; HttpOnly'];
  const raw = await startRawWsServer(Buffer.alloc(0), { headers: cookies.map((cookie) => `Set-Cookie: ${cookie}`) });
  t.after(() => raw.close());
  const setCookies = (lines: ReadonlyArray<readonly [string, string]>): string[] => lines.filter(([name]) => name === 'set-cookie').map(([, value]) => value);
  const conn = await withTimeout(connect(`${raw.url}/`, { proxy: false }), 'the connection');
  t.after(() => conn.terminate());
  assert.deepEqual(setCookies(conn.rawHeaders), cookies);
  const result = await withTimeout(tryConnect(`${raw.url}/`, { proxy: false }), 'tryConnect');
  assert.ok(result.success);
  t.after(() => result.connection.terminate());
  assert.deepEqual(setCookies(result.rawHeaders), cookies);
});

test('maxRedirects: 301, 302, 303, 307 and 308 are followed; 300, 304, 306 and 309 are not', async (t) => {
  for (const [status, followed] of [
    [301, true],
    [302, true],
    [303, true],
    [307, true],
    [308, true],
    [300, false],
    [304, false],
    [306, false],
    [309, false],
  ] as const) {
    const paths: string[] = [];
    const server = await startAnswering(t, (socket) =>
      socket.end(paths.length === 1 ? `HTTP/1.1 ${status} Elsewhere\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n` : 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
    );
    server.onRequest = (head) => paths.push(head.split(' ')[1] ?? '');
    const error = await withTimeout(
      connect(`ws://127.0.0.1:${server.port}/first`, { maxRedirects: 1, proxy: false }).catch((caught: unknown) => caught),
      `the answer after a ${status}`,
    );
    assert.ok(error instanceof HandshakeError, String(error));
    assert.deepEqual([error.status, paths], followed ? [403, ['/first', '/next']] : [status, ['/first']], `status ${status}`);
  }
});

test('maxPayload 0 is a limit of 0 bytes (not the default): a one-byte message closes the connection with 1009', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (conn) => conn.send('x'));
  const { url } = await withTimeout(server.listen(), 'the server to listen');
  t.after(() => withTimeout(server.close({ timeout: 500 }), 'the server to close'));
  const conn = await withTimeout(connect(`${url}/`, { maxPayload: 0, proxy: false }), 'the connection');
  t.after(() => conn.terminate());
  const messages: unknown[] = [];
  conn.on('message', (data) => messages.push(data));
  const code = await withTimeout(new Promise<number>((resolve) => conn.once('close', (info) => resolve(info.code))), 'the close');
  assert.equal(code, 1009);
  assert.deepEqual(messages, []);
});

test('a response head that arrives one byte first, then the rest, is read whole', async (t) => {
  const server = await startAnswering(t, (socket) => {
    socket.write('H');
    setTimeout(() => socket.write('TTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno'), 20);
  });
  const error = await settle(server.port, 'the refusal');
  assert.ok(error instanceof HandshakeError, String(error));
  assert.deepEqual([error.status, error.body], [403, 'no']);
});

test('a 200, or a status under 100 (099), is a final answer, not an interim one: rejected with its status at once', async (t) => {
  for (const [line, status] of [
    ['200 OK', 200],
    ['099 Odd', 99],
  ] as const) {
    const server = await startAnswering(t, (socket) => socket.write(`HTTP/1.1 ${line}\r\nContent-Length: 2\r\n\r\nok`));
    const error = await settle(server.port, `the answer ${line}`);
    assert.ok(error instanceof HandshakeError, String(error));
    assert.deepEqual([error.status, error.body], [status, 'ok']);
  }
});

test('interim answers, 100 to 199 (101 apart), are skipped: the final answer after them counts', async (t) => {
  const server = await startAnswering(t, (socket) =>
    socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 199 Interim\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno'),
  );
  const error = await settle(server.port, 'the refusal');
  assert.ok(error instanceof HandshakeError, String(error));
  assert.deepEqual([error.status, error.body], [403, 'no']);
});

test('one byte of a frame written together with the 101 is kept: the message it starts arrives whole', async (t) => {
  const raw = await startRawWsServer(Buffer.from([0x81]));
  t.after(() => raw.close());
  const conn = await withTimeout(connect(`${raw.url}/`, { proxy: false, perMessageDeflate: false }), 'the connection');
  t.after(() => conn.terminate());
  const socket = await raw.sockets.next('the server side');
  socket.write(Buffer.concat([Buffer.from([0x02]), Buffer.from('hi')]));
  const message = await withTimeout(conn.nextMessage(), 'the message');
  assert.equal(message.data, 'hi');
});

test('a proxy that cannot be reached: the error names the proxy and, once, the URL', async () => {
  const proxyPort = await closedPort();
  const url = 'ws://127.0.0.1:9/target';
  const error = await withTimeout(connect(url, { proxy: `http://127.0.0.1:${proxyPort}` }).catch((caught: unknown) => caught), 'the failure');
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, new RegExp(`proxy 127\\.0\\.0\\.1:${proxyPort}`));
  assert.equal(error.message.split(url).length - 1, 1, error.message);
});

test('a Data type without undefined: connect() and tryConnect() without data do not compile, and would leave connection.data undefined', async (t) => {
  const server = new WebSocketServer();
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${port}/`;
  interface Token {
    token: string;
  }
  const given = await connect(url, { data: { token: 'a' } });
  const declared = await connect<Token>(url, { data: { token: 'b' }, connectTimeout: 1000 });
  const tried = await tryConnect<Token>(url, { data: { token: 'c' } });
  const optional = await connect<Token | undefined>(url);
  const plain = await connect(url, { connectTimeout: 1000 });
  // Each of these compiled before `data` was required; at runtime they open with no data.
  // @ts-expect-error no options, so no data
  const bare = await connect<Token>(url);
  // @ts-expect-error options without data
  const withoutData = await connect<Token>(url, { connectTimeout: 1000 });
  // @ts-expect-error tryConnect() the same
  const triedBare = await tryConnect<Token>(url);
  const all = [given, declared, optional, plain, bare, withoutData];
  if (tried.success) all.push(tried.connection);
  if (triedBare.success) all.push(triedBare.connection);
  t.after(() => all.forEach((connection) => connection.terminate()));
  const tokens: string[] = [given.data.token, declared.data.token, tried.success ? tried.connection.data.token : 'failed'];
  assert.deepEqual(tokens, ['a', 'b', 'c']);
  const plainData: unknown = plain.data;
  assert.deepEqual([optional.data, plainData], [undefined, undefined]);
  assert.deepEqual([bare.data, withoutData.data, triedBare.success && triedBare.connection.data], [undefined, undefined, undefined], 'what the type check keeps out');
});
