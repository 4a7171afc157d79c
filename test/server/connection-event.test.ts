import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketServer, type Connection } from '../../src/index.js';

/** A server with no routes and no onConnection accepts every upgrade and reports 'connection' (the ws style). */

test('with no routes and no onConnection, an attached server on a path accepts upgrades there and emits connection', async (t) => {
  const http = createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ path: '/echo' });
  wss.on('connection', (conn: Connection) => conn.on('message', (data, isBinary) => conn.send(data, { binary: isBinary })));
  wss.attach(http);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => http.close());
  t.after(() => wss.close({ timeout: 500 }));
  const port = (http.address() as { port: number }).port;

  const client = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  const reply = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
    client.on('message', (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
    client.on('error', reject);
  });
  await once(client, 'open');
  client.send('ping through the http server');
  assert.equal(await reply, 'ping through the http server');
  client.close();

  const elsewhere = new WebSocket(`ws://127.0.0.1:${port}/other`);
  const [, response] = (await once(elsewhere, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(response.statusCode, 404);
  elsewhere.on('error', () => {});
  elsewhere.terminate();
});

test('a server with routes refuses a path none of them serves with 404', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.route('/a', () => ({}));
  const { url } = await wss.listen();
  t.after(() => wss.close({ timeout: 500 }));
  const client = new WebSocket(`${url}/b`);
  const [, response] = (await once(client, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(response.statusCode, 404);
  client.on('error', () => {});
  client.terminate();
});

test('a connection knows its url, role and peer, before and after its headers are read, and after it closes', async (t) => {
  for (const attached of [false, true]) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    let base: string;
    if (attached) {
      const http = createServer();
      wss.attach(http);
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      t.after(() => http.close());
      base = `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
    } else {
      base = (await wss.listen()).url;
    }
    t.after(() => wss.close({ timeout: 500 }));
    const opened = once(wss, 'connection') as Promise<[Connection]>;
    const client = new WebSocket(`${base}/rooms/7?x=1&y=%20`, { headers: { 'X-Trace': 'abc' } });
    await once(client, 'open');
    const [connection] = await opened;
    const where = attached ? 'attached' : 'standalone';
    assert.equal(connection.role, 'server');
    assert.equal(connection.url, '/rooms/7?x=1&y=%20', where);
    assert.equal(connection.headers['x-trace'], 'abc', where);
    assert.equal(connection.url, '/rooms/7?x=1&y=%20', `${where}, after the headers were read`);
    assert.equal(connection.remoteAddress, '127.0.0.1');
    assert.equal(connection.remotePort, (client as unknown as { _socket: { localPort: number } })._socket.localPort);
    const port = connection.remotePort;
    client.close();
    await once(connection, 'close');
    assert.equal(connection.remoteAddress, '127.0.0.1', 'still known once closed');
    assert.equal(connection.remotePort, port);
  }
});
