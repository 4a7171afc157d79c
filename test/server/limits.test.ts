/**
 * Every server limit: hit it from an in-memory peer (test/support/fault-injector.ts), and check the
 * answer on the wire, the count in `stats().limits` and the `limit` event. Time-based limits run on
 * the fake clock.
 */
import { strict as assert } from 'node:assert';
import { createConnection } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { describe, test, type TestContext } from 'node:test';
import { type Connection } from '../../src/io/connection.js';
import { type LimitEvent, type LimitName } from '../../src/io/limits.js';
import { WebSocketServer } from '../../src/server/server.js';
import { type ServerOptions } from '../../src/server/options.js';
import { FakeClock } from '../support/fake-clock.js';
import { FaultyPeer } from '../support/fault-injector.js';
import { clientFrame } from '../support/frames.js';
import WebSocket from 'ws';
import { closeWs, withTimeout } from '../support/net.js';
import { eventually, refusedWs, serve, sleep, wsClient } from '../support/server-kit.js';

interface Harness {
  server: WebSocketServer<unknown>;
  limits: LimitEvent[];
  connections: Connection[];
}

/** A server that is never listening: peers reach it in memory. Every connection echoes. */
function harness(t: TestContext, options: ServerOptions = {}): Harness {
  const limits: LimitEvent[] = [];
  const connections: Connection[] = [];
  const server = new WebSocketServer({
    ...options,
    onConnection: () => ({ onMessage: (connection, data, binary) => void connection.send(data, { binary }) }),
  });
  server.on('limit', (event) => limits.push(event));
  server.on('connection', (connection) => connections.push(connection as Connection));
  t.after(() => server.close({ timeout: 100 }));
  return { server, limits, connections };
}

function assertHit(h: Harness, limit: LimitName, times = 1): void {
  assert.equal(h.server.stats().limits[limit], times, `stats().limits.${limit}`);
  assert.equal(h.limits.filter((event) => event.limit === limit).length, times, `'limit' events for ${limit}`);
  for (const [name, count] of Object.entries(h.server.stats().limits)) if (name !== limit) assert.equal(count, 0, `no ${name} hit`);
}

