/**
 * The standard WebSocket class with reconnection (opt-in; off by default, as in browsers), over
 * real sockets on 127.0.0.1: a server restart while sending (every message exactly once, in
 * order), the events and readyState around a drop, the codes that stop it, close() between
 * attempts, the outbox bound, and the heartbeat finding a dead peer.
 */
import { strict as assert } from 'node:assert';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { OutboxFullError, WebSocketServer, type Connection, type ServerOptions } from '../../src/index.js';
import { type CloseEvent, type WebSocketErrorEvent } from '../../src/client/dom-events.js';
import { WebSocket, type WebSocketCloseEvent, type WebSocketOptions } from '../../src/client/websocket.js';
import { Queue, closedPort, startRawWsServer, withTimeout } from '../support/net.js';
import { eventually } from '../support/server-kit.js';

interface Seen {
  type: string;
  readyState: number;
  event: Event;
}

/** A WebSocket whose events are recorded (with the readyState at dispatch); closed after the test. */
function open(t: TestContext, url: string, options: WebSocketOptions): { ws: WebSocket; events: Queue<Seen> } {
  const ws = new WebSocket(url, options);
  const events = new Queue<Seen>();
  for (const type of ['open', 'error', 'close'] as const) ws.addEventListener(type, (event: Event) => events.push({ type, readyState: ws.readyState, event }));
  t.after(() => ws.close());
  return { ws, events };
}

async function next(events: Queue<Seen>, type: string, label = `the ${type} event`): Promise<Seen> {
  const seen = await events.next(label);
  assert.equal(seen.type, type, `${label}: got '${seen.type}'; so far: ${events.history.map((e) => e.type).join(', ')}`);
  return seen;
}

/** A sockwave server on 127.0.0.1:`port` counting connections and recording text messages. */
async function listenOn(t: TestContext, port: number, options: ServerOptions = {}): Promise<{ server: WebSocketServer; port: number; url: string; connections: Connection[]; texts: string[] }> {
  const server = new WebSocketServer({ ...options, host: '127.0.0.1', port });
  const connections: Connection[] = [];
  const texts: string[] = [];
  server.on('connection', (connection) => {
    connections.push(connection);
    connection.on('message', (data) => texts.push(String(data)));
  });
  const info = await withTimeout(server.listen(), 'the server to listen');
  t.after(() => withTimeout(server.close({ timeout: 500 }), 'the server to close').catch(() => {}));
  return { server, port: info.port, url: info.url, connections, texts };
}

const FAST = { minDelay: 20, maxDelay: 100 };

