/**
 * The standard WebSocket class with reconnection (opt-in; off by default, as in browsers), over
 * real sockets on 127.0.0.1: a server restart while sending (every message exactly once, in
 * order), the events and readyState around a drop, the codes that stop it, close() between
 * attempts and in the error handler, options.signal, the outbox bound and what it keeps across a
 * failed attempt, a clean close from the server, and the heartbeat finding a dead peer.
 */
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HandshakeError, OutboxFullError, WebSocketServer, type Connection, type ServerOptions, type SockwaveError } from '../../src/index.js';
import { type CloseEvent, type WebSocketErrorEvent } from '../../src/client/dom-events.js';
import { WebSocket, type WebSocketCloseEvent, type WebSocketOptions } from '../../src/client/websocket.js';
import { Queue, closedPort, parseFrame, startRawWsServer, startSilentServer, withTimeout } from '../support/net.js';
import { eventually } from '../support/server-kit.js';
import { UnreadableBlob } from '../support/unreadable-blob.js';

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

/**
 * The end of a WebSocket that failed for good: error, then close 1006, both with readyState
 * CLOSED, the close announcing no further attempt.
 */
async function failedForGood(events: Queue<Seen>, label: string): Promise<WebSocketErrorEvent> {
  const error = await next(events, 'error', `${label}: the error event`);
  assert.equal(error.readyState, WebSocket.CLOSED, `${label}: readyState at the error event`);
  const close = await next(events, 'close', `${label}: the close event`);
  assert.equal(close.readyState, WebSocket.CLOSED, `${label}: readyState at the close event`);
  assert.equal((close.event as CloseEvent).code, 1006);
  assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined, `${label}: the close event announces another attempt`);
  return error.event as WebSocketErrorEvent;
}

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

  test('a server that drops every connection at once (1011): the backoff grows, and with maxRetries 0 each drop is still followed by an attempt', async (t) => {
    // The backoff's ceiling is minDelay × 2^step: with random() near 1 each wait shows its step.
    t.mock.method(Math, 'random', () => 0.9999);
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(1011, 'broken') }) });
    const { ws, events } = open(t, srv.url, { reconnect: { minDelay: 2, maxDelay: 100, maxRetries: 0 } });
    const waits: number[] = [];
    for (let i = 1; i <= 3; i++) {
      await next(events, 'open', `open ${i}`);
      const close = await next(events, 'close', `close ${i}`);
      assert.equal((close.event as CloseEvent).code, 1011);
      assert.equal((close.event as WebSocketCloseEvent).willReconnect, true, `close ${i} announces another attempt`);
      waits.push((close.event as WebSocketCloseEvent).waitTime!);
    }
    ws.close();
    assert.deepEqual(waits, [1, 3, 7]);
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

  test('close() during a long wait between attempts ends it at once (error, close 1006), without waiting the backoff out', async (t) => {
    const port = await closedPort();
    // The jitter's random source, fixed: the wait is 99% of a minute.
    t.mock.method(Math, 'random', () => 0.99);
    const { ws, events } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 60_000, maxDelay: 60_000 } });
    await next(events, 'error', 'the error of the refused attempt');
    const close = await next(events, 'close', 'the close of the refused attempt');
    assert.deepEqual([(close.event as WebSocketCloseEvent).willReconnect, (close.event as WebSocketCloseEvent).waitTime], [true, 59_400]);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const error = await failedForGood(events, 'close() while waiting a minute');
    assert.match(error.error?.message ?? '', /closed before the connection was established/);
  });

  test('maxRetries 0: a first attempt that fails is not retried (error, close 1006 for good), unlike a drop after open', async (t) => {
    const port = await closedPort();
    const { events } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: { ...FAST, maxRetries: 0 } });
    await failedForGood(events, 'a refused first attempt with maxRetries 0');
    // After a drop, the attempts are counted afresh: the first refused one ends it too.
    const srv = await listenOn(t, 0);
    const again = open(t, srv.url, { reconnect: { ...FAST, maxRetries: 0 } });
    await next(again.events, 'open');
    await withTimeout(srv.server.close({ timeout: 0 }), 'the server to close');
    const drop = await next(again.events, 'close', 'the close of the dropped connection');
    assert.equal((drop.event as WebSocketCloseEvent).willReconnect, true);
    await failedForGood(again.events, 'a refused attempt after a drop, with maxRetries 0');
  });

  test('an attempt whose options became invalid (a header value changed to hold a newline) fails for good, with no uncaught error', async (t) => {
    const port = await closedPort();
    const headers: Record<string, string> = { 'X-Test': 'fine' };
    const { ws, events } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxDelay: 50 }, headers });
    ws.send('waits for a connection');
    await next(events, 'error', 'the first attempt: error');
    const close = await next(events, 'close', 'the first attempt: close');
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    // The next attempt reads the same object: connect() now throws at once, from the retry timer.
    headers['X-Test'] = 'bad\r\nvalue';
    const error = await failedForGood(events, 'the attempt that threw');
    assert.match(error.error?.message ?? '', /X-Test/);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await delay(200);
    assert.equal(events.history.length, 4, `events after the final close: ${events.history.map((e) => e.type).join(', ')}`);
  });

  test('options.signal, already aborted or aborted during the handshake: error, close 1006 (CLOSED), and no further attempt', async (t) => {
    for (const when of ['already aborted', 'aborted during the handshake'] as const) {
      const silent = await startSilentServer();
      t.after(() => silent.close());
      const controller = new AbortController();
      if (when === 'already aborted') controller.abort();
      const { ws, events } = open(t, `ws://127.0.0.1:${silent.port}/`, { reconnect: FAST, signal: controller.signal });
      if (when === 'aborted during the handshake') {
        await silent.sockets.next(`${when}: the TCP connection`);
        controller.abort();
      }
      const error = await failedForGood(events, when);
      assert.match(error.error?.message ?? '', /aborted/);
      const attempts = silent.sockets.history.length;
      await delay(4 * FAST.maxDelay);
      assert.equal(silent.sockets.history.length, attempts, `${when}: an attempt was made after the abort`);
      assert.equal(events.history.length, 2, `${when}: events after the close: ${events.history.map((e) => e.type).join(', ')}`);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    }
  });

  test('options.signal: once open, or failed for good, no abort listener is left on it (with or without reconnection)', async (t) => {
    const srv = await listenOn(t, 0);
    for (const reconnect of [false, FAST]) {
      const controller = new AbortController();
      const { events } = open(t, srv.url, { signal: controller.signal, reconnect });
      await next(events, 'open');
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0, `reconnect ${JSON.stringify(reconnect)}`);
    }
    // Nor once failed for good without ever opening.
    const controller = new AbortController();
    const { events } = open(t, `ws://127.0.0.1:${await closedPort()}/`, { signal: controller.signal });
    await failedForGood(events, 'refused, with a signal');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'after a refused connection');
  });

  test('options.signal aborted after a drop (in the close handler or during the wait), or while open: it ends for good', async (t) => {
    for (const when of ['in the close handler', 'during the wait', 'while open'] as const) {
      const srv = await listenOn(t, 0);
      const controller = new AbortController();
      const { ws, events } = open(t, srv.url, { reconnect: { minDelay: 300, maxDelay: 300 }, signal: controller.signal });
      await next(events, 'open', `${when}: the open event`);
      if (when === 'in the close handler') ws.addEventListener('close', () => controller.abort(), { once: true });
      if (when === 'while open') controller.abort();
      srv.connections[0]!.terminate();
      if (when === 'while open') {
        // The open connection was not affected; its end is final: a drop reports no error.
        const close = await next(events, 'close', `${when}: the close event`);
        assert.equal(close.readyState, WebSocket.CLOSED);
        assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined, `${when}: the close event announces another attempt`);
      } else {
        // The drop was announced with another attempt to come; the abort cancels it.
        const drop = await next(events, 'close', `${when}: the close event of the drop`);
        assert.equal((drop.event as WebSocketCloseEvent).willReconnect, true);
        if (when === 'during the wait') controller.abort();
        const error = await failedForGood(events, when);
        assert.match(error.error?.message ?? '', /aborted/);
      }
      const seen = events.history.length;
      await delay(500);
      assert.equal(srv.connections.length, 1, `${when}: a reconnection was attempted`);
      assert.equal(events.history.length, seen, `${when}: events after the end: ${events.history.map((e) => e.type).join(', ')}`);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    }
  });

  test('close() in the error handler of a failed attempt: that attempt\'s close is the last event (CLOSED, 1006), once', async (t) => {
    const port = await closedPort();
    const { ws, events } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxDelay: 50 } });
    let readyStateAfterClose: number | undefined;
    ws.addEventListener(
      'error',
      () => {
        ws.close();
        readyStateAfterClose = ws.readyState;
      },
      { once: true },
    );
    const error = await next(events, 'error');
    assert.equal(error.readyState, WebSocket.CONNECTING, 'the failed attempt was to be followed by another');
    assert.equal(readyStateAfterClose, WebSocket.CLOSING);
    const close = await next(events, 'close');
    assert.equal(close.readyState, WebSocket.CLOSED);
    assert.equal((close.event as CloseEvent).code, 1006);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined, 'the close event announces another attempt');
    await delay(200);
    assert.deepEqual(
      events.history.map((e) => e.type),
      ['error', 'close'],
    );
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test('an attempt failed after its handshake (no subprotocol selected): what was queued is kept and sent, in order, on the next connection', async (t) => {
    let handshakes = 0;
    // The first handshake selects no subprotocol (the WebSocket fails that attempt, as the
    // standard says); the next ones select 'chat'.
    const srv = await listenOn(t, 0, { onConnection: () => (++handshakes === 1 ? {} : { protocol: 'chat' }) });
    const { ws, events } = open(t, srv.url, { protocols: ['chat'], reconnect: FAST });
    ws.send('one');
    ws.send('two');
    const error = await next(events, 'error', 'the error of the failed attempt');
    assert.match((error.event as WebSocketErrorEvent).error?.message ?? '', /selected none of the subprotocols/);
    // A HandshakeError whose status is the 101 that came (the answer was a switch, without a subprotocol).
    const handshakeError = (error.event as WebSocketErrorEvent).error;
    assert.ok(handshakeError instanceof HandshakeError);
    assert.equal(handshakeError.status, 101);
    const close = await next(events, 'close', 'the close of the failed attempt');
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    ws.send('three');
    await next(events, 'open', 'the open after reconnecting');
    assert.equal(ws.protocol, 'chat');
    await eventually(() => srv.texts.length >= 3, 'the queued messages to arrive');
    assert.deepEqual(srv.texts, ['one', 'two', 'three']);
    assert.equal(srv.connections.length, 2);
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
  });

  test('an unreadable Blob fails the connection: the Blob alone is lost; what was sent after it goes out, in order, on the next connection', async (t) => {
    const srv = await listenOn(t, 0);
    const serverSaw: Array<[number, string]> = [];
    srv.server.on('connection', (connection) => connection.on('close', (info) => serverSaw.push([info.code, info.reason])));
    const { ws, events } = open(t, srv.url, { reconnect: FAST });
    await next(events, 'open');
    ws.send('before');
    ws.send(new UnreadableBlob(['12345']));
    ws.send('after 1');
    ws.send('after 2');
    const error = await next(events, 'error', 'the error for the Blob');
    assert.equal((error.event as WebSocketErrorEvent).error?.message, 'a Blob passed to send() could not be read');
    const close = await next(events, 'close', 'the close of the failed connection');
    assert.deepEqual([(close.event as CloseEvent).code, (close.event as WebSocketCloseEvent).willReconnect], [1006, true]);
    await next(events, 'open', 'the open after reconnecting');
    await eventually(() => srv.texts.length >= 3, 'the messages after the Blob to arrive');
    // What was sent before the Blob went out first, then a close frame saying why.
    assert.deepEqual(srv.texts, ['before', 'after 1', 'after 2']);
    assert.deepEqual(serverSaw, [[1011, 'a Blob passed to send() could not be read']]);
    assert.equal(srv.connections.length, 2);
    // The Blob's 5 bytes are no longer counted: it will never be sent.
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
  });

  test('a Blob whose read fails after its connection dropped: an error event for it alone, and what followed it goes out on the next connection', async (t) => {
    const srv = await listenOn(t, 0);
    const { ws, events } = open(t, srv.url, { reconnect: FAST });
    await next(events, 'open');
    let failRead = (_error: Error): void => {};
    const blob = new (class extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return new Promise((_resolve, reject) => (failRead = reject));
      }
    })(['12345']);
    ws.send(blob);
    ws.send('after');
    // The read fails once the connection is gone (in the close event's task, before any new attempt).
    ws.addEventListener('close', () => failRead(new Error('gone')), { once: true });
    srv.connections[0]!.terminate();
    const close = await next(events, 'close', 'the close of the dropped connection');
    assert.deepEqual([(close.event as CloseEvent).code, (close.event as WebSocketCloseEvent).willReconnect], [1006, true]);
    const error = await next(events, 'error', 'the error for the Blob');
    assert.equal((error.event as WebSocketErrorEvent).error?.message, 'a Blob passed to send() could not be read');
    assert.equal(error.readyState, WebSocket.CONNECTING);
    await next(events, 'open', 'the open after reconnecting');
    await eventually(() => srv.texts.length >= 1, 'the message after the Blob to arrive');
    assert.deepEqual(srv.texts, ['after']);
    assert.equal(srv.connections.length, 2);
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
    await delay(50);
    assert.deepEqual(events.history.map((seen) => seen.type), ['open', 'close', 'error', 'open'], 'nothing else happened');
  });

  test('a Blob still being read when its connection drops: read, it waits and goes out on the next connection, before what followed it', async (t) => {
    const srv = await listenOn(t, 0);
    const { ws, events } = open(t, srv.url, { reconnect: FAST });
    await next(events, 'open');
    let finishRead = (_bytes: ArrayBuffer): void => {};
    const blob = new (class extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return new Promise((resolve) => (finishRead = resolve));
      }
    })(['blob!']);
    ws.send(blob);
    ws.send('after');
    // The read ends once the connection is gone (in the close event's task, before any new attempt).
    ws.addEventListener('close', () => finishRead(new TextEncoder().encode('blob!').buffer as ArrayBuffer), { once: true });
    srv.connections[0]!.terminate();
    await next(events, 'close', 'the close of the dropped connection');
    await next(events, 'open', 'the open after reconnecting');
    await eventually(() => srv.texts.length >= 2, 'the Blob and the message after it to arrive');
    assert.deepEqual(srv.texts, ['blob!', 'after']);
    assert.equal(srv.connections.length, 2);
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
  });

  test('after a drop, while CONNECTING again, protocol and extensions are empty until the next open sets them', async (t) => {
    const srv = await listenOn(t, 0, { perMessageDeflate: true, onConnection: () => ({ protocol: 'chat' }) });
    const { ws, events } = open(t, srv.url, { protocols: ['chat'], reconnect: FAST });
    await next(events, 'open');
    assert.equal(ws.protocol, 'chat');
    assert.match(ws.extensions, /^permessage-deflate\b/);
    let during: unknown[] = [];
    ws.addEventListener('close', () => (during = [ws.readyState, ws.protocol, ws.extensions]), { once: true });
    srv.connections[0]!.terminate();
    await next(events, 'close', 'the close of the dropped connection');
    assert.deepEqual(during, [WebSocket.CONNECTING, '', '']);
    await next(events, 'open', 'the open after reconnecting');
    assert.equal(ws.protocol, 'chat');
    assert.match(ws.extensions, /^permessage-deflate\b/);
  });

  test('a clean close from the server (1000) while onmessage replies: close 1000 with its reason, clean, no error', async (t) => {
    // The message and the close frame come together, right behind the 101: the reply is sent while
    // the closing handshake is under way. The server closes TCP once the client answered.
    const after101 = Buffer.concat([Buffer.from([0x81, 5]), Buffer.from('hello'), Buffer.from([0x88, 5, 0x03, 0xe8]), Buffer.from('bye')]);
    const raw = await startRawWsServer(after101, {
      paused: false,
      upgraded: (socket) => {
        socket.on('data', () => socket.end());
        socket.on('end', () => socket.end());
      },
    });
    t.after(() => raw.close());
    const { ws, events } = open(t, raw.url, { reconnect: FAST });
    const replies: number[] = [];
    ws.onmessage = () => {
      ws.send('reply');
      replies.push(ws.readyState);
    };
    await next(events, 'open');
    const close = await next(events, 'close', 'the close event (no error before it)');
    assert.deepEqual(replies, [WebSocket.OPEN]);
    const { code, reason, wasClean } = close.event as CloseEvent;
    assert.deepEqual({ code, reason, wasClean }, { code: 1000, reason: 'bye', wasClean: true });
    assert.equal(close.readyState, WebSocket.CLOSED);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined);
    // As a send() while CLOSING: not sent, counted, not an error.
    assert.equal(ws.bufferedAmount, 'reply'.length);
    await delay(200);
    assert.equal(raw.sockets.history.length, 1, 'a reconnection was attempted');
    assert.deepEqual(
      events.history.map((e) => e.type),
      ['open', 'close'],
    );
  });

  test('a connection the server closes right behind its 101 (1001): what was queued is not lost on it; it goes out, in order, on the next', async (t) => {
    // The first connection's close frame comes in the 101's own write: that connection is closing
    // before its open event. Each connection's text messages are recorded; a close is answered with FIN.
    const texts: string[][] = [];
    const raw = await startRawWsServer((index) => (index === 0 ? Buffer.from([0x88, 2, 0x03, 0xe9]) : Buffer.alloc(0)), {
      paused: false,
      upgraded: (socket) => {
        const mine: string[] = [];
        texts.push(mine);
        let pending = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          for (let parsed = parseFrame(pending); parsed !== undefined; parsed = parseFrame(pending)) {
            pending = pending.subarray(parsed.size);
            if (parsed.frame.opcode === 0x1) mine.push(parsed.frame.payload.toString());
            if (parsed.frame.opcode === 0x8) socket.end();
          }
        });
      },
    });
    t.after(() => raw.close());
    const { ws, events } = open(t, raw.url, { reconnect: FAST });
    ws.send('one');
    ws.send('two');
    await next(events, 'open', 'the open of the connection closed behind its 101');
    const close = await next(events, 'close', 'the close of that connection');
    assert.equal((close.event as CloseEvent).code, 1001);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    assert.equal(ws.bufferedAmount, 6, 'what waited no longer counted: it was dropped');
    await next(events, 'open', 'the open after reconnecting');
    await eventually(() => (texts[1]?.length ?? 0) >= 2, 'the queued messages on the second connection');
    assert.deepEqual(texts, [[], ['one', 'two']]);
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
  });

  test('close() while the server is closing (CLOSING, 1001: a retryable code) stops reconnection: no new connection, nothing queued', async (t) => {
    // The server starts the closing handshake right behind the 101 and closes TCP only when told.
    const raw = await startRawWsServer(Buffer.from([0x88, 2, 0x03, 0xe9]), { paused: false });
    t.after(() => raw.close());
    const { ws, events } = open(t, raw.url, { reconnect: FAST });
    await next(events, 'open');
    const socket = await raw.sockets.next('the first connection');
    await eventually(() => ws.readyState === WebSocket.CLOSING, 'readyState CLOSING (the server\'s close frame read)');
    ws.close();
    ws.send('after close()');
    socket.end();
    const close = await next(events, 'close');
    assert.equal((close.event as CloseEvent).code, 1001);
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, undefined, 'announced a reconnection after close()');
    assert.equal(close.readyState, WebSocket.CLOSED);
    await delay(300);
    assert.equal(raw.sockets.history.length, 1, 'reconnected after close()');
    assert.deepEqual(events.history.map((e) => e.type), ['open', 'close']);
    assert.equal(ws.bufferedAmount, 'after close()'.length, 'a send() after close() is counted, not queued');
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

  test("policy 'drop-oldest': each drop is an error event whose error is an OutboxFullError handing the message back", async (t) => {
    const port = await closedPort();
    const { ws } = open(t, `ws://127.0.0.1:${port}/`, { reconnect: FAST, outbox: { maxMessages: 2, policy: 'drop-oldest' } });
    const drops = new Queue<Error | undefined>();
    ws.addEventListener('error', (event: Event) => {
      const error = (event as WebSocketErrorEvent).error;
      if ((error as SockwaveError | undefined)?.code === 'SW_OUTBOX_FULL') drops.push(error);
    });
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send('b');
    ws.send('c');
    ws.send('d');
    assert.equal(ws.bufferedAmount, 2, 'the dropped messages are no longer counted');
    const errors = await drops.take(2, 'the error events of the two drops');
    assert.deepEqual(
      errors.map((error) => (error instanceof OutboxFullError ? error.dropped : `not an OutboxFullError: ${String(error)}`)),
      [
        { data: Buffer.from([1, 2, 3]), binary: true },
        { data: Buffer.from('b'), binary: false },
      ],
    );
  });

  test('a connection lost with data unsent: once reconnected and idle, bufferedAmount is back to 0', async (t) => {
    // The server never reads: 8 MiB cannot all leave before it drops the connection.
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const { ws, events } = open(t, raw.url, { reconnect: FAST });
    await next(events, 'open');
    const first = await raw.sockets.next('the first connection');
    for (let i = 0; i < 8; i++) ws.send(new Uint8Array(1024 * 1024));
    assert.equal(ws.bufferedAmount, 8 * 1024 * 1024);
    first.destroy();
    const close = await next(events, 'close', 'the close of the dropped connection');
    assert.equal((close.event as WebSocketCloseEvent).willReconnect, true);
    await raw.sockets.next('the reconnection');
    await next(events, 'open', 'the open after reconnecting');
    await eventually(() => ws.bufferedAmount === 0, 'bufferedAmount to return to 0 on the idle new connection').catch((error: Error) =>
      assert.fail(`${error.message} (it is ${ws.bufferedAmount})`),
    );
  });

  test('the heartbeat is off unless pingInterval is given: no ping without it, pings with it', async (t) => {
    const srv = await listenOn(t, 0);
    const pings = new Map<Connection, number>();
    srv.server.on('connection', (connection) => {
      pings.set(connection, 0);
      connection.on('ping', () => pings.set(connection, pings.get(connection)! + 1));
    });
    const quiet = open(t, srv.url, {});
    await next(quiet.events, 'open');
    const pinging = open(t, srv.url, { pingInterval: 10 });
    await next(pinging.events, 'open');
    // Once the pinging socket's pings have arrived, the quiet one (open the longer) has sent none.
    await eventually(() => pings.get(srv.connections[1]!)! >= 2, 'the pings of the socket with pingInterval');
    assert.equal(pings.get(srv.connections[0]!), 0, 'no ping without pingInterval');
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
