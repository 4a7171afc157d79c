/**
 * End to end over real sockets: sockwave's client (connect) against sockwave's server.
 */
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { connect, ProtocolError, SockwaveError, WebSocketServer, Connection, type CloseInfo, type ConnectionHandler, type ServerOptions } from '../../src/index.js';
import { serverFrame, rawFrame, clientFrame, closeBody } from '../support/frames.js';
import { FakeClock } from '../support/fake-clock.js';
import { catchUncaught, eventually } from '../support/server-kit.js';
import { startClientHeartbeat } from '../../src/client/client-heartbeat.js';
import {
  BINARY_SIZES,
  MULTIBYTE_TEXTS,
  payloadBytes,
  record,
  sha256,
  startServer,
  withTimeout,
  deferred,
  closePayload,
  nextEvent,
  RawClient,
  rawUpgrade,
  startRawWsServer,
  type ConnectionRecord,
  type ServerSide,
  type StartedServer,
} from '../support/net.js';

const echo: ConnectionHandler = {
  onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
};

interface Pair {
  srv: StartedServer<unknown>;
  client: Connection;
  crec: ConnectionRecord;
  side: ServerSide<unknown>;
}

/** A server (echo by default), a client connected to it, both recorded; all closed after the test. */
async function pair(t: TestContext, handler: ConnectionHandler = echo, options: ServerOptions = {}): Promise<Pair> {
  const srv = await startServer({ onConnection: () => ({ ...handler }), ...options });
  t.after(() => srv.close());
  const client = await withTimeout(connect(`${srv.url}/`), 'connect()');
  t.after(() => client.terminate());
  const crec = record(client, 'the client');
  const side = await srv.connections.next('the server-side connection');
  return { srv, client, crec, side };
}

/**
 * Connects to `srv` with permessage-deflate and sends 2 MB that deflate to a few kB (inflated in
 * the thread pool), then, behind it, text, binary, a fragmented text, a ping and a pong.
 */
async function sendBehindInflation(t: TestContext, srv: Awaited<ReturnType<typeof startServer>>) {
  t.after(() => srv.close());
  const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
  t.after(() => client.terminate());
  const side = await srv.connections.next('the server-side connection');
  client.send('a'.repeat(2_000_000));
  client.send('two');
  client.send(Buffer.from('three'));
  client.send('four', { fragmentSize: 2 });
  client.ping('p');
  client.pong('q');
  return { client, side };
}

function assertCloseInfo(actual: CloseInfo, expected: CloseInfo, who: string): void {
  assert.deepEqual(actual, expected, `${who}'s CloseInfo`);
}

