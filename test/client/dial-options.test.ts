import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, SockwaveError, WebSocketServer } from '../../src/index.js';
import { resolveProxy } from '../../src/io/proxy.js';
import { redirectHeaders } from '../../src/client/connect.js';
import { parseWebSocketUrl } from '../../src/client/url.js';
import { startProxy } from '../support/proxy.js';

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

test('connects through an HTTP CONNECT proxy given as an option, with and without credentials', async (t) => {
  const { url, port } = await echoServer(t);
  const open = await startProxy(t);
  assert.equal(await echo(url, { proxy: open.url }), 'through');
  assert.deepEqual(open.tunnels, [`127.0.0.1:${port}`]);

  const guarded = await startProxy(t, 'user:s3cret');
  assert.equal(await echo(url, { proxy: guarded.url }), 'through');
  assert.equal(guarded.tunnels.length, 1);
  const refused = await connect(url, { proxy: guarded.url.replace('s3cret', 'wrong') }).catch((error: unknown) => error);
  assert.ok(refused instanceof SockwaveError && /proxy refused the tunnel: 407/.test(refused.message), String(refused));
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