describe('server limits: each one answered, counted in stats().limits and reported by a limit event', () => {
  test('the defaults are stated and every limit starts at zero', (t) => {
    const h = harness(t);
    const limits = h.server.stats().limits;
    assert.deepEqual(Object.keys(limits).sort(), [
      'closeTimeout', 'handshakeTimeout', 'idleTimeout', 'maxBufferedAmount', 'maxConnections', 'maxConnectionsPerAddress',
      'maxFragments', 'maxHeaderBytes', 'maxPayload', 'pongTimeout', 'rateLimit', 'receiveBuffer',
    ]);
    assert.ok(Object.values(limits).every((count) => count === 0));
  });

  test('maxPayload: a message one byte over is failed with 1009', async (t) => {
    const h = harness(t, { maxPayload: 100 });
    const peer = await FaultyPeer.connect(h.server);
    peer.send('x'.repeat(100));
    await peer.until(() => peer.of('message').length === 1, 'the echo');
    peer.send('x'.repeat(101));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1009);
    assertHit(h, 'maxPayload');
    assert.equal(h.limits[0]!.remoteAddress, '10.0.0.1');
    assert.equal(h.limits[0]!.connectionId, h.connections[0]!.id);
  });

  test('maxPayload counts inflated bytes: a small deflate bomb is failed with 1009', async (t) => {
    const h = harness(t, { maxPayload: 10_000, perMessageDeflate: true });
    const peer = await FaultyPeer.connect(h.server, { extra: ['Sec-WebSocket-Extensions: permessage-deflate'] });
    assert.match(peer.responseHead, /sec-websocket-extensions: permessage-deflate/i);
    const bomb = deflateRawSync(Buffer.alloc(1_000_000));
    assert.ok(bomb.length < 10_000, 'the compressed form fits under maxPayload');
    peer.send(clientFrame({ opcode: 2, rsv1: true, payload: bomb.subarray(0, bomb.length - 4) }));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1009);
    assertHit(h, 'maxPayload');
  });

  test('maxFragments: a message in one frame more than allowed is failed with 1008', async (t) => {
    const h = harness(t, { maxFragments: 3 });
    const peer = await FaultyPeer.connect(h.server);
    const frames = (count: number): Buffer => Buffer.concat(Array.from({ length: count }, (_, i) => clientFrame({ opcode: i === 0 ? 1 : 0, fin: i === count - 1, payload: 'ab' })));
    peer.send(frames(3));
    await peer.until(() => peer.of('message').length === 1, 'the echo of a 3-frame message');
    assert.equal(peer.of('message')[0]!.data.toString(), 'ababab');
    peer.send(frames(4));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
    assert.equal(peer.of('message').length, 1);
    assertHit(h, 'maxFragments');
  });

  test('rateLimit (messages): a burst over the bucket is failed with 1008; the bucket refills with time', async (t) => {
    const clock = FakeClock.install(t);
    const h = harness(t, { rateLimit: { messagesPerSecond: 10 } });
    const peer = await FaultyPeer.connect(h.server);
    for (let i = 0; i < 10; i++) peer.send(`m${i}`);
    await peer.until(() => peer.of('message').length === 10, 'ten echoes');
    await clock.advance(1000);
    for (let i = 0; i < 10; i++) peer.send(`n${i}`);
    await peer.until(() => peer.of('message').length === 20, 'ten more echoes a second later');
    assertHit(h, 'rateLimit', 0);
    peer.send('one too many');
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
    assert.equal(peer.of('message').length, 20);
    assertHit(h, 'rateLimit');
  });

  test('rateLimit (bytes): more payload bytes than the bucket holds is failed with 1008', async (t) => {
    FakeClock.install(t);
    const h = harness(t, { rateLimit: { bytesPerSecond: 1000 } });
    const peer = await FaultyPeer.connect(h.server);
    peer.send('x'.repeat(600));
    await peer.until(() => peer.of('message').length === 1, 'the echo');
    peer.send('x'.repeat(600));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
    assertHit(h, 'rateLimit');
  });

  test('rateLimit (bytes): a message larger than bytesPerSecond × burst passes on a full bucket (maxPayload above it is usable); the debt then fails the next', async (t) => {
    FakeClock.install(t);
    const h = harness(t, { rateLimit: { bytesPerSecond: 1000 } });
    const peer = await FaultyPeer.connect(h.server);
    peer.send('x'.repeat(5000));
    await peer.until(() => peer.of('message').length === 1, 'the echo of 5000 bytes');
    peer.send('y');
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
  });

  test('rateLimit counts pings too: a ping flood is failed with 1008', async (t) => {
    FakeClock.install(t);
    const h = harness(t, { rateLimit: { messagesPerSecond: 5 } });
    const peer = await FaultyPeer.connect(h.server);
    peer.send(Buffer.concat(Array.from({ length: 6 }, () => clientFrame({ opcode: 9, payload: 'p' }))));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
    assertHit(h, 'rateLimit');
  });

  test('rateLimit counts pongs too: a flood of unsolicited pongs is failed with 1008, five pass', async (t) => {
    FakeClock.install(t);
    const h = harness(t, { rateLimit: { messagesPerSecond: 5 } });
    const peer = await FaultyPeer.connect(h.server);
    const pongs: number[] = [];
    h.connections[0]!.on('pong', () => pongs.push(pongs.length));
    peer.send(Buffer.concat(Array.from({ length: 6 }, () => clientFrame({ opcode: 10, payload: 'p' }))));
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    assert.equal(peer.of('close')[0]!.code, 1008);
    assert.equal(pongs.length, 5, 'pongs delivered within the limit');
    assertHit(h, 'rateLimit');
  });

  test('maxHeaderBytes: an oversized request head is refused with 431', async (t) => {
    const h = harness(t, { maxHeaderBytes: 1024 });
    const peer = await FaultyPeer.connect(h.server, { extra: [`X-Padding: ${'a'.repeat(2000)}`] });
    assert.equal(peer.status, 431);
    assertHit(h, 'maxHeaderBytes');
  });

  test('handshakeTimeout: a request never finished is dropped when the time is up', async (t) => {
    const clock = FakeClock.install(t);
    const h = harness(t, { handshakeTimeout: 5000 });
    const { socketPair, asSocket } = await import('../support/memory-socket.js');
    const { client, server: end } = socketPair();
    client.on('error', () => {});
    h.server.acceptSocket(asSocket(end));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await clock.advance(4900);
    assert.equal(end.destroyed, false, 'still waiting before the deadline');
    await clock.advance(200);
    assert.equal(end.destroyed, true, 'dropped after it');
    assertHit(h, 'handshakeTimeout');
  });

  test('maxConnections: past it the upgrade is refused with 503', async (t) => {
    const h = harness(t, { maxConnections: 2 });
    await FaultyPeer.connect(h.server, { address: '10.0.0.1' });
    await FaultyPeer.connect(h.server, { address: '10.0.0.2' });
    const third = await FaultyPeer.connect(h.server, { address: '10.0.0.3' });
    assert.equal(third.status, 503);
    assertHit(h, 'maxConnections');
    assert.equal(h.limits.find((event) => event.limit === 'maxConnections')?.detail, '2 connections open');
  });

  test('maxConnectionsPerAddress: a third socket from one address is refused with 429, others are not', async (t) => {
    const h = harness(t, { maxConnectionsPerAddress: 2 });
    const first = await FaultyPeer.connect(h.server, { address: '10.0.0.9' });
    await FaultyPeer.connect(h.server, { address: '10.0.0.9' });
    const third = await FaultyPeer.connect(h.server, { address: '10.0.0.9' });
    assert.equal(third.status, 429);
    assert.equal((await FaultyPeer.connect(h.server, { address: '10.0.0.10' })).status, 101);
    assertHit(h, 'maxConnectionsPerAddress');
    first.reset();
    await first.until(() => h.server.clients.size === 2, 'the reset connection to be gone');
    assert.equal((await FaultyPeer.connect(h.server, { address: '10.0.0.9' })).status, 101, 'room again after one left');
  });

  test('maxBufferedAmount (the outbox): a peer that stops reading is closed with 1013; the buffer stays bounded', async (t) => {
    const h = harness(t, { maxBufferedAmount: 256 * 1024 });
    const peer = await FaultyPeer.connect(h.server);
    peer.stopReading();
    const connection = h.connections[0]!;
    const chunk = Buffer.alloc(16 * 1024);
    let most = 0;
    for (let i = 0; i < 200 && connection.status === 'open'; i++) {
      connection.send(chunk);
      most = Math.max(most, connection.bufferedAmount);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.notEqual(connection.status, 'open', 'closed as a slow consumer');
    assert.ok(most <= 256 * 1024 + chunk.length, `buffered at most ${most} bytes`);
    assertHit(h, 'maxBufferedAmount');
    assert.equal(h.server.stats().dropped >= 1, true);
  });

  test('receiveBuffer: a pull reader whose buffer fills pauses reading and it is counted', async (t) => {
    const h = harness(t);
    const peer = await FaultyPeer.connect(h.server);
    const connection = h.connections[0]!;
    connection.setHandler({});
    const reader = connection.messages({ maxBufferedMessages: 2 });
    peer.send('a');
    peer.send('b');
    await peer.until(() => connection.isPaused, 'reading to pause');
    assertHit(h, 'receiveBuffer');
    assert.equal((await reader.next()).data, 'a');
  });

  test('closeTimeout: a peer that never answers our close frame is dropped when the time is up', async (t) => {
    const clock = FakeClock.install(t);
    const h = harness(t, { closeTimeout: 3000 });
    const peer = await FaultyPeer.connect(h.server);
    const connection = h.connections[0]!;
    connection.close(1000, 'bye');
    await peer.until(() => peer.of('close').length === 1, 'the close frame');
    await clock.advance(2900);
    assert.notEqual(connection.status, 'closed');
    await clock.advance(200);
    await peer.until(() => connection.status === 'closed', 'the connection to be dropped');
    assertHit(h, 'closeTimeout');
  });
});

