/**
 * Liveness over real sockets: heartbeat pings (pingInterval, pongTimeout) terminate peers that
 * stop answering and keep healthy ones, rtt is measured, and idleTimeout closes silent connections.
 * Deadlines are short; every wait for their effect has a generous bound.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { type Connection } from '../../src/index.js';
import { closeWs, withTimeout } from '../support/net.js';
import { RawPeer, eventually, serve, sleep, wsClient } from '../support/server-kit.js';
import { blockEventLoop, turnsUntil, wsPeerProcess } from '../support/busy-peer.js';
import { FakeClock } from '../support/fake-clock.js';
import { Heartbeat, type HeartbeatOptions } from '../../src/server/heartbeat.js';
import { PauseReason } from '../../src/io/connection-flags.js';

describe('heartbeat', { timeout: 60_000 }, () => {
  test('a pong that arrived while the event loop was busy past pongTimeout is read before the peer is judged: the connection stays', async (t) => {
    const srv = await serve(t, { pingInterval: 50, pongTimeout: 200, onConnection: () => ({}) });
    // The client runs in another process: it answers while this one is busy.
    const connected = new Promise<Connection>((resolve) => srv.server.once('connection', resolve));
    await wsPeerProcess(t, srv.url);
    const connection = await withTimeout(connected, 'the connection');
    await turnsUntil(() => connection.pingSentAt !== 0, 'a ping');
    // Busy for four timeouts: the pong waits in the socket, and the heartbeat's timer comes
    // before the reads of the next turn.
    blockEventLoop(800);
    await turnsUntil(() => connection.pingSentAt === 0 || connection.status !== 'open', 'the pong to be read');
    await sleep(300);
    assert.equal(connection.status, 'open', 'a live peer was taken for a dead one');
    assert.equal(srv.server.stats().heartbeatTimeouts, 0);
  });

  test('a ws client that stops answering pings (autoPong: false) is terminated: 1006 on both sides, heartbeatTimeouts counted', async (t) => {
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 150, onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url, undefined, { autoPong: false });
    const side = await srv.connections.next('the server-side connection');
    await rec.pings.next('a heartbeat ping');
    assert.equal((await rec.closed()).code, 1006);
    const info = await side.rec.closed();
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    const stats = srv.server.stats();
    assert.equal(stats.heartbeatTimeouts, 1);
    assert.equal(stats.closeCodes[1006], 1);
    assert.equal(srv.server.clients.size, 0);
  });

  test('a raw client that completed the handshake and never answers pings is terminated after pongTimeout', async (t) => {
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 150, onConnection: () => ({}) });
    const peer = await RawPeer.open(srv.port);
    t.after(() => peer.destroy());
    const side = await srv.connections.next('the server-side connection');
    const ping = await peer.frames.next('a heartbeat ping');
    assert.equal(ping.opcode, 0x9);
    await peer.waitClosed('the server to drop the silent peer');
    assert.equal(peer.closeFrame, undefined, 'dropped without a close handshake');
    assert.equal((await side.rec.closed()).code, 1006);
    assert.equal(srv.server.stats().heartbeatTimeouts, 1);
  });

  test('a healthy client keeps its connection through many ping rounds, and connection.rtt becomes a number ≥ 0', async (t) => {
    const pongs: number[] = [];
    // A generous pongTimeout: a healthy client in a loaded test process must not be mistaken for a dead one.
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 2000, onConnection: () => ({ onPong: () => void pongs.push(Date.now()) }) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    assert.equal(side.connection.rtt, undefined, 'no rtt before the first pong');
    await rec.pings.take(6, 'six heartbeat pings', 10_000);
    await eventually(() => typeof side.connection.rtt === 'number', 'an rtt');
    assert.ok(side.connection.rtt! >= 0, `rtt ${side.connection.rtt}`);
    assert.equal(side.connection.status, 'open');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.ok(pongs.length >= 5, `${pongs.length} pongs reached onPong`);
    assert.equal(srv.server.stats().heartbeatTimeouts, 0);
    ws.send('still talking');
    assert.equal((await side.rec.messages.next('a message')).data, 'still talking');
  });

  test('only the peer that stops answering is terminated; the others stay', async (t) => {
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 1000, onConnection: () => ({}) });
    const healthy = await wsClient(t, srv.url);
    const dead = await wsClient(t, srv.url, undefined, { autoPong: false });
    const [sideHealthy, sideDead] = await srv.connections.take(2, 'two connections');
    assert.equal((await dead.rec.closed()).code, 1006);
    await sideDead!.rec.closed();
    await healthy.rec.pings.take(3, 'three more pings to the healthy client');
    assert.equal(sideHealthy!.connection.status, 'open');
    assert.equal(srv.server.clients.size, 1);
    assert.equal(srv.server.stats().heartbeatTimeouts, 1);
  });
});

describe('heartbeat and a paused connection', { timeout: 60_000 }, () => {
  test('a connection whose reading the application paused is not taken for a dead peer; pings start again once it resumes', async (t) => {
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 300, onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = (await srv.connections.next('the server-side connection')).connection;
    side.pause();
    // Several pongTimeouts while no pong can be read.
    await sleep(1200);
    assert.equal(side.status, 'open', 'terminated while paused');
    assert.equal(srv.server.stats().heartbeatTimeouts, 0);
    side.resume();
    const pings = rec.pings.history.length;
    await eventually(() => rec.pings.history.length > pings && side.rtt !== undefined, 'a ping answered after the resume');
    await sleep(500);
    assert.equal(side.status, 'open');
    assert.equal(srv.server.stats().heartbeatTimeouts, 0);
  });

  test('a paused connection whose peer keeps sending is not closed as idle; once resumed and the peer falls silent, it is', async (t) => {
    const srv = await serve(t, { idleTimeout: 300, onConnection: () => ({}) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    side.connection.pause();
    // Four idleTimeouts of a peer sending every 50 ms, none of it read.
    const until = Date.now() + 1200;
    let sent = 0;
    while (Date.now() < until) {
      ws.send(`m${sent++}`);
      await sleep(50);
    }
    assert.equal(side.connection.status, 'open', 'closed as idle while paused');
    assert.equal(srv.server.stats().idleTimeouts, 0);
    side.connection.resume();
    const got = await side.rec.messages.take(sent, 'every message sent while paused');
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: sent }, (_, i) => `m${i}`));
    assert.deepEqual(await rec.closed(5000), { code: 1001, reason: 'idle timeout' });
    assert.equal(srv.server.stats().idleTimeouts, 1);
  });

  test("a peer that neither reads nor sends is closed as idle, though slowConsumer 'wait' paused reading because it does not read", async (t) => {
    const srv = await serve(t, { idleTimeout: 2000, closeTimeout: 300, slowConsumer: 'wait', maxBufferedAmount: 256 * 1024, highWaterMark: 64 * 1024, onConnection: () => ({}) });
    const side = await stuckPeer(t, srv);
    await eventually(() => side.status === 'closed', 'the stuck peer closed as idle', 10_000);
    assert.equal(srv.server.stats().idleTimeouts, 1);
  });

  test("a peer that neither reads nor sends is dropped by the heartbeat, though slowConsumer 'wait' paused reading because it does not read", async (t) => {
    const srv = await serve(t, { pingInterval: 1000, pongTimeout: 500, slowConsumer: 'wait', maxBufferedAmount: 256 * 1024, highWaterMark: 64 * 1024, onConnection: () => ({}) });
    // (The first ping is due a second after the handshake: by then reading is paused.)
    const side = await stuckPeer(t, srv);
    await eventually(() => side.status === 'closed', 'the stuck peer dropped by the heartbeat', 10_000);
    assert.equal(srv.server.stats().heartbeatTimeouts, 1);
  });
});

/**
 * A raw peer that completed its handshake and then neither reads nor sends (a dead one, as the
 * server sees it): the server side is sent to until the kernel's buffers (which grow as they
 * fill) and its own are full, and slowConsumer 'wait' keeps its reading paused (bounded: 64 MiB).
 */
