/**
 * Node fires a timer whose delay is over 2^31 - 1 ms after 1 ms (with a TimeoutOverflowWarning).
 * Every timeout option sockwave takes must treat such a value (Infinity included) as a very long
 * wait, never as 1 ms: over real sockets, each of them is given 2^31 ms or Infinity here.
 */
import { strict as assert } from 'node:assert';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import { WebSocket } from '../../src/client/websocket.js';
import { startClientHeartbeat } from '../../src/client/client-heartbeat.js';
import { type Connection } from '../../src/io/connection.js';
import { MAX_TIMER_DELAY, timerDelay } from '../../src/io/timer-delay.js';
import { type WebSocketServer } from '../../src/server/server.js';
import { clientFrame, closeBody } from '../support/frames.js';
import { RawPeer, selfSigned, serve, sleep } from '../support/server-kit.js';

const LONG = 2 ** 31;

/** Every TimeoutOverflowWarning this process emits while the tests run. */
const overflows: string[] = [];
const onWarning = (warning: Error): void => {
  if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message);
};
before(() => process.on('warning', onWarning));
after(() => process.off('warning', onWarning));

describe('timerDelay', () => {
  test('keeps delays a timer can hold and holds longer ones (Infinity included) to 2^31 - 1 ms', () => {
    assert.equal(timerDelay(0), 0);
    assert.equal(timerDelay(5000), 5000);
    assert.equal(timerDelay(MAX_TIMER_DELAY), MAX_TIMER_DELAY);
    assert.equal(timerDelay(LONG), MAX_TIMER_DELAY);
    assert.equal(timerDelay(Infinity), MAX_TIMER_DELAY);
  });

  test('the longest delay held is exactly 2^31 - 1 ms (2,147,483,647), the most a Node timer holds', () => {
    assert.equal(MAX_TIMER_DELAY, 2_147_483_647);
    assert.equal(timerDelay(2_147_483_647), 2_147_483_647);
    assert.equal(timerDelay(2_147_483_646), 2_147_483_646);
  });
});

describe('timeouts past what a timer holds are long waits, not 1 ms', { timeout: 30_000 }, () => {
  test('server handshakeTimeout: a socket that has not sent its head yet is kept', async (t) => {
    const srv = await serve(t, { handshakeTimeout: Infinity });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect(srv.port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    t.after(() => socket.destroy());
    let closed = false;
    socket.on('close', () => (closed = true));
    await sleep(300);
    assert.equal(closed, false, 'dropped before its head');
  });

  test("server handshakeTimeout over TLS (Node's own TLS handshake timeout): a wss:// client connects, and nothing throws", async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const srv = await serve(t, { handshakeTimeout: Infinity, tls: { cert: pair.cert, key: pair.key }, onConnection: () => ({}) });
    const client = await connect(srv.url.replace('ws://', 'wss://'), { tls: { ca: pair.cert } });
    t.after(() => client.terminate());
    assert.equal(client.status, 'open');
  });

  for (const [name, start] of [
    ['server.close({ timeout })', (_connection: Connection, server: WebSocketServer) => void server.close({ code: 1001, reason: 'going away', timeout: LONG })],
    ['closeTimeout', (connection: Connection) => void connection.close(1001, 'going away')],
  ] as const) {
    test(`${name}: a peer that answers the close after 100 ms still closes cleanly`, async (t) => {
      const srv = await serve(t, { onConnection: () => ({}), closeTimeout: LONG });
      const peer = await RawPeer.open(srv.port, { echoClose: false });
      t.after(() => peer.destroy());
      const side = await srv.connections.next('the server-side connection');
      start(side.connection, srv.server);
      assert.equal((await peer.frames.next('the close frame')).opcode, 0x8);
      await sleep(100);
      assert.equal(peer.closed, false, 'dropped before the peer answered');
      peer.socket.write(clientFrame({ opcode: 0x8, payload: closeBody(1001) }));
      const info = await side.rec.closed();
      assert.equal(info.code, 1001);
      assert.equal(info.wasClean, true);
    });
  }

  test('client connectTimeout: a handshake that takes a while still completes', async (t) => {
    const srv = await serve(t, { onConnection: async () => (await sleep(50), {}) });
    const ws = new WebSocket(srv.url, { connectTimeout: LONG });
    t.after(() => ws.close());
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener('open', () => resolve('open'));
      ws.addEventListener('close', (event) => resolve(`close ${event.code}`));
    });
    assert.equal(outcome, 'open');
  });

  test('heartbeats: a ping interval that long pings nobody (and its timer does not tick every millisecond)', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}), pingInterval: Infinity, pongTimeout: Infinity });
    const client = await connect(srv.url);
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    let pings = 0;
    side.connection.on('ping', () => pings++);
    client.on('ping', () => pings++);
    const stop = startClientHeartbeat(client, LONG, Infinity);
    await sleep(100);
    stop();
    assert.equal(pings, 0);
  });

  test('no TimeoutOverflowWarning was emitted by any of the above', () => {
    assert.deepEqual(overflows, []);
  });
});
