/**
 * The reconnecting, handler-style client (createClient / WebSocketClient) over real sockets on
 * 127.0.0.1: reconnection across server restarts without loss or duplication, the outbox, the
 * close codes and HTTP statuses that stop it, Retry-After, maxRetries, close(), the target
 * provider, data types, the heartbeat and info().
 */
import { strict as assert } from 'node:assert';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { getEventListeners } from 'node:events';
import {
  createClient,
  HandshakeError,
  OutboxFullError,
  refuse,
  SockwaveError,
  UnsentMessagesError,
  WebSocketServer,
  type ClientCloseInfo,
  type ClientErrorInfo,
  type ClientSendResult,
  type Connection,
  type CreateClientOptions,
  type ServerOptions,
  type Target,
  type UpgradeRequest,
  type WebSocketClient,
} from '../../src/index.js';
import { serverFrame } from '../support/frames.js';
import { Queue, closedPort, deferred, startRawWsServer, startServer, withTimeout } from '../support/net.js';
import { serve } from '../support/server-kit.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Throws `message`: a handler with a bug. */
function fail(message: string): never {
  throw new Error(message);
}

/** Polls `predicate` every 5 ms; fails after `ms`. */
async function waitUntil(predicate: () => boolean, label: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${label}`);
    await delay(5);
  }
}

interface Tracked {
  client: WebSocketClient;
  /** The connection URL at each onOpen. */
  opens: Queue<string | undefined>;
  messages: Queue<{ message: unknown; isBinary: boolean }>;
  errors: Queue<ClientErrorInfo>;
  closes: Queue<ClientCloseInfo>;
  pongs: Queue<Buffer>;
}

/** createClient with every event recorded into queues; closed after the test. */
function track(t: TestContext, target: string | URL | (() => Target | Promise<Target>), options: CreateClientOptions = {}): Tracked {
  const opens = new Queue<string | undefined>();
  const messages = new Queue<{ message: unknown; isBinary: boolean }>();
  const errors = new Queue<ClientErrorInfo>();
  const closes = new Queue<ClientCloseInfo>();
  const pongs = new Queue<Buffer>();
  const client = createClient(target, {
    ...options,
    onOpen(c) {
      opens.push(c.current?.url);
      options.onOpen?.(c);
    },
    onMessage(c, message, isBinary) {
      messages.push({ message, isBinary });
      options.onMessage?.(c, message, isBinary);
    },
    onError(c, info) {
      errors.push(info);
      options.onError?.(c, info);
    },
    onClose(c, info) {
      closes.push(info);
      options.onClose?.(c, info);
    },
    onPong(c, payload) {
      pongs.push(payload);
      options.onPong?.(c, payload);
    },
  });
  t.after(() => client.close());
  return { client, opens, messages, errors, closes, pongs };
}

interface Listening {
  server: WebSocketServer;
  port: number;
  url: string;
  /** Server-side connections with their requests, in order. */
  connections: Queue<{ connection: Connection; request: UpgradeRequest }>;
  /** Every message any connection of this server received, in order. */
  messages: Queue<{ data: string | Buffer; isBinary: boolean }>;
}

/** A sockwave server on 127.0.0.1:`port` (0: any), recording connections and messages; closed after the test. */
async function listenOn(t: TestContext, port: number, options: ServerOptions = {}): Promise<Listening> {
  const server = new WebSocketServer({ ...options, host: '127.0.0.1', port });
  const connections = new Queue<{ connection: Connection; request: UpgradeRequest }>();
  const messages = new Queue<{ data: string | Buffer; isBinary: boolean }>();
  server.on('connection', (connection, request) => {
    connection.on('message', (data, isBinary) => messages.push({ data, isBinary }));
    connections.push({ connection, request });
  });
  const info = await withTimeout(server.listen(), `a sockwave server to listen on port ${port}`);
  t.after(() => closeServer(server));
  return { server, port: info.port, url: info.url, connections, messages };
}

function closeServer(server: WebSocketServer): Promise<void> {
  return withTimeout(server.close({ timeout: 500 }), 'the server to close').catch(() => {
    for (const connection of server.clients) connection.terminate();
  });
}

/** A TCP server that counts connections and drops each at once (every handshake fails). */
async function startDroppingServer(t: TestContext): Promise<{ port: number; count(): number }> {
  let count = 0;
  const server = createNetServer((socket) => {
    count++;
    socket.on('error', () => {});
    socket.destroy();
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the dropping server to listen');
  t.after(() => withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 'the dropping server to close'));
  return { port: (server.address() as AddressInfo).port, count: () => count };
}

interface SendLog {
  n: number;
  /** client.status just before send(). */
  status: string;
  result: ClientSendResult;
}

/** Sends "0", "1", ... "total-1" every `every` ms; `log` grows as it goes; `done` settles at the end. */
function startSending(t: TestContext, tracked: Tracked, total: number, every = 2): { log: SendLog[]; done: Promise<void> } {
  const { client } = tracked;
  const log: SendLog[] = [];
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve, reject) => {
    timer = setInterval(() => {
      const n = log.length;
      try {
        const status = client.status;
        log.push({ n, status, result: client.send(String(n)) });
      } catch (error) {
        clearInterval(timer);
        // Say why the client gave up: the failure may surface later, as a timeout of the test.
        const errors = tracked.errors.history.map((e) => ({ reason: e.reason, httpStatus: e.httpStatus, waitTime: e.waitTime }));
        const closes = tracked.closes.history.map((c) => ({ code: c.code, reason: c.reason, willReconnect: c.willReconnect }));
        t.diagnostic(`send ${n} threw (${(error as Error).message}); errors ${JSON.stringify(errors)}; closes ${JSON.stringify(closes)}`);
        reject(error as Error);
        return;
      }
      if (log.length === total) {
        clearInterval(timer);
        resolve();
      }
    }, every);
  });
  // Awaited by the test when it gets there; not an unhandled rejection before that.
  done.catch(() => {});
  t.after(() => clearInterval(timer));
  return { log, done };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * What escapes to the process (uncaughtException, unhandledRejection: a handler's throw), caught
 * here instead of by the test runner until the test ends; the runner's listeners are put back then.
 */
function catchEscaped(t: TestContext): Queue<Error> {
  const escaped = new Queue<Error>();
  const catcher = (error: unknown): void => escaped.push(error as Error);
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    const runners = process.rawListeners(event) as Array<(...args: unknown[]) => void>;
    process.removeAllListeners(event);
    process.on(event, catcher);
    t.after(() => {
      process.removeListener(event, catcher);
      for (const listener of runners) process.on(event, listener);
    });
  }
  return escaped;
}

// ---------------------------------------------------------------------------------------------

describe('reconnecting client: server restarts while sending', { timeout: 60_000 }, () => {
  const TOTAL = 1500;

  test('graceful restart (1001): the servers together receive every number exactly once, in order', async (t) => {
    const port = await closedPort();
    const received: Array<{ server: number; n: number }> = [];
    const collect = (id: number) => (connection: Connection) =>
      void connection.on('message', (data) => received.push({ server: id, n: Number(data) }));
    const first = await listenOn(t, port);
    first.server.on('connection', collect(1));
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 20, maxDelay: 200 } });
    await c.opens.next('the first open');

    const sender = startSending(t, c, TOTAL);
    await waitUntil(() => sender.log.length >= TOTAL / 3, `${TOTAL / 3} messages were sent`);
    await withTimeout(first.server.close({ code: 1001, reason: 'restarting', timeout: 2000 }), 'the first server to close');
    await delay(300);
    const second = await listenOn(t, port);
    second.server.on('connection', collect(2));

    await withTimeout(sender.done, 'every message to be sent', 30_000);
    await waitUntil(() => received.length >= TOTAL, `the servers to receive ${TOTAL} messages (got ${received.length})`, 15_000);

    const numbers = received.map((r) => r.n);
    assert.equal(numbers.length, TOTAL, 'duplicates arrived');
    assert.deepEqual(numbers, range(TOTAL));
    assert.ok(received.some((r) => r.server === 1) && received.some((r) => r.server === 2), 'both servers received messages');
    const queued = sender.log.filter((entry) => entry.result === 'queued');
    assert.ok(queued.length > 0, 'nothing was queued: the restart did not happen while sending');
    for (const entry of sender.log) if (entry.status !== 'open') assert.equal(entry.result, 'queued', `message ${entry.n}`);

    assert.equal(c.opens.history.length, 2, 'onOpen fired twice');
    assert.equal(c.closes.history.length, 1);
    const close = c.closes.history[0]!;
    assert.equal(close.code, 1001);
    assert.equal(close.reason, 'restarting');
    assert.equal(close.willReconnect, true);
    assert.equal(typeof close.waitTime, 'number');
    assert.equal(c.client.status, 'open');
    t.diagnostic(`${queued.length} messages were queued during the restart`);
  });

  test('abrupt drop (terminate, 1006): what was sent while known disconnected arrives exactly once and in order; nothing is duplicated', async (t) => {
    const port = await closedPort();
    const srv = await listenOn(t, port);
    const received: number[] = [];
    srv.server.on('connection', (connection) => void connection.on('message', (data) => received.push(Number(data))));
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 20, maxDelay: 200 } });
    await c.opens.next('the first open');

    const sender = startSending(t, c, TOTAL);
    await waitUntil(() => sender.log.length >= TOTAL / 3, `${TOTAL / 3} messages were sent`);
    await srv.server.stop();
    for (const connection of srv.server.clients) connection.terminate();
    await delay(300);
    // The same server listens again on the same port.
    await withTimeout(srv.server.listen({ port }), 'the server to listen again');

    await withTimeout(sender.done, 'every message to be sent', 30_000);
    await waitUntil(() => received.includes(TOTAL - 1), 'the last message to arrive', 15_000);
    await delay(50);

    // In order, no duplicate.
    for (let i = 1; i < received.length; i++) assert.ok(received[i]! > received[i - 1]!, `out of order or duplicated at ${i}: ${received[i - 1]} then ${received[i]}`);
    // Everything sent while the client knew it was disconnected was queued, and arrived.
    for (const entry of sender.log) if (entry.status !== 'open') assert.equal(entry.result, 'queued', `message ${entry.n}`);
    const queued = sender.log.filter((entry) => entry.result === 'queued').map((entry) => entry.n);
    assert.ok(queued.length > 0, 'nothing was queued: the drop did not happen while sending');
    const got = new Set(received);
    for (const n of queued) assert.ok(got.has(n), `queued message ${n} was lost`);
    // Only messages written to the dead socket may be lost: one run, just before the first queued one;
    // everything from the first queued message on arrived.
    const firstQueued = queued[0]!;
    const lost = range(TOTAL).filter((n) => !got.has(n));
    for (const n of lost) assert.ok(n < firstQueued, `message ${n}, sent after the drop was known, was lost`);
    if (lost.length > 0) assert.deepEqual(lost, range(lost.length).map((i) => firstQueued - lost.length + i), `lost messages are not one run before ${firstQueued}`);

    assert.equal(c.opens.history.length, 2, 'onOpen fired twice');
    assert.equal(c.closes.history.length, 1);
    assert.equal(c.closes.history[0]!.code, 1006);
    assert.equal(c.closes.history[0]!.willReconnect, true);
    t.diagnostic(`${queued.length} queued, ${lost.length} lost on the dead socket`);
  });
});

describe('reconnecting client: outbox', { timeout: 30_000 }, () => {
  test("send() while connecting answers 'queued'; the messages go out in order once open, then sends go straight out", async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`);
    assert.equal(c.client.status, 'connecting');
    assert.equal(c.client.send('one'), 'queued');
    assert.equal(c.client.send(Buffer.from([1, 2, 3])), 'queued');
    assert.equal(c.client.send('three ✓'), 'queued');
    const { rec } = await srv.connections.next('the server-side connection');
    const got = await rec.messages.take(3, 'the queued messages');
    assert.deepEqual(got.map((m) => [m.data, m.isBinary]), [['one', false], [Buffer.from([1, 2, 3]), true], ['three ✓', false]]);
    await c.opens.next('the open');
    assert.equal(c.client.status, 'open');
    assert.equal(c.client.send('four'), 'sent');
    assert.equal((await rec.messages.next('the direct message')).data, 'four');
  });

  test("policy 'reject': the message past maxMessages throws OutboxFullError; the queued ones are delivered, the refused one never", async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 50 }, outbox: { maxMessages: 2, policy: 'reject' } });
    assert.equal(c.client.send('a'), 'queued');
    assert.equal(c.client.send('b'), 'queued');
    assert.throws(
      () => c.client.send('c'),
      (error: unknown) => error instanceof OutboxFullError && error.code === 'SW_OUTBOX_FULL',
    );
    assert.equal(c.client.dropped, 0);
    const srv = await listenOn(t, port);
    await c.opens.next('the open once the server is up', 10_000);
    assert.equal(c.client.send('d'), 'sent');
    const got = await srv.messages.take(3, 'the messages');
    assert.deepEqual(got.map((m) => m.data), ['a', 'b', 'd']);
  });

  test('a queued message is a copy: changing the buffer after send() does not change what is delivered', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 50 } });
    const bytes = Buffer.from([1, 2, 3, 4]);
    const view = new Uint8Array([9, 9]);
    assert.equal(c.client.send(bytes), 'queued');
    assert.equal(c.client.send(view), 'queued');
    bytes.fill(0xff);
    view[1] = 0;
    const srv = await listenOn(t, port);
    await c.opens.next('the open once the server is up', 10_000);
    const got = await srv.messages.take(2, 'the queued messages');
    assert.deepEqual(got.map((m) => [...(m.data as Buffer)]), [[1, 2, 3, 4], [9, 9]]);
  });

  test("policy 'drop-oldest': onError reports the drop, client.dropped counts it, the newest are delivered", async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 50 }, outbox: { maxMessages: 2, policy: 'drop-oldest' } });
    for (const text of ['a', 'b', 'c', 'd']) assert.equal(c.client.send(text), 'queued');
    assert.equal(c.client.dropped, 2);
    const drops = c.errors.history.filter((info) => (info.error as SockwaveError).code === 'SW_OUTBOX_FULL');
    assert.equal(drops.length, 2);
    assert.match(drops[0]!.reason, /dropped the oldest/);
    assert.equal(drops[0]!.waitTime, undefined);
    // Each dropped message is handed back, oldest first.
    assert.deepEqual(
      drops.map((info) => (info.error instanceof OutboxFullError ? info.error.dropped?.data.toString() : 'not an OutboxFullError')),
      ['a', 'b'],
    );
    assert.equal((c.client.info()['outbox'] as { dropped: number }).dropped, 2);
    const srv = await listenOn(t, port);
    await c.opens.next('the open once the server is up', 10_000);
    c.client.send('e');
    const got = await srv.messages.take(3, 'the messages');
    assert.deepEqual(got.map((m) => m.data), ['c', 'd', 'e']);
  });

  test('a message larger than the whole outbox is refused under both policies, without dropping anything', async (t) => {
    for (const policy of ['reject', 'drop-oldest'] as const) {
      const port = await closedPort();
      const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 50 }, outbox: { maxBytes: 8, policy } });
      assert.equal(c.client.send('keep'), 'queued');
      assert.throws(() => c.client.send('123456789'), (error: unknown) => error instanceof OutboxFullError, policy);
      assert.equal(c.client.dropped, 0, policy);
      assert.deepEqual(c.client.info()['outbox'], { messages: 1, bytes: 4, policy, dropped: 0 }, policy);
      c.client.close();
    }
  });
});

