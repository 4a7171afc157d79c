/**
 * Admission over real sockets: onConnection (sync and async, typed data, refusals, failures), the
 * upgrade request it sees, routes, the per-connection handler callbacks, and the server options
 * that decide whether an upgrade is accepted (maxConnections, handshakeTimeout, path, origins,
 * subprotocols, maxHeaderBytes).
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { ProtocolError, Refusal, refuse, type Connection, type ConnectionHandler, type SockwaveError, type UpgradeRequest } from '../../src/index.js';
import { clientFrame, rawFrame } from '../support/frames.js';
import { Queue, RawClient, acceptFor, closeWs, deferred, openWs, rawUpgrade, recordWs, upgradeRequest, withTimeout, type StartedServer } from '../support/net.js';
import { catchUncaught, eventually, refusedWs, serve, sleep, wsClient } from '../support/server-kit.js';

/** Opens a ws client on the server and answers the `data` of its server-side connection. */
async function connectedData<Data>(t: TestContext, srv: StartedServer<Data>): Promise<Data> {
  await wsClient(t, srv.url);
  return (await srv.connections.next('the server-side connection')).connection.data;
}

const echo: ConnectionHandler = {
  onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
};

describe('admission: onConnection', { timeout: 60_000 }, () => {
  test('an async onConnection is awaited before the 101, and the typed data it returns is connection.data in onOpen and onMessage', async (t) => {
    interface Session {
      user: string;
      roles: string[];
    }
    const gate = deferred<void>();
    const asked = deferred<UpgradeRequest>();
    const seen = new Queue<[string, Session]>();
    const srv = await serve<Session>(t, {
      onConnection: async (request) => {
        asked.resolve(request);
        await gate.promise;
        return {
          data: { user: request.query.get('user') ?? '?', roles: ['reader'] },
          onOpen: (connection) => seen.push(['open', connection.data]),
          onMessage: (connection, data) => {
            seen.push(['message', connection.data]);
            connection.send(`${connection.data.user}/${connection.data.roles.join(',')}: ${String(data)}`);
          },
        };
      },
    });
    const opening = openWs(`${srv.url}/?user=ann`);
    t.after(async () => {
      const ws = await opening.catch(() => undefined);
      if (ws) await closeWs(ws);
    });
    await withTimeout(asked.promise, 'onConnection to be called');
    // Admission is still pending: nothing is open yet.
    await sleep(50);
    assert.equal(srv.server.clients.size, 0, 'no connection before admission resolved');
    gate.resolve();
    const ws = await opening;
    const rec = recordWs(ws);
    assert.deepEqual(await seen.next('onOpen'), ['open', { user: 'ann', roles: ['reader'] }]);
    ws.send('hi');
    assert.deepEqual(await seen.next('onMessage'), ['message', { user: 'ann', roles: ['reader'] }]);
    assert.equal((await rec.messages.next('the reply')).data.toString(), 'ann/reader: hi');
    const side = await srv.connections.next('the server-side connection');
    assert.deepEqual(side.connection.data, { user: 'ann', roles: ['reader'] });
  });

  const REFUSALS: ReadonlyArray<{ status: number; headers: Record<string, string>; body: string }> = [
    { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="chat"' }, body: 'a token is required' },
    { status: 403, headers: {}, body: 'not for you' },
    { status: 429, headers: { 'Retry-After': '30' }, body: 'slow down' },
  ];
  for (const refusal of REFUSALS) {
    test(`a refusal with ${refusal.status} reaches the client with its status, headers and body, and is counted`, async (t) => {
      const srv = await serve(t, {
        onConnection: (request) =>
          request.query.get('deny') === '1' ? refuse(refusal.status, { headers: refusal.headers, body: refusal.body }) : { ...echo },
      });
      const refusedEvents: Array<[number, string]> = [];
      srv.server.on('refused', (status, reason) => refusedEvents.push([status, reason]));
      const response = await refusedWs(`${srv.url}/?deny=1`);
      assert.equal(response.status, refusal.status);
      for (const [name, value] of Object.entries(refusal.headers)) assert.equal(response.headers[name.toLowerCase()], value, name);
      assert.equal(response.body, refusal.body);
      assert.deepEqual(refusedEvents, [[refusal.status, refusal.body]]);
      assert.equal(srv.server.stats().refused, 1);
      assert.equal(srv.server.clients.size, 0);
      // Others still get in.
      const { ws, rec } = await wsClient(t, `${srv.url}/?deny=0`);
      ws.send('ok?');
      assert.equal((await rec.messages.next('the echo')).data.toString(), 'ok?');
    });
  }

  test("an async onConnection: a message sent with the request, then the client's FIN while admission runs, still reaches the handler", async (t) => {
    const asked = deferred<void>();
    const messages = new Queue<string>();
    const closes = new Queue<number>();
    const srv = await serve(t, {
      onConnection: async () => {
        asked.resolve();
        // Long enough for the FIN to be read while admission is still running.
        await sleep(100);
        return { onMessage: (_connection, data) => messages.push(String(data)), onClose: (_connection, info) => closes.push(info.code) };
      },
    });
    const socket = netConnect(srv.port, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.on('error', () => {});
    socket.end(Buffer.concat([Buffer.from(upgradeRequest(), 'latin1'), clientFrame({ opcode: 0x1, payload: 'sent with the request' })]));
    await withTimeout(asked.promise, 'admission');
    assert.equal(await messages.next('the message'), 'sent with the request');
    assert.equal(await closes.next('the close'), 1006, 'the client left without a close frame');
  });

  test('the request object has the method, url, path, query, headers, cookies, remote address and port, protocols and origin', async (t) => {
    const requests = new Queue<UpgradeRequest>();
    const srv = await serve(t, {
      onConnection: (request) => {
        requests.push(request);
        return {};
      },
    });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    raw.write(
      upgradeRequest({
        path: '/rooms/42?token=abc&x=1&x=2',
        key,
        extra: [
          'Origin: https://app.example',
          'Sec-WebSocket-Protocol: chat.v2, chat.v1',
          'Cookie: session=s%20one; theme=dark',
          'X-Trace-Id: trace-7',
        ],
      }),
    );
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-accept'], acceptFor(key));
    const request = await requests.next('the upgrade request');
    assert.equal(request.method, 'GET');
    assert.equal(request.url, '/rooms/42?token=abc&x=1&x=2');
    assert.equal(request.path, '/rooms/42');
    assert.equal(request.query.get('token'), 'abc');
    assert.deepEqual(request.query.getAll('x'), ['1', '2']);
    assert.equal(request.headers['x-trace-id'], 'trace-7');
    assert.equal(request.headers['host'], '127.0.0.1');
    assert.equal(request.headers['upgrade'], 'websocket');
    assert.deepEqual({ ...request.cookies }, { session: 's one', theme: 'dark' });
    assert.equal(request.remoteAddress, '127.0.0.1');
    assert.equal(request.remotePort, raw.socket.localPort);
    assert.deepEqual(request.protocols, ['chat.v2', 'chat.v1']);
    assert.equal(request.origin, 'https://app.example');
    assert.equal(request.secure, false);
    assert.ok(request.rawHeaders.some(([name, value]) => name.toLowerCase() === 'x-trace-id' && value === 'trace-7'));
    raw.destroy();
  });

  test('a request without Origin or Cookie has origin undefined, no cookies and no protocols', async (t) => {
    const requests = new Queue<UpgradeRequest>();
    const srv = await serve(t, {
      onConnection: (request) => {
        requests.push(request);
        return {};
      },
    });
    const raw = await rawUpgrade(srv.port, '/plain');
    t.after(() => raw.destroy());
    const request = await requests.next('the upgrade request');
    assert.equal(request.origin, undefined);
    assert.deepEqual({ ...request.cookies }, {});
    assert.deepEqual(request.protocols, []);
    assert.equal(request.query.toString(), '');
    assert.equal(request.path, '/plain');
    raw.destroy();
  });

  test('routes take their own paths (query ignored) and onConnection takes every other path', async (t) => {
    const greet = (label: string): ConnectionHandler => ({ onOpen: (connection) => void connection.send(label) });
    const srv = await serve(t, { onConnection: () => greet('fallback') });
    srv.server.route('/chat', () => greet('chat')).route('/feed', () => greet('feed'));
    for (const [path, expected] of [
      ['/chat', 'chat'],
      ['/feed?since=10', 'feed'],
      ['/other', 'fallback'],
      ['/', 'fallback'],
      ['/chat/sub', 'fallback'],
    ] as const) {
      const { rec } = await wsClient(t, `${srv.url}${path}`);
      assert.equal((await rec.messages.next(`the greeting on ${path}`)).data.toString(), expected, path);
    }
  });

  test('a Data type without undefined: admission that gives no data does not compile, and would leave connection.data undefined', async (t) => {
    interface Session {
      user: string;
    }
    const srv = await serve<Session>(t, { onConnection: (request) => ({ data: { user: request.query.get('user') ?? '?' } }) });
    const seen = new Queue<Session | undefined>();
    // A Connection<Session> is a Connection (of unknown data): a general registry takes it.
    const everyone = new Set<Connection>();
    srv.server.on('connection', (connection) => {
      everyone.add(connection);
      seen.push(connection.data);
    });
    // Each of these compiled before `data` was required; at runtime they accept with no data.
    // @ts-expect-error a setup without data
    srv.server.route('/empty', () => ({}));
    // @ts-expect-error an admission that may return nothing
    srv.server.route('/maybe', (request) => (request.query.has('no') ? refuse(403) : undefined));
    // @ts-expect-error the same, asynchronously
    srv.server.route('/later', async () => {});
    srv.server.route('/typed', async (request) => (request.query.has('no') ? refuse(403) : { data: { user: 'typed' } }));
    await wsClient(t, `${srv.url}/?user=ann`);
    assert.deepEqual(await seen.next('the data from onConnection'), { user: 'ann' });
    await wsClient(t, `${srv.url}/typed`);
    assert.deepEqual(await seen.next('the data from the typed route'), { user: 'typed' });
    for (const path of ['/empty', '/maybe', '/later']) {
      await wsClient(t, `${srv.url}${path}`);
      assert.equal(await seen.next(`the connection on ${path}`), undefined, `what the type check keeps out, on ${path}`);
    }
    assert.equal(everyone.size, 5);
  });

  test('with the default Data (unknown), or one that admits undefined, admission may return nothing or a setup without data', async (t) => {
    const plain = await serve(t, { onConnection: () => undefined });
    plain.server.route('/empty', () => ({})).route('/later', async () => {});
    const optional = await serve<{ user: string } | undefined>(t, { onConnection: () => ({}) });
    optional.server.route('/later', async () => {});
    for (const url of [plain.url, `${plain.url}/empty`, `${plain.url}/later`, optional.url, `${optional.url}/later`]) {
      const { ws } = await wsClient(t, url);
      assert.equal(ws.readyState, WebSocket.OPEN, url);
    }
    // Inferred, not declared: the data's type, or unknown when admission gives none.
    const inferred = await serve(t, { onConnection: () => ({ data: { n: 1 } }) });
    const untyped = await serve(t, { onConnection: () => ({ protocol: undefined }) });
    const n: number = (await connectedData(t, inferred)).n;
    const untypedData = await connectedData(t, untyped);
    // @ts-expect-error unknown: no data type to infer from a setup without data
    const m: number = untypedData;
    assert.deepEqual([n, m], [1, undefined]);
  });

  test('a handler callback annotated with a narrower parameter than the one given does not compile, in every style', async (t) => {
    const seen = new Queue<string>();
    const srv = await serve(t, {
      // @ts-expect-error a text message arrives as a string: not always a Buffer
      onConnection: () => ({
        onMessage: (_connection, data: Buffer) => seen.push(`handler: ${typeof data}`),
      }),
    });
    srv.server.on('connection', (connection) => {
      // @ts-expect-error the same for a listener
      connection.on('message', (data: Buffer) => seen.push(`listener: ${typeof data}`));
    });
    const { ws } = await wsClient(t, srv.url);
    ws.send('text');
    // What the compiler keeps out: a string where a Buffer was annotated.
    assert.deepEqual([await seen.next('the handler'), await seen.next('the listener')].sort(), ['handler: string', 'listener: string']);
  });

  test('an absolute-form request target is routed by its path: admission and the connection see the path and the query', async (t) => {
    const requests = new Queue<UpgradeRequest>();
    const srv = await serve(t);
    srv.server.route('/chat', (request) => {
      requests.push(request);
      return {};
    });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ path: `http://127.0.0.1:${srv.port}/chat?room=7` }));
    assert.equal((await raw.readResponse()).status, 101);
    const request = await requests.next('admission of /chat');
    assert.equal(request.path, '/chat');
    assert.equal(request.url, '/chat?room=7');
    assert.equal(request.query.get('room'), '7');
    const side = await srv.connections.next('the server-side connection');
    assert.equal(side.request.path, '/chat');
    assert.equal(side.request.query.get('room'), '7');
    // The connection's url is the same origin form (it is read again from the head's text).
    assert.equal(side.connection.url, '/chat?room=7');
  });

  for (const target of ['*', '/chat#frag']) {
    test(`the request target ${JSON.stringify(target)} is answered 400, before admission`, async (t) => {
      let asked = 0;
      const srv = await serve(t, {
        onConnection: () => {
          asked++;
          return {};
        },
      });
      srv.server.route('/chat', () => {
        asked++;
        return {};
      });
      const raw = await RawClient.connect(srv.port);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest({ path: target }));
      assert.equal((await raw.readResponse()).status, 400);
      await raw.waitClosed();
      assert.equal(asked, 0);
      assert.equal(srv.server.clients.size, 0);
    });
  }

  test('an onConnection that throws is answered 500, reported as a server error, and the server keeps serving', async (t) => {
    const srv = await serve(t, {
      onConnection: (request) => {
        if (request.path === '/boom') throw new Error('admission exploded');
        return { ...echo };
      },
    });
    const refusedEvents: number[] = [];
    srv.server.on('refused', (status) => refusedEvents.push(status));
    for (let i = 0; i < 3; i++) {
      const response = await refusedWs(`${srv.url}/boom`);
      assert.equal(response.status, 500);
      assert.equal((await srv.errors.next('the server error')).message, 'admission exploded');
    }
    assert.deepEqual(refusedEvents, [500, 500, 500]);
    const { ws, rec } = await wsClient(t, `${srv.url}/fine`);
    ws.send('still here');
    assert.equal((await rec.messages.next('the echo')).data.toString(), 'still here');
  });

  test('after the 101, a throwing onOpen or connection listener ends that connection with 1011, never with an HTTP answer, and is reported', async (t) => {
    let throwIn: 'onOpen' | 'listener' | undefined;
    const srv = await serve(t, {
      onConnection: () => ({
        ...echo,
        onOpen: () => {
          if (throwIn === 'onOpen') throw new Error('onOpen exploded');
        },
      }),
    });
    srv.server.on('connection', () => {
      if (throwIn === 'listener') throw new Error('listener exploded');
    });
    const refusedEvents: number[] = [];
    srv.server.on('refused', (status) => refusedEvents.push(status));
    for (const where of ['onOpen', 'listener'] as const) {
      throwIn = where;
      const { rec } = await wsClient(t, srv.url);
      const closed = await rec.closed();
      assert.equal(closed.code, 1011, `the close code after a throw in ${where}`);
      assert.equal((await srv.errors.next(`the server error from ${where}`)).message, `${where} exploded`);
      assert.equal(rec.errors.pending, 0, 'the client saw a clean WebSocket close, no garbage after the 101');
    }
    // A handler throwing for a frame that came in the same packet as the request: 1011 too.
    const early = await serve(t, {
      onConnection: () => ({
        onMessage: () => {
          throw new Error('onMessage exploded');
        },
      }),
    });
    const raw = await RawClient.connect(early.port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    raw.write(Buffer.concat([Buffer.from(upgradeRequest({ key })), clientFrame({ opcode: 0x1, payload: 'early' })]));
    assert.equal((await raw.readResponse()).status, 101);
    const frame = await raw.readFrame();
    assert.deepEqual([frame.opcode, frame.payload.readUInt16BE(0)], [0x8, 1011], 'a close frame with 1011 right after the 101');
    assert.equal((await early.errors.next('the server error from onMessage')).message, 'onMessage exploded');
    assert.deepEqual(refusedEvents, [], 'an accepted connection is not counted as refused');
    throwIn = undefined;
    const { ws, rec } = await wsClient(t, srv.url);
    ws.send('still here');
    assert.equal((await rec.messages.next('the echo')).data.toString(), 'still here');
    await eventually(() => srv.server.clients.size === 1, 'the failed connections to leave the registry');
  });

  test('the handler callbacks fire: onOpen, onMessage, onFragment, onPing, onPong, and onClose with the code and reason', async (t) => {
    type Event = [string, ...unknown[]];
    const events = new Queue<Event>();
    const srv = await serve(t, {
      onConnection: () => ({
        onOpen: (c) => events.push(['open', c.status]),
        onMessage: (_c, data, isBinary) => events.push(['message', data, isBinary]),
        onFragment: (_c, data, isBinary, fin) => events.push(['fragment', data.toString(), isBinary, fin]),
        onPing: (_c, payload) => events.push(['ping', payload.toString()]),
        onPong: (_c, payload) => events.push(['pong', payload.toString()]),
        onClose: (c, info) => events.push(['close', info, c.status]),
        onError: (_c, error) => events.push(['error', error.message]),
      }),
    });
    const { ws, rec } = await wsClient(t, srv.url);
    assert.deepEqual(await events.next('onOpen'), ['open', 'open']);
    ws.send('hello ✓');
    assert.deepEqual(await events.next('onMessage'), ['message', 'hello ✓', false]);
    ws.send(Buffer.from([1, 2]));
    assert.deepEqual(await events.next('onMessage (binary)'), ['message', Buffer.from([1, 2]), true]);
    ws.send('ab', { fin: false });
    ws.send('cd', { fin: true });
    assert.deepEqual(await events.take(3, 'two fragments and the message'), [
      ['fragment', 'ab', false, false],
      ['fragment', 'cd', false, true],
      ['message', 'abcd', false],
    ]);
    ws.ping('from the client');
    assert.deepEqual(await events.next('onPing'), ['ping', 'from the client']);
    const side = await srv.connections.next('the server-side connection');
    side.connection.ping('from the server');
    assert.deepEqual(await events.next('onPong'), ['pong', 'from the server']);
    ws.close(4321, 'done here');
    assert.deepEqual(await events.next('onClose'), ['close', { code: 4321, reason: 'done here', wasClean: true, remote: true }, 'closed']);
    assert.equal((await rec.closed()).code, 4321);
    assert.equal(events.pending, 0, `no other event: ${JSON.stringify(events.history.slice(-3))}`);
  });

  test('onError fires for a protocol error, then onClose reports the failure code', async (t) => {
    const events = new Queue<[string, unknown]>();
    const srv = await serve(t, {
      onConnection: () => ({
        onError: (_c, error: SockwaveError) => events.push(['error', error]),
        onClose: (_c, info) => events.push(['close', info.code]),
      }),
    });
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    raw.write(rawFrame({ opcode: 0x1, payload: 'unmasked', mask: false }));
    const [kind, error] = await events.next('onError');
    assert.equal(kind, 'error');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1002);
    await raw.waitClosed();
    assert.deepEqual(await events.next('onClose'), ['close', 1002]);
  });

  test('onDrain fires after send() answered backpressure, once the client has read', async (t) => {
    const results: string[] = [];
    const drained = deferred<number>();
    const srv = await serve(t, {
      highWaterMark: 16 * 1024,
      onConnection: () => ({
        onOpen: (connection) => void results.push(connection.send(Buffer.alloc(1024 * 1024, 7))),
        onDrain: (connection) => drained.resolve(connection.bufferedAmount),
      }),
    });
    const { rec } = await wsClient(t, srv.url);
    const message = await rec.messages.next('the 1 MiB message');
    assert.equal(message.data.length, 1024 * 1024);
    const buffered = await withTimeout(drained.promise, 'onDrain');
    assert.deepEqual(results, ['backpressure']);
    assert.ok(buffered <= 16 * 1024, `bufferedAmount at drain: ${buffered}`);
  });
});