describe('WebSocket reconnection (opt-in)', { timeout: 60_000 }, () => {
  test('off by default: a drop closes for good (1006, CLOSED), and no new connection is made', async (t) => {
    const srv = await listenOn(t, 0);
    const { ws, events } = open(t, srv.url, {});
    await next(events, 'open');
    srv.connections[0]!.terminate();
    const close = await next(events, 'close');
    assert.equal((close.event as CloseEvent).code, 1006);
    assert.equal(close.readyState, WebSocket.CLOSED);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined);
    assert.equal((close.event as WebSocketCloseEvent).waitTime, undefined);
    await delay(200);
    assert.equal(srv.connections.length, 1, 'a reconnection was attempted');
    assert.equal(ws.readyState, WebSocket.CLOSED);
    const other = new WebSocket(srv.url);
    t.after(() => other.close());
    assert.throws(() => other.send('x'), { name: 'InvalidStateError' });
  });

  test('a server restart while sending: every message arrives exactly once, in order; open fires again', async (t) => {
    const TOTAL = 800;
    const port = await closedPort();
    const first = await listenOn(t, port);
    const { ws, events } = open(t, first.url, { reconnect: FAST });
    // The handler attribute's event is typed with the reconnection fields (no cast needed).
    const handlerSaw: [boolean | undefined, number | undefined][] = [];
    ws.onclose = (event) => handlerSaw.push([event.willReconnect, event.waitTime]);
    await next(events, 'open');
    let sent = 0;
    let sentWhileConnecting = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 4 && sent < TOTAL; i++) {
        if (ws.readyState === WebSocket.CONNECTING) sentWhileConnecting++;
        ws.send(String(sent++));
      }
      if (sent === TOTAL) clearInterval(timer);
    }, 1);
    t.after(() => clearInterval(timer));
    await eventually(() => sent >= TOTAL / 4, 'a quarter of the messages to be sent');
    await withTimeout(first.server.close({ code: 1001, reason: 'restarting', timeout: 2000 }), 'the first server to close');
    const close = await next(events, 'close');
    assert.equal((close.event as CloseEvent).code, 1001);
    assert.equal((close.event as CloseEvent).reason, 'restarting');
    assert.equal(close.readyState, WebSocket.CONNECTING, 'a reconnecting WebSocket is CONNECTING when its close event fires');
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    const wait = (close.event as WebSocketCloseEvent).waitTime;
    assert.ok(wait !== undefined && wait >= 0 && wait <= FAST.maxDelay, `waitTime ${wait}`);
    assert.deepEqual(handlerSaw[0], [true, wait]);
    await delay(100);
    const second = await listenOn(t, port);
    // Attempts made while no server listened failed: error and close (still CONNECTING) each.
    for (let seen = await events.next('the open after reconnecting'); seen.type !== 'open'; seen = await events.next('the open after reconnecting')) {
      assert.ok(seen.type === 'error' || seen.type === 'close', seen.type);
      assert.equal(seen.readyState, WebSocket.CONNECTING);
    }
    await eventually(() => sent === TOTAL, 'every message to be sent', 20_000);
    await eventually(() => first.texts.length + second.texts.length >= TOTAL, 'every message to arrive', 20_000);
    const all = [...first.texts, ...second.texts].map(Number);
    assert.deepEqual(all, Array.from({ length: TOTAL }, (_, i) => i), 'lost, duplicated or reordered');
    assert.ok(sentWhileConnecting > 0, 'nothing was sent while reconnecting: the restart did not happen while sending');
    assert.ok(second.texts.length > 0);
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
    t.diagnostic(`${sentWhileConnecting} messages were sent while reconnecting`);
  });

  test('close codes that mean "do not come back" (1008, 4000-4999) end it: CLOSED, no new connection', async (t) => {
    for (const code of [1008, 4001]) {
      const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(code, 'go away') }) });
      const { ws, events } = open(t, srv.url, { reconnect: FAST });
      await next(events, 'open');
      const close = await next(events, 'close');
      assert.equal((close.event as CloseEvent).code, code);
      assert.equal(close.readyState, WebSocket.CLOSED);
      await delay(150);
      assert.equal(srv.connections.length, 1, `code ${code}: a reconnection was attempted`);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    }
  });

  test('failed attempts report error then close each time; close() between attempts stops for good', async (t) => {
    let attempts = 0;
    const dropping = createNetServer((socket) => {
      attempts++;
      socket.on('error', () => {});
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', () => resolve()));
    t.after(() => new Promise<void>((resolve) => dropping.close(() => resolve())));
    const { ws, events } = open(t, `ws://127.0.0.1:${(dropping.address() as AddressInfo).port}/`, { reconnect: { minDelay: 50, maxDelay: 50 } });
    ws.send('kept while connecting');
    assert.equal(ws.bufferedAmount, 'kept while connecting'.length);
    for (let i = 0; i < 2; i++) {
      const error = await next(events, 'error');
      assert.ok((error.event as WebSocketErrorEvent).error instanceof Error);
      const close = await next(events, 'close');
      assert.equal((close.event as CloseEvent).code, 1006);
      assert.equal(close.readyState, WebSocket.CONNECTING);
    }
    await eventually(() => attempts >= 2, 'two attempts');
    // Between attempts now (the wait is 50 ms at most, the events came after the attempt failed).
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const rest = [await events.next('the final event'), await events.next('the final close')];
    assert.deepEqual(rest.map((s) => s.type), ['error', 'close']);
    assert.equal(rest[1]!.readyState, WebSocket.CLOSED);
    const count = attempts;
    await delay(200);
    assert.equal(attempts, count, 'an attempt was made after close()');
  });

  test("the outbox is bounded: policy 'reject' throws OutboxFullError, and nothing already accepted is lost", async (t) => {
    const port = await closedPort();
    const { ws, events } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 30, maxDelay: 60 }, outbox: { maxMessages: 2 } });
    ws.send('a');
    ws.send('b');
    assert.throws(() => ws.send('c'), OutboxFullError);
    assert.equal(ws.bufferedAmount, 2);
    await next(events, 'error', 'the failed first attempt');
    const srv = await listenOn(t, port);
    await eventually(() => srv.texts.length === 2, 'the queued messages to arrive', 10_000);
    assert.deepEqual(srv.texts, ['a', 'b']);
  });

  test('the heartbeat finds a peer that stops answering: 1006, then reconnection', async (t) => {
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const { events } = open(t, raw.url, { reconnect: FAST, pingInterval: 30, pongTimeout: 120 });
    await next(events, 'open');
    await raw.sockets.next('the first connection');
    const close = await next(events, 'close', 'the close after the missing pong');
    assert.equal((close.event as CloseEvent).code, 1006);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    await raw.sockets.next('the reconnection');
    await next(events, 'open', 'the open after reconnecting');
  });
});
