/**
 * maxPayload over the largest Buffer (4 GiB) or Infinity, end to end over real sockets
 * (127.0.0.1, port 0) against `ws`: compressed messages arrive intact on the synchronous path and
 * on the thread-pool path (over 256 KiB), in both roles, with no error and no close.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { connect } from '../../../src/index.js';
import { record, startWsServer, withTimeout } from '../../support/net.js';
import { serve, wsClient } from '../../support/server-kit.js';

const SIZES = [2000, 1_000_000];

/** Text incompressible enough to stay compressed over the sizes zlib (not small-inflate) handles. */
function text(size: number): string {
  return randomBytes(size / 2).toString('hex');
}

describe('maxPayload over 4 GiB with permessage-deflate, over real sockets', () => {
  for (const maxPayload of [Infinity, 8 * 1024 ** 3]) {
    test(`a server with maxPayload ${maxPayload} receives compressed messages of ${SIZES.join(' and ')} bytes intact`, async (t) => {
      const srv = await serve(t, { perMessageDeflate: true, maxPayload });
      const { ws } = await wsClient(t, srv.url, undefined, { perMessageDeflate: { threshold: 0 } });
      const side = await srv.connections.next('the server-side connection');
      assert.match(side.connection.extensions, /permessage-deflate/);
      const sent = SIZES.map(text);
      for (const message of sent) ws.send(message);
      const got = await side.rec.messages.take(sent.length, 'the messages');
      assert.deepEqual(
        got.map((m) => m.data),
        sent,
      );
      assert.equal(side.rec.errors.history.length, 0, String(side.rec.errors.history[0]));
      assert.equal(side.rec.closes.history.length, 0);
    });
  }

  test('a small compressed message that inflates to 8 MiB (left to the thread pool) arrives intact, in order', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, maxPayload: 16 * 1024 * 1024 });
    const { ws } = await wsClient(t, srv.url, undefined, { perMessageDeflate: { threshold: 0 } });
    const side = await srv.connections.next('the server-side connection');
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    ws.send(zeros);
    ws.send('after it');
    const got = await side.rec.messages.take(2, 'the two messages');
    assert.equal(Buffer.compare(got[0]!.data as Buffer, zeros), 0);
    assert.equal(got[1]!.data, 'after it');
  });

  test('a client with maxPayload Infinity receives compressed messages intact', async (t) => {
    const sent = SIZES.map(text);
    const srv = await startWsServer({ perMessageDeflate: { threshold: 0 } });
    t.after(() => srv.close());
    const connection = await withTimeout(connect(srv.url, { maxPayload: Infinity }), 'connect()');
    t.after(() => connection.terminate());
    const rec = record(connection);
    assert.match(connection.extensions, /permessage-deflate/);
    const { ws } = await srv.connections.next('the ws server-side socket');
    for (const message of sent) ws.send(message);
    const got = await rec.messages.take(sent.length, 'the messages');
    assert.deepEqual(
      got.map((m) => m.data),
      sent,
    );
    assert.equal(rec.errors.history.length, 0, String(rec.errors.history[0]));
  });
});