describe('sockwave client ↔ sockwave server (real sockets)', { timeout: 60_000 }, () => {
  test('text with 2-, 3- and 4-byte UTF-8 code points and emoji arrives unchanged both ways', async (t) => {
    const { client, crec, side } = await pair(t);
    for (const text of MULTIBYTE_TEXTS) {
      assert.equal(client.send(text), 'sent');
      const atServer = await side.rec.messages.next(`server to get ${text.slice(0, 20)}`);
      assert.equal(atServer.isBinary, false);
      assert.equal(atServer.data, text);
      const back = await crec.messages.next(`client to get the echo of ${text.slice(0, 20)}`);
      assert.equal(back.isBinary, false);
      assert.equal(typeof back.data, 'string');
      assert.equal(back.data, text);
    }
  });

  for (const size of BINARY_SIZES) {
    test(`a binary message of ${size} bytes arrives intact at the server and back at the client`, { timeout: 30_000 }, async (t) => {
      const { client, crec, side } = await pair(t);
      const payload = payloadBytes(size, size + 1);
      const digest = sha256(payload);
      client.send(payload);
      const atServer = await side.rec.messages.next('the server to receive the message', 20_000);
      assert.equal(atServer.isBinary, true);
      assert.ok(Buffer.isBuffer(atServer.data));
      assert.equal(atServer.data.length, size);
      assert.equal(sha256(atServer.data), digest);
      const back = await crec.messages.next('the echo', 20_000);
      assert.equal(back.isBinary, true);
      assert.ok(Buffer.isBuffer(back.data));
      assert.equal(back.data.length, size);
      assert.equal(sha256(back.data), digest);
    });
  }

  test("a pull reader that the handler's onMessage starts gets the next message, not the one being handled", async (t) => {
    const pulled = deferred<string>();
    const { client } = await pair(t, {
      onMessage: (connection, data) => {
        if (data !== 'start') return;
        connection.setHandler(undefined);
        connection.nextMessage().then((message) => pulled.resolve(String(message.data)), pulled.reject);
      },
    });
    client.send('start');
    client.send('after');
    assert.equal(await withTimeout(pulled.promise, 'the pulled message'), 'after');
  });

  test("a handler whose onMessage, onFragment, onPing or onPong throws does not keep the event from the listeners; the throw escapes", async (t) => {
    const { messages: thrown } = catchUncaught(t);
    const { client, side: { connection: side } } = await pair(t, {
      onMessage: () => {
        throw new Error('onMessage threw');
      },
      onFragment: () => {
        throw new Error('onFragment threw');
      },
      onPing: () => {
        throw new Error('onPing threw');
      },
      onPong: () => {
        throw new Error('onPong threw');
      },
    });
    const heard: string[] = [];
    side.on('message', (data) => heard.push(`message ${String(data)}`));
    side.on('fragment', (data, _binary, fin) => heard.push(`fragment ${String(data)}${fin ? ' (last)' : ''}`));
    side.on('ping', (payload) => heard.push(`ping ${String(payload)}`));
    side.on('pong', (payload) => heard.push(`pong ${String(payload)}`));
    client.send('whole');
    client.send('ab', { fragmentSize: 1 });
    client.ping('p');
    client.pong('q');
    await eventually(() => heard.length >= 6, 'six events').catch(() => assert.fail(`six events, got ${JSON.stringify(heard)}`));
    assert.deepEqual(heard, ['message whole', 'fragment a', 'fragment b (last)', 'message ab', 'ping p', 'pong q']);
    assert.deepEqual(thrown, ['onMessage threw', 'onFragment threw', 'onFragment threw', 'onMessage threw', 'onPing threw', 'onPong threw']);
    assert.equal(side.status, 'open', 'the connection goes on');
  });

  test('a message listener that throws does not lose the rest of the read: a frame split across reads arrives intact', async (t) => {
    // The throw escapes to the process, as a throwing listener's does: caught here, not by the runner.
    const escaped: Error[] = [];
    const thrown = deferred();
    const catcher = (error: Error): void => {
      escaped.push(error);
      thrown.resolve();
    };
    const runners = process.rawListeners('uncaughtException') as Array<(error: Error) => void>;
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', catcher);
    t.after(() => {
      process.removeListener('uncaughtException', catcher);
      for (const listener of runners) process.on('uncaughtException', listener);
    });
    // m3's payload looks like a frame: a parser out of step would deliver it as a text message.
    const m3 = serverFrame({ opcode: 0x2, payload: serverFrame({ opcode: 0x1, payload: 'INJECTED' }) });
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const client = await connect(raw.url, { perMessageDeflate: false });
    t.after(() => client.terminate());
    const socket = await raw.sockets.next('the raw connection');
    const got: Array<string | Buffer> = [];
    const four = deferred();
    client.on('message', (data) => {
      got.push(data);
      if (got.length === 4) four.resolve();
      if (data === 'm2') throw new Error('the listener threw');
    });
    // [m1][m2][m3's first 2 bytes] in one write, [the rest of m3][m4] in the next, once the first was read.
    socket.write(Buffer.concat([serverFrame({ opcode: 0x1, payload: 'm1' }), serverFrame({ opcode: 0x1, payload: 'm2' }), m3.subarray(0, 2)]));
    await withTimeout(thrown.promise, 'the throw on m2');
    socket.write(Buffer.concat([m3.subarray(2), serverFrame({ opcode: 0x1, payload: 'm4' })]));
    await withTimeout(four.promise, `four messages (got ${got.length})`).catch((error: Error) => assert.fail(`${error.message}: ${JSON.stringify(got.map(String))}`));
    assert.deepEqual(got, ['m1', 'm2', serverFrame({ opcode: 0x1, payload: 'INJECTED' }), 'm4']);
    assert.deepEqual(escaped.map((error) => error.message), ['the listener threw']);
  });

  test('send() takes null for options, callback and binary as not given, at any message size and with compression', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    for (const size of [5, 2000, 100_000]) {
      const text = 'n'.repeat(size);
      assert.equal(client.send(text, { binary: null as unknown as boolean }), 'sent', `${size} bytes, binary null`);
      assert.equal(client.send(text, null as unknown as undefined), 'sent', `${size} bytes, options null`);
      assert.equal(client.send(text, {}, null as unknown as undefined), 'sent', `${size} bytes, callback null`);
      for (let i = 0; i < 3; i++) assert.equal((await side.rec.messages.next(`message ${i} of ${size} bytes`)).data, text);
    }
  });

  test('with EventEmitter.captureRejections, an async message listener that rejects is reported through the error event', async (t) => {
    const previous = EventEmitter.captureRejections;
    EventEmitter.captureRejections = true;
    t.after(() => (EventEmitter.captureRejections = previous));
    const { client } = await pair(t);
    EventEmitter.captureRejections = previous;
    const reported = deferred<Error>();
    client.on('error', (error) => reported.resolve(error));
    client.on('message', async () => {
      throw new Error('the async listener failed');
    });
    client.send('echo me');
    assert.match((await withTimeout(reported.promise, 'the error event')).message, /async listener failed/);
  });

  test('a small message over the compression threshold is compressed, not sent on the uncompressed fast path', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    const text = 'c'.repeat(2000);
    assert.equal(client.send(text), 'sent');
    assert.equal((await side.rec.messages.next('the message')).data, text);
    // 2000 bytes of one letter deflate to a few dozen.
    assert.ok(client.stats.wireBytesOut < 100, `${client.stats.wireBytesOut} bytes on the wire`);
    assert.equal(side.connection.stats.wireBytesIn, client.stats.wireBytesOut);
  });

  test('the frames of a compressed message are no fragment events: only the whole message is delivered', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    const fragments: unknown[] = [];
    side.connection.setHandler({ onFragment: (_connection, data) => void fragments.push(data) });
    const text = 'z'.repeat(3000);
    client.send(text, { fragmentSize: 10 });
    client.send('plain', { fragmentSize: 3 });
    await side.rec.messages.take(2, 'both messages');
    assert.equal(side.rec.fragments.history.length, 2);
    assert.deepEqual(side.rec.fragments.history.map((f) => f.data.toString()), ['pla', 'in']);
    assert.equal(fragments.length, 2);
  });

  test('what is sent while a large message is compressed in the thread pool waits behind it, in order, and close() last', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    const order: string[] = [];
    side.connection.on('message', (data) => void order.push(`message ${String(data).length}`));
    side.connection.on('ping', (payload) => void order.push(`ping ${payload.toString()}`));
    const big = 'b'.repeat(400_000);
    assert.equal(client.send(big), 'sent');
    // While it is compressed, the message counts in bufferedAmount.
    assert.ok(client.bufferedAmount >= 400_000, `bufferedAmount ${client.bufferedAmount}`);
    // The compression runs in the thread pool: these wait behind it.
    assert.equal(client.send('after', () => {}), 'sent');
    assert.equal(client.send('small'), 'sent');
    assert.equal(client.ping('p'), 'sent');
    client.close(1000, 'done');
    // Nothing sent once close() is asked for, even while it waits.
    const refused = deferred<Error | null | undefined>();
    assert.equal(client.send('too late'), 'dropped');
    assert.equal(client.send('too late', (error) => refused.resolve(error)), 'dropped');
    assert.match(String((await withTimeout(refused.promise, 'the refused send'))?.message), /closing/);
    const info = await side.rec.closed();
    assert.equal(info.code, 1000);
    assert.equal(info.reason, 'done');
    assert.deepEqual(order, ['message 400000', 'message 5', 'message 5', 'ping p']);
    // And no longer once it is out.
    assert.equal(client.bufferedAmount, 0);
  });

  test('a Buffer sent with { binary: false } arrives as a text message', async (t) => {
    const { client, side } = await pair(t);
    assert.equal(client.send(Buffer.from('as text ✓'), { binary: false }), 'sent');
    const message = await side.rec.messages.next('the message');
    assert.equal(message.isBinary, false);
    assert.equal(message.data, 'as text ✓');
  });

  test('a string sent with { binary: true } arrives as a binary message of its UTF-8 bytes', async (t) => {
    const { client, side } = await pair(t);
    client.send('héllo €', { binary: true });
    const got = await side.rec.messages.next('the binary message');
    assert.equal(got.isBinary, true);
    assert.deepEqual(got.data, Buffer.from('héllo €', 'utf8'));
  });

  test('a text message sent with fragmentSize arrives as fin-flagged fragments and one whole message', async (t) => {
    const { client, side } = await pair(t);
    // 3-byte and 4-byte code points are cut across frames by a 5-byte fragment size.
    const text = 'ab€€𝄞😀 done';
    const bytes = Buffer.from(text, 'utf8');
    client.send(text, { fragmentSize: 5 });
    const message = await side.rec.messages.next('the whole message');
    assert.equal(message.isBinary, false);
    assert.equal(message.data, text);
    const count = Math.ceil(bytes.length / 5);
    const fragments = side.rec.fragments.history;
    assert.equal(fragments.length, count);
    assert.deepEqual(fragments.map((f) => f.fin), [...Array(count - 1).fill(false), true]);
    assert.ok(fragments.every((f) => f.isBinary === false));
    assert.ok(fragments.slice(0, -1).every((f) => f.data.length === 5));
    assert.deepEqual(Buffer.concat(fragments.map((f) => f.data)), bytes);
  });

  test('a binary message sent by the server with fragmentSize arrives at the client as fragments, then whole', async (t) => {
    const { crec, side } = await pair(t);
    const payload = payloadBytes(10_000, 7);
    side.connection.send(payload, { fragmentSize: 4096 });
    const message = await crec.messages.next('the whole message');
    assert.equal(message.isBinary, true);
    assert.equal(sha256(message.data), sha256(payload));
    const fragments = crec.fragments.history;
    assert.deepEqual(fragments.map((f) => [f.data.length, f.fin, f.isBinary]), [
      [4096, false, true],
      [4096, false, true],
      [1808, true, true],
    ]);
    assert.deepEqual(Buffer.concat(fragments.map((f) => f.data)), payload);
  });

  test('an unfragmented message produces no fragment event', async (t) => {
    const { client, side } = await pair(t);
    client.send('whole');
    client.send(Buffer.from([1, 2, 3]));
    await side.rec.messages.take(2, 'both messages');
    assert.equal(side.rec.fragments.history.length, 0);
  });

  test('a message no longer than fragmentSize is sent as a single frame', async (t) => {
    const { client, side } = await pair(t);
    client.send('12345', { fragmentSize: 5 });
    assert.equal((await side.rec.messages.next('the message')).data, '12345');
    assert.equal(side.rec.fragments.history.length, 0);
  });

  test('a client ping with a payload is auto-ponged by the server with the same payload', async (t) => {
    const { client, crec, side } = await pair(t);
    assert.equal(client.ping('client-ping ✓'), 'sent');
    assert.equal((await side.rec.pings.next('the ping at the server')).toString(), 'client-ping ✓');
    assert.equal((await crec.pongs.next('the pong at the client')).toString(), 'client-ping ✓');
  });

  test('a server ping with a binary payload is auto-ponged by the client', async (t) => {
    const { crec, side } = await pair(t);
    const payload = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    assert.equal(side.connection.ping(payload), 'sent');
    assert.deepEqual(await crec.pings.next('the ping at the client'), payload);
    assert.deepEqual(await side.rec.pongs.next('the pong at the server'), payload);
  });

  test('an unsolicited pong reaches the peer as a pong event, and gives it no round-trip time', async (t) => {
    const { client, side } = await pair(t);
    client.pong('heartbeat');
    assert.equal((await side.rec.pongs.next('the pong')).toString(), 'heartbeat');
    // No heartbeat ping was outstanding: the pong answers nothing, so there is nothing to time.
    assert.equal(side.connection.rtt, undefined);
    assert.equal(client.rtt, undefined);
  });

  test('with autoPong false the server reports the ping but sends no pong', async (t) => {
    const { client, crec, side } = await pair(t, echo, { autoPong: false });
    const order: string[] = [];
    client.on('pong', () => order.push('pong'));
    client.on('message', () => order.push('message'));
    client.ping('p');
    client.send('after the ping');
    assert.equal((await side.rec.pings.next('the ping')).toString(), 'p');
    await crec.messages.next('the echo that follows the ping');
    // A pong would have been written before the echo (same socket, same order).
    assert.deepEqual(order, ['message']);
    // The application can still answer by hand.
    side.connection.pong('manual');
    assert.equal((await crec.pongs.next('the manual pong')).toString(), 'manual');
  });

  test('a control payload over 125 bytes is refused with RangeError and nothing is sent', async (t) => {
    const { client, crec } = await pair(t);
    assert.throws(() => client.ping(Buffer.alloc(126)), RangeError);
    client.send('still open');
    assert.equal((await crec.messages.next('the echo')).data, 'still open');
    // Refused for its size even where nothing could be sent anyway (closing, then closed).
    client.close();
    assert.throws(() => client.pong(Buffer.alloc(126)), RangeError);
    await crec.closed();
    assert.throws(() => client.ping(Buffer.alloc(126)), RangeError);
    assert.equal(client.ping(Buffer.alloc(125)), 'dropped');
  });

  test('a close started by the client with a code and reason is seen on both sides, cleanly', async (t) => {
    const { client, crec, side } = await pair(t);
    client.close(4000, 'bye ✓ 𝄞');
    assert.equal(client.status, 'closing');
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assertCloseInfo(atServer, { code: 4000, reason: 'bye ✓ 𝄞', wasClean: true, remote: true }, 'server');
    // The client reports the server's close frame: the echo of the code (RFC 6455 §5.5.1), no reason.
    assertCloseInfo(atClient, { code: 4000, reason: '', wasClean: true, remote: false }, 'client');
    assert.equal(client.status, 'closed');
    assert.equal(side.connection.status, 'closed');
  });

  test('a close started by the server with a code and reason is seen on both sides, cleanly', async (t) => {
    const { srv, client, crec, side } = await pair(t);
    side.connection.close(4001, 'server says bye');
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assertCloseInfo(atClient, { code: 4001, reason: 'server says bye', wasClean: true, remote: true }, 'client');
    assertCloseInfo(atServer, { code: 4001, reason: '', wasClean: true, remote: false }, 'server');
    assert.equal(client.readyState, 3);
    assert.equal(srv.server.clients.size, 0);
  });

  test('a close without a code is reported as 1005 on both sides', async (t) => {
    const { client, crec, side } = await pair(t);
    client.close();
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assertCloseInfo(atServer, { code: 1005, reason: '', wasClean: true, remote: true }, 'server');
    assertCloseInfo(atClient, { code: 1005, reason: '', wasClean: true, remote: false }, 'client');
  });

  test('when both sides close at once each reports the code the other sent, cleanly, and neither as remote', async (t) => {
    const { client, crec, side } = await pair(t);
    client.close(4000, 'from client');
    side.connection.close(4001, 'from server');
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assertCloseInfo(atClient, { code: 4001, reason: 'from server', wasClean: true, remote: false }, 'client');
    assertCloseInfo(atServer, { code: 4000, reason: 'from client', wasClean: true, remote: false }, 'server');
  });

  test('a close reason of exactly 123 bytes is delivered', async (t) => {
    const { client, side } = await pair(t);
    const reason = '€'.repeat(41);
    assert.equal(Buffer.byteLength(reason), 123);
    client.close(1000, reason);
    assert.equal((await side.rec.closed()).reason, reason);
  });

  test('a Buffer the client modifies right after send() is sent as it was when send() was called', async (t) => {
    const { client, side } = await pair(t);
    const buffer = Buffer.alloc(4, 1);
    client.send(buffer);
    buffer.fill(2);
    client.send(buffer);
    const [first, second] = await side.rec.messages.take(2, 'both messages');
    assert.deepEqual([first!.data, second!.data], [Buffer.alloc(4, 1), Buffer.alloc(4, 2)]);
  });

  test(
    'a Buffer the server modifies right after send() is sent as it was when send() was called',
    async (t) => {
      const { crec, side } = await pair(t);
      const buffer = Buffer.alloc(4, 1);
      side.connection.send(buffer);
      buffer.fill(2);
      side.connection.send(buffer);
      const [first, second] = await crec.messages.take(2, 'both messages');
      assert.deepEqual([first!.data, second!.data], [Buffer.alloc(4, 1), Buffer.alloc(4, 2)]);
    },
  );

  test('typed arrays, ArrayBuffers and DataViews are sent as binary, honouring their offset and length', async (t) => {
    const { client, side } = await pair(t);
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    client.send(backing.subarray(1, 4));
    client.send(new Uint16Array([0x0102]));
    client.send(backing.buffer.slice(0, 2));
    client.send(new DataView(backing.buffer, 3, 2));
    const got = await side.rec.messages.take(4, 'four binary messages');
    assert.ok(got.every((m) => m.isBinary));
    assert.deepEqual(got.map((m) => [...(m.data as Buffer)]), [[1, 2, 3], [...Buffer.from(new Uint16Array([0x0102]).buffer)], [9, 1], [3, 9]]);
  });

  test('close() with a code that may not be sent throws RangeError and leaves the connection open', async (t) => {
    const { client, crec } = await pair(t);
    assert.throws(() => client.close(1005), RangeError);
    assert.throws(() => client.close(1000, 'x'.repeat(124)), RangeError);
    assert.equal(client.status, 'open');
    client.send('still open');
    assert.equal((await crec.messages.next('the echo')).data, 'still open');
  });

  test('terminate() on the client reports 1006, not clean, on both sides', async (t) => {
    const { client, crec, side } = await pair(t);
    client.terminate();
    // Closing until the socket's close is reported.
    assert.equal(client.status, 'closing');
    assert.equal(client.send('after terminate()'), 'dropped');
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assert.equal(client.status, 'closed');
    assertCloseInfo(atClient, { code: 1006, reason: '', wasClean: false, remote: false }, 'client');
    assertCloseInfo(atServer, { code: 1006, reason: '', wasClean: false, remote: true }, 'server');
  });

  test('terminate() once closed does nothing: the connection stays closed, with no second close report', async (t) => {
    const { client, crec } = await pair(t);
    client.close(1000, 'bye');
    const info = await crec.closed();
    assert.equal(info.code, 1000);
    let closes = 0;
    client.on('close', () => void closes++);
    client.terminate();
    assert.equal(client.status, 'closed');
    assert.equal(client.readyState, 3);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.status, 'closed');
    assert.equal(closes, 0);
  });

  test('a closed connection is in no topic any more: its topics are empty, and it can subscribe to none', async (t) => {
    const { client, side } = await pair(t);
    assert.equal(side.connection.subscribe('news'), true);
    assert.deepEqual([...side.connection.topics], ['news']);
    client.close(1000);
    await side.rec.closed();
    assert.deepEqual([...side.connection.topics], []);
    assert.equal(side.connection.subscribe('news'), false);
  });

  test('terminate() on the server reports 1006, not clean, remote, to the client', async (t) => {
    const { crec, side } = await pair(t);
    side.connection.terminate();
    const [atClient, atServer] = await Promise.all([crec.closed(), side.rec.closed()]);
    assertCloseInfo(atClient, { code: 1006, reason: '', wasClean: false, remote: true }, 'client');
    assertCloseInfo(atServer, { code: 1006, reason: '', wasClean: false, remote: false }, 'server');
  });

  test('terminate() in onMessage: the other messages of the same read are not delivered, to the handler or as events', async (t) => {
    const handled: string[] = [];
    const { client, side } = await pair(t, {
      onMessage: (connection, data) => {
        handled.push(String(data));
        connection.terminate();
      },
    });
    // Sent in one tick: one write, so one read at the server.
    for (const text of ['one', 'two', 'three']) client.send(text);
    const info = await side.rec.closed();
    assert.deepEqual(handled, ['one']);
    assert.deepEqual(side.rec.messages.history.map((message) => message.data), ['one']);
    assert.equal(info.code, 1006);
  });

  test('terminate() in the handler of a message inflated in the thread pool: nothing read behind it is delivered', async (t) => {
    const events: string[] = [];
    const srv = await startServer({
      perMessageDeflate: true,
      onConnection: () => ({
        onMessage: (connection, data) => {
          events.push(`message ${String(data).length}`);
          if (String(data).length > 1000) connection.terminate();
        },
        onPing: () => void events.push('ping'),
        onPong: () => void events.push('pong'),
        onFragment: () => void events.push('fragment'),
      }),
    });
    const { side } = await sendBehindInflation(t, srv);
    const info = await side.rec.closed();
    assert.equal(info.code, 1006);
    assert.deepEqual(events, ['message 2000000']);
  });

  test('a close timer that runs out while a message is inflated waits again, and drops a peer that never closes once it is out', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, closeTimeout: 1000, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const side = await srv.connections.next('the server-side connection');
    const limits: string[] = [];
    srv.server.on('limit', ({ limit }) => void limits.push(limit));
    const codec = side.connection.deflate;
    assert.ok(codec, 'permessage-deflate was not negotiated');
    // The thread pool's answer is held until the test lets it through.
    const real = codec.decompress.bind(codec);
    const inflated = deferred<() => void>();
    codec.decompress = (data, callback) => real(data, (error, out) => inflated.resolve(() => callback(error, out)));
    client.send('a'.repeat(2_000_000));
    const release = await withTimeout(inflated.promise, 'the inflation');
    // The client reads nothing more: it never answers the server's close frame.
    client.pause();
    const clock = FakeClock.install(t);
    side.connection.close(1000);
    // The deadline passes while the message is still held: the peer's close may be waiting behind it.
    await clock.advance(1200, 20);
    assert.deepEqual(limits, [], 'dropped at the first deadline, with the message still held');
    assert.equal(side.connection.status, 'closing');
    release();
    await side.rec.messages.next('the inflated message');
    // No close came behind the message: a full closeTimeout later, the server drops the client.
    await clock.advance(1200, 20);
    assert.deepEqual(limits, ['closeTimeout']);
    assert.equal((await side.rec.closed()).code, 1006);
  });

  test('what is read behind a message inflated in the thread pool is delivered after it, in order', async (t) => {
    const events: string[] = [];
    const srv = await startServer({
      perMessageDeflate: true,
      onConnection: () => ({
        onMessage: (_connection, data, isBinary) => void events.push(`${isBinary ? 'binary' : 'text'} ${String(data).length}`),
        onPing: (_connection, payload) => void events.push(`ping ${payload.toString()}`),
        onPong: (_connection, payload) => void events.push(`pong ${payload.toString()}`),
        onFragment: (_connection, data, _isBinary, fin) => void events.push(`fragment ${data.toString()}${fin ? ' fin' : ''}`),
      }),
    });
    const { client, side } = await sendBehindInflation(t, srv);
    client.send('last');
    await side.rec.messages.take(5, 'the five messages', 15_000);
    assert.deepEqual(events, ['text 2000000', 'text 3', 'binary 5', 'fragment fo', 'fragment ur fin', 'text 4', 'ping p', 'pong q', 'text 4']);
  });

  test('send() after close() returns dropped, sends nothing, and fails its callback with SW_INVALID_STATE', async (t) => {
    const { client, crec, side } = await pair(t);
    client.close(1000);
    const callback = deferred<Error | null | undefined>();
    assert.equal(client.send('too late', (error) => callback.resolve(error)), 'dropped');
    assert.equal(client.stats.dropped, 1);
    const error = await withTimeout(callback.promise, 'the send callback');
    assert.ok(error instanceof SockwaveError, `the callback got ${String(error)}`);
    assert.equal(error.code, 'SW_INVALID_STATE');
    assert.match(error.message, /closing/);
    await Promise.all([crec.closed(), side.rec.closed()]);
    assert.equal(client.send('after closed'), 'dropped');
    assert.equal(client.ping(), 'dropped');
    // Counted as dropped, both messages (a ping is no message).
    assert.equal(client.stats.dropped, 2);
    assert.equal(side.rec.messages.history.length, 0);
  });

  test('the send() completion callback is called without an error once the bytes are written', async (t) => {
    const { client, side } = await pair(t);
    const done = deferred<Error | null | undefined>();
    assert.equal(client.send('with callback', (error) => done.resolve(error)), 'sent');
    const error = await withTimeout(done.promise, 'the completion callback');
    assert.ok(error == null, `the callback got ${String(error)}`);
    const options = deferred<Error | null | undefined>();
    client.send(Buffer.from([9]), { binary: true }, (error) => options.resolve(error));
    assert.ok((await withTimeout(options.promise, 'the callback given with options')) == null);
    assert.deepEqual((await side.rec.messages.take(2, 'both messages')).map((m) => m.data), ['with callback', Buffer.from([9])]);
  });

  test('a plain object is sent as JSON text', async (t) => {
    const { client, side, crec } = await pair(t);
    const value = { id: 7, name: 'zoë 🚀', tags: ['a', 'b'], nested: { ok: true, none: null } };
    client.send(value);
    const got = await side.rec.messages.next('the JSON message');
    assert.equal(got.isBinary, false);
    assert.equal(typeof got.data, 'string');
    assert.deepEqual(JSON.parse(got.data as string), value);
    side.connection.send([1, 'two', { three: 3 }]);
    // The echo of the first message, then the array.
    await crec.messages.next('the echo');
    assert.deepEqual(JSON.parse((await crec.messages.next('the array')).data as string), [1, 'two', { three: 3 }]);
  });

  test('many small sends in one tick all arrive, in order, both ways', async (t) => {
    const { client, crec, side } = await pair(t);
    const count = 2000;
    for (let i = 0; i < count; i++) client.send(`m${i}`);
    const atServer = await side.rec.messages.take(count, 'every message at the server', 15_000);
    assert.deepEqual(atServer.map((m) => m.data), Array.from({ length: count }, (_, i) => `m${i}`));
    const echoes = await crec.messages.take(count, 'every echo at the client', 15_000);
    assert.deepEqual(echoes.map((m) => m.data), Array.from({ length: count }, (_, i) => `m${i}`));
  });

  test('the server-side connection carries the request URL, headers and a unique id', async (t) => {
    const srv = await startServer({ onConnection: () => ({}) });
    t.after(() => srv.close());
    const a = await connect(`${srv.url}/room/1?x=y`, { headers: { 'X-Who': 'a' } });
    t.after(() => a.terminate());
    const b = await connect(`${srv.url}/room/2`);
    t.after(() => b.terminate());
    const [sa, sb] = await srv.connections.take(2, 'both server-side connections');
    assert.equal(sa!.connection.url, '/room/1?x=y');
    assert.equal(sa!.connection.headers['x-who'], 'a');
    // Headers read first: the request head's text is parsed, and the target still answers after.
    assert.equal(sb!.connection.headers['upgrade']?.toLowerCase(), 'websocket');
    assert.equal(sb!.connection.url, '/room/2');
    assert.notEqual(sa!.connection.id, sb!.connection.id);
    assert.equal(srv.server.clients.size, 2);
    assert.equal(srv.server.clients.get(sa!.connection.id), sa!.connection);
    // Its server, which a client connection has none of.
    assert.equal(sa!.connection.server, srv.server);
    assert.equal(a.server, undefined);
  });

  test('bufferedAmount counts what a handler sent during the read, still held for the one write after it', async (t) => {
    const seen = deferred<{ before: number; after: number }>();
    const { client } = await pair(t, {
      onMessage: (connection) => {
        const before = connection.bufferedAmount;
        connection.send('x'.repeat(100));
        seen.resolve({ before, after: connection.bufferedAmount });
      },
    });
    client.send('go');
    const { before, after } = await withTimeout(seen.promise, 'the handler');
    assert.equal(before, 0);
    // 2 bytes of header, 100 of payload: in the batcher until the read is done.
    assert.equal(after, 102);
  });
});

