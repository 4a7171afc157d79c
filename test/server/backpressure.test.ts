/**
 * Backpressure over real sockets, against a raw client that completes the handshake and then stops
 * reading (its socket paused: the server's writes fill the kernel buffers, then the server's own):
 * send() results and 'drain', and the slow-consumer policies past maxBufferedAmount ('drop',
 * 'close' with 1013 or 1008, 'wait'), with the server's buffer bounded whatever is pushed at it.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { type Connection, type SendResult, type SlowConsumerPolicy, type SockwaveError } from '../../src/index.js';
import { Queue, deferred, withTimeout, type StartedServer } from '../support/net.js';
import { RawPeer, eventually, runIsolated, serve, sleep, turn } from '../support/server-kit.js';

const KiB = 1024;
const LIMIT = 256 * KiB;
/** Most messages a test sends while waiting for something to happen (a bound, never reached). */
const MAX_SENDS = 5000;

/** A message of `size` bytes carrying its index in its first 4 bytes. */
function tagged(index: number, size = 32 * KiB): Buffer {
  const out = Buffer.alloc(size, index & 0xff);
  out.writeUInt32BE(index, 0);
  return out;
}

/** A raw peer that has stopped reading, and its server-side connection. */
async function stalledPeer<D>(t: TestContext, srv: StartedServer<D>, keepFrames = true): Promise<{ peer: RawPeer; connection: Connection<D> }> {
  const peer = await RawPeer.open(srv.port, { keepFrames });
  t.after(() => peer.destroy());
  peer.pause();
  const connection = (await srv.connections.next('the server-side connection')).connection;
  return { peer, connection };
}