async function stuckPeer(t: TestContext, srv: Awaited<ReturnType<typeof serve>>): Promise<Connection> {
  const peer = await RawPeer.open(srv.port);
  t.after(() => peer.destroy());
  peer.pause();
  const side = (await srv.connections.next('the server-side connection')).connection;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < 64 * 1024 * 1024 && side.status === 'open'; ) {
    if (side.isPaused) {
      await sleep(50);
      if (side.isPaused) break;
      continue;
    }
    side.send(chunk);
    sent += chunk.length;
    if (sent % (1024 * 1024) === 0) await sleep(1);
  }
  assert.equal(side.isPaused, true, 'reading was not paused for the slow consumer');
  return side;
}

describe('idleTimeout', { timeout: 60_000 }, () => {
  test('a silent connection is closed with 1001 and idleTimeouts is counted', async (t) => {
    const srv = await serve(t, { idleTimeout: 300, onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    assert.deepEqual(await rec.closed(), { code: 1001, reason: 'idle timeout' });
    const info = await side.rec.closed();
    assert.equal(info.code, 1001);
    assert.equal(info.remote, false);
    const stats = srv.server.stats();
    assert.equal(stats.idleTimeouts, 1);
    assert.equal(stats.closeCodes[1001], 1);
  });

  test('a connection that keeps sending is not idle; once it falls silent it is closed', async (t) => {
    const srv = await serve(t, { idleTimeout: 1000, onConnection: () => ({}) });
    const { ws, rec } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      ws.send('tick');
      await sleep(50);
    }
    assert.equal(side.connection.status, 'open', 'an active connection is not idle');
    assert.equal(srv.server.stats().idleTimeouts, 0);
    assert.equal((await rec.closed(5000)).code, 1001);
    assert.equal(srv.server.stats().idleTimeouts, 1);
  });

  test('without a rate limit (reads stamped with the coarse clock), a peer sending more often than idleTimeout is never closed as idle', async (t) => {
    const srv = await serve(t, { idleTimeout: 1000, rateLimit: false, onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the server-side connection');
    // Silences of 880 ms: under idleTimeout, yet over it once a read's stamp is a tick (200 ms) old.
    for (let i = 0; i < 4; i++) {
      await sleep(880);
      ws.send('still here');
    }
    assert.equal(side.connection.status, 'open', 'closed as idle while the peer sent every 880 ms');
    assert.equal(srv.server.stats().idleTimeouts, 0);
  });

  test(
    'a new connection is not closed as idle before idleTimeout has passed, even when no server had ticked for a while',
    async (t) => {
      // Nothing in this process refreshes the coarse clock for a while (no heartbeat is running).
      await sleep(1200);
      const srv = await serve(t, { idleTimeout: 1000, onConnection: () => ({}) });
      const ws = new WebSocket(srv.url);
      const closed: number[] = [];
      ws.on('close', (code) => closed.push(code));
      ws.on('error', () => {});
      t.after(() => closeWs(ws));
      await withTimeout(new Promise((resolve) => ws.once('open', resolve)), 'the client to open');
      await sleep(500);
      assert.deepEqual(closed, [], 'closed as idle after less than half its idleTimeout');
      assert.equal(srv.server.stats().idleTimeouts, 0);
    },
  );
});

describe('heartbeat deadlines and the wall clock', { timeout: 60_000 }, () => {
  /** Moves `Date.now()` (the wall clock only; the monotonic clock goes on) by `ms`, until the test ends. */
  function stepWallClock(t: { after(fn: () => void): void }, ms: number): void {
    const real = Date.now;
    Date.now = () => real() + ms;
    t.after(() => {
      Date.now = real;
    });
  }

  test('a dead peer is terminated after pongTimeout even when the wall clock steps back meanwhile', async (t) => {
    const srv = await serve(t, { pingInterval: 100, pongTimeout: 300, onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url, undefined, { autoPong: false });
    await rec.pings.next('a heartbeat ping');
    const pinged = performance.now();
    stepWallClock(t, -5000);
    assert.equal((await rec.closed(8000)).code, 1006);
    const waited = performance.now() - pinged;
    // About 300 ms; on the wall clock it would be about 5300 ms.
    assert.ok(waited < 2500, `terminated ${Math.round(waited)} ms after the ping (pongTimeout 300)`);
    assert.equal(srv.server.stats().heartbeatTimeouts, 1);
  });

  test('a wall clock stepping forward does not make a connection idle', async (t) => {
    const srv = await serve(t, { idleTimeout: 3000, onConnection: () => ({}) });
    const { rec } = await wsClient(t, srv.url);
    await srv.connections.next('the server-side connection');
    stepWallClock(t, 60_000);
    await sleep(800);
    assert.equal(srv.server.clients.size, 1, 'still open');
    assert.equal(srv.server.stats().idleTimeouts, 0);
    assert.equal(rec.messages.pending, 0);
  });
});

/** What the heartbeat uses of a connection, recording what it is asked to do. */
class FakeConnection {
  status: 'open' | 'closing' | 'closed' = 'open';
  pauseReasons = 0;
  wireBytesTaken = 0;
  readonly stats = { wireBytesIn: 0 };
  pingSentAt = 0;
  pings = 0;
  readonly calls: string[] = [];
  constructor(public lastActivity: number) {}
  ping(): void {
    this.pings++;
  }
  close(code: number, reason: string): void {
    this.status = 'closing';
    this.calls.push(`close ${code} ${reason}`);
  }
  terminate(): void {
    this.status = 'closed';
    this.calls.push('terminate');
  }
  limitReached(limit: string, detail: string): void {
    this.calls.push(`limit ${limit}: ${detail}`);
  }
}

/** A heartbeat over fake connections on a fake clock, ticked by hand (or by its timer, once started). */
function heartbeatOn(t: TestContext, options: HeartbeatOptions, count = 1) {
  const clock = FakeClock.install(t);
  const connections = Array.from({ length: count }, () => new FakeConnection(clock.now));
  const counters = { heartbeatTimeouts: 0, idleTimeouts: 0 };
  let walks = 0;
  const heartbeat = new Heartbeat(
    () => {
      walks++;
      return connections as unknown as Connection[];
    },
    options,
    counters,
  );
  t.after(() => heartbeat.stop());
  const start = clock.now;
  /** Moves the clock to `ms` after the start and ticks. */
  const tickAt = async (ms: number): Promise<void> => {
    await clock.advance(start + ms - clock.now, start + ms - clock.now || 1);
    heartbeat.tick();
  };
  return { clock, heartbeat, connection: connections[0]!, connections, counters, tickAt, walks: () => walks };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Heartbeat.tick() on a fake clock', () => {
  test('idleTimeout: closed with 1001 once silent for idleTimeout plus a tick (a fifth of the shortest interval), not a millisecond before', async (t) => {
    // Ticks every 200 ms (1000 / 5); pongTimeout 0 is not an interval.
    const { heartbeat, connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 0, idleTimeout: 1000 });
    assert.equal(heartbeat.enabled, true);
    await tickAt(1199);
    assert.deepEqual(connection.calls, []);
    await tickAt(1200);
    assert.deepEqual(connection.calls, ['limit idleTimeout: nothing received for 1000 ms', 'close 1001 idle timeout']);
    assert.equal(counters.idleTimeouts, 1);
    await tickAt(1400);
    assert.equal(counters.idleTimeouts, 1, 'a connection no longer open is left alone');
  });

  test('the tick is at least 20 ms: idleTimeout 50 closes after 70 ms', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 0, idleTimeout: 50 });
    await tickAt(69);
    assert.equal(connection.status, 'open');
    await tickAt(70);
    assert.equal(connection.status, 'closing');
  });

  test('intervals of 1 ms count: idleTimeout 1 closes after 21 ms, and pingInterval 1 enables the heartbeat', async (t) => {
    const { heartbeat, connection, tickAt } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 0, idleTimeout: 1 });
    assert.equal(heartbeat.enabled, true);
    await tickAt(20);
    assert.equal(connection.status, 'open');
    await tickAt(21);
    assert.equal(connection.status, 'closing');
    assert.equal(new Heartbeat(() => [], { pingInterval: 1, pongTimeout: 1, idleTimeout: 0 }, { heartbeatTimeouts: 0, idleTimeouts: 0 }).enabled, true);
  });

  test('pingInterval 1 pings 1 ms after the last activity', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 1, pongTimeout: 1000, idleTimeout: 0 });
    await tickAt(1);
    assert.equal(connection.pings, 1);
  });

  test('the shortest interval sets the tick, pongTimeout included while pinging: idleTimeout 1000 with pongTimeout 500 closes after 1100 ms', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 5000, pongTimeout: 500, idleTimeout: 1000 });
    await tickAt(1099);
    assert.equal(connection.status, 'open');
    await tickAt(1100);
    assert.equal(connection.status, 'closing');
    assert.equal(connection.pings, 0, 'no ping was due before the idle close');
  });

  test('with pings off, pongTimeout does not shorten the tick: idleTimeout 1000 with pongTimeout 500 closes after 1200 ms', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 500, idleTimeout: 1000 });
    await tickAt(1199);
    assert.equal(connection.status, 'open');
    await tickAt(1200);
    assert.equal(connection.status, 'closing');
  });

  test('idleTimeout: a connection whose reading this side holds is not idle; its idle time starts again from the last tick that saw it held', async (t) => {
    const { connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 0, idleTimeout: 1000 });
    connection.pauseReasons = PauseReason.Application;
    await tickAt(5000);
    assert.equal(connection.status, 'open');
    connection.pauseReasons = 0;
    await tickAt(6199);
    assert.equal(connection.status, 'open', 'closed as idle less than idleTimeout plus a tick after reading was last seen held');
    await tickAt(6200);
    assert.equal(connection.status, 'closing');
    assert.equal(counters.idleTimeouts, 1);
  });

  test('a connection closed as idle is not pinged in the same tick', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 500, pongTimeout: 5000, idleTimeout: 1000 });
    // Ticks every 100 ms. A pong keeps nothing alive here: lastActivity does not move.
    await tickAt(500);
    assert.equal(connection.pings, 1);
    connection.pingSentAt = 0; // the pong came
    await tickAt(1100);
    assert.equal(connection.status, 'closing');
    assert.equal(connection.pings, 1, 'pinged as it was closed');
  });

  test('pings: the first pingInterval after the last activity, then every pingInterval from the last ping whatever arrives', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    await tickAt(999);
    assert.equal(connection.pings, 0);
    await tickAt(1000);
    assert.equal(connection.pings, 1);
    assert.equal(connection.pingSentAt, connection.lastActivity + 1000, 'pingSentAt is when it was sent');
    // The pong arrives, with other traffic.
    connection.pingSentAt = 0;
    connection.lastActivity += 1500;
    await tickAt(1999);
    assert.equal(connection.pings, 1);
    await tickAt(2000);
    assert.equal(connection.pings, 2, 'the next ping is due pingInterval after the last, not after the last activity');
  });

  test('a ping out is not repeated while it waits for its pong', async (t) => {
    const { connection, tickAt } = heartbeatOn(t, { pingInterval: 100, pongTimeout: 1000, idleTimeout: 0 });
    await tickAt(100);
    assert.equal(connection.pings, 1);
    await tickAt(300);
    await tickAt(500);
    assert.equal(connection.pings, 1);
    assert.equal(connection.status, 'open');
  });

  test('pongTimeout: a ping unanswered for pongTimeout terminates the connection, once the reads of that turn are done', async (t) => {
    const { connections, counters, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 }, 4);
    const [answering, dead, closing] = connections as [FakeConnection, FakeConnection, FakeConnection];
    await tickAt(1000);
    assert.deepEqual(connections.map((c) => c.pings), [1, 1, 1, 1]);
    await tickAt(1499);
    await turn();
    assert.deepEqual(connections.map((c) => c.calls), [[], [], [], []]);
    await tickAt(1500);
    assert.deepEqual(dead.calls, [], 'judged before the reads of its turn');
    // Read in the same turn: a pong, a close.
    answering.pingSentAt = 0;
    closing.status = 'closed';
    await turn();
    const dropped = ['limit pongTimeout: ping unanswered for 500 ms', 'terminate'];
    assert.deepEqual(connections.map((c) => c.calls), [[], dropped, [], dropped]);
    assert.equal(counters.heartbeatTimeouts, 2);
  });

  test('while a message received is inflated, a connection is still pinged, and its wait for the pong starts again at each tick', async (t) => {
    const { connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    connection.pauseReasons = PauseReason.Inflate;
    await tickAt(1000);
    assert.equal(connection.pings, 1, 'pinged while inflating');
    await tickAt(3000);
    await turn();
    assert.deepEqual(connection.calls, [], 'dropped while inflating');
    // The inflation over, the pong has pongTimeout from the last tick that saw it.
    connection.pauseReasons = 0;
    await tickAt(3499);
    await turn();
    assert.deepEqual(connection.calls, []);
    await tickAt(3500);
    await turn();
    assert.deepEqual(connection.calls, ['limit pongTimeout: ping unanswered for 500 ms', 'terminate']);
    assert.equal(counters.heartbeatTimeouts, 1);
  });

  test('a peer whose bytes keep arriving (its pong queued behind them) is not dropped; once nothing arrives for pongTimeout, it is', async (t) => {
    const { connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    await tickAt(1000);
    assert.equal(connection.pings, 1);
    // A long message arriving: some bytes at every tick, no pong yet.
    for (let at = 1200; at <= 3000; at += 200) {
      connection.stats.wireBytesIn += 64 * 1024;
      await tickAt(at);
    }
    await turn();
    assert.deepEqual(connection.calls, [], 'a peer still sending was dropped');
    // Bytes read in the turn the ping is judged late save it too; the next tick restarts the wait.
    await tickAt(3500);
    connection.stats.wireBytesIn += 1;
    await turn();
    assert.deepEqual(connection.calls, []);
    await tickAt(3600);
    await tickAt(4000);
    await turn();
    assert.deepEqual(connection.calls, []);
    // Then nothing: dead.
    await tickAt(4100);
    await turn();
    assert.deepEqual(connection.calls, ['limit pongTimeout: ping unanswered for 500 ms', 'terminate']);
    assert.equal(counters.heartbeatTimeouts, 1);
    assert.equal(connection.pings, 1, 'one ping, never answered');
  });

  test("a peer that does not read (slowConsumer 'wait'): pinged; its wait held while it takes bytes, dropped once it took none for pongTimeout", async (t) => {
    const { connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    connection.pauseReasons = PauseReason.SlowConsumer;
    await tickAt(1000);
    assert.equal(connection.pings, 1, 'pinged while reading waits for the peer');
    // Taking a little at every tick: alive, if slow.
    for (let at = 1200; at <= 3000; at += 200) {
      connection.wireBytesTaken += 100;
      await tickAt(at);
    }
    await turn();
    assert.deepEqual(connection.calls, [], 'a peer still taking bytes was dropped');
    // Then nothing: dead.
    await tickAt(3400);
    await turn();
    assert.deepEqual(connection.calls, []);
    await tickAt(3600);
    await turn();
    assert.deepEqual(connection.calls, ['limit pongTimeout: ping unanswered for 500 ms', 'terminate']);
    assert.equal(counters.heartbeatTimeouts, 1);
  });

  test('a connection the application paused forgets its ping and is pinged again pingInterval after it was last seen paused', async (t) => {
    const { connection, counters, tickAt } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    await tickAt(1000);
    connection.pauseReasons = PauseReason.Application;
    await tickAt(3000);
    await turn();
    assert.equal(connection.pingSentAt, 0);
    assert.deepEqual(connection.calls, []);
    connection.pauseReasons = 0;
    await tickAt(3999);
    assert.equal(connection.pings, 1);
    await tickAt(4000);
    assert.equal(connection.pings, 2);
    await tickAt(4500);
    await turn();
    assert.deepEqual(connection.calls, ['limit pongTimeout: ping unanswered for 500 ms', 'terminate']);
    assert.equal(counters.heartbeatTimeouts, 1);
  });

  test('start() ticks every interval, once however often called; stop() ends it, and it can start again', async (t) => {
    const { clock, heartbeat, walks } = heartbeatOn(t, { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 });
    heartbeat.start();
    heartbeat.start();
    await clock.advance(99, 99);
    assert.equal(walks(), 0);
    await clock.advance(1, 1);
    assert.equal(walks(), 1);
    await clock.advance(100, 100);
    assert.equal(walks(), 2);
    heartbeat.stop();
    await clock.advance(500, 100);
    assert.equal(walks(), 2);
    heartbeat.start();
    await clock.advance(100, 100);
    assert.equal(walks(), 3);
  });

  test("the heartbeat's timer does not keep the process alive", (t) => {
    const count = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const heartbeat = new Heartbeat(() => [], { pingInterval: 60_000, pongTimeout: 60_000, idleTimeout: 0 }, { heartbeatTimeouts: 0, idleTimeouts: 0 });
    t.after(() => heartbeat.stop());
    const before = count();
    heartbeat.start();
    assert.equal(count(), before);
  });

  test('neither pings nor idleTimeout: not enabled, and start() runs no timer', async (t) => {
    const { clock, heartbeat, walks } = heartbeatOn(t, { pingInterval: 0, pongTimeout: 500, idleTimeout: 0 });
    assert.equal(heartbeat.enabled, false);
    heartbeat.start();
    await clock.advance(1000, 100);
    assert.equal(walks(), 0);
  });
});
