import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, HandshakeError, SockwaveError, tryConnect, WebSocketServer, type ListenInfo } from '../../src/index.js';
import { resolveProxy } from '../../src/io/proxy.js';
import { lendsReads } from '../../src/io/socket-events.js';
import { redirectHeaders } from '../../src/client/connect.js';
import { parseWebSocketUrl } from '../../src/client/url.js';
import { startProxy } from '../support/proxy.js';
import { acceptFor, closedPort, deferred, startServer, withTimeout } from '../support/net.js';
import { selfSignedCertificate } from '../interop/support/tls.js';

/** Client transport options: an HTTP CONNECT proxy (a real one, npm 'proxy'), Unix sockets, redirects. */

async function echoServer(t: { after(fn: () => unknown): void }, seen?: IncomingMessage[]): Promise<{ url: string; port: number; server: WebSocketServer }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.route('/echo', (request) => {
    seen?.push({ headers: request.headers } as IncomingMessage);
    return { onMessage: (conn, data, isBinary) => void conn.send(data, { binary: isBinary }) };
  });
  const info = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  return { url: `${info.url}/echo`, port: info.port, server };
}

/** The codes along an error's cause chain. */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let at = error; at instanceof Error && codes.length < 10; at = at.cause) codes.push(String((at as NodeJS.ErrnoException).code));
  return codes;
}

async function echo(url: string, options: Parameters<typeof connect>[1]): Promise<string> {
  const conn = await connect(url, options);
  const reply = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
    conn.once('message', (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
  });
  conn.send('through');
  const text = await reply;
  conn.close(1000);
  return text;
}

/** A wss:// echo server on /echo, with a throw-away self-signed certificate (`pem.cert` trusts it). */
async function wssEchoServer(t: TestContext): Promise<{ info: ListenInfo; pem: { cert: string; key: string } }> {
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, tls: pem });
  server.route('/echo', () => ({ onMessage: (conn, data, isBinary) => void conn.send(data, { binary: isBinary }) }));
  const info = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  return { info, pem };
}

test('connects to a wss:// server through a proxy: TLS to the server, inside the tunnel', async (t) => {
  const { info, pem } = await wssEchoServer(t);
  assert.ok(info.url.startsWith('wss://'), info.url);
  const proxy = await startProxy(t);
  assert.equal(await echo(`${info.url}/echo`, { proxy: proxy.url, tls: { ca: pem.cert } }), 'through');
  assert.deepEqual(proxy.tunnels, [`127.0.0.1:${info.port}`]);
});

test('TLS options given as undefined are left out, as if not given: Node refuses some present as undefined', async (t) => {
  const { info, pem } = await wssEchoServer(t);
  const tls = { ca: pem.cert, checkServerIdentity: undefined, minDHSize: undefined, minVersion: undefined, servername: undefined };
  assert.equal(await echo(`${info.url}/echo`, { tls }), 'through');
  // Still checked: without the CA the certificate is refused.
  await assert.rejects(connect(`${info.url}/echo`, { tls: { checkServerIdentity: undefined } }), (error: unknown) => causeCodes(error).includes('DEPTH_ZERO_SELF_SIGNED_CERT'));
});

test('connects through an HTTP CONNECT proxy given as an option, with and without credentials', async (t) => {
  const { url, port } = await echoServer(t);
  const open = await startProxy(t);
  assert.equal(await echo(url, { proxy: open.url }), 'through');
  assert.deepEqual(open.tunnels, [`127.0.0.1:${port}`]);

  const guarded = await startProxy(t, 'user:s3cret');
  assert.equal(await echo(url, { proxy: guarded.url }), 'through');
  assert.equal(guarded.tunnels.length, 1);
  const refused = await connect(url, { proxy: guarded.url.replace('s3cret', 'wrong') }).catch((error: unknown) => error);
  assert.ok(refused instanceof HandshakeError && refused.code === 'SW_PROXY_REFUSED' && /proxy refused the tunnel: 407/.test(refused.message), String(refused));
  assert.equal(refused.status, 407);
  assert.match(refused.headers['proxy-authenticate'] ?? '', /^Basic /, 'the challenge is passed on');
});

