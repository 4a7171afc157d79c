/**
 * The client heartbeat over real sockets on 127.0.0.1: pings are spaced by the interval even when
 * the pong timeout is shorter (the timer ticks faster than the interval then), a pong clears the
 * pending ping and records the round trip, and a peer that never answers is reported and dropped (1006).
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type CloseInfo, type Connection } from '../../src/index.js';
import { startClientHeartbeat } from '../../src/client/client-heartbeat.js';
import { PauseReason } from '../../src/io/connection-flags.js';
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

  test('a peer that never answers a ping is reported (SW_TIMEOUT) and dropped with 1006', async (t) => {
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const conn = await connect(raw.url);
    t.after(() => conn.terminate());
    const seen: string[] = [];
    conn.on('error', (error) => seen.push(`error ${error.code}: ${error.message}`));
    const closed = nextEvent<[CloseInfo]>(conn, 'close', 'the close after the missing pong');
    const stop = startClientHeartbeat(conn, 30, 120);
    t.after(stop);
    const [info] = await closed;
    assert.equal(info.code, 1006);
    assert.deepEqual(seen, ['error SW_TIMEOUT: ping unanswered for 120 ms: the peer is taken as dead']);
  });

  test('a peer busy sending a long message, its pong not sent yet, is not taken for dead; it is once it falls silent', async (t) => {
    // Sends one 40 KiB binary message 1 KiB every 25 ms (about a second), answering no ping.
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const conn = await connect(raw.url);
    t.after(() => conn.terminate());
    const socket = await raw.sockets.next('the upgraded socket');
    const errors: string[] = [];
    conn.on('error', (error) => errors.push(error.code));
    const received: number[] = [];
    conn.on('message', (data: Buffer | string) => received.push(data.length));
    const stop = startClientHeartbeat(conn, 50, 200);
    t.after(stop);
    socket.write(Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0, 0xa0, 0x00]));
    for (let i = 0; i < 40; i++) {
      await delay(25);
      socket.write(Buffer.alloc(1024, i));
    }
    await delay(50);
    assert.deepEqual(received, [40 * 1024], 'the whole message arrived');
    assert.equal(conn.status, 'open', `taken for dead while sending (errors: ${errors.join(', ')})`);
    // Silent from now on: the heartbeat still finds it dead.
    const [info] = await nextEvent<[CloseInfo]>(conn, 'close', 'the close once the peer fell silent');
    assert.equal(info.code, 1006);
    assert.deepEqual(errors, ['SW_TIMEOUT']);
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


/**
 * The heartbeat over a stand-in connection and a clock driven by the test: performance.now() and
 * setInterval are replaced for the test, each tick of the interval is run by hand.
 */