describe('reconnecting client: when it stops, and when it retries', { timeout: 30_000 }, () => {
  for (const code of [1000, 1008, 4001]) {
    test(`a server close with ${code} is final: status 'closed', onClose willReconnect false, no new attempt`, async (t) => {
      const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(code, 'go away') }) });
      const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
      const close = await c.closes.next('the close');
      assert.equal(close.code, code);
      assert.equal(close.reason, 'go away');
      assert.equal(close.willReconnect, false);
      assert.equal(close.waitTime, undefined);
      await delay(0);
      assert.equal(c.client.status, 'closed');
      assert.equal(c.client.send('x'), 'dropped', 'a client that ended for good sends nothing, and says so');
      // A retry would come within maxDelay (20 ms).
      await delay(200);
      assert.equal(srv.connections.history.length, 1);
      assert.equal(c.opens.history.length, 1);
    });
  }

  test('retryOnCodes [4001] makes a 4001 close retried', async (t) => {
    let n = 0;
    const srv = await listenOn(t, 0, { onConnection: () => (++n === 1 ? { onOpen: (conn) => conn.close(4001, 'come back') } : {}) });
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20, retryOnCodes: [4001] } });
    const close = await c.closes.next('the close');
    assert.equal(close.code, 4001);
    assert.equal(close.willReconnect, true);
    assert.equal(typeof close.waitTime, 'number');
    await c.opens.take(2, 'two opens');
    assert.equal(srv.connections.history.length, 2);
    assert.equal(c.client.status, 'open');
  });

  for (const code of [1001, 1011]) {
    test(`a server close with ${code} is retried`, async (t) => {
      let n = 0;
      const srv = await listenOn(t, 0, { onConnection: () => (++n === 1 ? { onOpen: (conn) => conn.close(code) } : {}) });
      const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
      const close = await c.closes.next('the close');
      assert.deepEqual([close.code, close.willReconnect], [code, true]);
      await c.opens.take(2, 'two opens');
      assert.equal(c.client.status, 'open');
    });
  }

  test('a close with 1013 (try again later) waits from half of maxDelay to maxDelay', async (t) => {
    let n = 0;
    const srv = await listenOn(t, 0, { onConnection: () => (++n === 1 ? { onOpen: (conn) => conn.close(1013) } : {}) });
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 150 } });
    const close = await c.closes.next('the close');
    assert.deepEqual([close.code, close.willReconnect], [1013, true]);
    assert.ok(close.waitTime! >= 75 && close.waitTime! <= 150, String(close.waitTime));
    await c.opens.take(2, 'two opens');
  });

  test("a proxy's 407 is final (the same credentials would be refused again); its 502 is retried", async (t) => {
    const answers = { 407: 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n', 502: 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n' };
    for (const status of [407, 502] as const) {
      let tunnels = 0;
      const proxy = createNetServer((socket) => {
        socket.on('error', () => {});
        socket.once('data', () => {
          tunnels++;
          socket.end(answers[status]);
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      t.after(() => proxy.close());
      const c = track(t, 'ws://127.0.0.1:9/', { proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, reconnect: { minDelay: 10, maxDelay: 20 } });
      const info = await c.errors.next(`the ${status}`);
      assert.ok(info.error instanceof HandshakeError && info.error.code === 'SW_PROXY_REFUSED', String(info.error));
      assert.equal(info.error.status, status);
      assert.equal(info.httpStatus, status);
      if (status === 407) {
        assert.equal(info.error.headers['proxy-authenticate'], 'Basic realm="corp"');
        assert.equal(info.waitTime, undefined);
        await delay(0);
        assert.equal(c.client.status, 'closed');
        await delay(200);
        assert.equal(tunnels, 1, 'the proxy was asked again');
      } else {
        assert.equal(typeof info.waitTime, 'number');
        await c.errors.next('the second 502');
        assert.equal(tunnels, 2);
        c.client.close();
      }
    }
  });

  test('a 401 refusal is final: onError with httpStatus 401 and no waitTime, status closed, no retry', async (t) => {
    let admissions = 0;
    const srv = await listenOn(t, 0, {
      onConnection: () => {
        admissions++;
        return refuse(401, { headers: { 'WWW-Authenticate': 'Bearer' }, body: 'who are you' });
      },
    });
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    const info = await c.errors.next('the error');
    assert.equal(info.httpStatus, 401);
    assert.equal(info.waitTime, undefined);
    assert.ok(info.error instanceof HandshakeError, String(info.error));
    assert.equal(info.error.status, 401);
    assert.equal(info.retries, 1);
    await delay(0);
    assert.equal(c.client.status, 'closed');
    await delay(200);
    assert.equal(admissions, 1);
    assert.equal(c.opens.history.length, 0);
  });

  test('a final refusal is not announced as a reconnection: during its onError the status is not reconnecting', async (t) => {
    const srv = await listenOn(t, 0, { onConnection: () => refuse(401) });
    const statuses: string[] = [];
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 }, onError: (client) => void statuses.push(client.status) });
    const info = await c.errors.next('the refusal');
    assert.deepEqual([info.httpStatus, info.waitTime], [401, undefined]);
    assert.deepEqual(statuses, ['connecting']);
    await c.closes.next('the onClose that ends the client');
    assert.equal(c.client.status, 'closed');
  });

  test('a 503 with Retry-After: 1 makes the next attempt wait 1000 ms (waitTime 1000), then it connects', async (t) => {
    const at: number[] = [];
    const srv = await listenOn(t, 0, {
      onConnection: () => {
        at.push(performance.now());
        return at.length === 1 ? refuse(503, { headers: { 'Retry-After': '1' } }) : {};
      },
    });
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    const info = await c.errors.next('the error');
    assert.equal(info.httpStatus, 503);
    assert.equal(info.waitTime, 1000);
    await c.opens.next('the open after the wait');
    assert.equal(at.length, 2);
    // Without Retry-After the backoff would be under maxDelay (20 ms).
    assert.ok(at[1]! - at[0]! >= 900, `the second attempt came after ${Math.round(at[1]! - at[0]!)} ms`);
  });

  test('maxRetries: gives up against a closed port, status closed, and reports the queued messages as not sent', async (t) => {
    const port = await closedPort();
    let errorsAtClose = -1;
    const c = track(t, `ws://127.0.0.1:${port}/`, {
      reconnect: { minDelay: 10, maxDelay: 20, maxRetries: 3 },
      onClose: () => void (errorsAtClose = c.errors.history.length),
    });
    assert.equal(c.client.send('x'), 'queued');
    assert.equal(c.client.send('y'), 'queued');
    await waitUntil(() => c.client.status === 'closed', 'the client gives up');
    const socketErrors = c.errors.history.filter((info) => (info.error as SockwaveError).code === 'SW_SOCKET_ERROR');
    assert.ok(socketErrors.length >= 3, `${socketErrors.length} failed attempts`);
    assert.equal(socketErrors.at(-1)!.waitTime, undefined);
    for (const info of socketErrors.slice(0, -1)) assert.equal(typeof info.waitTime, 'number');
    const notSent = c.errors.history.filter((info) => /not sent/.test(info.reason));
    assert.equal(notSent.length, 1, 'the queued messages are reported once');
    assert.match(notSent[0]!.reason, /\b2 queued messages\b/);
    // ... and handed back, in order, under their own code.
    const error = notSent[0]!.error;
    assert.ok(error instanceof UnsentMessagesError, `reported as ${error.name}`);
    assert.equal(error.code, 'SW_NOT_SENT');
    assert.deepEqual(error.messages.map((m) => [m.data.toString(), m.binary]), [['x', false], ['y', false]]);
    assert.equal((c.client.info()['outbox'] as { messages: number }).messages, 0);
    // Giving up ends with one onClose, after the errors: 1006, not clean, no reconnection.
    const close = await c.closes.next('the onClose that ends the client');
    assert.deepEqual([close.code, close.wasClean, close.remote, close.willReconnect, close.waitTime], [1006, false, false, false, undefined]);
    assert.equal(close.reason, socketErrors.at(-1)!.reason);
    assert.equal(errorsAtClose, c.errors.history.length, 'an error reported after the last onClose');
    // No attempt, and no event, after giving up.
    const errors = c.errors.history.length;
    await delay(200);
    assert.equal(c.errors.history.length, errors);
    assert.equal(c.closes.history.length, 1);
  });

  test('maxRetries: 3 means the first attempt and three retries, four failed attempts in all', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 20, maxRetries: 3 } });
    await waitUntil(() => c.client.status === 'closed', 'the client gives up');
    const socketErrors = c.errors.history.filter((info) => (info.error as SockwaveError).code === 'SW_SOCKET_ERROR');
    assert.deepEqual(socketErrors.map((info) => info.retries), [1, 2, 3, 4]);
  });
});