test("a proxy's redirect is not followed, even with maxRedirects: it answered CONNECT, not the WebSocket URL", async (t) => {
  const seen: IncomingMessage[] = [];
  const { url } = await echoServer(t, seen);
  const proxy = createServer();
  proxy.on('connect', (_request: IncomingMessage, socket: Socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${url}\r\nContent-Length: 0\r\n\r\n`));
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.after(() => proxy.close());
  const error = await connect('ws://127.0.0.1:9/', { proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, maxRedirects: 3 }).catch((caught: unknown) => caught);
  assert.ok(error instanceof HandshakeError && error.code === 'SW_PROXY_REFUSED', String(error));
  assert.equal(error.status, 302);
  assert.equal(seen.length, 0, 'the redirect was followed to the server');
});

test("a proxy's refusal keeps the start of its body in error.body, as a server's refusal does; tryConnect() reports it too", async (t) => {
  const proxy = createServer();
  proxy.on('connect', (_request: IncomingMessage, socket: Socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\nblocked by policy #1234'));
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.after(() => proxy.close());
  const options = { proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
  const error = await connect('ws://127.0.0.1:9/', options).catch((caught: unknown) => caught);
  assert.ok(error instanceof HandshakeError && error.code === 'SW_PROXY_REFUSED', String(error));
  assert.equal(error.body, 'blocked by policy #1234');
  const result = await tryConnect('ws://127.0.0.1:9/', options);
  assert.equal(result.status, 403);
  assert.equal(result.body, 'blocked by policy #1234');
});

test('proxy credentials: a literal % is sent as it is, and a password without a user is sent too', async (t) => {
  const { url } = await echoServer(t);
  for (const credentials of ['alice:50%off', ':s3cret']) {
    const guarded = await startProxy(t, credentials);
    assert.equal(await echo(url, { proxy: guarded.url }), 'through', credentials);
    assert.equal(guarded.tunnels.length, 1, credentials);
  }
});

test('a proxy that cannot be reached is named as the failure, not the server (which is up)', async (t) => {
  const { url } = await echoServer(t);
  const port = await closedPort();
  const error = await connect(url, { proxy: `http://user:s3cret@127.0.0.1:${port}` }).catch((caught: unknown) => caught);
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.match(error.message, new RegExp(`^the proxy 127\\.0\\.0\\.1:${port} could not be reached: .*ECONNREFUSED`));
  assert.doesNotMatch(error.message, /s3cret/);
  assert.ok(causeCodes(error).includes('ECONNREFUSED'), causeCodes(error).join(' < '));
});

test('an invalid URL is shown without its user and password, for the server and for a proxy', () => {
  assert.throws(() => connect('ws://bob:hunter2@127.0.0.1:99999/x'), (error: unknown) => error instanceof SyntaxError && error.message === 'invalid WebSocket URL: ws://***@127.0.0.1:99999/x');
  assert.throws(
    () => resolveProxy('x', 80, false, undefined, { HTTP_PROXY: 'http://proxyuser:pr0xyS3cret@[bad:1' }),
    (error: unknown) => error instanceof TypeError && error.message === 'HTTP_PROXY: not a valid proxy URL: http://***@[bad:1',
  );
});

test('an https:// proxy is verified with proxyTls (its own CA), not with tls (the server\'s)', async (t) => {
  const { url, port } = await echoServer(t);
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const proxy = await startProxy(t, undefined, pem);
  assert.match(proxy.url, /^https:/);
  // Without its CA the proxy's certificate is refused, and tls (meant for the server) does not count.
  for (const options of [{}, { tls: { ca: pem.cert } }]) {
    const refused = await connect(url, { proxy: proxy.url, ...options }).catch((error: unknown) => error);
    assert.ok(refused instanceof Error && /self[- ]signed|certificate/i.test(refused.message), String(refused));
  }
  assert.equal(proxy.tunnels.length, 0);
  assert.equal(await echo(url, { proxy: proxy.url, proxyTls: { ca: pem.cert } }), 'through');
  assert.deepEqual(proxy.tunnels, [`127.0.0.1:${port}`]);
});

test('TLS with an https:// proxy that fails is called a TLS error with the proxy, not a proxy that could not be reached (the message still starts with "the proxy ")', async (t) => {
  const { url } = await echoServer(t);
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const untrusted = await startProxy(t, undefined, pem);
  const plain = await startProxy(t);
  for (const [proxy, reason] of [
    [untrusted.url, /self[- ]signed/i],
    [plain.url.replace(/^http:/, 'https:'), /TLS error: it does not speak TLS on this port \(an http:\/\/ proxy\?\) \(ws:/],
  ] as const) {
    const error = await connect(url, { proxy }).catch((caught: unknown) => caught);
    assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
    const port = new URL(proxy).port;
    assert.match(error.message, new RegExp(`^the proxy 127\\.0\\.0\\.1:${port}: TLS error: `));
    assert.match(error.message, reason);
    assert.doesNotMatch(error.message, /could not be reached|\n/);
  }
});

test('HTTP_PROXY and HTTPS_PROXY are used by scheme, and NO_PROXY bypasses them', () => {
  const env = { HTTP_PROXY: 'http://proxy.local:3128', HTTPS_PROXY: 'proxy.local:3129', NO_PROXY: 'internal.example, .corp.example:8443' };
  assert.equal(resolveProxy('example.com', 80, false, undefined, env)?.href, 'http://proxy.local:3128/');
  assert.equal(resolveProxy('example.com', 443, true, undefined, env)?.href, 'http://proxy.local:3129/');
  assert.equal(resolveProxy('internal.example', 80, false, undefined, env), undefined);
  assert.equal(resolveProxy('api.internal.example', 80, false, undefined, env), undefined);
  assert.equal(resolveProxy('a.corp.example', 8443, true, undefined, env), undefined);
  assert.equal(resolveProxy('a.corp.example', 443, true, undefined, env)?.host, 'proxy.local:3129');
  assert.equal(resolveProxy('x', 80, false, undefined, { ...env, NO_PROXY: '*' }), undefined);
  assert.equal(resolveProxy('x', 80, false, false, env), undefined);
  assert.equal(resolveProxy('x', 80, false, 'http://explicit:1', env)?.host, 'explicit:1');
  assert.equal(resolveProxy('x', 80, false, undefined, {}), undefined);
});

test('connects over a Unix domain socket with socketPath', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ws.sock');
  const http = createServer();
  const wss = new WebSocketServer({ path: '/echo' });
  wss.on('connection', (conn) => conn.on('message', (data) => conn.send(data)));
  wss.attach(http);
  http.listen(path);
  await once(http, 'listening');
  t.after(() => http.close());
  t.after(() => wss.close({ timeout: 500 }));
  assert.equal(await echo('ws://localhost/echo', { socketPath: path, proxy: false }), 'through');
  // No TLS over it: the connection reads from the Unix socket directly, into the shared buffer.
  const conn = await connect('ws://localhost/echo', { socketPath: path, proxy: false });
  assert.equal(lendsReads((conn as unknown as { socket: Socket }).socket), true);
  conn.close(1000);
});

test('follows redirects when allowed (up to maxRedirects), and reports the 3xx otherwise', async (t) => {
  const target = await echoServer(t);
  const seen: string[] = [];
  const redirector = createServer((_req, res) => res.end('plain'));
  redirector.on('upgrade', (request: IncomingMessage, socket) => {
    seen.push(request.url ?? '');
    const hops = Number(/hops=(\d+)/.exec(request.url ?? '')?.[1] ?? 0);
    const location = hops > 1 ? `/r?hops=${hops - 1}` : target.url.replace(/^ws/, 'http');
    socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  redirector.listen(0, '127.0.0.1');
  await once(redirector, 'listening');
  t.after(() => redirector.close());
  const base = `ws://127.0.0.1:${(redirector.address() as { port: number }).port}`;

  assert.equal(await echo(`${base}/r?hops=2`, { maxRedirects: 2, proxy: false }), 'through');
  assert.deepEqual(seen, ['/r?hops=2', '/r?hops=1']);

  const tooMany = await connect(`${base}/r?hops=3`, { maxRedirects: 2, proxy: false }).catch((error: unknown) => error);
  assert.equal((tooMany as { status?: number }).status, 307);
  const notFollowed = await connect(`${base}/r?hops=1`, { proxy: false }).catch((error: unknown) => error);
  assert.equal((notFollowed as { status?: number }).status, 307);
  assert.equal((notFollowed as { headers: Record<string, string> }).headers['location'], target.url.replace(/^ws/, 'http'));
});

test('credentials follow a redirect only to the same host, and never from wss: down to ws:', () => {
  const headers = { Authorization: 'Bearer secret', Cookie: 'sid=1', 'X-Trace': 'a' };
  const plain = { 'X-Trace': 'a' };
  const at = (url: string) => parseWebSocketUrl(url);
  assert.deepEqual(redirectHeaders(at('ws://a.test/x'), at('ws://a.test/y'), headers), headers);
  assert.deepEqual(redirectHeaders(at('wss://a.test/x'), at('wss://a.test/y'), headers), headers);
  assert.deepEqual(redirectHeaders(at('ws://a.test/x'), at('wss://a.test/y'), headers), headers, 'an upgrade to TLS keeps them');
  assert.deepEqual(redirectHeaders(at('wss://a.test/x'), at('ws://a.test/y'), headers), plain, 'a downgrade to plain text drops them');
  assert.deepEqual(redirectHeaders(at('ws://a.test/x'), at('ws://b.test/y'), headers), plain, 'another host drops them');
  assert.deepEqual(redirectHeaders(at('ws://a.test:1/x'), at('ws://a.test:2/y'), headers), plain, 'another port drops them');
});

test('the proxy option: host:port alone means http://; other schemes are refused at once (TypeError); NO_PROXY takes bare IPv6 addresses', () => {
  assert.equal(resolveProxy('x', 80, false, 'proxy.local:3128')?.href, 'http://proxy.local:3128/');
  assert.throws(() => resolveProxy('x', 80, false, 'socks5://proxy.local:1080'), { name: 'TypeError', message: /only http:\/\/ and https:\/\// });
  assert.throws(() => connect('ws://127.0.0.1:1/', { proxy: 'ftp://proxy.local:21' }), TypeError);
  assert.throws(() => resolveProxy('x', 80, false, undefined, { HTTP_PROXY: 'socks5://p:1' }), TypeError);
  const env = { HTTP_PROXY: 'http://proxy.local:3128', NO_PROXY: 'localhost,::1' };
  assert.equal(resolveProxy('::1', 80, false, undefined, env), undefined, 'a bare ::1 in NO_PROXY');
  assert.equal(resolveProxy('::2', 80, false, undefined, env)?.host, 'proxy.local:3128');
  assert.equal(resolveProxy('::1', 80, false, undefined, { ...env, NO_PROXY: '[::1]:80' }), undefined);
});

/** A raw server that answers every connection with `answer(request head)`, then leaves the socket to the test. */
async function rawAnswer(t: { after(fn: () => unknown): void }, answer: (head: string, socket: import('node:net').Socket) => void): Promise<number> {
  const { createServer: createNetServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) answer(head, socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

/** A raw CONNECT proxy that answers with `answer` as it is, then relays to 127.0.0.1:`target`; its port. */
async function rawRelayProxy(t: { after(fn: () => unknown): void }, target: number, answer: string): Promise<number> {
  return rawAnswer(t, (head, socket) => {
    socket.removeAllListeners('data');
    const upstream = createConnection(target, '127.0.0.1', () => {
      socket.write(answer);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    assert.match(head, /^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1/);
  });
}

function accept101(head: string, extra = ''): string {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
  return `${extra}HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
}

test('interim 1xx answers before the 101 are skipped (RFC 9110 §15.2), in the same segment or their own', async (t) => {
  for (const interim of ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n']) {
    const port = await rawAnswer(t, (head, socket) => socket.write(accept101(head, interim)));
    const conn = await connect(`ws://127.0.0.1:${port}/`, { proxy: false });
    assert.equal(conn.status, 'open');
    conn.terminate();
  }
  const split = await rawAnswer(t, (head, socket) => {
    socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    setTimeout(() => socket.write(accept101(head)), 50);
  });
  const conn = await connect(`ws://127.0.0.1:${split}/`, { proxy: false });
  assert.equal(conn.status, 'open');
  conn.terminate();
});

test('a 101 with bare LF line ends is accepted (RFC 9112 §2.2), not left to time out; so is a proxy answer written so', async (t) => {
  const bareLf = (head: string): string => accept101(head).replaceAll('\r\n', '\n');
  const port = await rawAnswer(t, (head, socket) => socket.write(bareLf(head)));
  const conn = await connect(`ws://127.0.0.1:${port}/`, { proxy: false, connectTimeout: 3000 });
  assert.equal(conn.status, 'open');
  conn.terminate();
  // A CONNECT proxy that answers 200 with bare LFs, then relays to the echo server.
  const { url, port: target } = await echoServer(t);
  const proxyPort = await rawRelayProxy(t, target, 'HTTP/1.1 200 Connection established\n\n');
  assert.equal(await echo(url, { proxy: `http://127.0.0.1:${proxyPort}`, connectTimeout: 3000 }), 'through');
});

test('a redirect whose Location names no WebSocket URL rejects with its 3xx; a fragment is dropped; connectTimeout covers every hop', async (t) => {
  const target = await echoServer(t);
  const port = await rawAnswer(t, (head, socket) => {
    const path = /^GET (\S+)/.exec(head)![1]!;
    const location = path === '/ftp' ? 'ftp://x/' : path === '/broken' ? 'http://[zz' : path === '/fragment' ? `${target.url}#part` : `/slow${path.length < 20 ? path : ''}`;
    const delay = path.startsWith('/slow') ? 400 : 0;
    setTimeout(() => socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`), delay);
  });
  const base = `ws://127.0.0.1:${port}`;
  for (const path of ['/ftp', '/broken']) {
    const error = await connect(`${base}${path}`, { maxRedirects: 2, proxy: false }).catch((caught: unknown) => caught);
    assert.ok(error instanceof SockwaveError && (error as { status?: number }).status === 307, `${path}: ${String(error)}`);
  }
  assert.equal(await echo(`${base}/fragment`, { maxRedirects: 1, proxy: false }), 'through');
  // Hops of 400 ms each, and 1 s for the whole: it times out during the third (each hop alone is well within it).
  const slow = await connect(`${base}/slow/a`, { maxRedirects: 5, connectTimeout: 1000, proxy: false }).catch((caught: unknown) => caught);
  assert.ok(slow instanceof SockwaveError && slow.code === 'SW_HANDSHAKE_TIMEOUT', String(slow));
});

test('connectTimeout Infinity or 0 means no limit', async (t) => {
  const port = await rawAnswer(t, (head, socket) => setTimeout(() => socket.write(accept101(head)), 100));
  for (const connectTimeout of [Infinity, 0]) {
    const conn = await connect(`ws://127.0.0.1:${port}/`, { connectTimeout, proxy: false });
    assert.equal(conn.status, 'open');
    conn.terminate();
  }
});

test('a CONNECT proxy: interim 1xx answers are skipped, and any 2xx opens the tunnel (RFC 9110 §9.3.6)', async (t) => {
  const { url, port } = await echoServer(t);
  const proxyPort = await rawRelayProxy(t, port, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\n');
  assert.equal(await echo(url, { proxy: `http://127.0.0.1:${proxyPort}` }), 'through');
});

test('a user and password in the URL: sent as Basic credentials (unless an Authorization header is given), never shown in messages or the url', async (t) => {
  const seen: IncomingMessage[] = [];
  const { port } = await echoServer(t, seen);
  const conn = await connect(`ws://us%20er:s3cret@127.0.0.1:${port}/echo`, { proxy: false });
  assert.equal(seen[0]!.headers['authorization'], `Basic ${Buffer.from('us er:s3cret').toString('base64')}`);
  assert.equal(conn.url, `ws://127.0.0.1:${port}/echo`);
  conn.terminate();
  const own = await connect(`ws://user:s3cret@127.0.0.1:${port}/echo`, { proxy: false, headers: { authorization: 'Bearer t' } });
  assert.equal(seen[1]!.headers['authorization'], 'Bearer t');
  own.terminate();
  const closed = await closedPort();
  const error = await connect(`ws://user:s3cret@127.0.0.1:${closed}/`, { proxy: false }).catch((caught: unknown) => caught);
  assert.ok(error instanceof SockwaveError && /connection refused/.test(error.message), String(error));
  assert.doesNotMatch(error.message, /s3cret/);
});

test('an aborted handshake rejects with code SW_ABORTED, as the signal option says', async (t) => {
  const port = await rawAnswer(t, () => {});
  const controller = new AbortController();
  const pending = connect(`ws://127.0.0.1:${port}/`, { signal: controller.signal, proxy: false });
  setTimeout(() => controller.abort(), 50);
  const error = await pending.catch((caught: unknown) => caught);
  assert.ok(error instanceof SockwaveError && error.code === 'SW_ABORTED', String(error));
  const already = await connect(`ws://127.0.0.1:${port}/`, { signal: AbortSignal.abort(), proxy: false }).catch((caught: unknown) => caught);
  assert.ok(already instanceof SockwaveError && already.code === 'SW_ABORTED', String(already));
});

test('a proxy answering CONNECT with 101 has refused the tunnel: nothing more is sent to it', async (t) => {
  const heads: string[] = [];
  const proxyPort = await rawAnswer(t, (head, socket) => {
    heads.push(head.split('\r\n', 1)[0]!);
    socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
  });
  const error = await connect('ws://example.invalid/', { proxy: `http://127.0.0.1:${proxyPort}`, connectTimeout: 3000 }).catch((caught: unknown) => caught);
  assert.ok(error instanceof SockwaveError && /proxy refused the tunnel: 101/.test(error.message), String(error));
  assert.deepEqual(heads, ['CONNECT example.invalid:80 HTTP/1.1']);
});

test('tryConnect() reports the URL without its user and password', async () => {
  const port = await closedPort();
  const result = await tryConnect(`ws://alice:s3cret@127.0.0.1:${port}/x`, { proxy: false });
  assert.equal(result.success, false);
  assert.equal(result.uri, `ws://127.0.0.1:${port}/x`);
  assert.doesNotMatch(result.reason, /s3cret/);
});

test('a tls.servername that is an IP address is not sent as SNI (RFC 6066 §3): the certificate is checked against it', async (t) => {
  const certificate = await selfSignedCertificate(t);
  const pem = { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') };
  const sni: string[] = [];
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    tls: { ...pem, SNICallback: (name, callback) => (sni.push(name), callback(null, undefined)) },
  });
  server.route('/echo', () => ({ onMessage: (conn, data) => void conn.send(data) }));
  const info = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  assert.equal(await echo(`${info.url}/echo`, { proxy: false, tls: { ca: pem.cert, servername: '127.0.0.1' } }), 'through');
  assert.deepEqual(sni, [], 'no SNI was sent');
  // Checked against the address given: one the certificate does not name fails.
  const wrong = await connect(`${info.url}/echo`, { proxy: false, tls: { ca: pem.cert, servername: '10.1.2.3' } }).catch((error: unknown) => error);
  assert.ok(causeCodes(wrong).includes('ERR_TLS_CERT_ALTNAME_INVALID'), String(wrong));
  // A name is still sent.
  await connect(`${info.url}/echo`, { proxy: false, tls: { ca: pem.cert, servername: 'localhost' } }).then((conn) => conn.terminate(), () => undefined);
  assert.deepEqual(sni, ['localhost']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(!warnings.some((warning) => /DEP0123|IP address/.test(`${(warning as NodeJS.ErrnoException).code ?? ''} ${warning.message}`)), 'no DEP0123 warning');
});

test('a handler whose onOpen throws: connect() rejects with what it threw, and the connection is closed with 1011', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const thrown = new Error('onOpen threw');
  const handlerClosed = deferred<number>();
  const connecting = connect(srv.url, {
    perMessageDeflate: false,
    handler: {
      onOpen: () => {
        throw thrown;
      },
      onClose: (_conn, info) => handlerClosed.resolve(info.code),
    },
  });
  await assert.rejects(withTimeout(connecting, 'connect() to settle'), (error: unknown) => error === thrown);
  const side = await srv.connections.next('the server-side connection');
  assert.equal((await side.rec.closed()).code, 1011);
  assert.equal(await withTimeout(handlerClosed.promise, 'the handler to hear of the close'), 1011);
});

test('perMessageDeflate of the wrong type (0, "no", 42) throws a TypeError at once, instead of turning compression on', () => {
  for (const value of [0, 'no', 42]) {
    assert.throws(
      () => void connect('ws://127.0.0.1:1/', { perMessageDeflate: value as unknown as boolean }).catch(() => {}),
      (error: unknown) => error instanceof TypeError && /perMessageDeflate/.test(error.message),
      `perMessageDeflate ${JSON.stringify(value)}`,
    );
  }
});
