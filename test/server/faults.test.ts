/**
 * Faults a server meets on the open internet, each made deterministic with the in-memory kit of
 * test/support (fault injector, memory sockets, fake clock) — except the two that need the real
 * thing: a peer vanishing in the TLS handshake (a real TLS listener) and the server process killed
 * during client traffic (a `sockwave serve` child). After each fault the server still serves.
 */
import { strict as assert } from 'node:assert';
import { connect as tcpConnect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '../../src/client/reconnecting-client.js';
import { type Connection } from '../../src/io/connection.js';
import { type CloseInfo } from '../../src/io/connection-types.js';
import { WebSocketServer } from '../../src/server/server.js';
import { type ServerOptions } from '../../src/server/options.js';
import { run } from '../support/cli-process.js';
import { FakeClock } from '../support/fake-clock.js';
import { FaultyPeer } from '../support/fault-injector.js';
import { clientFrame } from '../support/frames.js';
import { closedPort, withTimeout } from '../support/net.js';
import { eventually, selfSigned, wsClient } from '../support/server-kit.js';

interface Harness {
  server: WebSocketServer<unknown>;
  closes: CloseInfo[];
  connections: Connection[];
  errors: Error[];
}

/** An echo server reached in memory; it records its connections, their closes and any server error. */
function harness(t: TestContext, options: ServerOptions = {}): Harness {
  const h: Harness = { server: new WebSocketServer({ ...options, onConnection: () => ({ onMessage: (c, data, binary) => void c.send(data, { binary }) }) }), closes: [], connections: [], errors: [] };
  h.server.on('connection', (connection) => {
    h.connections.push(connection as Connection);
    connection.on('close', (info) => h.closes.push(info));
  });
  h.server.on('error', (error) => h.errors.push(error));
  t.after(() => h.server.close({ timeout: 100 }));
  return h;
}

/** A fresh peer still gets its echo: the server keeps serving everyone else. */
async function stillServes(h: Harness): Promise<void> {
  const peer = await FaultyPeer.connect(h.server, { address: '10.9.9.9' });
  assert.equal(peer.status, 101);
  peer.send('still there?');
  await peer.until(() => peer.of('message').length === 1, 'the echo to a fresh peer');
  assert.equal(peer.of('message')[0]!.data.toString(), 'still there?');
}

describe('faults (in memory, deterministic)', () => {
  test('a peer that resets TCP mid-frame: its connection ends with 1006, nothing is delivered, others are served', async (t) => {
    const h = harness(t);
    const peer = await FaultyPeer.connect(h.server);
    const received: unknown[] = [];
    h.connections[0]!.on('message', (data) => received.push(data));
    peer.resetMidFrame(clientFrame({ opcode: 1, payload: 'x'.repeat(1000) }), 300);
    await peer.until(() => h.closes.length === 1, 'the connection to close');
    assert.equal(h.closes[0]!.code, 1006);
    assert.equal(h.closes[0]!.wasClean, false);
    assert.deepEqual(received, []);
    assert.deepEqual(h.errors, []);
    await stillServes(h);
  });

  test('a peer that stops reading during a broadcast: it is cut off (1013), the other receives every message in order', async (t) => {
    const h = harness(t, { maxBufferedAmount: 128 * 1024 });
    const slow = await FaultyPeer.connect(h.server, { address: '10.0.0.1' });
    const fast = await FaultyPeer.connect(h.server, { address: '10.0.0.2' });
    slow.stopReading();
    const payload = 'y'.repeat(8 * 1024);
    let most = 0;
    for (let i = 0; i < 100; i++) {
      h.server.broadcast(`${i} ${payload}`);
      most = Math.max(most, ...h.connections.map((connection) => connection.bufferedAmount));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await fast.until(() => fast.of('message').length === 100, 'every broadcast at the reading peer');
    assert.deepEqual(fast.of('message').map((m) => Number(m.data.toString().split(' ')[0])), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(h.connections[0]!.status === 'open', false, 'the slow peer was cut off');
    assert.ok(most <= 128 * 1024 + payload.length + 16, `the server buffered at most ${most} bytes for it`);
    assert.equal(h.server.stats().limits.maxBufferedAmount >= 1, true);
  });

  test('a peer that stops answering pings (half-open) is detected and dropped; a live one is kept', async (t) => {
    const clock = FakeClock.install(t);
    const h = harness(t, { pingInterval: 1000, pongTimeout: 2000 });
    const dead = await FaultyPeer.connect(h.server, { address: '10.0.0.1' });
    const live = await FaultyPeer.connect(h.server, { address: '10.0.0.2' });
    dead.vanish();
    await clock.advance(4000, 50);
    await dead.until(() => h.closes.length === 1, 'the half-open connection to be dropped');
    assert.equal(h.closes[0]!.code, 1006);
    assert.equal(h.connections[0]!.status, 'closed');
    assert.equal(h.connections[1]!.status, 'open', 'the peer answering pings stays');
    assert.ok(live.of('ping').length >= 2, 'the live peer was pinged');
    assert.equal(h.server.stats().heartbeatTimeouts, 1);
    assert.equal(h.server.stats().limits.pongTimeout, 1);
  });

  test('a peer that sends a close and then data: the data is ignored, the close answered once', async (t) => {
    const h = harness(t);
    const peer = await FaultyPeer.connect(h.server);
    const received: unknown[] = [];
    h.connections[0]!.on('message', (data) => received.push(data));
    peer.end.write(Buffer.concat([clientFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }), clientFrame({ opcode: 1, payload: 'after close' })]));
    peer.send('later still');
    await peer.until(() => h.closes.length === 1 && peer.closed, 'the close handshake and the end of the transport');
    assert.deepEqual(received, []);
    assert.deepEqual(peer.events.map((event) => event.kind), ['close']);
    assert.equal(peer.of('close')[0]!.code, 1000);
    assert.equal(h.closes[0]!.code, 1000);
    await stillServes(h);
  });

  test('hostile frames fail only their own connection (bad masking, reserved bits, huge declared length)', async (t) => {
    const h = harness(t);
    const attacks: Buffer[] = [
      Buffer.from([0x81, 0x05, ...Buffer.from('hello')]), // unmasked client frame
      clientFrame({ opcode: 1, rsv2: true, payload: 'x' }),
      clientFrame({ opcode: 2, length: 2n ** 62n, payload: 'x' }), // declares 4 EiB
      clientFrame({ opcode: 0x3, payload: '' }),
    ];
    for (const [i, attack] of attacks.entries()) {
      const peer = await FaultyPeer.connect(h.server, { address: `10.0.1.${i}` });
      peer.send(attack);
      await peer.until(() => peer.of('close').length === 1, `the close for attack ${i}`);
      assert.ok([1002, 1009].includes(peer.of('close')[0]!.code), `attack ${i}: ${peer.of('close')[0]!.code}`);
    }
    await stillServes(h);
  });
});

describe('faults (real sockets)', { timeout: 60_000 }, () => {
  test('peers that vanish or stall during the TLS handshake are dropped; a TLS client is still served', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const server = new WebSocketServer({ tls: pair, handshakeTimeout: 300, host: '127.0.0.1', onConnection: () => ({ onMessage: (c, d) => void c.send(d) }) });
    t.after(() => server.close({ timeout: 100 }));
    const { port } = await server.listen();
    // One stalls after half a ClientHello; one sends the start of it and resets at once.
    const stalled = tcpConnect({ port, host: '127.0.0.1' });
    stalled.on('error', () => {});
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
    const vanished = tcpConnect({ port, host: '127.0.0.1' }, () => {
      vanished.write(Buffer.from([0x16, 0x03, 0x01]));
      vanished.resetAndDestroy();
    });
    vanished.on('error', () => {});
    const closedByServer = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    await withTimeout(closedByServer, 'the server to drop the stalled TLS handshake', 10_000);
    await eventually(() => server.stats().limits.handshakeTimeout >= 1, 'the TLS handshake timeout to be counted');
    const { ws } = await wsClient(t, `wss://127.0.0.1:${port}/`, undefined, { rejectUnauthorized: false });
    ws.send('over tls');
    const reply = await withTimeout(new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString()))), 'the TLS echo');
    assert.equal(reply, 'over tls');
  });

  test("tls.handshakeTimeout given as undefined leaves the server's handshakeTimeout in force for the TLS handshake (not Node's 120 s)", async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const server = new WebSocketServer({ tls: { ...pair, handshakeTimeout: undefined, minVersion: undefined }, handshakeTimeout: 300, host: '127.0.0.1', onConnection: () => ({}) });
    t.after(() => server.close({ timeout: 100 }));
    const { port } = await server.listen();
    const stalled = tcpConnect({ port, host: '127.0.0.1' });
    stalled.on('error', () => {});
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
    await withTimeout(new Promise<void>((resolve) => stalled.once('close', () => resolve())), 'the server to drop the stalled TLS handshake', 10_000);
  });

  test('the server process killed during client traffic: the client reconnects and its outbox delivers in order', async (t) => {
    const port = await closedPort();
    const start = async (): Promise<ReturnType<typeof run>> => {
      const cli = run(t, ['serve', '--port', String(port)]);
      await cli.lines.next("serve's 'listening on' line", 10_000);
      return cli;
    };
    const first = await start();
    const echoed: number[] = [];
    const client = createClient(`ws://127.0.0.1:${port}/echo`, {
      reconnect: { minDelay: 50, maxDelay: 200 },
      onMessage: (_client, message) => void echoed.push(Number(message)),
    });
    t.after(() => client.close());
    await eventually(() => client.status === 'open', 'the client to connect', 10_000);
    let next = 0;
    const queued: number[] = [];
    const sendSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, next++) {
        if (client.send(String(next)) === 'queued') queued.push(next);
        await delay(2);
      }
    };
    await sendSome(50);
    process.kill(first.child.pid!, 'SIGKILL');
    await first.exited();
    await eventually(() => client.status !== 'open', 'the client to notice', 10_000);
    await sendSome(50);
    assert.ok(queued.length >= 40, `most sends while down were queued (${queued.length})`);
    await start();
    await eventually(() => client.status === 'open', 'the client to reconnect', 15_000);
    await sendSome(50);
    await eventually(() => echoed.includes(next - 1), 'the last echo', 15_000);
    for (let i = 1; i < echoed.length; i++) assert.ok(echoed[i]! > echoed[i - 1]!, `in order, no duplicate: ${echoed[i - 1]} then ${echoed[i]}`);
    for (const n of queued) assert.ok(echoed.includes(n), `queued message ${n} was delivered`);
    for (let n = 100; n < 150; n++) assert.ok(echoed.includes(n), `message ${n}, sent after the restart, was delivered`);
  });
});
