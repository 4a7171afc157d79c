/**
 * tryConnect(): the outcome as a value, a union on `success` (the compiler narrows it: on
 * success the connection is there, on failure the code says why), over real sockets.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
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
});