describe('reconnecting client: close()', { timeout: 30_000 }, () => {
  test('close() while waiting to retry stops reconnecting (no further connection attempt)', async (t) => {
    const srv = await startDroppingServer(t);
    let closedAt = -1;
    const c = track(t, `ws://127.0.0.1:${srv.port}/`, {
      reconnect: { minDelay: 10, maxDelay: 20 },
      onError(client, info) {
        // After the third failure, once the retry is scheduled (outside the callback).
        if (info.retries === 3)
          setImmediate(() => {
            closedAt = srv.count();
            client.close();
          });
      },
    });
    await waitUntil(() => closedAt !== -1, 'close() was called');
    assert.equal(c.client.status, 'closed');
    await delay(300);
    assert.equal(srv.count(), closedAt, 'a connection attempt was made after close()');
    assert.equal(c.errors.history.length, 3);
  });

  test('close() during an attempt aborts it and makes no other', async (t) => {
    const sockets = new Queue<Socket>();
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    t.after(() => {
      for (const socket of sockets.history) socket.destroy();
      return withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 'the silent server to close');
    });
    const c = track(t, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    const socket = await sockets.next('the attempt');
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.resume();
    c.client.close();
    assert.equal(c.client.status, 'closed');
    await withTimeout(gone, 'the aborted attempt to close its socket');
    await delay(200);
    assert.equal(sockets.history.length, 1);
    assert.equal(c.opens.history.length, 0);
  });

  test('close() while open closes with 1000 and does not reconnect', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    await c.opens.next('the open');
    const { rec } = await srv.connections.next('the server-side connection');
    c.client.close(1000, 'bye');
    assert.equal(c.client.status, 'closed');
    const serverSide = await rec.closed();
    assert.deepEqual([serverSide.code, serverSide.reason], [1000, 'bye']);
    const close = await c.closes.next('the client close');
    assert.equal(close.willReconnect, false);
    await delay(200);
    assert.equal(srv.connections.history.length, 1);
  });

  test('close() without arguments closes with 1000 and no reason', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    await c.opens.next('the open');
    const { rec } = await srv.connections.next('the server-side connection');
    c.client.close();
    const serverSide = await rec.closed();
    assert.deepEqual([serverSide.code, serverSide.reason], [1000, '']);
  });

  test('close() called inside onError stops reconnecting', async (t) => {
    const srv = await startDroppingServer(t);
    const c = track(t, `ws://127.0.0.1:${srv.port}/`, {
      reconnect: { minDelay: 10, maxDelay: 20 },
      onError: (client) => client.close(),
    });
    await c.errors.next('the first failure');
    await delay(300);
    assert.equal(srv.count(), 1, 'attempts were made after close()');
    assert.equal(c.client.status, 'closed');
  });

  test('a server that drops every connection at once (1011): the backoff grows, and each drop is followed by an attempt', async (t) => {
    // The backoff's ceiling is minDelay × 2^step: with random() near 1 each wait shows its step.
    t.mock.method(Math, 'random', () => 0.9999);
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(1011, 'broken') }) });
    const c = track(t, `${srv.url}/`, {
      // maxRetries counts failed attempts: these attempts succeed, so it ends nothing.
      reconnect: { minDelay: 2, maxDelay: 100, maxRetries: 0 },
    });
    const closes = await c.closes.take(4, 'four closes');
    c.client.close();
    assert.deepEqual(closes.map((info) => [info.code, info.willReconnect, info.waitTime]), [[1011, true, 1], [1011, true, 3], [1011, true, 7], [1011, true, 15]]);
  });

  test('close() called inside onClose stops reconnecting', async (t) => {
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(1001) }) });
    const c = track(t, `${srv.url}/`, {
      reconnect: { minDelay: 10, maxDelay: 20 },
      onClose: (client) => client.close(),
    });
    await c.closes.next('the close');
    await delay(300);
    assert.equal(srv.connections.history.length, 1, 'the client reconnected after close()');
    assert.equal(c.client.status, 'closed');
    // The drop's onClose announced a reconnection; the one close() caused ends the client.
    assert.deepEqual(c.closes.history.map((info) => [info.code, info.willReconnect]), [[1001, true], [1006, false]]);
  });

  test('messages queued while the connection was closing are reported when the close turns out final', async (t) => {
    // The server's close frame (1000) comes with the 101; the server then keeps TCP open, so the
    // client sits in the closing state until the test drops the socket.
    const raw = await startRawWsServer(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    t.after(() => raw.close());
    const c = track(t, raw.url, { reconnect: { minDelay: 10, maxDelay: 20 } });
    const socket = await raw.sockets.next('the connection');
    await waitUntil(() => c.client.current?.status === 'closing', 'the client answered the close');
    assert.equal(c.client.send('late'), 'queued');
    socket.destroy();
    const close = await c.closes.next('the close');
    assert.deepEqual([close.code, close.willReconnect], [1000, false]);
    // The server's reset may be reported first (read ECONNRESET, depending on timing): the report
    // of the unsent message must follow.
    let info = await c.errors.next('the report of the unsent message', 1000);
    if (/ECONNRESET/.test(info.reason)) info = await c.errors.next('the report of the unsent message', 1000);
    assert.match(info.reason, /not sent/);
  });

  test('close() in onMessage: the messages behind it in the same read are not delivered', async (t) => {
    // The server answers the client's close frame with its own, then ends.
    const raw = await startRawWsServer(undefined, {
      paused: false,
      upgraded: (socket) => socket.once('data', () => socket.end(serverFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }))),
    });
    t.after(() => raw.close());
    const seen: string[] = [];
    const c = track(t, `${raw.url}/`, {
      reconnect: false,
      onMessage: (client, message) => {
        seen.push(`${String(message)} (${client.status})`);
        if (message === 'bye') client.close(1000, 'done');
      },
    });
    await c.opens.next('the open');
    const socket = await raw.sockets.next('the connection');
    // One write, one read at the client: 'bye' and the two messages behind it.
    socket.write(Buffer.concat(['hello', 'bye', 'after 1', 'after 2'].map((text) => serverFrame({ opcode: 0x1, payload: text }))));
    const close = await c.closes.next('the close');
    assert.equal(close.willReconnect, false);
    assert.deepEqual(seen, ['hello (open)', 'bye (open)']);
    assert.equal(c.client.status, 'closed');
  });
});