describe('backpressure', { timeout: 120_000 }, () => {
  test("send() answers 'sent', then 'backpressure' once a peer that stopped reading lets the buffer pass highWaterMark, then 'drain' fires after it reads", async (t) => {
    const drains = new Queue<number>();
    const srv = await serve(t, { highWaterMark: 64 * KiB, onConnection: () => ({ onDrain: (c) => drains.push(c.bufferedAmount) }) });
    const { peer, connection } = await stalledPeer(t, srv, false);
    const results: SendResult[] = [];
    for (let i = 0; i < MAX_SENDS && results.at(-1) !== 'backpressure'; i++) {
      results.push(connection.send(tagged(i, 16 * KiB)));
      await turn();
    }
    assert.equal(results.at(-1), 'backpressure', `no backpressure after ${results.length} sends`);
    assert.equal(results[0], 'sent');
    assert.ok(results.slice(0, -1).every((r) => r === 'sent'));
    assert.ok(connection.bufferedAmount > 64 * KiB);
    const drained = deferred<void>();
    connection.once('drain', () => drained.resolve());
    await sleep(100);
    assert.equal(drains.history.length, 0, 'no drain while the peer does not read');
    peer.resume();
    await withTimeout(drained.promise, "the 'drain' event");
    assert.ok((await drains.next('onDrain')) <= 64 * KiB);
    assert.equal(connection.send(tagged(results.length, 16 * KiB)), 'sent');
    await peer.until(() => (peer.frameCount === results.length + 1 ? true : undefined), 'every message');
    assert.equal(peer.frameBytes, (results.length + 1) * (16 * KiB + 4));
  });

  test("slow consumer, policy 'drop': sends past maxBufferedAmount are dropped and counted, the connection stays open, and it gets exactly the accepted messages", async (t) => {
    const srv = await serve(t, { maxBufferedAmount: LIMIT, slowConsumer: 'drop', highWaterMark: 64 * KiB, onConnection: () => ({}) });
    const { peer, connection } = await stalledPeer(t, srv);
    const accepted: number[] = [];
    const dropped: number[] = [];
    let maxBuffered = 0;
    for (let i = 0; i < MAX_SENDS && dropped.length < 20; i++) {
      const result = connection.send(tagged(i));
      (result === 'dropped' ? dropped : accepted).push(i);
      maxBuffered = Math.max(maxBuffered, connection.bufferedAmount);
      if (dropped.length === 0) await turn();
    }
    assert.equal(dropped.length, 20, `nothing dropped after ${accepted.length} sends`);
    assert.ok(maxBuffered <= LIMIT, `bufferedAmount reached ${maxBuffered}`);
    assert.equal(connection.status, 'open');
    assert.equal(connection.stats.dropped, 20);
    assert.equal(srv.server.stats().dropped, 20);
    peer.resume();
    await peer.until(() => (peer.frameCount >= accepted.length ? true : undefined), 'the accepted messages', 10_000);
    const received = peer.frames.history.map((f) => f.payload.readUInt32BE(0));
    assert.deepEqual(received, accepted, 'exactly the accepted messages, in order, and none of the dropped ones');
    assert.ok(peer.frames.history.every((f) => f.opcode === 0x2 && f.payload.length === 32 * KiB));
    // Once drained, it is an ordinary connection again.
    await eventually(() => connection.bufferedAmount === 0, 'the buffer to drain');
    assert.equal(connection.send('after the storm'), 'sent');
    await peer.until(() => (peer.frameCount === accepted.length + 1 ? true : undefined), 'the message after the storm');
    assert.equal(peer.frames.history.at(-1)!.payload.toString(), 'after the storm');
    assert.equal(connection.status, 'open');
  });

  test("a peer that sends pings and reads nothing: the automatic pongs are held to maxBufferedAmount too (policy 'drop': left unanswered)", async (t) => {
    const srv = await serve(t, { maxBufferedAmount: LIMIT, slowConsumer: 'drop', highWaterMark: 64 * KiB, onConnection: () => ({}) });
    const { peer, connection } = await stalledPeer(t, srv, false);
    let pings = 0;
    connection.on('ping', () => pings++);
    for (let i = 0; i < MAX_SENDS && connection.send(tagged(i)) !== 'dropped'; i++) await turn();
    const before = connection.bufferedAmount;
    const limits = srv.server.stats().limits['maxBufferedAmount'] ?? 0;
    const count = 4000;
    const payload = Buffer.alloc(100, 0x61);
    for (let i = 0; i < count; i++) peer.send(0x9, payload);
    await eventually(() => pings === count, 'the server to read every ping');
    // Unbounded, the pongs would add 4,000 × 102 bytes (about 400 KiB) to the buffer.
    assert.ok(connection.bufferedAmount <= LIMIT, `bufferedAmount ${connection.bufferedAmount} (was ${before}, limit ${LIMIT})`);
    assert.equal(connection.status, 'open');
    assert.ok((srv.server.stats().limits['maxBufferedAmount'] ?? 0) > limits, 'the unanswered pings were not reported as a limit hit');
  });

  for (const code of [undefined, 1008] as const) {
    test(`slow consumer, policy 'close'${code ? ` with slowConsumerCloseCode ${code}` : ''}: the connection is closed with ${code ?? 1013} after the accepted messages`, async (t) => {
      const errors = new Queue<SockwaveError>();
      const closes = new Queue<number>();
      const srv = await serve(t, {
        maxBufferedAmount: LIMIT,
        highWaterMark: 64 * KiB,
        ...(code ? { slowConsumerCloseCode: code } : {}),
        onConnection: () => ({ onError: (_c, error) => errors.push(error), onClose: (_c, info) => closes.push(info.code) }),
      });
      const { peer, connection } = await stalledPeer(t, srv);
      const accepted: number[] = [];
      let firstDropped = -1;
      for (let i = 0; i < MAX_SENDS; i++) {
        if (connection.send(tagged(i)) === 'dropped') {
          firstDropped = i;
          break;
        }
        accepted.push(i);
        await turn();
      }
      assert.ok(firstDropped >= 0, `never over the limit after ${accepted.length} sends`);
      assert.equal(connection.status, 'closing');
      assert.match((await errors.next('onError')).message, /slow consumer/);
      assert.equal(connection.send('more'), 'dropped');
      assert.ok(connection.bufferedAmount <= LIMIT);
      peer.resume();
      await peer.until(() => peer.closeFrame, 'the close frame', 10_000);
      assert.deepEqual(peer.closeFrame, { code: code ?? 1013, reason: 'slow consumer' });
      const data = peer.frames.history.filter((f) => f.opcode === 0x2).map((f) => f.payload.readUInt32BE(0));
      assert.deepEqual(data, accepted, 'every accepted message before the close frame');
      assert.equal(peer.frames.history.at(-1)!.opcode, 0x8, 'the close frame comes last');
      assert.equal(await closes.next('onClose'), code ?? 1013);
      await peer.waitClosed();
      assert.equal(srv.server.stats().closeCodes[code ?? 1013], 1);
    });
  }

  test("slow consumer, policy 'drop': a 'limit' listener that sends to the same connection again gets 'dropped', with one limit event and nothing thrown", async (t) => {
    const srv = await serve(t, { maxBufferedAmount: 8000, slowConsumer: 'drop', onConnection: () => ({}) });
    const { peer, connection } = await stalledPeer(t, srv);
    const limits: string[] = [];
    const answers: SendResult[] = [];
    srv.server.on('limit', (event) => {
      limits.push(event.limit);
      // Bounded: before the fix, this recursed until the stack overflowed.
      if (limits.length < 50) answers.push(srv.server.clients.get(event.connectionId!)!.send('please slow down'));
    });
    // All in one turn: nothing is flushed meanwhile, so the buffer only grows.
    const accepted = [connection.send('x'.repeat(3000)), connection.send('y'.repeat(3000)), connection.send('z'.repeat(1980))];
    assert.ok(accepted.every((result) => result !== 'dropped'), `accepted: ${accepted.join()}`);
    let result: SendResult | undefined;
    assert.doesNotThrow(() => (result = connection.send('w'.repeat(3000))));
    assert.equal(result, 'dropped');
    assert.deepEqual(limits, ['maxBufferedAmount'], 'one limit event');
    assert.deepEqual(answers, ['dropped'], "the listener's send was dropped");
    assert.equal(connection.status, 'open');
    assert.equal(connection.stats.dropped, 2);
    peer.resume();
    await peer.until(() => (peer.frameCount >= 3 ? true : undefined), 'the accepted messages');
    await eventually(() => connection.bufferedAmount === 0, 'the buffer to drain');
    assert.equal(connection.send('after'), 'sent');
    await peer.until(() => (peer.frameCount === 4 ? true : undefined), 'the message after the drain');
    assert.deepEqual(peer.frames.history.map((f) => f.payload.toString()[0]), ['x', 'y', 'z', 'a']);
  });

  test("slow consumer, policy 'close': an onError that sends to the same connection again gets 'dropped' once, and the connection closes with 1013", async (t) => {
    const errors: string[] = [];
    const answers: SendResult[] = [];
    const srv = await serve(t, {
      maxBufferedAmount: 8000,
      slowConsumer: 'close',
      onConnection: () => ({
        onError: (connection, error) => {
          errors.push(error.message);
          if (errors.length < 50) answers.push(connection.send('please slow down'));
        },
      }),
    });
    const { peer, connection } = await stalledPeer(t, srv);
    const accepted = [connection.send('x'.repeat(3000)), connection.send('y'.repeat(3000)), connection.send('z'.repeat(1980))];
    assert.ok(accepted.every((result) => result !== 'dropped'), `accepted: ${accepted.join()}`);
    let result: SendResult | undefined;
    assert.doesNotThrow(() => (result = connection.send('w'.repeat(3000))));
    assert.equal(result, 'dropped');
    assert.equal(errors.length, 1, `errors: ${errors.join(' | ')}`);
    assert.match(errors[0]!, /slow consumer/);
    assert.deepEqual(answers, ['dropped']);
    assert.equal(connection.status, 'closing');
    peer.resume();
    await peer.until(() => peer.closeFrame, 'the close frame');
    assert.deepEqual(peer.closeFrame, { code: 1013, reason: 'slow consumer' });
    assert.deepEqual(peer.frames.history.map((f) => f.opcode), [0x1, 0x1, 0x1, 0x8]);
  });

  test("slow consumer, policy 'close': a 'limit' listener that throws still leaves the connection closing (the throw reaches the sender)", async (t) => {
    const srv = await serve(t, { maxBufferedAmount: 8000, slowConsumer: 'close', onConnection: () => ({}) });
    const { peer, connection } = await stalledPeer(t, srv);
    srv.server.on('limit', () => {
      throw new Error('the limit listener failed');
    });
    connection.send('x'.repeat(3000));
    connection.send('y'.repeat(3000));
    connection.send('z'.repeat(1980));
    assert.throws(() => connection.send('w'.repeat(3000)), /the limit listener failed/);
    assert.equal(connection.status, 'closing');
    assert.equal(connection.send('more'), 'dropped');
    peer.resume();
    await peer.until(() => peer.closeFrame, 'the close frame');
    assert.deepEqual(peer.closeFrame, { code: 1013, reason: 'slow consumer' });
  });

  test("slow consumer, policy 'drop': a broadcast whose 'limit' listener broadcasts again reaches the healthy receivers, with one limit event", async (t) => {
    const srv = await serve(t, { maxBufferedAmount: 8000, slowConsumer: 'drop', onConnection: () => ({}) });
    const { connection: slow } = await stalledPeer(t, srv);
    const healthy: RawPeer[] = [];
    for (let i = 0; i < 2; i++) {
      const peer = await RawPeer.open(srv.port);
      t.after(() => peer.destroy());
      healthy.push(peer);
      await srv.connections.next(`healthy connection ${i}`);
    }
    let limits = 0;
    srv.server.on('limit', (event) => {
      limits++;
      if (limits < 50) srv.server.broadcast(`alert: ${event.connectionId} is slow`);
    });
    // The slow receiver is first in the registry: its limit is hit before the others are reached.
    assert.equal([...srv.server.clients][0], slow);
    slow.send('x'.repeat(3000));
    slow.send('y'.repeat(3000));
    slow.send('z'.repeat(1980));
    let count: number | undefined;
    assert.doesNotThrow(() => (count = srv.server.broadcast('BIG'.repeat(1000))));
    assert.equal(count, 2);
    assert.equal(limits, 1);
    for (const [i, peer] of healthy.entries()) {
      const frames = await peer.frames.take(2, `the messages to healthy receiver ${i}`);
      assert.deepEqual(frames.map((f) => f.payload.toString().slice(0, 6)).sort(), ['BIGBIG', 'alert:']);
    }
    assert.equal(slow.status, 'open');
    assert.equal(slow.stats.dropped, 2);
  });

  test("slow consumer, policy 'wait': the server stops reading from the peer until its buffer drains, and drops past twice the limit", async (t) => {
    const messages = new Queue<string>();
    const srv = await serve(t, {
      maxBufferedAmount: LIMIT,
      slowConsumer: 'wait',
      highWaterMark: 64 * KiB,
      onConnection: () => ({ onMessage: (_c, data) => messages.push(String(data)) }),
    });
    const { peer, connection } = await stalledPeer(t, srv);
    // Before the limit, the server reads what the peer sends.
    peer.send(0x1, 'early');
    assert.equal(await messages.next('the early message'), 'early');
    const accepted: number[] = [];
    for (let i = 0; i < MAX_SENDS && connection.bufferedAmount <= LIMIT; i++) {
      assert.notEqual(connection.send(tagged(i)), 'dropped', `message ${i}`);
      accepted.push(i);
      await turn();
    }
    assert.ok(connection.bufferedAmount > LIMIT, `never over the limit after ${accepted.length} sends`);
    // Over the limit: what the peer sends now is not read.
    peer.send(0x1, 'while over the limit');
    await sleep(300);
    assert.equal(messages.pending, 0, 'the server read from a peer whose buffer is over the limit');
    // Up to twice the limit sends are accepted; past it they are dropped.
    let dropped = 0;
    for (let i = accepted.length; i < MAX_SENDS && dropped === 0; i++) {
      if (connection.send(tagged(i)) === 'dropped') dropped++;
      else accepted.push(i);
      assert.ok(connection.bufferedAmount <= 2 * LIMIT, `bufferedAmount ${connection.bufferedAmount}`);
    }
    assert.equal(dropped, 1);
    assert.equal(connection.status, 'open');
    peer.resume();
    assert.equal(await messages.next('the message sent while over the limit', 10_000), 'while over the limit');
    await peer.until(() => (peer.frameCount >= accepted.length ? true : undefined), 'the accepted messages', 10_000);
    assert.deepEqual(peer.frames.history.map((f) => f.payload.readUInt32BE(0)), accepted);
    assert.equal(connection.status, 'open');
    peer.send(0x1, 'back to normal');
    assert.equal(await messages.next('a message after the drain'), 'back to normal');
  });

  for (const policy of ['drop', 'close', 'wait'] as SlowConsumerPolicy[]) {
    test(`policy '${policy}': 200 MiB of broadcasts at a peer that stopped reading never take its buffer past ${policy === 'wait' ? 'twice ' : ''}maxBufferedAmount`, async (t) => {
      const srv = await serve(t, { maxBufferedAmount: LIMIT, slowConsumer: policy, onConnection: () => ({}) });
      const { peer, connection } = await stalledPeer(t, srv, false);
      const message = Buffer.alloc(64 * KiB, 1);
      let maxBuffered = 0;
      let delivered = 0;
      for (let batch = 0; batch < 100; batch++) {
        for (let i = 0; i < 32; i++) {
          delivered += srv.server.broadcast(message);
          maxBuffered = Math.max(maxBuffered, connection.bufferedAmount);
        }
        await turn();
      }
      const bound = policy === 'wait' ? 2 * LIMIT : LIMIT;
      assert.ok(maxBuffered <= bound, `bufferedAmount reached ${maxBuffered} (bound ${bound})`);
      assert.ok(delivered < 3200, 'most of the 3200 broadcasts were not accepted');
      if (policy !== 'close') assert.equal(srv.server.stats().dropped, 3200 - delivered);
      assert.equal(connection.status, policy === 'close' ? 'closing' : 'open');
      peer.destroy();
    });
  }

  test(
    'with permessage-deflate, sends queued behind a compression in the thread pool past highWaterMark do not starve the event loop',
    async (t) => {
      // In a child process: the busy loop would freeze this one.
      const run = await runIsolated(
        t,
        `
        import { WebSocketServer } from '{{index}}';
        import WebSocket from 'ws';
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, onConnection: () => ({}) });
        const { url } = await server.listen();
        const ws = new WebSocket(url);
        let received = 0;
        ws.on('message', () => received++);
        const connection = await new Promise((resolve) => server.once('connection', resolve));
        const big = 'abcdefgh'.repeat(48 * 1024); // 384 KiB: compressed in the thread pool
        const results = [];
        for (let i = 0; i < 4; i++) results.push(connection.send(big));
        console.log('results ' + results.join(','));
        await new Promise((resolve) => setTimeout(resolve, 200));
        console.log('timer fired');
        while (received < 4) await new Promise((resolve) => setTimeout(resolve, 10));
        console.log('received ' + received);
        ws.terminate();
        await server.close({ timeout: 100 });
        `,
        5000,
      );
      // 384 KiB each against the default 1 MiB mark: the third takes it past, the message being
      // compressed included (as it would be without deflate).
      assert.match(run.output, /results sent,sent,backpressure,backpressure/);
      assert.equal(run.timedOut, false, `the process froze; output: ${run.output}`);
      assert.match(run.output, /timer fired/);
      assert.match(run.output, /received 4/);
    },
  );
});