describe('sockwave client: flow control, close timeouts and misbehaving servers (real sockets)', { timeout: 60_000 }, () => {
  async function rawServer(t: TestContext, after101?: Buffer): Promise<Awaited<ReturnType<typeof startRawWsServer>>> {
    const raw = await startRawWsServer(after101);
    t.after(() => raw.close());
    return raw;
  }

  async function client(t: TestContext, url: string, options?: Parameters<typeof connect>[1]): Promise<{ conn: Connection; rec: ConnectionRecord }> {
    const conn = await withTimeout(connect(url, options), 'connect()');
    t.after(() => conn.terminate());
    return { conn, rec: record(conn, 'the client') };
  }

  test("send() answers 'sent' under highWaterMark and 'backpressure' past it", async (t) => {
    const { client: conn, srv } = await pair(t);
    assert.equal(conn.send(Buffer.alloc(100)), 'sent');
    const big = await connect(srv.url, { highWaterMark: 1024 });
    t.after(() => big.terminate());
    assert.equal(big.send(Buffer.alloc(100)), 'sent');
    assert.equal(big.send(Buffer.alloc(2000)), 'backpressure');
    assert.ok(big.bufferedAmount > 1024);
  });

  test("no 'drain' without 'backpressure' first, even when the socket itself had to drain", async (t) => {
    const { srv } = await pair(t);
    const conn = await connect(srv.url, { highWaterMark: 64 * 1024 * 1024 });
    t.after(() => conn.terminate());
    let drains = 0;
    conn.on('drain', () => void drains++);
    // 8 MB: more than the operating system takes at once, far under this highWaterMark.
    assert.equal(conn.send(Buffer.alloc(8 * 1024 * 1024), () => {}), 'sent');
    const socket = (conn as unknown as { socket: Socket }).socket;
    await new Promise((resolve) => setImmediate(resolve));
    if (socket.writableNeedDrain) await nextEvent(socket, 'drain', "the socket's 'drain'");
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drains, 0);
  });

  test("a send that buffers exactly highWaterMark bytes answers 'sent', on the general path too", async (t) => {
    const { srv } = await pair(t);
    const conn = await connect(srv.url, { highWaterMark: 1000 });
    t.after(() => conn.terminate());
    // 992 bytes of payload and 8 of masked header: exactly the mark. (A callback takes the general path.)
    assert.equal(conn.send(Buffer.alloc(992), () => {}), 'sent');
    assert.equal(conn.bufferedAmount, 1000);
    assert.equal(conn.send(Buffer.alloc(0), () => {}), 'backpressure');
  });

  test("'drain' follows 'backpressure' once a peer that stopped reading reads again", { timeout: 30_000 }, async (t) => {
    const raw = await rawServer(t);
    const { conn } = await client(t, raw.url, { highWaterMark: 1024 * 1024 });
    const socket = await raw.sockets.next('the server socket');
    const drained = nextEvent(conn, 'drain', "the 'drain' event", 20_000);
    let result = '';
    for (let i = 0; i < 32; i++) result = conn.send(Buffer.alloc(1024 * 1024, i));
    assert.equal(result, 'backpressure');
    // Let the batch reach the socket while nobody reads, then read (and discard) everything.
    await new Promise((resolve) => setImmediate(resolve));
    // Behind the drain marker: when it comes back these still wait in the socket, whose own 'drain'
    // then has to report the end of the backpressure.
    assert.equal(conn.send(Buffer.alloc(4 * 1024 * 1024)), 'backpressure');
    await new Promise((resolve) => setImmediate(resolve));
    socket.resume();
    await drained;
    assert.ok(conn.bufferedAmount <= 1024 * 1024, `bufferedAmount ${conn.bufferedAmount}`);
  });

  test(
    "'drain' follows 'backpressure' when the operating system takes every byte at once",
    async (t) => {
      const { srv } = await pair(t);
      const { conn } = await client(t, `${srv.url}/`, { highWaterMark: 1024 });
      const drained = nextEvent(conn, 'drain', "the 'drain' event", 2000);
      assert.equal(conn.send(Buffer.alloc(8000)), 'backpressure');
      await drained;
    },
  );

  test("'drain' follows 'backpressure' once a message compressed in the thread pool is out, with no write left to wake it", async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const { conn } = await client(t, `${srv.url}/`, { perMessageDeflate: true, highWaterMark: 4096 });
    const codec = conn.deflate;
    assert.ok(codec, 'permessage-deflate was not negotiated');
    // The thread pool's answer is held back until the drain marker written behind the send is done.
    const real = codec.compress.bind(codec);
    const compressed = deferred<() => void>();
    codec.compress = (data, callback) => real(data, (error, out) => compressed.resolve(() => callback(error, out)));
    let drains = 0;
    conn.on('drain', () => void drains++);
    // One letter 400 000 times: over highWaterMark while it is compressed, under 2 kB after.
    assert.equal(conn.send('d'.repeat(400_000)), 'backpressure');
    const finish = await withTimeout(compressed.promise, 'the compression');
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drains, 0, "no 'drain' while the message still counts as buffered");
    assert.ok(conn.bufferedAmount >= 400_000, `bufferedAmount ${conn.bufferedAmount}`);
    // The marker has found the bytes still held by the compression: only its end can report the drain.
    const drained = nextEvent(conn, 'drain', "the 'drain' event", 2000);
    finish();
    assert.ok(conn.bufferedAmount <= 4096, `bufferedAmount ${conn.bufferedAmount}`);
    await drained;
    assert.equal(drains, 1);
  });

  test("'drain' follows 'backpressure' when more is sent after the drain marker went out, before it came back", async (t) => {
    const { srv } = await pair(t);
    const { conn } = await client(t, `${srv.url}/`, { highWaterMark: 1024 });
    const drained = nextEvent(conn, 'drain', "the 'drain' event", 2000);
    assert.equal(conn.send(Buffer.alloc(2000)), 'backpressure');
    // Queued behind the write of the first message and its marker: sent before the marker's callback,
    // so that the marker finds 2000 bytes still waiting and has to write another behind them.
    process.nextTick(() => assert.equal(conn.send(Buffer.alloc(2000)), 'backpressure'));
    await drained;
    assert.equal(conn.bufferedAmount, 0);
  });

  test('close() against a server that never answers the close frame ends with 1006 after closeTimeout', async (t) => {
    const raw = await rawServer(t);
    const { conn, rec } = await client(t, raw.url, { closeTimeout: 200 });
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    conn.close(1000, 'bye');
    const frame = await peer.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(frame.masked, true, 'a client frame is masked');
    assert.deepEqual(closePayload(frame.payload), { code: 1000, reason: 'bye' });
    assertCloseInfo(await rec.closed(), { code: 1006, reason: '', wasClean: false, remote: false }, 'client');
    await peer.waitClosed('the client to drop the TCP connection');
  });

  test('after the close handshake the client waits for the server to close TCP, then reports a clean close', async (t) => {
    const raw = await rawServer(t);
    const { conn, rec } = await client(t, raw.url, { closeTimeout: 5000 });
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    peer.write(serverFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b]) }));
    const echo = await peer.readFrame();
    assert.deepEqual(closePayload(echo.payload), { code: 1000, reason: '' });
    assert.equal(conn.status, 'closing');
    // RFC 6455 §7.1.1: the server closes TCP first; the client sends no FIN of its own meanwhile.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(peer.ended, false, 'the client ended TCP before the server did');
    peer.socket.end();
    assertCloseInfo(await rec.closed(), { code: 1000, reason: 'ok', wasClean: true, remote: true }, 'client');
  });

  test("the close echo restarts the close timer: the wait for the server's TCP close is a full closeTimeout", async (t) => {
    const raw = await rawServer(t);
    const { conn } = await client(t, raw.url, { closeTimeout: 1000 });
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    const clock = FakeClock.install(t);
    const closes: CloseInfo[] = [];
    conn.on('close', (info: CloseInfo) => void closes.push(info));
    // The close timer starts with our close frame (the wait for the server's)...
    conn.close(1000, 'bye');
    assert.equal((await peer.readFrame()).opcode, 0x8);
    await clock.advance(600, 10);
    // ...and starts again with the server's echo (the wait for its TCP close), at 600 ms.
    peer.write(serverFrame({ opcode: 0x8, payload: closeBody(1000, 'bye') }));
    await clock.advance(600, 10);
    assert.equal(closes.length, 0, 'dropped at the first deadline (1000 ms), not 1000 ms after the echo');
    assert.equal(conn.status, 'closing');
    await clock.advance(600, 10);
    await peer.waitClosed('the client to drop the TCP connection');
    assert.equal(closes[0]?.code, 1000);
  });

  test('a server that resets TCP after the close handshake leaves an unclean close, with its code, and the error reported', async (t) => {
    const raw = await rawServer(t);
    const { conn, rec } = await client(t, raw.url, { closeTimeout: 5000 });
    const errors: Error[] = [];
    conn.on('error', (error: Error) => void errors.push(error));
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    peer.write(serverFrame({ opcode: 0x8, payload: closeBody(1000, 'ok') }));
    assert.equal((await peer.readFrame()).opcode, 0x8);
    peer.socket.resetAndDestroy();
    assertCloseInfo(await rec.closed(), { code: 1000, reason: 'ok', wasClean: false, remote: true }, 'client');
    assert.equal((errors[0] as SockwaveError | undefined)?.code, 'SW_SOCKET_ERROR');
  });

  test('after the close handshake, a server that never closes TCP is dropped after closeTimeout', async (t) => {
    const raw = await rawServer(t);
    const { rec } = await client(t, raw.url, { closeTimeout: 100 });
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    peer.write(serverFrame({ opcode: 0x8, payload: closeBody(1000, 'ok') }));
    assert.equal((await peer.readFrame()).opcode, 0x8);
    // The server keeps TCP open: the client gives up waiting, and closes it.
    await peer.waitClosed('the client to drop the TCP connection');
    assert.equal((await rec.closed()).code, 1000);
  });

  test('a frame the server sends in the same packet as its 101 is delivered', async (t) => {
    const raw = await rawServer(t, serverFrame({ opcode: 0x1, payload: 'right away ✓' }));
    const { rec } = await client(t, raw.url);
    const message = await rec.messages.next('the first message');
    assert.deepEqual([message.data, message.isBinary], ['right away ✓', false]);
  });

  test('a message and a close frame sent right behind the 101, then FIN, are all delivered in order', async (t) => {
    const closeFrame = serverFrame({ opcode: 0x8, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]) });
    const raw = await rawServer(t, Buffer.concat([serverFrame({ opcode: 0x1, payload: 'hi' }), closeFrame]));
    const { rec } = await client(t, raw.url);
    const socket = await raw.sockets.next('the server socket');
    socket.resume();
    socket.end();
    assert.equal((await rec.messages.next('the message')).data, 'hi');
    assertCloseInfo(await rec.closed(), { code: 1000, reason: 'bye', wasClean: true, remote: true }, 'client');
  });

  test('a server that closes TCP without a close frame gives the client 1006, remote, not clean', async (t) => {
    const raw = await rawServer(t);
    const { rec } = await client(t, raw.url);
    const socket = await raw.sockets.next('the server socket');
    socket.resume();
    socket.end();
    assertCloseInfo(await rec.closed(), { code: 1006, reason: '', wasClean: false, remote: true }, 'client');
  });

  test('after the peer ends TCP without a close frame, send() refuses (dropped, with an error) instead of losing the message', async (t) => {
    const raw = await rawServer(t);
    const { conn, rec } = await client(t, raw.url);
    const socket = await raw.sockets.next('the server socket');
    socket.resume();
    const results = deferred<{ result: string; error: Error | undefined }>();
    // (Runs right after the connection's own 'end' listener, before the TCP close is reported.)
    (conn as unknown as { socket: Socket }).socket.once('end', () => {
      assert.equal(conn.status, 'open', 'the close is not reported yet');
      const result = conn.send('typed as the peer left', (error) => results.resolve({ result, error: error ?? undefined }));
    });
    socket.end();
    const { result, error } = await results.promise;
    assert.equal(result, 'dropped');
    assert.match(error?.message ?? '', /without a close frame/);
    assertCloseInfo(await rec.closed(), { code: 1006, reason: '', wasClean: false, remote: true }, 'client');
  });

  test('a masked frame from the server fails the client connection with 1002', async (t) => {
    const raw = await rawServer(t);
    const { rec } = await client(t, raw.url);
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    peer.write(rawFrame({ opcode: 0x1, payload: 'masked', mask: true }));
    const frame = await peer.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1002);
    const error = await rec.errors.next('the error event');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1002);
    peer.socket.end();
    const info = await rec.closed();
    assert.equal(info.code, 1002);
    assert.equal(info.wasClean, false);
  });

  test('a message over the client maxPayload fails the connection with 1009', async (t) => {
    const raw = await rawServer(t);
    const { rec } = await client(t, raw.url, { maxPayload: 100 });
    const peer = RawClient.wrap(await raw.sockets.next('the server socket'));
    peer.write(serverFrame({ opcode: 0x2, payload: Buffer.alloc(101) }));
    const frame = await peer.readFrame();
    assert.equal(closePayload(frame.payload).code, 1009);
    const error = await rec.errors.next('the error event');
    assert.equal(error.code, 'SW_MESSAGE_TOO_BIG');
  });

  test('an idle connection carries no listener table and no counters; both appear when needed', async (t) => {
    const opened = deferred<Connection>();
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, onConnection: () => ({ onOpen: (conn) => opened.resolve(conn) }) });
    const { url } = await server.listen();
    t.after(() => server.close({ timeout: 100 }));
    const client = await withTimeout(connect(url), 'connect()');
    t.after(() => client.terminate());
    const conn = await withTimeout(opened.promise, 'the server-side open');
    // The memory an idle connection saves: EventEmitter's per-instance dictionary is made on first use.
    assert.equal((conn as unknown as { _events: unknown })._events, undefined);
    // Nor traffic counters until there is traffic (server.stats() counts it as zero meanwhile).
    assert.equal(conn.statsIfAny, undefined);
    assert.equal(server.stats().messagesIn, 0);
    assert.equal(conn.statsIfAny, undefined);
    assert.equal(conn.listenerCount('message'), 0);
    assert.deepEqual(conn.eventNames(), []);
    conn.removeAllListeners('message');
    conn.off('message', () => {});
    const once = deferred<string>();
    const every: string[] = [];
    conn.once('message', (data) => once.resolve(String(data)));
    conn.on('message', (data) => every.push(String(data)));
    assert.equal(conn.listenerCount('message'), 2);
    client.send('first');
    assert.equal(await withTimeout(once.promise, 'the once listener'), 'first');
    client.send('second');
    await withTimeout(new Promise<void>((resolve) => conn.once('message', () => resolve())), 'the second message');
    assert.deepEqual(every, ['first', 'second']);
    assert.equal(conn.listenerCount('message'), 1);
    assert.equal(conn.stats.messagesIn, 2);
    assert.equal(server.stats().messagesIn, 2);
  });
});

