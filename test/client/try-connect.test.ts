/**
 * tryConnect(): the outcome as a value, a union on `success` (the compiler narrows it: on
 * success the connection is there, on failure the code says why), over real sockets.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import { tryConnect, type ConnectFailure } from '../../src/index.js';
import { closedPort } from '../support/net.js';
import { serve } from '../support/server-kit.js';

describe('tryConnect', () => {
  test('success: narrowed by `success`, the open connection is there (no undefined check needed)', async (t) => {
    const srv = await serve(t, { onConnection: () => ({ onMessage: (conn, data) => conn.send(data) }) });
    const result = await tryConnect(srv.url);
    if (!result.success) return assert.fail(`not connected: ${result.reason}`);
    t.after(() => result.connection.terminate());
    result.connection.send('ping');
    assert.equal((await result.connection.nextMessage()).data, 'ping');
    assert.equal(result.status, 101);
    assert.equal(result.errorCode, undefined);
    assert.equal(result.uri, result.connection.url);
    assert.equal(result.headers, result.connection.headers);
    assert.equal(result.headers.upgrade?.toLowerCase(), 'websocket');
    assert.deepEqual([result.reason, result.body], ['', '']);
  });

  test('failure: no connection, a status of 0 without an HTTP answer, and a stable code', async () => {
    const result = await tryConnect(`ws://127.0.0.1:${await closedPort()}/`);
    assert.equal(result.success, false);
    const failure: ConnectFailure = result as ConnectFailure;
    assert.equal(failure.connection, undefined);
    assert.equal(failure.status, 0);
    assert.equal(failure.errorCode, 'SW_SOCKET_ERROR');
    assert.match(failure.reason, /refused/);
  });

  test('an HTTP refusal: its status, headers and body, the URI shown without credentials, a SockwaveError code', async (t) => {
    const port = await refusingServer(t);
    const result = await tryConnect(`ws://user:secret@127.0.0.1:${port}/path?q=1`);
    if (result.success) return assert.fail('connected');
    assert.equal(result.connection, undefined);
    assert.equal(result.status, 403);
    assert.equal(result.headers['x-why'], 'nope');
    assert.equal(result.body, 'go away');
    assert.equal(result.uri, `ws://127.0.0.1:${port}/path?q=1`);
    assert.equal(result.errorCode, 'SW_HANDSHAKE_FAILED');
    assert.match(result.reason, /403/);
  });

  test('an error that is not a SockwaveError: its name is the code; an invalid URL is shown as given', async (t) => {
    const invalid = await tryConnect('not a url');
    assert.deepEqual({ ...invalid, reason: undefined }, { success: false, connection: undefined, status: 0, headers: {}, rawHeaders: [], uri: 'not a url', errorCode: 'SyntaxError', reason: undefined, body: '' });
    assert.match(invalid.reason, /not a url/);
    const port = await refusingServer(t);
    const badOption = await tryConnect(`ws://127.0.0.1:${port}/`, { connectTimeout: -1 });
    assert.deepEqual([badOption.success, badOption.status, badOption.uri, badOption.errorCode], [false, 0, `ws://127.0.0.1:${port}/`, 'RangeError']);
    assert.match(badOption.reason, /connectTimeout/);
  });
});

/** An HTTP server on 127.0.0.1 that answers every request 403, with a header and a body. */
async function refusingServer(t: TestContext): Promise<number> {
  const server = createServer((_request, response) => {
    response.writeHead(403, { 'x-why': 'nope' });
    response.end('go away');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}