describe('per-address count after a failed accept', { timeout: 30_000 }, () => {
  test('a connection whose onOpen throws frees its place under maxConnectionsPerAddress once, not twice', async (t) => {
    let throwOnOpen = false;
    const srv = await serve(t, {
      maxConnectionsPerAddress: 2,
      onConnection: () => ({
        onOpen: () => {
          if (throwOnOpen) throw new Error('application bug in onOpen');
        },
      }),
    });
    srv.server.on('error', () => {});
    await wsClient(t, srv.url);
    throwOnOpen = true;
    const failing = new WebSocket(srv.url);
    failing.on('error', () => {});
    await withTimeout(new Promise((resolve) => failing.once('close', resolve)), 'the failing connection to close');
    throwOnOpen = false;
    await eventually(() => srv.server.clients.size === 1, 'the failed connection to leave the registry');
    await wsClient(t, srv.url);
    assert.equal((await refusedWs(srv.url)).status, 429, 'the address has two open connections again, so a third is refused');
  });
});

describe('per-address count of plain HTTP requests', { timeout: 30_000 }, () => {
  test('a socket answered by onHttpRequest whose peer keeps its side open is dropped in time, and frees its place under maxConnectionsPerAddress', async (t) => {
    const srv = await serve(t, { maxConnectionsPerAddress: 1, onHttpRequest: () => ({ status: 200, body: 'hello' }) });
    const held = createConnection({ host: '127.0.0.1', port: srv.port, allowHalfOpen: true });
    held.on('error', () => {});
    t.after(() => held.destroy());
    const answered = new Promise<string>((resolve) => {
      let text = '';
      held.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      // The server's FIN: the answer is complete, and this side stays open (half-open).
      held.on('end', () => resolve(text));
    });
    held.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.match(await withTimeout(answered, 'the plain HTTP answer'), /^HTTP\/1\.1 200 /);
    assert.equal((await refusedWs(srv.url)).status, 429, 'the held socket still counts');
    // Refusals are dropped 2 s after their answer: the same bound frees the held socket's place.
    const outcomes: string[] = [];
    const deadline = Date.now() + 6000;
    while (outcomes.at(-1) !== 'open' && Date.now() < deadline) {
      const ws = new WebSocket(srv.url);
      ws.on('error', () => {});
      t.after(() => closeWs(ws));
      const outcome = await withTimeout(
        new Promise<string>((resolve) => {
          ws.once('open', () => resolve('open'));
          ws.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
          ws.once('error', (error) => resolve(error.message));
        }),
        'the outcome of an upgrade',
      );
      outcomes.push(outcome);
      await closeWs(ws);
      if (outcome !== 'open') await sleep(200);
    }
    assert.equal(outcomes.at(-1), 'open', `a WebSocket client gets in once the plain HTTP socket is dropped (got ${outcomes.join(', ')})`);
  });
});