describe('reconnecting client: handlers that throw', { timeout: 30_000 }, () => {
  test('onClose throwing while a reconnection is announced does not stop it: the client reconnects', async (t) => {
    const escaped = catchEscaped(t);
    let opened = 0;
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => void (++opened === 1 && conn.close(1001, 'restarting')) }) });
    const c = track(t, `${srv.url}/`, {
      reconnect: { minDelay: 10, maxDelay: 20 },
      onClose: (_client, info) => {
        // Once: the server's close at the end of the test announces a reconnection too.
        if (info.code === 1001 && info.reason === 'restarting') throw new Error('onClose threw');
      },
    });
    await c.opens.next('the first open');
    const close = await c.closes.next('the 1001 close');
    assert.deepEqual([close.code, close.willReconnect], [1001, true]);
    assert.equal((await escaped.next('the throw of onClose')).message, 'onClose threw');
    await c.opens.next('the open after reconnecting');
    await srv.connections.take(2, 'the two connections at the server');
    assert.equal(c.client.status, 'open');
    assert.equal(escaped.history.length, 1);
  });

  test('onError throwing for a refused first attempt does not stop the retries: it connects once the server is up', async (t) => {
    const escaped = catchEscaped(t);
    const port = await closedPort();
    let thrown = false;
    const c = track(t, `ws://127.0.0.1:${port}/`, {
      reconnect: { minDelay: 10, maxDelay: 20 },
      onError: () => {
        if (thrown) return;
        thrown = true;
        throw new Error('onError threw');
      },
    });
    const failures = await c.errors.take(3, 'three failed attempts');
    assert.ok(failures.every((info) => info.waitTime !== undefined), 'each failure announces a retry');
    assert.equal((await escaped.next('the throw of onError')).message, 'onError threw');
    await listenOn(t, port);
    await c.opens.next('the open once the server is up', 10_000);
    assert.equal(escaped.history.length, 1);
  });
});

