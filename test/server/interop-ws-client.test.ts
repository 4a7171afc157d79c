/**
 * End to end over real sockets: sockwave's server against the `ws` package's client.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { refuse, WebSocketServer, type ConnectionHandler } from '../../src/index.js';
import {
  BINARY_SIZES,
  MULTIBYTE_TEXTS,
  RawClient,
  closePayload,
  payloadBytes,
  rawUpgrade,
  sha256,
  upgradeRequest,
  withTimeout,
} from '../support/net.js';
import { refusedWs, serve as server, wsClient } from '../support/server-kit.js';

const echo: ConnectionHandler = {
  onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
};

describe('sockwave server ↔ ws client (real sockets)', { timeout: 60_000 }, () => {
  test('text with multibyte UTF-8 and emoji from a ws client is received as text and echoed as text', async (t) => {
    const srv = await server(t, { onConnection: () => ({ ...echo }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    for (const text of MULTIBYTE_TEXTS) {
      ws.send(text);
      const atServer = await side.rec.messages.next('the text at the server');
      assert.equal(atServer.isBinary, false);
      assert.equal(atServer.data, text);
      const back = await rec.messages.next('the echo at the ws client');
      assert.equal(back.isBinary, false);
      assert.equal(back.data.toString('utf8'), text);
    }
  });

  for (const size of BINARY_SIZES) {
    test(`a binary message of ${size} bytes from a ws client arrives intact and is echoed intact`, { timeout: 30_000 }, async (t) => {
      const srv = await server(t, { onConnection: () => ({ ...echo }) });
      const { ws, rec } = await wsClient(t, srv.url);
      const side = await srv.connections.next('the server-side connection');
      const payload = payloadBytes(size, size + 3);
      ws.send(payload);
      const atServer = await side.rec.messages.next('the message at the server', 20_000);
      assert.equal(atServer.isBinary, true);
      assert.equal(atServer.data.length, size);
      assert.equal(sha256(atServer.data), sha256(payload));
      const back = await rec.messages.next('the echo at the ws client', 20_000);
      assert.equal(back.isBinary, true);
      assert.equal(back.data.length, size);
      assert.equal(sha256(back.data), sha256(payload));
    });
  }

  test('fragments sent by ws with { fin: false } are reported with fin flags and reassembled', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    // 'é' (0xc3 0xa9) is cut between the first and second frame.
    ws.send(Buffer.from([0x61, 0xc3]), { binary: false, fin: false });
    ws.send(Buffer.from([0xa9, 0x62]), { fin: false });
    ws.send(Buffer.from('c 😀'), { fin: true });
    const message = await side.rec.messages.next('the reassembled message');
    assert.equal(message.isBinary, false);
    assert.equal(message.data, 'aébc 😀');
    assert.deepEqual(side.rec.fragments.history.map((f) => [f.data.toString('hex'), f.isBinary, f.fin]), [
      ['61c3', false, false],
      ['a962', false, false],
      [Buffer.from('c 😀').toString('hex'), false, true],
    ]);
  });

  test('a fragmented binary message sent by the server is reassembled by ws', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    const payload = payloadBytes(100_000, 5);
    side.connection.send(payload, { fragmentSize: 1000 });
    side.connection.send('ünïcode text in 3-byte frames', { fragmentSize: 3 });
    const binary = await rec.messages.next('the binary message');
    assert.equal(binary.isBinary, true);
    assert.equal(sha256(binary.data), sha256(payload));
    const text = await rec.messages.next('the text message');
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString('utf8'), 'ünïcode text in 3-byte frames');
  });

  test('a ws ping with a payload gets a pong with the same payload, and the server sees the ping', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    ws.ping('are you there?');
    assert.equal((await side.rec.pings.next('the ping at the server')).toString(), 'are you there?');
    assert.equal((await rec.pongs.next('the pong at ws')).toString(), 'are you there?');
  });

  test('a server ping is answered by ws, and the pong reaches onPong', async (t) => {
    const pongs: Buffer[] = [];
    const srv = await server(t, { onConnection: () => ({ onPong: (_c, payload) => void pongs.push(Buffer.from(payload)) }) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    side.connection.ping(Buffer.from([1, 2, 3]));
    assert.deepEqual(await rec.pings.next('the ping at ws'), Buffer.from([1, 2, 3]));
    assert.deepEqual(await side.rec.pongs.next('the pong at the server'), Buffer.from([1, 2, 3]));
    assert.deepEqual(pongs, [Buffer.from([1, 2, 3])]);
  });

  test("a server close with 4000 'custom' reaches ws with that code and reason", async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    side.connection.close(4000, 'custom');
    assert.deepEqual(await rec.closed(), { code: 4000, reason: 'custom' });
    // ws echoes the code and the reason.
    assert.deepEqual(await side.rec.closed(), { code: 4000, reason: 'custom', wasClean: true, remote: false });
  });

  test('a ws close with 3001 and a reason reaches onClose, cleanly and marked remote', async (t) => {
    const closes: unknown[] = [];
    const srv = await server(t, { onConnection: () => ({ onClose: (_c, info) => void closes.push(info) }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    ws.close(3001, 'leaving ✓');
    assert.deepEqual(await side.rec.closed(), { code: 3001, reason: 'leaving ✓', wasClean: true, remote: true });
    assert.deepEqual(closes, [{ code: 3001, reason: 'leaving ✓', wasClean: true, remote: true }]);
    assert.equal((await rec.closed()).code, 3001);
  });

  test("the server picks the client's most preferred subprotocol among options.protocols", async (t) => {
    const srv = await server(t, { protocols: ['chat.v2', 'chat.v1'], onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url, ['chat.v1', 'chat.v2']);
    const side = await srv.connections.next('the server-side connection');
    assert.equal(ws.protocol, 'chat.v1');
    assert.equal(side.connection.protocol, 'chat.v1');
    assert.deepEqual(side.request.protocols, ['chat.v1', 'chat.v2']);
  });

  test('a subprotocol chosen by admission is the one answered', async (t) => {
    const srv = await server(t, { protocols: ['a', 'b'], onConnection: () => ({ protocol: 'b' }) });
    const { ws } = await wsClient(t, srv.url, ['a', 'b']);
    assert.equal(ws.protocol, 'b');
    assert.equal((await srv.connections.next('the server-side connection')).connection.protocol, 'b');
  });

  test('a refusal with 401, a WWW-Authenticate header and a body reaches ws as an unexpected response', async (t) => {
    const srv = await server(t, { onConnection: () => refuse(401, { headers: { 'WWW-Authenticate': 'Bearer' }, body: 'no' }) });
    const refused: Array<[number, string]> = [];
    srv.server.on('refused', (status, reason) => refused.push([status, reason]));
    const response = await refusedWs(srv.url);
    assert.deepEqual(refused, [[401, 'no']]);
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer');
    assert.equal(response.body, 'no');
    assert.equal(srv.server.clients.size, 0);
  });

  test('an upgrade to a path outside options.path is answered 404', async (t) => {
    const srv = await server(t, { path: '/chat', onConnection: () => ({}) });
    assert.equal((await refusedWs(`${srv.url}/elsewhere`)).status, 404);
    // The configured path still works.
    const { ws } = await wsClient(t, `${srv.url}/chat`);
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test('an upgrade to a path with no route and no onConnection is answered 404', async (t) => {
    const srv = await server(t, {});
    srv.server.route('/known', () => ({}));
    assert.equal((await refusedWs(`${srv.url}/unknown`)).status, 404);
    const { ws } = await wsClient(t, `${srv.url}/known`);
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test('an upgrade request with Sec-WebSocket-Version 8 is answered 426 with Sec-WebSocket-Version: 13', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ version: '8' }));
    const response = await raw.readResponse();
    assert.equal(response.status, 426);
    assert.equal(response.headers['sec-websocket-version'], '13');
    await raw.waitClosed();
  });

  test('a plain GET without Upgrade is answered 426 when there is no onHttpRequest', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const response = await raw.readResponse();
    assert.equal(response.status, 426);
    assert.equal(response.headers['upgrade'], 'websocket');
    await raw.waitClosed();
  });

  test('a plain GET is answered by onHttpRequest when one is given', async (t) => {
    const srv = await server(t, {
      onConnection: () => ({}),
      onHttpRequest: (request) => ({ status: 200, headers: { 'Content-Type': 'text/plain' }, body: `you asked for ${request.path}` }),
    });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write('GET /status?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const response = await raw.readResponse();
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'you asked for /status');
  });

  test('data returned by an async onConnection appears as connection.data', async (t) => {
    interface User {
      name: string;
      token: string | null;
    }
    const srv = await server<User>(t, {
      onConnection: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return {
          data: { name: 'ann', token: request.query.get('token') },
          onMessage: (connection) => void connection.send(connection.data),
        };
      },
    });
    const { ws, rec } = await wsClient(t, `${srv.url}/?token=t0k`);
    const side = await srv.connections.next('the server-side connection');
    assert.deepEqual(side.connection.data, { name: 'ann', token: 't0k' });
    ws.send('who am i?');
    const reply = await rec.messages.next('the reply');
    assert.deepEqual(JSON.parse(reply.data.toString('utf8')), { name: 'ann', token: 't0k' });
  });

  test('an async onConnection that throws refuses the upgrade with 500 and reports the error', async (t) => {
    const srv = await server(t, {
      onConnection: async () => {
        throw new Error('database down');
      },
    });
    assert.equal((await refusedWs(srv.url)).status, 500);
    assert.equal((await srv.errors.next('the server error')).message, 'database down');
  });

  test('server.broadcast reaches every connected ws client, and filter leaves some out', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    await srv.connections.take(3, 'three server-side connections');
    assert.equal(srv.server.broadcast('to everyone ✓'), 3);
    for (const { rec } of clients) {
      const got = await rec.messages.next('the broadcast');
      assert.deepEqual([got.data.toString('utf8'), got.isBinary], ['to everyone ✓', false]);
    }
    const excluded = [...srv.server.clients][0]!;
    assert.equal(srv.server.broadcast(Buffer.from([7, 8, 9]), { filter: (c) => c !== excluded }), 2);
    assert.equal(srv.server.broadcast('last'), 3);
    // The excluded client's next message is 'last'; the others got the binary one first.
    const next = await Promise.all(clients.map(({ rec }) => rec.messages.next('the next broadcast')));
    const binaries = next.filter((m) => m.isBinary);
    assert.equal(binaries.length, 2);
    for (const m of binaries) assert.deepEqual(m.data, Buffer.from([7, 8, 9]));
    assert.deepEqual(next.filter((m) => !m.isBinary).map((m) => m.data.toString()), ['last']);
  });

  test('server.close() sends 1001 to every client and resolves once they are gone', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url)];
    await srv.connections.take(2, 'two server-side connections');
    await withTimeout(srv.server.close(), 'server.close()');
    for (const { rec } of clients) assert.equal((await rec.closed()).code, 1001);
    assert.equal(srv.server.clients.size, 0);
    // It no longer accepts connections.
    const ws = new WebSocket(srv.url);
    const failed = await withTimeout(
      new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(false));
        ws.once('error', () => resolve(true));
      }),
      'a connection attempt after close()',
    );
    ws.terminate();
    assert.equal(failed, true);
  });

  test('server.close({ timeout }) terminates a client that never answers the close frame, and resolves', async (t) => {
    const srv = await server(t, { onConnection: () => ({}) });
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    const side = await srv.connections.next('the server-side connection');
    await withTimeout(srv.server.close({ code: 1012, reason: 'restart', timeout: 200 }), 'server.close()');
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.deepEqual(closePayload(frame.payload), { code: 1012, reason: 'restart' });
    await raw.waitClosed();
    const info = await side.rec.closed();
    assert.equal(info.wasClean, false);
    assert.equal(srv.server.clients.size, 0);
  });

  test('an admission that picks a subprotocol the client did not offer is answered 500 and reported', async (t) => {
    const srv = await server(t, { onConnection: () => ({ protocol: 'not-offered' }) });
    const ws = new WebSocket(srv.url, ['offered']);
    ws.on('error', () => {});
    t.after(() => ws.terminate());
    const status = await withTimeout(
      new Promise<number>((resolve, reject) => {
        ws.once('open', () => reject(new Error('accepted')));
        ws.once('unexpected-response', (_request, response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
      }),
      'the refusal',
    );
    assert.equal(status, 500);
    assert.match((await srv.errors.next('the server error')).message, /did not offer/);
  });

  test('handleUpgrade() serves WebSocket upgrades for an existing http server that keeps serving plain requests', async (t) => {
    const wss = new WebSocketServer({ onConnection: () => ({ ...echo }) });
    const http = createHttpServer((_request, response) => response.end('plain http'));
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket as import('node:net').Socket, head));
    await withTimeout(new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve())), 'the http server to listen');
    t.after(async () => {
      await withTimeout(wss.close({ timeout: 500 }), 'the attached server to close');
      http.closeAllConnections();
      await withTimeout(new Promise<void>((resolve) => http.close(() => resolve())), 'the http server to close');
    });
    const port = (http.address() as AddressInfo).port;
    const { ws, rec } = await wsClient(t, `ws://127.0.0.1:${port}/attached`);
    ws.send('through http.Server');
    ws.send(Buffer.from([1, 2, 3]));
    const [text, binary] = await rec.messages.take(2, 'both echoes');
    assert.deepEqual([text!.data.toString(), text!.isBinary], ['through http.Server', false]);
    assert.deepEqual([binary!.data, binary!.isBinary], [Buffer.from([1, 2, 3]), true]);
    assert.equal(wss.clients.size, 1);
    const [connection] = [...wss.clients];
    assert.equal(connection!.url, '/attached');
    const raw = await RawClient.connect(port);
    t.after(() => raw.destroy());
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const response = await raw.readResponse();
    assert.equal(response.status, 200);
    ws.close(1000);
    assert.equal((await rec.closed()).code, 1000);
  });
});