describe('server options that decide admission', { timeout: 60_000 }, () => {
  test('maxConnections: the client past the limit gets 503 with Retry-After, and once one leaves a new one gets in', async (t) => {
    const srv = await serve(t, { maxConnections: 2, onConnection: () => ({ ...echo }) });
    const first = await wsClient(t, srv.url);
    await wsClient(t, srv.url);
    const sides = await srv.connections.take(2, 'two server-side connections');
    const response = await refusedWs(srv.url);
    assert.equal(response.status, 503);
    assert.equal(response.headers['retry-after'], '5');
    assert.equal(srv.server.clients.size, 2);
    assert.equal(srv.server.stats().refused, 1);
    first.ws.close(1000);
    await sides[0]!.rec.closed();
    assert.equal(srv.server.clients.size, 1);
    const { ws, rec } = await wsClient(t, srv.url);
    ws.send('in');
    assert.equal((await rec.messages.next('the echo')).data.toString(), 'in');
    assert.equal(srv.server.clients.size, 2);
  });

  test('maxConnections holds with an async onConnection: upgrades admitted together past the limit get 503, Retry-After and a limit event', async (t) => {
    const gate = deferred<void>();
    let asked = 0;
    const srv = await serve(t, {
      maxConnections: 2,
      onConnection: async () => {
        asked++;
        await gate.promise;
        return {};
      },
    });
    const limits: string[] = [];
    srv.server.on('limit', (event) => limits.push(event.limit));
    const outcomes = Array.from({ length: 5 }, () => {
      const ws = new WebSocket(srv.url);
      ws.on('error', () => {});
      t.after(() => closeWs(ws));
      return withTimeout(
        new Promise<{ status: number; retryAfter?: string | undefined }>((resolve) => {
          ws.once('open', () => resolve({ status: 101 }));
          ws.once('unexpected-response', (_request, response) => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] }));
        }),
        'the outcome of an upgrade',
      );
    });
    // Every request is in admission before any of them is admitted.
    await eventually(() => asked === 5, 'five pending admissions');
    gate.resolve();
    const results = await Promise.all(outcomes);
    assert.deepEqual(results.map((result) => result.status).sort(), [101, 101, 503, 503, 503]);
    for (const result of results) if (result.status === 503) assert.equal(result.retryAfter, '5');
    assert.equal(srv.server.clients.size, 2);
    assert.deepEqual(limits, ['maxConnections', 'maxConnections', 'maxConnections']);
    assert.equal(srv.server.stats().limits.maxConnections, 3);
    assert.equal(srv.server.stats().refused, 3);
  });

  test('maxConnections: retryAfter sets the Retry-After seconds', async (t) => {
    const srv = await serve(t, { maxConnections: 1, retryAfter: 42, onConnection: () => ({}) });
    await wsClient(t, srv.url);
    const response = await refusedWs(srv.url);
    assert.equal(response.status, 503);
    assert.equal(response.headers['retry-after'], '42');
  });

  test('handshakeTimeout: half an upgrade request is dropped without an answer, and the server keeps serving', async (t) => {
    const srv = await serve(t, { handshakeTimeout: 200, onConnection: () => ({ ...echo }) });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    await raw.waitClosed('the server to drop the slow client');
    assert.equal(raw.received.length, 0, 'no answer to a slowloris client');
    assert.equal(srv.server.clients.size, 0);
    const { ws, rec } = await wsClient(t, srv.url);
    ws.send('fine');
    assert.equal((await rec.messages.next('the echo')).data.toString(), 'fine');
  });

  test('handshakeTimeout: a request that starts slowly but completes in time is accepted, and the connection outlives the timeout', async (t) => {
    const srv = await serve(t, { handshakeTimeout: 400, onConnection: () => ({ ...echo }) });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    const request = upgradeRequest({ key });
    raw.write(request.slice(0, 20));
    await sleep(100);
    raw.write(request.slice(20));
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-accept'], acceptFor(key));
    // Well past the handshake timeout, the connection still works.
    await sleep(700);
    raw.write(clientFrame({ opcode: 0x1, payload: 'after the deadline' }));
    const frame = await raw.readFrame();
    assert.deepEqual([frame.opcode, frame.payload.toString()], [0x1, 'after the deadline']);
    raw.destroy();
  });

  test('path as a string: only that path (with any query) is served, others get 404', async (t) => {
    const srv = await serve(t, { path: '/ws', onConnection: () => ({ ...echo }) });
    await wsClient(t, `${srv.url}/ws`);
    await wsClient(t, `${srv.url}/ws?room=1`);
    for (const path of ['/', '/other', '/ws/', '/wsx']) assert.equal((await refusedWs(`${srv.url}${path}`)).status, 404, path);
    assert.equal(srv.server.clients.size, 2);
  });

  test('path as a list: every listed path is served, others get 404', async (t) => {
    const srv = await serve(t, { path: ['/a', '/b'], onConnection: (request) => ({ onOpen: (c) => void c.send(request.path) }) });
    for (const path of ['/a', '/b']) {
      const { rec } = await wsClient(t, `${srv.url}${path}`);
      assert.equal((await rec.messages.next('the greeting')).data.toString(), path);
    }
    assert.equal((await refusedWs(`${srv.url}/c`)).status, 404);
    assert.deepEqual([...(srv.server.acceptedPaths ?? [])].sort(), ['/a', '/b']);
  });

  test('origins as a list: a listed origin and a request without Origin get in; another origin gets 403', async (t) => {
    const srv = await serve(t, { origins: ['https://good.example', 'http://localhost:3000'], onConnection: () => ({}) });
    await wsClient(t, srv.url, undefined, { origin: 'https://good.example' });
    await wsClient(t, srv.url, undefined, { origin: 'http://localhost:3000' });
    await wsClient(t, srv.url); // no Origin header
    const refused = await refusedWs(srv.url, undefined, { origin: 'https://evil.example' });
    assert.equal(refused.status, 403);
    assert.equal((await refusedWs(srv.url, undefined, { origin: 'https://good.example.evil' })).status, 403);
    assert.equal(srv.server.clients.size, 3);
  });

  test('origins as a function: it receives the origin (undefined when absent) and the request, and decides', async (t) => {
    const calls: Array<[string | undefined, string]> = [];
    const srv = await serve(t, {
      origins: (origin, request) => {
        calls.push([origin, request.path]);
        return origin !== undefined && new URL(origin).hostname.endsWith('.trusted.test');
      },
      onConnection: () => ({}),
    });
    await wsClient(t, `${srv.url}/x`, undefined, { origin: 'https://app.trusted.test' });
    assert.equal((await refusedWs(`${srv.url}/y`, undefined, { origin: 'https://app.other.test' })).status, 403);
    assert.equal((await refusedWs(`${srv.url}/z`)).status, 403);
    assert.deepEqual(calls, [
      ['https://app.trusted.test', '/x'],
      ['https://app.other.test', '/y'],
      [undefined, '/z'],
    ]);
  });

  test("subprotocols as a list: the client's most preferred supported one is chosen; none supported means no header", async (t) => {
    const srv = await serve(t, { protocols: ['json', 'msgpack'], onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url, ['xml', 'msgpack', 'json']);
    assert.equal(ws.protocol, 'msgpack');
    assert.equal((await srv.connections.next('the server-side connection')).connection.protocol, 'msgpack');
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ extra: ['Sec-WebSocket-Protocol: xml, yaml'] }));
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-protocol'], undefined);
    assert.equal((await srv.connections.next('the second server-side connection')).connection.protocol, '');
    raw.destroy();
  });

  test('subprotocols as a function: it gets the offered list in order and the request, and its choice is answered', async (t) => {
    const calls: Array<[readonly string[], string | null]> = [];
    const srv = await serve(t, {
      protocols: (offered, request) => {
        calls.push([[...offered], request.query.get('family')]);
        return offered.find((p) => p.startsWith(`${request.query.get('family')}.`));
      },
      onConnection: () => ({}),
    });
    const { ws } = await wsClient(t, `${srv.url}/?family=v2`, ['v1.chat', 'v2.chat', 'v2.feed']);
    assert.equal(ws.protocol, 'v2.chat');
    assert.deepEqual(calls, [[['v1.chat', 'v2.chat', 'v2.feed'], 'v2']]);
    // A function returning undefined: no subprotocol header.
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ path: '/?family=v9', extra: ['Sec-WebSocket-Protocol: v1.chat'] }));
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-protocol'], undefined);
    raw.destroy();
  });

  test('maxHeaderBytes: a larger request head is answered 431, a normal one still gets in', async (t) => {
    const srv = await serve(t, { maxHeaderBytes: 2048, onConnection: () => ({}) });
    const refused = await refusedWs(srv.url, undefined, { headers: { 'X-Big': 'x'.repeat(4096) } });
    assert.equal(refused.status, 431);
    await wsClient(t, srv.url, undefined, { headers: { 'X-Small': 'x'.repeat(256) } });
    assert.equal(srv.server.clients.size, 1);
  });
});