describe('reconnecting client: target provider, data types', { timeout: 30_000 }, () => {
  test('the provider is called before each attempt: the server sees token-1, then token-2', async (t) => {
    const tokens: Array<string | undefined> = [];
    const srv = await listenOn(t, 0, {
      onConnection: (request) => {
        tokens.push(request.headers['x-token']);
        return tokens.length === 1 ? { onOpen: (conn) => conn.close(1001) } : {};
      },
    });
    let calls = 0;
    const c = track(
      t,
      async () => {
        calls++;
        await delay(1);
        return { url: `${srv.url}/path?q=${calls}`, headers: { 'X-Token': `token-${calls}` } };
      },
      { reconnect: { minDelay: 10, maxDelay: 20 } },
    );
    const urls = await c.opens.take(2, 'two opens');
    assert.deepEqual(tokens, ['token-1', 'token-2']);
    assert.equal(calls, 2);
    assert.deepEqual(urls, [`${srv.url}/path?q=1`, `${srv.url}/path?q=2`]);
    const requests = srv.connections.history.map((entry) => entry.request.url);
    assert.deepEqual(requests, ['/path?q=1', '/path?q=2']);
  });

  test('close() while the provider is still answering: what it answers is not dialled', async (t) => {
    const srv = await listenOn(t, 0);
    const answer = deferred<Target>();
    let calls = 0;
    const c = track(
      t,
      () => {
        calls++;
        return answer.promise;
      },
      { reconnect: { minDelay: 10, maxDelay: 20 } },
    );
    await waitUntil(() => calls === 1, 'the provider is asked');
    c.client.close();
    answer.resolve({ url: `${srv.url}/` });
    await c.closes.next('the onClose of close()');
    await delay(200);
    assert.equal(srv.connections.history.length, 0, 'the server saw a connection after close()');
    assert.equal(c.opens.history.length, 0);
    assert.equal(calls, 1);
  });

  test('a provider that throws counts as a failed attempt and is retried', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    let calls = 0;
    const c = track(
      t,
      () => {
        if (++calls === 1) throw new Error('token service down');
        return { url: `${srv.url}/` };
      },
      { reconnect: { minDelay: 10, maxDelay: 20 } },
    );
    const info = await c.errors.next('the provider error');
    assert.equal(info.reason, 'token service down');
    assert.equal(typeof info.waitTime, 'number');
    await c.opens.next('the open');
    assert.equal(calls, 2);
  });

  test("dataType 'json': values are sent as JSON text and text received is parsed", async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { dataType: 'json' });
    await c.opens.next('the open');
    const { connection, rec } = await srv.connections.next('the server-side connection');
    c.client.send({ a: 1, b: [true, null, 'é'] });
    c.client.send('a string');
    c.client.send([1, 2]);
    const got = await rec.messages.take(3, 'the JSON messages');
    assert.deepEqual(got.map((m) => [m.data, m.isBinary]), [['{"a":1,"b":[true,null,"é"]}', false], ['"a string"', false], ['[1,2]', false]]);
    connection.send('{"x":[1,{"y":"z"}]}');
    const message = await c.messages.next('the parsed message');
    assert.deepEqual(message, { message: { x: [1, { y: 'z' }] }, isBinary: false });
  });

  test("dataType 'json': a text message that is not JSON goes to onError, not a crash; later messages still arrive", async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { dataType: 'json' });
    await c.opens.next('the open');
    const { connection } = await srv.connections.next('the server-side connection');
    connection.send('not json {');
    connection.send('{"ok":true}');
    connection.send(Buffer.from([7]));
    const info = await c.errors.next('the parse error');
    assert.equal((info.error as SockwaveError).code, 'SW_INVALID_ARGUMENT');
    assert.equal(info.waitTime, undefined);
    const [ok, binary] = await c.messages.take(2, 'the later messages');
    assert.deepEqual(ok, { message: { ok: true }, isBinary: false });
    assert.deepEqual(binary, { message: Buffer.from([7]), isBinary: true });
    assert.equal(c.client.status, 'open');
    assert.equal(c.closes.history.length, 0);
  });

  test("dataType 'binary': onMessage gets Buffers for text messages too, and strings are sent as binary", async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { dataType: 'binary' });
    await c.opens.next('the open');
    const { connection, rec } = await srv.connections.next('the server-side connection');
    connection.send('héllo ✓');
    connection.send(Buffer.from([0, 255]));
    const [text, binary] = await c.messages.take(2, 'the messages');
    assert.ok(Buffer.isBuffer(text!.message), `a ${typeof text!.message}`);
    assert.deepEqual(text, { message: Buffer.from('héllo ✓', 'utf8'), isBinary: false });
    assert.deepEqual(binary, { message: Buffer.from([0, 255]), isBinary: true });
    c.client.send('abc');
    const got = await rec.messages.next('the message at the server');
    assert.deepEqual([got.data, got.isBinary], [Buffer.from('abc'), true]);
  });

  test("dataType 'text' (default): text as a string, binary as a Buffer", async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`);
    await c.opens.next('the open');
    const { connection } = await srv.connections.next('the server-side connection');
    connection.send('plain');
    connection.send(Buffer.from([1]));
    assert.deepEqual(await c.messages.take(2, 'the messages'), [
      { message: 'plain', isBinary: false },
      { message: Buffer.from([1]), isBinary: true },
    ]);
  });
});

describe('reconnecting client: heartbeat', { timeout: 30_000 }, () => {
  test('a peer that stops answering pings is dropped (1006) and the client reconnects', async (t) => {
    // Completes the handshake by hand, then reads nothing and answers nothing.
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const c = track(t, raw.url, { pingInterval: 50, pongTimeout: 200, reconnect: { minDelay: 10, maxDelay: 50 } });
    await raw.sockets.next('the first connection');
    await c.opens.next('the first open');
    const close = await c.closes.next('the heartbeat to drop the connection');
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    assert.equal(close.willReconnect, true);
    // onError told why first: a dead peer, not a connection the network dropped.
    const error = c.errors.history.map((info) => [(info.error as SockwaveError).code, info.reason, info.waitTime]);
    assert.deepEqual(error, [['SW_TIMEOUT', 'ping unanswered for 200 ms: the peer is taken as dead', undefined]]);
    await raw.sockets.next('the reconnection');
    await c.opens.next('the second open');
  });

  test('pongTimeout 0: a ping not answered by the next tick drops the connection (not after the default 10 s)', async (t) => {
    // Completes the handshake by hand, then reads nothing and answers nothing.
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const c = track(t, raw.url, { pingInterval: 20, pongTimeout: 0, reconnect: false });
    await c.opens.next('the open');
    const close = await c.closes.next('the heartbeat to drop the connection', 4000);
    assert.deepEqual([close.code, close.wasClean, close.willReconnect], [1006, false, false]);
  });

  test('against a server with autoPong false the client drops the connection (1006) and reconnects', async (t) => {
    const srv = await startServer({ autoPong: false });
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { pingInterval: 50, pongTimeout: 200, reconnect: { minDelay: 10, maxDelay: 50 } });
    const { rec } = await srv.connections.next('the first connection');
    await rec.pings.next('a heartbeat ping at the server');
    const close = await c.closes.next('the heartbeat to drop the connection');
    assert.deepEqual([close.code, close.willReconnect], [1006, true]);
    await srv.connections.next('the reconnection');
    await c.opens.take(2, 'two opens');
  });

  test('against a healthy server, pongs arrive, client.rtt becomes a number and the connection stays up', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`, { pingInterval: 50, pongTimeout: 200 });
    await c.opens.next('the open');
    assert.equal(c.client.rtt, undefined);
    await c.pongs.next('a pong');
    await waitUntil(() => c.client.rtt !== undefined, 'rtt is measured');
    const rtt = c.client.rtt!;
    assert.equal(typeof rtt, 'number');
    assert.ok(Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`);
    assert.equal(c.client.info()['rtt'], c.client.rtt);
    // Several pong timeouts' worth: still the same connection.
    await c.pongs.take(5, 'five more pongs');
    assert.equal(c.closes.history.length, 0);
    assert.equal(c.opens.history.length, 1);
  });

  test('a connection that closes stops its heartbeat: its timer is cleared before onClose', async (t) => {
    // The heartbeat's timer is the interval made just before onOpen runs.
    const made: unknown[] = [];
    const cleared = new Set<unknown>();
    const realSetInterval = globalThis.setInterval;
    const realClearInterval = globalThis.clearInterval;
    t.mock.method(globalThis, 'setInterval', (...args: Parameters<typeof setInterval>) => {
      const timer = realSetInterval(...args);
      made.push(timer);
      return timer;
    });
    t.mock.method(globalThis, 'clearInterval', (timer: Parameters<typeof clearInterval>[0]) => {
      cleared.add(timer);
      realClearInterval(timer);
    });
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(1000) }) });
    let heartbeat: unknown;
    let clearedAtClose: boolean | undefined;
    const c = track(t, `${srv.url}/`, {
      pingInterval: 60_000,
      reconnect: false,
      onOpen: () => void (heartbeat = made.at(-1)),
      onClose: () => void (clearedAtClose = cleared.has(heartbeat)),
    });
    await c.opens.next('the open');
    assert.notEqual(heartbeat, undefined, 'no interval was made for the heartbeat');
    await c.closes.next('the close');
    assert.equal(clearedAtClose, true, 'the heartbeat of the closed connection still runs');
  });

  test('pingInterval 0 (the default) sends no ping', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`);
    await c.opens.next('the open');
    const { rec } = await srv.connections.next('the server-side connection');
    await delay(200);
    assert.equal(rec.pings.history.length, 0);
    assert.equal(c.client.ping('manual'), 'sent');
    assert.equal((await rec.pings.next('the manual ping')).toString(), 'manual');
  });
});