test('a client connection still knows its peer after the socket closed, and its url and role', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const { url, port } = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  const client = await connect(`${url}/a?b=1`);
  assert.equal(client.role, 'client');
  assert.equal(client.url, `${url}/a?b=1`);
  // A client's headers are the 101 response's, as an object already.
  assert.equal(client.headers['upgrade']?.toLowerCase(), 'websocket');
  assert.equal(client.headers, client.headers);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.close(1000);
  await closed;
  assert.equal(client.remoteAddress, '127.0.0.1');
  assert.equal(client.remotePort, port);
});

describe('a Connection built on a bare socket', () => {
  test('before open(), is connecting, with no subprotocol, no extensions, and a peer that is not known yet', () => {
    const connection = new Connection(new Socket(), { role: 'server', maxPayload: 1024, url: '/x', headers: {} });
    assert.equal(connection.status, 'connecting');
    assert.equal(connection.readyState, 0);
    assert.equal(connection.protocol, '');
    assert.equal(connection.extensions, '');
    // An unconnected socket has neither address nor port yet.
    assert.equal(connection.remoteAddress, '');
    assert.equal(connection.remotePort, 0);
    assert.equal(connection.url, '/x');
    // Nothing written yet: no write batcher, nothing buffered.
    assert.equal(connection.bufferedAmount, 0);
  });

  test('open() a second time does nothing: one onOpen, one open event, one set of socket listeners', () => {
    const socket = new Socket();
    let opens = 0;
    const connection = new Connection(socket, { role: 'server', maxPayload: 1024, url: '/', headers: {}, handler: { onOpen: () => void opens++ } });
    connection.on('open', () => void opens++);
    connection.open();
    assert.equal(connection.status, 'open');
    connection.open();
    assert.equal(opens, 2);
    assert.equal(socket.listenerCount('close'), 1);
    assert.equal(socket.listenerCount('data'), 1);
    socket.destroy();
  });

  test("a socket error reaches onError, and with no 'error' listener is not thrown", () => {
    const socket = new Socket();
    const errors: string[] = [];
    const connection = new Connection(socket, { role: 'server', maxPayload: 1024, url: '/', headers: {}, handler: { onError: (_c, error) => void errors.push(error.code) } });
    connection.open();
    assert.doesNotThrow(() => socket.emit('error', new Error('reset')));
    assert.deepEqual(errors, ['SW_SOCKET_ERROR']);
    socket.destroy();
  });

  test('opened on a socket already destroyed, it reports its close (1006) instead of opening', async () => {
    const socket = new Socket();
    socket.destroy();
    // Its 'close' event is gone by: the connection can hear of the close only from open() itself.
    await nextEvent(socket, 'close');
    const connection = new Connection(socket, { role: 'server', maxPayload: 1024, url: '/', headers: {} });
    const opened: string[] = [];
    connection.on('open', () => void opened.push('open'));
    const closed = nextEvent<[CloseInfo]>(connection, 'close');
    connection.open();
    const [info] = await closed;
    assert.equal(info.code, 1006);
    assert.equal(connection.status, 'closed');
    assert.deepEqual(opened, []);
  });

  test("opened on a socket destroyed whose 'close' event is still to come, it reports its close once", async () => {
    const socket = new Socket();
    socket.destroy();
    const connection = new Connection(socket, { role: 'server', maxPayload: 1024, url: '/', headers: {} });
    const closes: CloseInfo[] = [];
    connection.on('close', (info: CloseInfo) => void closes.push(info));
    // Both open() and the socket's 'close' event report the close: the second finds it done.
    connection.open();
    await nextEvent(socket, 'close');
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closes.length, 1);
    assert.equal(closes[0]?.code, 1006);
  });
});

