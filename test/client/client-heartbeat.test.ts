/**
 * The client heartbeat over real sockets on 127.0.0.1: pings are spaced by the interval even when
 * the pong timeout is shorter (the timer ticks faster than the interval then), a pong clears the
 * pending ping and records the round trip, and a peer that never answers is dropped (1006).
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type CloseInfo, type Connection } from '../../src/index.js';
import { startClientHeartbeat } from '../../src/client/client-heartbeat.js';
import { nextEvent, startRawWsServer } from '../support/net.js';
import { serve } from '../support/server-kit.js';
import { blockEventLoop, turnsUntil, wsPeerProcess } from '../support/busy-peer.js';

/** A client connection to a sockwave server that counts the pings it receives (answering them). */
async function pingCountingPeer(t: TestContext): Promise<{ conn: Connection; pings: () => number }> {
  const srv = await serve(t);
  let pings = 0;
  srv.server.on('connection', (connection) => connection.on('ping', () => pings++));
  const conn = await connect(srv.url);
  t.after(() => conn.terminate());
  return { conn, pings: () => pings };
}

describe('client heartbeat', () => {
  test('pings once per interval, not once per tick, when the pong timeout is shorter than the interval', async (t) => {
    const { conn, pings: count } = await pingCountingPeer(t);
    // interval 400 ms, timeout 200 ms: the timer ticks every 100 ms, and must still ping only
    // every 400 ms (about 2 pings in 1 s; pinging on every answered tick would make about 9).
    const stop = startClientHeartbeat(conn, 400, 200);
    t.after(stop);
    await delay(1000);
    stop();
    const pings = count();
    assert.ok(pings >= 1 && pings <= 3, `${pings} pings in 1 s with a 400 ms interval`);
    assert.ok(conn.rtt !== undefined && conn.rtt >= 0, 'the pong recorded a round-trip time');
    assert.equal(conn.status, 'open', 'answered pings keep the connection');
  });

  test('a peer that never answers a ping is dropped with 1006', async (t) => {
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const conn = await connect(raw.url);
    t.after(() => conn.terminate());
    const closed = nextEvent<[CloseInfo]>(conn, 'close', 'the close after the missing pong');
    const stop = startClientHeartbeat(conn, 30, 120);
    t.after(stop);
    const [info] = await closed;
    assert.equal(info.code, 1006);
  });

  test('a connection whose reading is paused is not taken for a dead peer; once resumed, pings are answered again', async (t) => {
    const { conn, pings } = await pingCountingPeer(t);
    const stop = startClientHeartbeat(conn, 100, 200);
    t.after(stop);
    conn.pause();
    // Several pong timeouts while no pong can be read.
    await delay(1000);
    assert.equal(conn.status, 'open', 'terminated while paused');
    conn.resume();
    const before = pings();
    await delay(600);
    assert.ok(pings() > before, 'no ping after the resume');
    assert.equal(conn.status, 'open');
  });

  test('an interval of 0 sends no ping', async (t) => {
    const { conn, pings } = await pingCountingPeer(t);
    const stop = startClientHeartbeat(conn, 0, 10);
    await delay(100);
    stop();
    assert.equal(pings(), 0);
    assert.equal(conn.pingSentAt, 0);
  });

  test('a pong that arrived while the event loop was busy past the timeout is read before the peer is judged: the connection stays', async (t) => {
    // The peer runs in another process: it answers while this one is busy.
    const port = await wsPeerProcess(t);
    const conn = await connect(`ws://127.0.0.1:${port}`);
    t.after(() => conn.terminate());
    const stop = startClientHeartbeat(conn, 50, 200);
    t.after(stop);
    await turnsUntil(() => conn.pingSentAt !== 0, 'a ping');
    // Busy for four timeouts: the pong waits in the socket, and the heartbeat's timer comes
    // before the reads of the next turn.
    blockEventLoop(800);
    await turnsUntil(() => conn.pingSentAt === 0 || conn.status !== 'open', 'the pong to be read');
    await delay(300);
    assert.equal(conn.status, 'open', 'a live peer was taken for a dead one');
  });
});