describe('refuse()', () => {
  test('takes every status from 300 to 599, with the headers and body given (none by default)', () => {
    for (const status of [300, 301, 401, 503, 599]) {
      const refusal = refuse(status);
      assert.ok(refusal instanceof Refusal);
      assert.equal(refusal.status, status);
      assert.deepEqual(refusal.headers, {});
      assert.equal(refusal.body, '');
    }
    const refusal = refuse(401, { headers: { 'WWW-Authenticate': 'Bearer' }, body: 'a token is required' });
    assert.deepEqual(refusal.headers, { 'WWW-Authenticate': 'Bearer' });
    assert.equal(refusal.body, 'a token is required');
  });

  test('throws a RangeError for a status that is not a whole number from 300 to 599', () => {
    for (const status of [0, 200, 299, 600, 999, 401.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => refuse(status), RangeError, String(status));
      assert.throws(() => new Refusal(status), RangeError, String(status));
    }
  });

  test('a 304 refusal takes no body (RFC 9110 §15.4.5): RangeError; without one, or with an empty one, it is made', () => {
    assert.throws(() => refuse(304, { body: 'not modified' }), { name: 'RangeError', message: /304 refusal has no body/ });
    assert.equal(refuse(304).status, 304);
    assert.equal(refuse(304, { body: '' }).body, '');
  });
});