describe('reconnecting client: info()', { timeout: 30_000 }, () => {
  test('reports status, url, deflate, reconnect settings and outbox counts, before and after connecting', async (t) => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/info?x=1`;
    const c = track(t, url, {
      perMessageDeflate: true,
      reconnect: { minDelay: 20, maxDelay: 200, maxRetries: 50 },
      outbox: { maxMessages: 10, policy: 'drop-oldest' },
      pingInterval: 1000,
      pongTimeout: 3000,
    });
    c.client.send('abc');
    c.client.send(Buffer.from('de'));
    const before = c.client.info();
    assert.ok(before['status'] === 'connecting' || before['status'] === 'reconnecting', String(before['status']));
    assert.equal(before['status'], c.client.status);
    assert.equal(before['deflate'], false);
    assert.deepEqual(before['reconnect'], { enabled: true, minDelay: 20, maxDelay: 200, maxRetries: 50 });
    assert.deepEqual(before['outbox'], { messages: 2, bytes: 5, policy: 'drop-oldest', dropped: 0 });
    assert.equal(before['pingInterval'], 1000);
    assert.equal(before['pongTimeout'], 3000);

    const srv = await listenOn(t, port, { perMessageDeflate: true });
    await c.opens.next('the open', 10_000);
    await srv.messages.take(2, 'the queued messages');
    const after = c.client.info();
    assert.equal(after['status'], 'open');
    assert.equal(after['url'], url);
    assert.equal(after['deflate'], true);
    assert.equal(after['retries'], 0);
    assert.deepEqual(after['outbox'], { messages: 0, bytes: 0, policy: 'drop-oldest', dropped: 0 });
    assert.equal(typeof after['bufferedAmount'], 'number');

    c.client.close();
    assert.equal(c.client.info()['status'], 'closed');
  });

  test('before connecting: bufferedAmount 0, and a pongTimeout of 0 reported as 0 (not the default)', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { pingInterval: 1000, pongTimeout: 0, reconnect: { minDelay: 50, maxDelay: 100 } });
    const info = c.client.info();
    assert.equal(info['bufferedAmount'], 0);
    assert.equal(info['pongTimeout'], 0);
    assert.equal(info['url'], undefined);
    assert.equal(info['rtt'], undefined);
  });

  test('defaults: reconnect enabled, no ping, pongTimeout 10 000, reject policy, no deflate', async (t) => {
    const srv = await startServer();
    t.after(() => srv.close());
    const c = track(t, `${srv.url}/`);
    await c.opens.next('the open');
    const info = c.client.info();
    assert.equal(info['status'], 'open');
    assert.equal(info['url'], `${srv.url}/`);
    assert.equal(info['deflate'], false);
    assert.deepEqual(info['reconnect'], { enabled: true });
    assert.equal(info['pingInterval'], 0);
    assert.equal(info['pongTimeout'], 10_000);
    assert.deepEqual(info['outbox'], { messages: 0, bytes: 0, policy: 'reject', dropped: 0 });
  });

  test('reconnect: false turns reconnection off: a dropped connection is final', async (t) => {
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.terminate() }) });
    const c = track(t, `${srv.url}/`, { reconnect: false });
    assert.deepEqual(c.client.info()['reconnect'], { enabled: false });
    const close = await c.closes.next('the close');
    assert.deepEqual([close.code, close.willReconnect], [1006, false]);
    await delay(200);
    assert.equal(c.client.status, 'closed');
    assert.equal(srv.connections.history.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('reconnecting client: ending it, and arguments that cannot work', { timeout: 30_000 }, () => {
  test('a signal already aborted: the client is closed at once and never connects', async (t) => {
    const srv = await listenOn(t, 0);
    const c = track(t, `${srv.url}/`, { signal: AbortSignal.abort() });
    assert.equal(c.client.status, 'closed');
    await delay(200);
    assert.equal(srv.connections.history.length, 0, 'it connected');
    assert.equal(c.opens.history.length, 0);
  });

  test('close() with a code that may not be sent throws RangeError and changes nothing', async (t) => {
    const srv = await listenOn(t, 0);
    const c = track(t, `${srv.url}/`);
    await c.opens.next('the open');
    const server = await srv.connections.next('the server side');
    const serverClose = new Promise<number>((resolve) => server.connection.once('close', (info) => resolve(info.code)));
    assert.throws(() => c.client.close(1006), RangeError);
    assert.throws(() => c.client.close(1000, 'x'.repeat(124)), RangeError);
    assert.equal(c.client.status, 'open');
    assert.equal(c.client.send('still here'), 'sent');
    assert.equal(String((await srv.messages.next('the message')).data), 'still here');
    c.client.close(4001, 'done');
    assert.equal(await withTimeout(serverClose, 'the close at the server'), 4001);
    assert.equal(c.client.status, 'closed');
  });

  test('close() while disconnected reports what the outbox still held (nothing is dropped silently)', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxDelay: 100 } });
    assert.equal(c.client.send('a'), 'queued');
    assert.equal(c.client.send('b'), 'queued');
    c.client.close();
    const reported = c.errors.history.find((info) => info.error instanceof UnsentMessagesError && info.error.code === 'SW_NOT_SENT');
    assert.ok(reported, `no report of the queued messages; errors: ${c.errors.history.map((e) => e.reason).join(' | ')}`);
    assert.match(reported.reason, /2 queued messages were not sent: the client was closed/);
    assert.deepEqual((reported.error as UnsentMessagesError).messages.map((m) => m.data.toString()), ['a', 'b']);
    assert.equal(c.client.info()['outbox'] && (c.client.info()['outbox'] as { messages: number }).messages, 0);
  });

  test('an onError that throws on the unsent messages does not keep the last onClose from coming (close(), giving up)', async (t) => {
    const escaped = catchEscaped(t);
    const port = await closedPort();
    const throwing = { onError: (_c: WebSocketClient, info: ClientErrorInfo) => void (info.error instanceof UnsentMessagesError && fail('a bug in onError')) };
    const closed = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxDelay: 100 }, ...throwing });
    assert.equal(closed.client.send('a'), 'queued');
    assert.throws(() => closed.client.close(), /a bug in onError/, "the handler's error reaches the caller of close()");
    const close = await closed.closes.next('the onClose after close()');
    assert.deepEqual([close.code, close.willReconnect], [1006, false]);
    const gaveUp = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 10, maxDelay: 10, maxRetries: 0 }, ...throwing });
    assert.equal(gaveUp.client.send('b'), 'queued');
    const last = await gaveUp.closes.next('the onClose after giving up');
    assert.deepEqual([last.code, last.willReconnect], [1006, false]);
    assert.equal(gaveUp.client.status, 'closed');
    assert.equal((await escaped.next('the error thrown while giving up, reaching the process')).message, 'a bug in onError');
  });

  test('onDrain: after a send() that answered backpressure, the client says when the buffer fell back under the mark', async (t) => {
    const srv = await serve(t);
    const drains = new Queue<number>();
    let bufferedAtDrain = -1;
    const c = track(t, `${srv.url}/`, {
      highWaterMark: 64 * 1024,
      onDrain: (client) => {
        bufferedAtDrain = client.current!.bufferedAmount;
        drains.push(1);
      },
    });
    await c.opens.next('the open');
    let result: ClientSendResult = 'sent';
    for (let i = 0; i < 64 && result === 'sent'; i++) result = c.client.send(Buffer.alloc(256 * 1024));
    assert.equal(result, 'backpressure');
    await drains.next('onDrain');
    assert.ok(bufferedAtDrain <= 64 * 1024, `bufferedAmount ${bufferedAtDrain} at onDrain`);
  });

  test('one signal shared by many clients: each lets go of it once closed for good (by close(), the server, or giving up)', async (t) => {
    const srv = await listenOn(t, 0);
    const shared = new AbortController();
    const listeners = (): number => getEventListeners(shared.signal, 'abort').length;
    // Closed by close().
    const byClose = track(t, `${srv.url}/`, { signal: shared.signal });
    await byClose.opens.next('the first open');
    assert.equal(listeners(), 1);
    byClose.client.close();
    await byClose.closes.next('its close');
    // Closed by the server, with reconnection off.
    const byServer = track(t, `${srv.url}/`, { signal: shared.signal, reconnect: false });
    await byServer.opens.next('the second open');
    const server = await srv.connections.next('the first server side');
    const second = await srv.connections.next('the second server side');
    assert.notEqual(server.connection, second.connection);
    second.connection.close(1000);
    await byServer.closes.next('the second close');
    // Given up: no server to reach, no retry.
    const port = await closedPort();
    const givenUp = track(t, `ws://127.0.0.1:${port}/`, { signal: shared.signal, reconnect: { maxRetries: 0 } });
    await givenUp.closes.next('the last onClose of the client that gave up');
    assert.deepEqual([byClose.client.status, byServer.client.status, givenUp.client.status], ['closed', 'closed', 'closed']);
    assert.equal(listeners(), 0, 'no closed client still listens to the signal');
    // A client still open does, and the signal still ends it.
    const open = track(t, `${srv.url}/`, { signal: shared.signal });
    await open.opens.next('the open of the last');
    assert.equal(listeners(), 1);
    shared.abort();
    await open.closes.next('closed by the signal');
    assert.equal(listeners(), 0);
  });

  test('an already aborted signal: no attempt, and one onClose (1006), in a microtask', async (t) => {
    const srv = await listenOn(t, 0);
    const c = track(t, `${srv.url}/`, { signal: AbortSignal.abort(), reconnect: { minDelay: 10, maxDelay: 20 } });
    assert.equal(c.client.status, 'closed');
    assert.equal(c.closes.history.length, 0, 'onClose ran inside the constructor');
    const close = await c.closes.next('the onClose');
    assert.deepEqual([close.code, close.wasClean, close.willReconnect], [1006, false, false]);
    await delay(100);
    assert.equal(srv.connections.history.length, 0);
    assert.equal(c.closes.history.length, 1);
  });

  test('close() while reconnecting ends with one onClose (1006, not clean), in a microtask, and nothing after', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 20, maxDelay: 40 } });
    await c.errors.next('a failed attempt');
    await waitUntil(() => c.client.status === 'reconnecting', 'the client waits to reconnect');
    c.client.close(4000, 'bye');
    assert.equal(c.closes.history.length, 0, 'onClose ran inside close()');
    assert.equal(c.client.status, 'closed');
    const close = await c.closes.next('the onClose');
    assert.deepEqual([close.code, close.wasClean, close.remote, close.willReconnect], [1006, false, false, false]);
    c.client.close();
    const errors = c.errors.history.length;
    await delay(150);
    assert.equal(c.closes.history.length, 1, 'a second onClose');
    assert.equal(c.errors.history.length, errors, 'an attempt after close()');
  });

  test('close() while the first attempt is in flight: one onClose, and no onOpen once the server answers', async (t) => {
    // A server that holds the upgrade until released: the attempt is in flight while close() runs.
    const held: Array<() => void> = [];
    const srv = await listenOn(t, 0, { onConnection: () => new Promise<undefined>((resolve) => held.push(() => resolve(undefined))) });
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 10, maxDelay: 20 } });
    await waitUntil(() => held.length === 1, 'the upgrade reaches the server');
    assert.equal(c.client.status, 'connecting');
    c.client.close();
    const close = await c.closes.next('the onClose');
    assert.deepEqual([close.code, close.willReconnect], [1006, false]);
    held[0]!();
    await delay(200);
    assert.equal(c.opens.history.length, 0, 'onOpen after close()');
    assert.equal(c.closes.history.length, 1, 'a second onClose');
  });

  test('onClose sees the status that follows: reconnecting after 1001, closed after 1000', async (t) => {
    const closeWith = [1001, 1000];
    const srv = await listenOn(t, 0, { onConnection: () => ({ onOpen: (conn) => conn.close(closeWith.shift()!) }) });
    const statuses: string[] = [];
    const c = track(t, `${srv.url}/`, { reconnect: { minDelay: 20, maxDelay: 50 }, onClose: (client) => void statuses.push(client.status) });
    const first = await c.closes.next('the 1001 close');
    const second = await c.closes.next('the 1000 close');
    assert.deepEqual([first.code, second.code], [1001, 1000]);
    assert.deepEqual(statuses, ['reconnecting', 'closed']);
  });

  test('an invalid URL with a signal: createClient throws and lets go of the signal, so aborting it later reports nothing', async () => {
    const controller = new AbortController();
    const closes: ClientCloseInfo[] = [];
    assert.throws(
      () => createClient('nope', { signal: controller.signal, onClose: (_client, info) => void closes.push(info) }),
      (error: unknown) => error instanceof TypeError || error instanceof SyntaxError,
    );
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the client that was never returned still listens to the signal');
    controller.abort();
    await delay(0);
    assert.deepEqual(closes, [], 'the client that was never returned reported a close');
  });

  test('close() while waiting to retry clears the retry timer: no timer is left to hold the process open', async (t) => {
    const port = await closedPort();
    const c = track(t, `ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 60_000, maxDelay: 60_000 } });
    const info = await c.errors.next('the failed first attempt');
    assert.equal(typeof info.waitTime, 'number');
    assert.equal(c.client.status, 'reconnecting');
    const timeouts = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = timeouts();
    c.client.close();
    assert.equal(timeouts(), before - 1, 'the timer of the next attempt is still pending');
  });

  test('close() while open stops the heartbeat: a close handshake answered after pongTimeout still ends cleanly', async (t) => {
    // Completes the handshake by hand, then answers no ping; the test answers the close.
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const c = track(t, raw.url, { pingInterval: 20, pongTimeout: 40, reconnect: false });
    const socket = await raw.sockets.next('the connection');
    await c.opens.next('the open');
    c.client.close(1000, 'bye');
    // Ten pong timeouts: a heartbeat still running would have dropped the connection (1006) by now.
    await delay(400);
    socket.end(serverFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
    const close = await c.closes.next('the close');
    assert.deepEqual([close.code, close.wasClean, close.willReconnect], [1000, true, false]);
  });

  test('an invalid URL, header, subprotocol list, or perMessageDeflate of the wrong type throws at once, as from connect(): nothing is connected', async (t) => {
    const srv = await listenOn(t, 0, { perMessageDeflate: true });
    const url = `${srv.url}/`;
    for (const [label, target, options] of [
      ['a URL that is not ws:', 'ftp://127.0.0.1/', {}],
      ['a URL that does not parse', 'nope', {}],
      ['a header name with a space', url, { headers: { 'bad header': 'x' } }],
      ['a header value that is a number', url, { headers: { x: 123 } }],
      ['a subprotocol given twice', url, { protocols: ['a', 'a'] }],
      ...[0, 'no', 42, null].map((value) => [`perMessageDeflate ${JSON.stringify(value)}`, url, { perMessageDeflate: value }] as const),
    ] as const) {
      assert.throws(
        () => createClient(target, { reconnect: { minDelay: 5, maxDelay: 10 }, ...(options as CreateClientOptions) }),
        (error: unknown) => error instanceof TypeError || error instanceof SyntaxError,
        label,
      );
    }
    await delay(100);
    assert.equal(srv.connections.history.length, 0, 'the server saw a connection');
  });

  test('from a target function, an invalid URL or header is reported once and ends the client (every attempt would fail alike)', async (t) => {
    for (const [target, options] of [
      ['ftp://127.0.0.1/', {}],
      ['ws://127.0.0.1:1/', { headers: { 'bad header': 'x' } }],
    ] as const) {
      const c = track(t, () => ({ url: target }), { reconnect: { minDelay: 5, maxDelay: 10 }, ...options });
      await c.errors.next(`the error for ${target}`);
      await delay(150);
      assert.equal(c.errors.history.length, 1, `${target}: ${c.errors.history.length} errors`);
      assert.equal(c.errors.history[0]!.waitTime, undefined);
      assert.equal(c.client.status, 'closed');
    }
  });
});

describe('createClient: what onMessage is given, by dataType (checked by the compiler)', () => {
  test("'binary' gives a Buffer, 'text' (the default) a string or a Buffer, 'json' an unknown value", async (t) => {
    const srv = await serve(t, { onConnection: () => ({ onOpen: (conn) => void conn.send('hi') }) });
    const got: unknown[] = [];
    const done = deferred<void>();
    const binary = createClient(srv.url, {
      dataType: 'binary',
      onMessage: (_client, message) => {
        const bytes: Buffer = message;
        got.push(bytes);
        done.resolve();
      },
    });
    t.after(() => binary.close());
    const text = createClient(`ws://127.0.0.1:${await closedPort()}/`, {
      reconnect: false,
      onMessage: (_client, message) => {
        // @ts-expect-error text messages are strings, binary ones Buffers: not always a string
        const only: string = message;
        const either: string | Buffer = message;
        got.push(only, either);
      },
    });
    text.close();
    const json = createClient(`ws://127.0.0.1:${await closedPort()}/`, {
      dataType: 'json',
      reconnect: false,
      onMessage: (_client, message) => {
        // @ts-expect-error parsed JSON is of any shape: it must be checked before use
        const sure: string = message;
        got.push(sure);
      },
    });
    json.close();
    await withTimeout(done.promise, 'the binary client to get its message');
    assert.ok(Buffer.isBuffer(got[0]));
    assert.equal(String(got[0]), 'hi');
  });

  test('a callback annotated with a narrower parameter than the one given does not compile (callbacks are checked strictly)', async (t) => {
    const srv = await serve(t, { onConnection: () => ({ onOpen: (conn) => void conn.send('{"a":"text"}') }) });
    const seen = new Queue<string>();
    const narrowText = createClient(srv.url, {
      reconnect: false,
      // @ts-expect-error with dataType 'text' a message may be a string: not always a Buffer
      onMessage: (_client, message: Buffer) => seen.push(typeof message),
    });
    t.after(() => narrowText.close());
    const narrowJson = createClient(srv.url, {
      dataType: 'json',
      reconnect: false,
      // @ts-expect-error parsed JSON is of any shape, not the one annotated
      onMessage: (_client, message: { a: number }) => seen.push(typeof message.a),
    });
    t.after(() => narrowJson.close());
    // What the compiler keeps out: a string where a Buffer was annotated, a string where a number was.
    assert.deepEqual([await seen.next('the text client'), await seen.next('the json client')].sort(), ['string', 'string']);
  });
});