describe('traffic counters', () => {
  test('messages and payload bytes are counted on both paths of send(), and on arrival', async (t) => {
    const { client, side } = await pair(t, {});
    const sent = deferred();
    // With a callback, send() takes its general path; without, its small-message one.
    client.send('abc', () => sent.resolve());
    client.send(Buffer.from('defg'));
    await withTimeout(sent.promise, 'the send callback');
    assert.equal(client.stats.messagesOut, 2);
    assert.equal(client.stats.bytesOut, 7);
    // On the wire, masked: 2 bytes of header and 4 of mask each.
    assert.equal(client.stats.wireBytesOut, 19);
    await side.rec.messages.take(2, 'both messages');
    assert.equal(side.connection.stats.messagesIn, 2);
    assert.equal(side.connection.stats.bytesIn, 7);
    assert.equal(side.connection.stats.wireBytesIn, 19);
  });
});

describe('a send over maxBufferedAmount', () => {
  test("a text whose UTF-8 is three times its length is held to maxBufferedAmount by its bytes (policy 'drop')", async (t) => {
    const { crec, side } = await pair(t, {}, { maxBufferedAmount: 115, slowConsumer: 'drop' });
    // 40 characters, 120 bytes: over the limit, though twice its length would not be, nor its
    // bytes less a frame header.
    assert.equal(side.connection.send('€'.repeat(40)), 'dropped');
    assert.equal(side.connection.stats.dropped, 1);
    assert.equal(side.connection.send('€'.repeat(30)), 'sent');
    assert.equal((await crec.messages.next('the 90-byte text')).data, '€'.repeat(30));
  });

  test("policy 'drop': send() with a callback answers 'dropped' and fails the callback; the connection stays open", async (t) => {
    const { client, crec, side } = await pair(t, {}, { maxBufferedAmount: 10, slowConsumer: 'drop' });
    const callback = deferred<Error | null | undefined>();
    assert.equal(side.connection.send('x'.repeat(100), (error) => callback.resolve(error)), 'dropped');
    const error = await withTimeout(callback.promise, 'the send callback');
    assert.ok(error instanceof SockwaveError, `the callback got ${String(error)}`);
    assert.equal(error.code, 'SW_INVALID_STATE');
    assert.equal(side.connection.stats.dropped, 1);
    // A drop is no error: only policy 'close' reports one.
    assert.equal(side.rec.errors.history.length, 0);
    assert.equal(side.connection.send('small'), 'sent');
    assert.equal((await crec.messages.next('the small message')).data, 'small');
    assert.equal(client.status, 'open');
  });
});