function drivenHeartbeat(t: TestContext, interval: number, timeout: number) {
  let now = 1000;
  let tick: (() => void) | undefined;
  let period = 0;
  t.mock.method(performance, 'now', () => now);
  t.mock.method(globalThis, 'setInterval', (callback: () => void, ms: number) => {
    tick = callback;
    period = ms;
    return { unref() {} };
  });
  t.mock.method(globalThis, 'clearInterval', () => (tick = undefined));
  const conn = {
    pauseReasons: 0,
    wireBytesTaken: 0,
    stats: { wireBytesIn: 0 },
    pingSentAt: 0,
    pings: 0,
    terminated: 0,
    ping() {
      this.pings++;
    },
    // (The heartbeat drops a dead peer with dropWith: reported, then terminated.)
    dropWith() {
      this.terminated++;
    },
  };
  const stop = startClientHeartbeat(conn as unknown as Connection, interval, timeout);
  return {
    conn,
    stop,
    get period() {
      return period;
    },
    get running() {
      return tick !== undefined;
    },
    /** Moves the clock by whole ticks, running each; then lets a drop (on setImmediate) happen. */
    async advance(ms: number) {
      for (let elapsed = 0; elapsed < ms; elapsed += period) {
        now += period;
        tick?.();
      }
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('client heartbeat on a driven clock', () => {
  test('an interval of 1 ms is a heartbeat (only 0 or less starts nothing), its timer ticking every 10 ms', async (t) => {
    const beat = drivenHeartbeat(t, 1, 1000);
    assert.equal(beat.period, 10);
    await beat.advance(10);
    assert.equal(beat.conn.pings, 1);
  });

  test('a ping is not judged before the timeout; unanswered for exactly the timeout, the connection is dropped', async (t) => {
    // interval 1000 ms, timeout 500 ms: a tick every 250 ms.
    const beat = drivenHeartbeat(t, 1000, 500);
    assert.equal(beat.period, 250);
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1);
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 0, 'dropped after 250 ms of a 500 ms timeout');
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 1, 'kept after the whole timeout');
  });

  test('a pong (pingSentAt back to 0) keeps the connection; the next ping comes a whole interval after the last', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1);
    beat.conn.pingSentAt = 0;
    await beat.advance(750);
    assert.equal(beat.conn.pings, 1, 'no ping before the interval');
    await beat.advance(250);
    assert.equal(beat.conn.pings, 2);
    assert.equal(beat.conn.terminated, 0);
  });

  test('while the application holds reading the ping out is forgotten and none is sent; after the resume, the next waits a whole interval', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1);
    beat.conn.pauseReasons = PauseReason.Application;
    await beat.advance(3000);
    assert.equal(beat.conn.pingSentAt, 0, 'the ping out is forgotten');
    assert.equal(beat.conn.terminated, 0);
    assert.equal(beat.conn.pings, 1);
    beat.conn.pauseReasons = 0;
    await beat.advance(750);
    assert.equal(beat.conn.pings, 1, 'a whole interval after the last paused tick');
    await beat.advance(250);
    assert.equal(beat.conn.pings, 2);
  });

  test('while a message received is inflated, pings go on and the wait for the pong starts again at each tick; it ends the timeout after the inflation', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    beat.conn.pauseReasons = PauseReason.Inflate;
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1, 'pinged while inflating');
    await beat.advance(3000);
    assert.equal(beat.conn.terminated, 0, 'dropped while inflating');
    assert.notEqual(beat.conn.pingSentAt, 0, 'the ping out was forgotten');
    beat.conn.pauseReasons = 0;
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 0, 'dropped before the timeout after the inflation');
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 1);
  });

  test('a peer that does not read: its wait is held while it takes bytes, and it is dropped once it took none for the timeout', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    beat.conn.pauseReasons = PauseReason.SlowConsumer;
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1);
    for (let i = 0; i < 8; i++) {
      beat.conn.wireBytesTaken += 100;
      await beat.advance(250);
    }
    assert.equal(beat.conn.terminated, 0, 'a peer still taking bytes was dropped');
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 0);
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 1);
  });

  test('bytes arriving (the pong queued behind a long message) hold the wait; once nothing arrives for the timeout, the peer is dropped', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    await beat.advance(1000);
    assert.equal(beat.conn.pings, 1);
    for (let i = 0; i < 8; i++) {
      beat.conn.stats.wireBytesIn += 64 * 1024;
      await beat.advance(250);
    }
    assert.equal(beat.conn.terminated, 0, 'a peer still sending was dropped');
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 0);
    await beat.advance(250);
    assert.equal(beat.conn.terminated, 1);
    assert.equal(beat.conn.pings, 1, 'one ping, never answered');
  });

  test('stop() clears the timer', (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    assert.equal(beat.running, true);
    beat.stop();
    assert.equal(beat.running, false);
  });

  test('a ping answered between the tick that judged it and the drop keeps the connection', async (t) => {
    const beat = drivenHeartbeat(t, 1000, 500);
    await beat.advance(1000);
    // The tick at the timeout judges; before the drop runs (setImmediate), the pong is read.
    beat.advance(500).catch(() => {});
    beat.conn.pingSentAt = 0;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(beat.conn.terminated, 0);
  });
});
