/**
 * The error tree on its own: every class is a SockwaveError and an Error, names itself, keeps its
 * code, the close code or HTTP status it carries, and the cause it was given. Where each error is
 * raised is tested with the code that raises it.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import {
  BackplaneError,
  ConnectionClosedError,
  HandshakeError,
  ProtocolError,
  SockwaveError,
  UsageError,
} from '../src/errors.js';
import * as api from '../src/index.js';

describe('errors', () => {
  test('SockwaveError keeps its code and message, names itself, and keeps a cause only when given one', () => {
    const plain = new SockwaveError('SW_TIMEOUT', 'took too long');
    assert.ok(plain instanceof Error);
    assert.equal(plain.code, 'SW_TIMEOUT');
    assert.equal(plain.message, 'took too long');
    assert.equal(plain.name, 'SockwaveError');
    assert.equal('cause' in plain, false);
    assert.match(String(plain), /^SockwaveError: took too long$/);
    const cause = new Error('root');
    const caused = new SockwaveError('SW_SOCKET_ERROR', 'socket failed', { cause });
    assert.equal(caused.cause, cause);
    // A cause that is a falsy value is still a cause.
    assert.equal(new SockwaveError('SW_SOCKET_ERROR', 'x', { cause: 0 }).cause, 0);
    assert.equal('cause' in new SockwaveError('SW_SOCKET_ERROR', 'x', {}), false);
  });

  test('ProtocolError carries the close code to answer with; its code defaults to SW_PROTOCOL_ERROR', () => {
    const e = new ProtocolError(1002, 'reserved opcode 0x3');
    assert.ok(e instanceof SockwaveError);
    assert.equal(e.name, 'ProtocolError');
    assert.equal(e.closeCode, 1002);
    assert.equal(e.code, 'SW_PROTOCOL_ERROR');
    assert.equal(e.message, 'reserved opcode 0x3');
    const cause = new Error('inner');
    const tooBig = new ProtocolError(1009, 'too big', 'SW_MESSAGE_TOO_BIG', { cause });
    assert.equal(tooBig.code, 'SW_MESSAGE_TOO_BIG');
    assert.equal(tooBig.closeCode, 1009);
    assert.equal(tooBig.cause, cause);
  });

  test('HandshakeError carries the HTTP status, headers and body start; defaults: none, empty, SW_HANDSHAKE_FAILED', () => {
    const bare = new HandshakeError(403, 'refused');
    assert.ok(bare instanceof SockwaveError);
    assert.equal(bare.name, 'HandshakeError');
    assert.equal(bare.status, 403);
    assert.deepEqual(bare.headers, {});
    assert.equal(bare.body, '');
    assert.equal(bare.code, 'SW_HANDSHAKE_FAILED');
    const full = new HandshakeError(503, 'busy', { 'retry-after': '5' }, 'try later', 'SW_HANDSHAKE_TIMEOUT', { cause: 'x' });
    assert.deepEqual(full.headers, { 'retry-after': '5' });
    assert.equal(full.body, 'try later');
    assert.equal(full.code, 'SW_HANDSHAKE_TIMEOUT');
    assert.equal(full.cause, 'x');
  });

  test('ConnectionClosedError carries how the connection closed and says it in its message', () => {
    const withReason = new ConnectionClosedError(1001, 'going away', true, true);
    assert.ok(withReason instanceof SockwaveError);
    assert.equal(withReason.name, 'ConnectionClosedError');
    assert.equal(withReason.code, 'SW_CONNECTION_CLOSED');
    assert.equal(withReason.message, 'connection closed (1001 going away)');
    assert.deepEqual(
      [withReason.closeCode, withReason.reason, withReason.wasClean, withReason.remote],
      [1001, 'going away', true, true],
    );
    const noReason = new ConnectionClosedError(1006, '', false, false, { cause: 'reset' });
    assert.equal(noReason.message, 'connection closed (1006)');
    assert.deepEqual([noReason.wasClean, noReason.remote, noReason.cause], [false, false, 'reset']);
    const closedHere = new ConnectionClosedError(1000, 'bye', true, false);
    assert.deepEqual([closedHere.wasClean, closedHere.remote], [true, false]);
    const resetByPeer = new ConnectionClosedError(1006, '', false, true);
    assert.deepEqual([resetByPeer.wasClean, resetByPeer.remote], [false, true]);
  });

  test('UsageError and BackplaneError keep their codes', () => {
    const usage = new UsageError('SW_INVALID_ARGUMENT', 'bad');
    assert.ok(usage instanceof SockwaveError);
    assert.equal(usage.name, 'UsageError');
    assert.equal(usage.code, 'SW_INVALID_ARGUMENT');
    const backplane = new BackplaneError('Redis is gone', { cause: 'ECONNREFUSED' });
    assert.ok(backplane instanceof SockwaveError);
    assert.equal(backplane.name, 'BackplaneError');
    assert.equal(backplane.code, 'SW_BACKPLANE_UNAVAILABLE');
    assert.equal(backplane.cause, 'ECONNREFUSED');
  });

  test('a subclass made by the application names itself too', () => {
    class AppError extends SockwaveError {}
    assert.equal(new AppError('SW_ABORTED', 'stop').name, 'AppError');
  });

  test('misuse that cannot work whatever the peer does is a UsageError; a state reached on its own is a plain SockwaveError', async (t) => {
    const isUsage = (code: string) => (error: unknown) => error instanceof UsageError && error.code === code;
    const server = new api.WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.route('/', () => ({}));
    const { url } = await server.listen();
    t.after(() => server.close({ timeout: 500 }));
    await assert.rejects(server.listen(), isUsage('SW_INVALID_STATE'), 'listen() twice');
    const conn = await api.connect(`${url}/`);
    t.after(() => conn.terminate());
    assert.throws(() => conn.subscribe('room'), isUsage('SW_INVALID_STATE'), 'topics on a client connection');
    const reader = conn.messages();
    assert.throws(() => new api.MessageReader(conn), isUsage('SW_INVALID_STATE'), 'a second reader');
    assert.equal(conn.messages(), reader);
    conn.close(1000);
    let sendError: unknown;
    conn.send('late', (error) => (sendError = error));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(sendError instanceof SockwaveError && sendError.code === 'SW_INVALID_STATE' && !(sendError instanceof UsageError), String(sendError));
    await server.close({ timeout: 500 });
    await assert.rejects(server.listen(), isUsage('SW_INVALID_STATE'), 'listen() after close()');
    assert.throws(() => server.attach(createServer()), isUsage('SW_INVALID_STATE'), 'attach() after close()');
  });

  test('the package exports every error class', () => {
    for (const cls of [SockwaveError, ProtocolError, HandshakeError, ConnectionClosedError, UsageError, BackplaneError]) {
      assert.equal((api as Record<string, unknown>)[cls.name], cls, cls.name);
    }
  });
});
