/**
 * server.stats() over real sockets: connection counts, refusals, message and byte counters (payload
 * and wire), drops, and how connections ended (closeCodes). Wire sizes are computed here from
 * RFC 6455 framing: a client frame has a 2-byte header (for < 126 bytes) and a 4-byte mask key.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { refuse } from '../../src/index.js';
import { clientFrame, headerLength } from '../support/frames.js';
import { RawClient, upgradeRequest } from '../support/net.js';
import { RawPeer, eventually, refusedWs, serve, wsClient } from '../support/server-kit.js';

describe('server.stats()', { timeout: 60_000 }, () => {
  test('connections and connectionsTotal follow opens and closes; refused counts refusals of every kind', async (t) => {
    const srv = await serve(t, {
      path: ['/ok', '/deny'],
      origins: ['https://ok.example'],
      maxConnections: 3,
      onConnection: (request) => (request.path === '/deny' ? refuse(401) : {}),
    });
    const refusedEvents: number[] = [];
    srv.server.on('refused', (status) => refusedEvents.push(status));
    assert.deepEqual(
      [srv.server.stats().connections, srv.server.stats().connectionsTotal, srv.server.stats().refused],
      [0, 0, 0],
    );
    const clients = [await wsClient(t, `${srv.url}/ok`), await wsClient(t, `${srv.url}/ok`), await wsClient(t, `${srv.url}/ok`)];
    const sides = await srv.connections.take(3, 'three connections');
    assert.equal(srv.server.stats().connections, 3);
    assert.equal(srv.server.stats().connectionsTotal, 3);
    assert.equal((await refusedWs(`${srv.url}/ok`)).status, 503);
    clients[0]!.ws.close(1000);
    await sides[0]!.rec.closed();
    assert.equal((await refusedWs(`${srv.url}/nowhere`)).status, 404);
    assert.equal((await refusedWs(`${srv.url}/ok`, undefined, { origin: 'https://evil.example' })).status, 403);
    assert.equal((await refusedWs(`${srv.url}/deny`)).status, 401);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ path: '/ok', version: '12' }));
    assert.equal((await raw.readResponse()).status, 426);
    await wsClient(t, `${srv.url}/ok`);
    const stats = srv.server.stats();
    assert.equal(stats.connections, 3);
    assert.equal(stats.connectionsTotal, 4);
    assert.equal(stats.refused, 5);
    assert.deepEqual(refusedEvents, [503, 404, 403, 401, 426]);
  });

  test('messages and payload bytes are counted both ways, and wire bytes are exactly the frames for small uncompressed messages', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const a = await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const [sideA] = await srv.connections.take(2, 'two connections');
    const incoming = [Buffer.from('abc'), Buffer.from('é€'), Buffer.alloc(100, 1), Buffer.alloc(300, 2)];
    a.ws.send('abc');
    a.ws.send('é€');
    a.ws.send(Buffer.alloc(100, 1));
    b.ws.send(Buffer.alloc(300, 2));
    await eventually(() => srv.server.stats().messagesIn === 4, 'four messages in');
    sideA!.connection.send('hello');
    sideA!.connection.send(Buffer.alloc(1000, 3));
    assert.equal(srv.server.broadcast('xy'), 2);
    await a.rec.messages.take(3, 'three messages at a');
    await b.rec.messages.next('the broadcast at b');
    const outgoing = [5, 1000, 2, 2];
    const stats = srv.server.stats();
    assert.equal(stats.messagesIn, 4);
    assert.equal(stats.bytesIn, 3 + 5 + 100 + 300);
    assert.equal(stats.messagesOut, 4);
    assert.equal(stats.bytesOut, 5 + 1000 + 2 + 2);
    assert.equal(stats.wireBytesIn, incoming.reduce((n, m) => n + m.length + headerLength(m.length, true), 0));
    assert.equal(stats.wireBytesOut, outgoing.reduce((n, size) => n + size + headerLength(size, false), 0));
    assert.ok(stats.wireBytesIn >= stats.bytesIn && stats.wireBytesOut >= stats.bytesOut);
    assert.equal(stats.dropped, 0);
  });

  test('a send on a connection that has closed counts as dropped in the server totals too', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server side');
    ws.terminate();
    await eventually(() => side.connection.status === 'closed', 'the close at the server');
    assert.equal(side.connection.send('too late'), 'dropped');
    assert.equal(side.connection.send(Buffer.alloc(3)), 'dropped');
    assert.equal(side.connection.stats.dropped, 2);
    assert.equal(srv.server.stats().dropped, 2);
  });

  test('the totals keep the traffic of connections that have closed', async (t) => {
    const srv = await serve(t, { onConnection: () => ({ onMessage: (c, data) => void c.send(data) }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the connection');
    ws.send('one');
    ws.send('two');
    await rec.messages.take(2, 'two echoes');
    const before = srv.server.stats();
    ws.close(1000);
    await side.rec.closed();
    const after = srv.server.stats();
    assert.equal(after.connections, 0);
    assert.equal(after.connectionsTotal, 1);
    assert.deepEqual(
      [after.messagesIn, after.messagesOut, after.bytesIn, after.bytesOut],
      [before.messagesIn, before.messagesOut, before.bytesIn, before.bytesOut],
    );
    assert.deepEqual([after.messagesIn, after.bytesIn], [2, 6]);
    // The close frames crossed the wire too: 2 + 4 + 2 bytes in, 2 + 2 out.
    assert.equal(after.wireBytesIn, before.wireBytesIn + 8);
    assert.equal(after.wireBytesOut, before.wireBytesOut + 4);
  });

  test(
    'a frame sent in the same packet as the upgrade request is counted in wireBytesIn',
    async (t) => {
      const srv = await serve(t, { onConnection: () => ({}) });
      const raw = await RawClient.connect(srv.port);
      t.after(() => raw.destroy());
      raw.write(Buffer.concat([Buffer.from(upgradeRequest({ key: randomBytes(16).toString('base64') })), clientFrame({ opcode: 0x2, payload: Buffer.alloc(100) })]));
      assert.equal((await raw.readResponse()).status, 101);
      await eventually(() => srv.server.stats().messagesIn === 1, 'the early message');
      const stats = srv.server.stats();
      assert.equal(stats.bytesIn, 100);
      assert.equal(stats.wireBytesIn, 106);
    },
  );

  test('with permessage-deflate, compressible traffic crosses the wire in fewer bytes than its payload', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({ onMessage: (c, data) => void c.send(data) }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const text = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ id: i, name: 'sensor', value: i % 7 })));
    for (let i = 0; i < 10; i++) ws.send(text);
    const echoes = await rec.messages.take(10, 'ten echoes');
    assert.ok(echoes.every((m) => m.data.toString() === text));
    const stats = srv.server.stats();
    assert.equal(stats.bytesIn, 10 * text.length);
    assert.equal(stats.bytesOut, 10 * text.length);
    assert.ok(stats.wireBytesIn < stats.bytesIn / 4, `in: ${stats.wireBytesIn} wire bytes for ${stats.bytesIn}`);
    assert.ok(stats.wireBytesOut < stats.bytesOut / 4, `out: ${stats.wireBytesOut} wire bytes for ${stats.bytesOut}`);
  });

  test('dropped counts messages a slow consumer could not take', async (t) => {
    const srv = await serve(t, { maxBufferedAmount: 64 * 1024, slowConsumer: 'drop', onConnection: () => ({}) });
    const peer = await RawPeer.open(srv.port, { keepFrames: false });
    t.after(() => peer.destroy());
    peer.pause();
    await srv.connections.next('the connection');
    let dropped = 0;
    for (let i = 0; i < 2000 && dropped < 10; i++) {
      if (srv.server.broadcast(Buffer.alloc(16 * 1024)) === 0) dropped++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(dropped, 10);
    assert.equal(srv.server.stats().dropped, 10);
    peer.destroy();
  });

  test(
    'dropped counts sends refused because the connection is closing',
    async (t) => {
      const srv = await serve(t, { onConnection: () => ({}) });
      await wsClient(t, srv.url);
      const side = await srv.connections.next('the connection');
      side.connection.close(1000);
      assert.equal(side.connection.send('too late'), 'dropped');
      assert.equal(srv.server.stats().dropped, 1);
    },
  );

  test('closeCodes counts how connections ended', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [];
    for (let i = 0; i < 7; i++) clients.push(await wsClient(t, srv.url));
    const sides = await srv.connections.take(7, 'seven connections');
    clients[0]!.ws.close(1000);
    clients[1]!.ws.close(1000, 'done');
    clients[2]!.ws.close(4001, 'app');
    clients[3]!.ws.close(3000);
    clients[4]!.ws.close();
    clients[5]!.ws.terminate();
    sides[6]!.connection.close(4100, 'server says');
    const codes = await Promise.all(sides.map((side) => side.rec.closed()));
    assert.deepEqual(codes.map((info) => info.code), [1000, 1000, 4001, 3000, 1005, 1006, 4100]);
    assert.deepEqual(srv.server.stats().closeCodes, { 1000: 2, 1005: 1, 1006: 1, 3000: 1, 4001: 1, 4100: 1 });
    assert.equal(srv.server.stats().connections, 0);
  });
});
