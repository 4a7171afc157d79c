/**
 * ConnectionInfo on its own, over a stand-in socket and session: what the application reads about
 * a connection, each made from its cheapest form when first read.
 */
import { strict as assert } from 'node:assert';
import { type Socket } from 'node:net';
import { test } from 'node:test';
import { ConnectionInfo } from '../../src/io/connection-info.js';
import { ConnectionStats } from '../../src/io/connection-stats.js';
import { type ConnectionInit } from '../../src/io/connection-types.js';
import { ReadyState, type ProtocolSession } from '../../src/protocol/session.js';

class Info<Data> extends ConnectionInfo<Data> {
  readonly session = { role: 'server', readyState: ReadyState.Connecting } as unknown as ProtocolSession & { readyState: ReadyState };
}

const HEAD = 'GET /room/7?x=y HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nX-Who: a\r\nX-Who: b\r\n\r\n';

function socket(): Socket & { _peername?: object } {
  return { remoteAddress: '192.0.2.9', remotePort: 5001, _peername: { address: '192.0.2.9' } } as unknown as Socket & { _peername?: object };
}

function init(headers: ConnectionInit<{ n: number }>['headers'], url = ''): ConnectionInit<{ n: number }> {
  return { role: 'server', url, headers, data: { n: 1 }, maxPayload: 1024 };
}

test('from the request head text: the target and the headers are parsed when first read, in either order', () => {
  const urlFirst = new Info(socket(), init(HEAD));
  assert.equal(urlFirst.url, '/room/7?x=y');
  assert.equal(urlFirst.headers['x-who'], 'a, b');
  const headersFirst = new Info(socket(), init(HEAD));
  assert.equal(headersFirst.headers.upgrade, 'websocket');
  assert.equal(headersFirst.url, '/room/7?x=y');
  assert.equal(headersFirst.headers, headersFirst.headers, 'parsed once');
});

test('given parsed headers (a client), the URL given is the one reported', () => {
  const info = new Info(socket(), init({ 'sec-websocket-accept': 'x' }, 'ws://example.com/chat'));
  assert.equal(info.url, 'ws://example.com/chat');
  assert.deepEqual({ ...info.headers }, { 'sec-websocket-accept': 'x' });
});

test('rawHeaders: the lines apart, from the head text (before or after headers is read), or as given; parsed headers alone give their entries', () => {
  const lines = [['host', 'example.com'], ['upgrade', 'websocket'], ['x-who', 'a'], ['x-who', 'b']];
  assert.deepEqual(new Info(socket(), init(HEAD)).rawHeaders, lines);
  const headersFirst = new Info(socket(), init(HEAD));
  assert.equal(headersFirst.headers['x-who'], 'a, b');
  assert.deepEqual(headersFirst.rawHeaders, lines);
  assert.equal(headersFirst.url, '/room/7?x=y');
  const given = new Info(socket(), { ...init({ 'set-cookie': 'a=1, b=2' }), rawHeaders: [['set-cookie', 'a=1'], ['set-cookie', 'b=2']] });
  assert.deepEqual(given.rawHeaders, [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  assert.deepEqual(new Info(socket(), init({ upgrade: 'websocket' })).rawHeaders, [['upgrade', 'websocket']]);
});

test("the peer's address and port are kept, and the socket's own copy let go; subprotocol, extensions and data as given", () => {
  const raw = socket();
  const info = new Info(raw, { ...init(HEAD), protocol: 'chat', extensions: 'permessage-deflate' });
  assert.equal(raw._peername, undefined);
  assert.deepEqual([info.remoteAddress, info.remotePort, info.protocol, info.extensions, info.data], ['192.0.2.9', 5001, 'chat', 'permessage-deflate', { n: 1 }]);
  const bare = new Info({} as Socket, init(HEAD));
  assert.deepEqual([bare.remoteAddress, bare.remotePort, bare.protocol, bare.extensions], ['', 0, '', '']);
});

test('status and readyState follow the session; the role is its role', () => {
  const info = new Info(socket(), init(HEAD));
  const names = [ReadyState.Connecting, ReadyState.Open, ReadyState.Closing, ReadyState.Closed].map((state) => {
    info.session.readyState = state;
    return [info.readyState, info.status];
  });
  assert.deepEqual(names, [[0, 'connecting'], [1, 'open'], [2, 'closing'], [3, 'closed']]);
  assert.equal(info.role, 'server');
});

test('an idle connection holds no counters and no listener dictionary; both are made on first use; ids differ', () => {
  const info = new Info(socket(), init(HEAD));
  assert.equal(info.statsIfAny, undefined);
  assert.equal((info as unknown as { _events: unknown })._events, undefined);
  assert.ok(info.stats instanceof ConnectionStats);
  assert.equal(info.statsIfAny, info.stats);
  info.on('close', () => {});
  assert.equal(info.listenerCount('close'), 1);
  assert.notEqual(info.id, new Info(socket(), init(HEAD)).id);
  assert.equal(info.rtt, undefined);
  assert.equal(info.pingSentAt, 0);
});