describe('automatic pongs and maxBufferedAmount', () => {
  test("policy 'drop': a pong whose frame would pass the limit is left unanswered; one that just fits is sent", async (t) => {
    const { client, crec, side } = await pair(t, echo, { maxBufferedAmount: 10, slowConsumer: 'drop' });
    // 8 bytes of payload and 2 of header: exactly the limit.
    client.ping('12345678');
    assert.equal(String(await crec.pongs.next('the pong')), '12345678');
    // 9 and 2: one byte over. (Had the pong gone out, its bytes would leave no room for the echo.)
    client.ping('123456789');
    client.send('b');
    await crec.messages.next('the echo');
    assert.deepEqual(crec.pongs.history.map(String), ['12345678']);
    assert.equal(side.connection.stats.dropped, 0, 'a pong left unanswered is no message dropped');
  });
});

describe("policy 'wait' over maxBufferedAmount", () => {
  test('one limit event per slow spell, however many sends go over meanwhile; reading resumes once drained', async (t) => {
    const { crec, side, srv } = await pair(t, echo, { maxBufferedAmount: 1000, slowConsumer: 'wait' });
    const limits: string[] = [];
    srv.server.on('limit', (event) => void limits.push(event.limit));
    const drained = nextEvent(side.connection, 'drain');
    // In one tick, so that the bytes are all still buffered: over the limit, under twice it.
    assert.equal(side.connection.send('x'.repeat(1500)), 'sent');
    assert.equal(side.connection.isPaused, true);
    assert.notEqual(side.connection.send('y'.repeat(300)), 'dropped');
    assert.deepEqual(limits, ['maxBufferedAmount']);
    await crec.messages.take(2, 'both messages');
    await drained;
    assert.equal(side.connection.isPaused, false);
    // A second slow spell is one more: paused and reported again, then drained again.
    const drainedAgain = nextEvent(side.connection, 'drain', "the second 'drain'", 2000);
    assert.equal(side.connection.send('z'.repeat(1500)), 'sent');
    assert.equal(side.connection.isPaused, true);
    assert.deepEqual(limits, ['maxBufferedAmount', 'maxBufferedAmount']);
    await crec.messages.next('the third message');
    await drainedAgain;
    assert.equal(side.connection.isPaused, false);
  });
});