describe('connections that ask nothing', { timeout: 60_000 }, () => {
  test("a TCP connection closed without a byte (a port probe) is not a refusal; one closed mid-request is (400)", async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const refused: number[] = [];
    srv.server.on('refused', (status) => refused.push(status));
    const probe = netConnect(srv.port, '127.0.0.1');
    probe.on('error', () => {});
    await new Promise<void>((resolve) => probe.once('connect', () => resolve()));
    probe.end();
    await new Promise<void>((resolve) => probe.once('close', () => resolve()));
    await sleep(100);
    assert.deepEqual(refused, [], 'a probe was reported as refused');
    assert.equal(srv.server.stats().refused, 0);
    const partial = netConnect(srv.port, '127.0.0.1');
    partial.on('error', () => {});
    partial.on('data', () => {});
    await new Promise<void>((resolve) => partial.once('connect', () => resolve()));
    partial.end('GET / HTTP/1.1\r\n');
    await eventually(() => refused.length === 1, 'the refusal of the half request');
    assert.deepEqual(refused, [400]);
    assert.equal(srv.server.stats().refused, 1);
  });
});

describe('close() while an asynchronous handler runs', { timeout: 30_000 }, () => {
  for (const handler of ['onConnection', 'onHttpRequest'] as const) {
    test(`a request waiting for ${handler} is answered 503 with Retry-After; its late failure is neither reported nor counted again`, async (t) => {
      const asked = deferred<void>();
      const failed = deferred<void>();
      const failLate = (): Promise<never> => {
        asked.resolve();
        return new Promise<never>((_resolve, reject) =>
          setTimeout(() => {
            reject(new Error(`${handler} failed late`));
            failed.resolve();
          }, 300),
        );
      };
      const options = { retryAfter: 7, ...(handler === 'onConnection' ? { onConnection: failLate } : { onHttpRequest: failLate }) };
      const srv = await serve(t, options);
      const events: string[] = [];
      srv.server.on('close', () => events.push('close'));
      srv.server.on('error', (error) => events.push(`error: ${error.message}`));
      srv.server.on('refused', (status, reason) => events.push(`refused ${status} ${reason}`));
      const raw = await RawClient.connect(srv.port);
      t.after(() => raw.destroy());
      raw.write(handler === 'onConnection' ? upgradeRequest() : 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await withTimeout(asked.promise, `${handler} to be asked`);
      await srv.close();
      const head = await raw.waitFor((buffer) => {
        const end = buffer.indexOf('\r\n\r\n');
        return end === -1 ? undefined : buffer.toString('latin1', 0, end);
      }, 'the 503');
      assert.match(head, /^HTTP\/1\.1 503 /);
      assert.match(head, /\r\nretry-after: 7(\r\n|$)/i);
      await raw.waitClosed('the answered socket to close');
      await withTimeout(failed.promise, `${handler} to fail`);
      // Time for the failure to be handled.
      await sleep(100);
      assert.deepEqual(events, ['refused 503 the WebSocket server is closing', 'close']);
      assert.equal(srv.server.stats().refused, 1);
    });
  }

  test('an upgrade admitted after close() began gets no 101 behind its 503, and no connection', async (t) => {
    const asked = deferred<void>();
    const gate = deferred<void>();
    let connections = 0;
    const srv = await serve(t, {
      onConnection: async () => {
        asked.resolve();
        await gate.promise;
        return {};
      },
    });
    srv.server.on('connection', () => connections++);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest());
    await withTimeout(asked.promise, 'onConnection to be asked');
    await srv.close();
    gate.resolve();
    await raw.waitClosed('the answered socket to close');
    // Time for the late admission to be handled.
    await sleep(100);
    const answer = raw.received.toString('latin1');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.equal(answer.indexOf('101'), -1, `no 101 after the 503: ${answer}`);
    assert.equal(connections, 0);
    assert.equal(srv.server.clients.size, 0);
  });

  test("a request head still arriving at close() is dropped unanswered, and a 'refused' listener that throws cannot stop the 503s", async (t) => {
    const asked = new Queue<void>();
    const srv = await serve(t, {
      onConnection: () => {
        asked.push();
        return new Promise<never>(() => {});
      },
    });
    // What the listener throws escapes to the process: caught here instead of by the test runner.
    const { messages: thrown, restore } = catchUncaught(t);
    srv.server.on('refused', () => {
      throw new Error('listener failed');
    });
    const waiting = [await RawClient.connect(srv.port), await RawClient.connect(srv.port)];
    const partial = await RawClient.connect(srv.port);
    t.after(() => [...waiting, partial].forEach((raw) => raw.destroy()));
    for (const raw of waiting) raw.write(upgradeRequest());
    partial.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await asked.next('the first onConnection');
    await asked.next('the second onConnection');
    await withTimeout(srv.close(), 'close() to finish despite the throwing listener');
    for (const raw of waiting) {
      await raw.waitClosed('an answered socket to close');
      assert.match(raw.received.toString('latin1'), /^HTTP\/1\.1 503 /);
    }
    await partial.waitClosed('the partial request to be dropped');
    assert.equal(partial.received.length, 0, 'no answer to a request not read whole');
    await eventually(() => thrown.length === 2, 'both listener errors to surface as uncaught');
    restore();
    assert.deepEqual(thrown, ['listener failed', 'listener failed']);
    assert.equal(srv.server.stats().refused, 2);
  });
});
