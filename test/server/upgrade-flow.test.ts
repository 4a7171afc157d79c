/**
 * The upgrade flow's edges that the end-to-end suites do not reach: what it does with the socket
 * an http server hands to handleUpgrade(), and the limits and answers it gives on the way to a
 * 101. In memory (test/support/memory-socket.ts), no port or timer involved.
 */
import { strict as assert } from 'node:assert';
import { type IncomingMessage } from 'node:http';
import { connect as netConnect, type Server } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { type ServerOptions } from '../../src/server/options.js';
import { WebSocketServer } from '../../src/server/server.js';
import WebSocket from 'ws';
import { FaultyPeer } from '../support/fault-injector.js';
import { socketPair, type MemorySocket } from '../support/memory-socket.js';
import { closeWs, withTimeout } from '../support/net.js';
import { selfSigned } from '../support/server-kit.js';

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