describe("policy 'wait' at twice maxBufferedAmount", () => {
  test('a message that takes the buffer to exactly twice the limit is accepted; one byte more is dropped', async (t) => {
    const { crec, side } = await pair(t, echo, { maxBufferedAmount: 1000, slowConsumer: 'wait' });
    // In one tick: 1500 bytes of payload and 4 of header still buffered.
    assert.equal(side.connection.send('x'.repeat(1500)), 'sent');
    assert.equal(side.connection.bufferedAmount, 1504);
    assert.equal(side.connection.send('y'.repeat(496)), 'sent');
    assert.equal(side.connection.send('z'.repeat(1)), 'dropped');
    assert.equal(side.connection.stats.dropped, 1);
    const [first, second] = await crec.messages.take(2, 'the two accepted messages');
    assert.equal(String(first!.data).length, 1500);
    assert.equal(String(second!.data).length, 496);
  });
});

describe("the server's count of dropped messages", () => {
  test('counts a drop once, whether the connection was closing or already closed', async (t) => {
    const { crec, side, srv } = await pair(t, {});
    side.connection.close(1000);
    assert.equal(side.connection.send('while closing'), 'dropped');
    await Promise.all([crec.closed(), side.rec.closed()]);
    assert.equal(srv.server.stats().dropped, 1);
    assert.equal(side.connection.send('once closed'), 'dropped');
    assert.equal(srv.server.stats().dropped, 2);
  });
});

describe('a broadcast frame (sendEncoded)', () => {
  test('is counted, dropped over maxBufferedAmount, and dropped once close() is asked for', async (t) => {
    const { crec, side, srv } = await pair(t, {}, { maxBufferedAmount: 115, slowConsumer: 'drop' });
    const [result] = srv.server.broadcast('x'.repeat(200), { report: true });
    assert.equal(result?.success, false, 'a dropped frame reported as written');
    assert.equal(side.connection.stats.dropped, 1);
    assert.equal(side.connection.stats.messagesOut, 0);
    srv.server.broadcast('hello');
    assert.equal((await crec.messages.next('the broadcast')).data, 'hello');
    assert.equal(side.connection.stats.messagesOut, 1);
    assert.equal(side.connection.stats.bytesOut, 5);
    side.connection.close(1000);
    const [late] = srv.server.broadcast('too late', { report: true });
    assert.equal(late?.success, false, 'a frame dropped while closing reported as written');
    assert.equal(side.connection.stats.dropped, 2);
    await crec.closed();
    assert.equal(crec.messages.history.length, 1);
  });

  test("past highWaterMark is backpressure like any send: the connection's 'drain' follows once it is written", async (t) => {
    const { crec, side, srv } = await pair(t, {}, { highWaterMark: 100 });
    const drained = nextEvent(side.connection, 'drain', "the 'drain' event", 2000);
    srv.server.broadcast('x'.repeat(200));
    assert.ok(side.connection.bufferedAmount > 100, `bufferedAmount ${side.connection.bufferedAmount}`);
    await drained;
    assert.equal(String((await crec.messages.next('the broadcast')).data).length, 200);
  });

  test('waits behind a message being compressed in the thread pool', async (t) => {
    const srv = await startServer({ perMessageDeflate: true, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await withTimeout(connect(`${srv.url}/`, { perMessageDeflate: true }), 'connect()');
    t.after(() => client.terminate());
    const crec = record(client, 'the client');
    const side = await srv.connections.next('the server-side connection');
    side.connection.send('b'.repeat(400_000));
    // Under the compression threshold: one plain frame, shared by every receiver.
    srv.server.broadcast('small');
    const [first, second] = await crec.messages.take(2, 'both messages');
    assert.equal(String(first!.data).length, 400_000);
    assert.equal(second!.data, 'small');
  });
});

describe('rate limit', () => {
  test('pongs count as messages do: a flood of unasked pongs is failed with 1008', async (t) => {
    FakeClock.install(t);
    const { client, crec, side } = await pair(t, echo, { rateLimit: { messagesPerSecond: 5 } });
    for (let i = 0; i < 5; i++) client.pong(`p${i}`);
    await side.rec.pongs.take(5, 'five pongs');
    client.pong('one too many');
    const outcome = await Promise.race([crec.closed().then((info) => `closed with ${info.code}`), side.rec.pongs.next().then((pong) => `pong ${String(pong)}`)]);
    assert.equal(outcome, 'closed with 1008');
    assert.equal(side.rec.pongs.history.length, 5);
  });

  test('the buckets refill with the time a read arrives, not with the coarse clock (which only the heartbeat ticks)', async (t) => {
    FakeClock.install(t);
    const { client, crec } = await pair(t, echo, { rateLimit: { messagesPerSecond: 10 } });
    for (let i = 0; i < 10; i++) client.send(`m${i}`);
    await crec.messages.take(10, 'ten echoes');
    // A second passes; nothing ticks the coarse clock meanwhile.
    t.mock.timers.tick(1000);
    for (let i = 0; i < 10; i++) client.send(`n${i}`);
    const outcome = await Promise.race([crec.messages.take(10).then(() => 'ten more echoes'), crec.closed().then((info) => `closed with ${info.code}`)]);
    assert.equal(outcome, 'ten more echoes');
  });
});

describe('round-trip time', () => {
  test('a pong answering the outstanding heartbeat ping gives the time since the ping, and clears it', async (t) => {
    const clock = FakeClock.install(t);
    const { client, side } = await pair(t);
    // What the heartbeat does when it pings.
    side.connection.pingSentAt = clock.now;
    t.mock.timers.tick(250);
    client.pong('late');
    await side.rec.pongs.next('the pong');
    assert.equal(side.connection.rtt, 250);
    assert.equal(side.connection.pingSentAt, 0);
  });
});

describe('pause() and resume()', () => {
  test('a paused server connection, once resumed, reads again and gets what was sent meanwhile', async (t) => {
    const { client, side } = await pair(t);
    side.connection.pause();
    assert.equal(side.connection.isPaused, true);
    client.send('while paused');
    side.connection.resume();
    assert.equal(side.connection.isPaused, false);
    assert.equal((await side.rec.messages.next('the message sent while paused')).data, 'while paused');
  });


  test('pause() in onOpen holds reading from the start: the socket is never resumed until resume()', async (t) => {
    const { client, side } = await pair(t, { onOpen: (connection) => connection.pause() });
    const socket = (side.connection as unknown as { socket: Socket }).socket;
    client.send('held');
    assert.equal(side.connection.isPaused, true);
    assert.equal(socket.isPaused(), true);
    side.connection.resume();
    assert.equal(socket.isPaused(), false);
    assert.equal((await side.rec.messages.next('the held message')).data, 'held');
  });


  test('paused for two reasons (the application, a full pull reader), reading resumes only once both are gone', async (t) => {
    const { client, side } = await pair(t);
    const socket = (side.connection as unknown as { socket: Socket }).socket;
    side.connection.messages({ maxBufferedMessages: 1 });
    client.send('a');
    client.send('b');
    await side.rec.messages.take(2, 'both messages');
    assert.equal(socket.isPaused(), true, 'the full pull reader pauses reading');
    side.connection.pause();
    assert.deepEqual(await side.connection.nextMessage(), { data: 'a', isBinary: false });
    assert.deepEqual(await side.connection.nextMessage(), { data: 'b', isBinary: false });
    // The reader has room again, but the application still holds reading.
    assert.equal(side.connection.isPaused, true);
    assert.equal(socket.isPaused(), true);
    side.connection.resume();
    assert.equal(socket.isPaused(), false);
  });

  test('a full pull reader does not pause reading once the connection sent its close frame', async (t) => {
    const { client, side } = await pair(t);
    side.connection.messages({ maxBufferedMessages: 1 });
    // Read by the server after its close frame went out.
    client.send('a');
    client.send('b');
    side.connection.close(1000);
    await side.rec.messages.take(2, 'both messages');
    assert.equal(side.connection.isPaused, false);
    assert.equal((await side.rec.closed()).wasClean, true);
  });

  test('a server connection paused by the application still reads the close echo after its own close()', async (t) => {
    const { crec, side } = await pair(t);
    side.connection.pause();
    side.connection.close(1000, 'bye');
    const [atServer, atClient] = await Promise.all([side.rec.closed(), crec.closed()]);
    assert.deepEqual(atServer, { code: 1000, reason: '', wasClean: true, remote: false });
    assert.equal(atClient.wasClean, true);
  });

  test('pause() after its own close() does not pause: the close echo is still read', async (t) => {
    const { crec, side } = await pair(t);
    side.connection.close(1000, 'bye');
    side.connection.pause();
    assert.equal(side.connection.isPaused, false);
    const [atServer, atClient] = await Promise.all([side.rec.closed(), crec.closed()]);
    assert.deepEqual(atServer, { code: 1000, reason: '', wasClean: true, remote: false });
    assert.equal(atClient.wasClean, true);
  });
});

describe('the close handshake, server side', () => {
  test('once the close frames are exchanged, the server closes TCP first (RFC 6455 §7.1.1)', async (t) => {
    const srv = await startServer({ onConnection: () => ({}) });
    t.after(() => srv.close());
    const peer = await rawUpgrade(srv.port);
    t.after(() => peer.destroy());
    peer.write(clientFrame({ opcode: 0x8, payload: closeBody(1000) }));
    assert.equal((await peer.readFrame()).opcode, 0x8);
    // The peer does not close its end: the server must.
    await peer.waitClosed('the server to close TCP');
  });

  test("a client that keeps TCP half-open after the server's FIN is dropped after closeTimeout", async (t) => {
    const srv = await startServer({ closeTimeout: 100, onConnection: () => ({}) });
    t.after(() => srv.close());
    const peer = await rawUpgrade(srv.port);
    t.after(() => peer.destroy());
    // This side never ends its half: only the server's close timer can end the connection.
    peer.socket.allowHalfOpen = true;
    const side = await srv.connections.next('the server-side connection');
    peer.write(clientFrame({ opcode: 0x8, payload: closeBody(1000) }));
    assert.equal((await peer.readFrame()).opcode, 0x8);
    await peer.waitClosed('the server to drop the half-open connection');
    assert.equal(peer.ended, true, 'the server sent FIN first');
    assert.equal((await side.rec.closed()).code, 1000);
  });
});

describe('protocol errors', () => {
  test('one that is not a limit (an unmasked client frame) is no limit event and no limit count', async (t) => {
    const srv = await startServer({ onConnection: () => ({}) });
    t.after(() => srv.close());
    const limits: unknown[] = [];
    srv.server.on('limit', (event) => void limits.push(event));
    const peer = await rawUpgrade(srv.port);
    t.after(() => peer.destroy());
    peer.write(rawFrame({ opcode: 0x1, payload: 'unmasked' }));
    const frame = await peer.readFrame();
    assert.equal(closePayload(frame.payload).code, 1002);
    await (await srv.connections.next('the server-side connection')).rec.closed();
    assert.deepEqual(limits, []);
    assert.ok(Object.values(srv.server.stats().limits).every((count) => count === 0));
  });
});

describe('send() option checks', () => {
  test('bad options throw and send nothing, with or without a callback', async (t) => {
    const { client, crec } = await pair(t);
    assert.throws(() => client.send('x', { fragmentSize: 0 }), RangeError);
    assert.throws(() => client.send('x', { binary: 'yes' as unknown as boolean }), TypeError);
    assert.throws(() => client.send('x', { fragmentSize: 1.5 }, () => {}), RangeError);
    client.send('after');
    assert.equal((await crec.messages.next('the echo')).data, 'after');
  });
});

describe('a handler that throws', () => {
  test("onClose: the error reaches the process, and 'close' listeners and the pull reader still hear of the close", async (t) => {
    const { messages: uncaught } = catchUncaught(t);
    const raw = await startRawWsServer(serverFrame({ opcode: 0x1, payload: 'last words' }));
    t.after(() => raw.close());
    const conn = await connect(raw.url, { handler: { onClose: () => { throw new Error('a bug in onClose'); } } });
    t.after(() => conn.terminate());
    const heard = nextEvent<[CloseInfo]>(conn, 'close', "the 'close' event");
    const pulled = (async () => {
      const got: unknown[] = [];
      for await (const message of conn) got.push(message.data);
      return got;
    })();
    (await raw.sockets.next('the upgraded socket')).destroy();
    const [info] = await heard;
    assert.equal(info.code, 1006);
    assert.deepEqual(await withTimeout(pulled.catch((error: Error) => error.name), 'the pull loop to end'), 'ConnectionClosedError');
    assert.deepEqual(uncaught, ['a bug in onClose']);
  });

  test('onError on a dead peer found by the heartbeat: the error reaches the process, and the connection is dropped all the same', async (t) => {
    const { messages: uncaught } = catchUncaught(t);
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const conn = await connect(raw.url, { handler: { onError: () => { throw new Error('a bug in onError'); } } });
    t.after(() => conn.terminate());
    const closed = nextEvent<[CloseInfo]>(conn, 'close', 'the drop');
    const stop = startClientHeartbeat(conn, 30, 120);
    t.after(stop);
    const [info] = await closed;
    assert.equal(info.code, 1006);
    assert.deepEqual(uncaught, ['a bug in onError']);
  });
});
