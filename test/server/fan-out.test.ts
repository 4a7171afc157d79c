/**
 * The client registry and fan-out over real sockets: server.clients, broadcast() (except, filter,
 * report), sendTo(). Wire sizes are checked against the frames a raw client actually reads.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { constants as zlib, inflateRawSync } from 'node:zlib';
import { WebSocketServer, type Connection, type TargetResult } from '../../src/index.js';
import { payloadBytes, sha256, type ServerFrame, type StartedServer } from '../support/net.js';
import { headerLength } from '../support/frames.js';
import { RawPeer, serve, wsClient } from '../support/server-kit.js';

async function rawPeers<D>(t: TestContext, srv: StartedServer<D>, count: number, extra: readonly string[] = []): Promise<Array<{ peer: RawPeer; connection: Connection<D> }>> {
  const out: Array<{ peer: RawPeer; connection: Connection<D> }> = [];
  for (let i = 0; i < count; i++) {
    const peer = await RawPeer.open(srv.port, { extra });
    t.after(() => peer.destroy());
    out.push({ peer, connection: (await srv.connections.next(`server-side connection ${i}`)).connection });
  }
  return out;
}

/** The next data frame a raw peer reads, and its size on the wire. */
async function nextFrame(peer: RawPeer): Promise<{ frame: ServerFrame; size: number }> {
  const frame = await peer.frames.next('a frame');
  return { frame, size: frame.size };
}

function inflate(payload: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([payload, Buffer.from([0x00, 0x00, 0xff, 0xff])]), { finishFlush: zlib.Z_SYNC_FLUSH });
}

/** What a connection hands its socket, uncopied: the socket's write() spied on. */
/**
 * The bytes a connection hands its socket's handle, write by write (empty writes left out): what
 * goes through the socket's stream and what is written straight to the handle (writeToHandle)
 * both end in the handle's writeBuffer or writev. Watched on the handles' prototype (restored
 * after the test), so that the handle itself stays as writeToHandle expects it.
 */
type Handle = { writeBuffer(request: object, data: Buffer): number; writev(request: object, chunks: Buffer[], allBuffers: boolean): number };
/** The handles watched during the current test, by the prototype watched for them. */
const watching = new Map<Handle, Map<Handle, Buffer[]>>();

function spyWrites(t: TestContext, connection: Connection<unknown>): Buffer[] {
  const handle = (connection as unknown as { socket: { _handle: Handle } }).socket._handle;
  const prototype = Object.getPrototypeOf(handle) as Handle;
  let handles = watching.get(prototype);
  if (handles === undefined) {
    const watched = new Map<Handle, Buffer[]>();
    handles = watched;
    watching.set(prototype, watched);
    const original = { writeBuffer: prototype.writeBuffer, writev: prototype.writev };
    t.after(() => {
      Object.assign(prototype, original);
      watching.delete(prototype);
    });
    prototype.writeBuffer = function (this: Handle, request, data) {
      if (data.length !== 0) watched.get(this)?.push(data);
      return original.writeBuffer.call(this, request, data);
    };
    prototype.writev = function (this: Handle, request, data, allBuffers) {
      watched.get(this)?.push(...data.filter((chunk) => chunk.length !== 0));
      return original.writev.call(this, request, data, allBuffers);
    };
  }
  const chunks: Buffer[] = [];
  handles.set(handle, chunks);
  return chunks;
}

describe('server.clients', { timeout: 60_000 }, () => {
  test('size, iteration in opening order, get(id) and has(id); a connection that closes leaves the registry', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    assert.equal(srv.server.clients.size, 0);
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const sides = await srv.connections.take(3, 'three server-side connections');
    assert.equal(srv.server.clients.size, 3);
    assert.deepEqual([...srv.server.clients].map((c) => c.id), sides.map((s) => s.connection.id));
    for (const side of sides) {
      assert.equal(srv.server.clients.get(side.connection.id), side.connection);
      assert.equal(srv.server.clients.has(side.connection.id), true);
    }
    assert.equal(srv.server.clients.get('no-such-id'), undefined);
    assert.equal(srv.server.clients.has('no-such-id'), false);
    clients[1]!.ws.close(1000);
    await sides[1]!.rec.closed();
    assert.equal(srv.server.clients.size, 2);
    assert.equal(srv.server.clients.get(sides[1]!.connection.id), undefined);
    assert.deepEqual([...srv.server.clients].map((c) => c.id), [sides[0]!.connection.id, sides[2]!.connection.id]);
  });
});

describe('broadcast and sendTo', { timeout: 60_000 }, () => {
  test('broadcast() reaches every open client and returns their number', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    await srv.connections.take(3, 'three server-side connections');
    assert.equal(srv.server.broadcast('hello all ✓'), 3);
    assert.equal(srv.server.broadcast(Buffer.from([1, 2, 3])), 3);
    assert.equal(srv.server.broadcast({ kind: 'json' }), 3);
    assert.equal(srv.server.broadcast('string as binary', { binary: true }), 3);
    for (const { rec } of clients) {
      const got = await rec.messages.take(4, 'four broadcasts');
      assert.deepEqual([got[0]!.data.toString(), got[0]!.isBinary], ['hello all ✓', false]);
      assert.deepEqual([got[1]!.data, got[1]!.isBinary], [Buffer.from([1, 2, 3]), true]);
      assert.deepEqual([JSON.parse(got[2]!.data.toString()), got[2]!.isBinary], [{ kind: 'json' }, false]);
      assert.deepEqual([got[3]!.data.toString(), got[3]!.isBinary], ['string as binary', true]);
    }
  });

  test('broadcast({ except }) leaves out the connections and the ids given', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const sides = (await srv.connections.take(4, 'four server-side connections')).map((s) => s.connection);
    assert.equal(srv.server.broadcast('not for 0 and 2', { except: [sides[0]!, sides[2]!.id] }), 2);
    // An iterable that can be read only once (the backplane reads it too).
    assert.equal(srv.server.broadcast('not for 1', { except: new Map([[sides[1]!.id, 1]]).keys() }), 3);
    assert.equal(srv.server.broadcast('for everyone'), 4);
    const got = await Promise.all(clients.map(({ rec }) => rec.messages.take(2, 'the first messages')));
    assert.deepEqual(
      got.map((messages) => messages.map((m) => m.data.toString())),
      [['not for 1', 'for everyone'], ['not for 0 and 2', 'for everyone'], ['not for 1', 'for everyone'], ['not for 0 and 2', 'not for 1']],
    );
  });

  test('broadcast() and publish() with except: one connection, or one id, leaves out that one (the sender); another kind of value throws', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const sides = (await srv.connections.take(3, 'three server-side connections')).map((s) => s.connection);
    for (const side of sides) side.subscribe('room');
    assert.equal(srv.server.broadcast('not for 0', { except: sides[0]! }), 2);
    assert.equal(srv.server.broadcast('not for 1', { except: sides[1]!.id }), 2);
    assert.equal(srv.server.publish('room', 'not for 2', { except: sides[2]!.id }), 2);
    assert.equal(srv.server.publish('room', 'not for 0 either', { except: sides[0]! }), 2);
    for (const except of [42, { id: sides[0]!.id }, true]) {
      assert.throws(() => srv.server.broadcast('x', { except: except as unknown as string }), { name: 'TypeError', message: /^broadcast: except takes a connection, a connection id, or an iterable of them/ });
      assert.throws(() => srv.server.publish('room', 'x', { except: except as unknown as string }), { name: 'TypeError', message: /^publish: except takes/ });
    }
    assert.equal(srv.server.broadcast('for everyone'), 3);
    const expected = [
      ['not for 1', 'not for 2', 'for everyone'],
      ['not for 0', 'not for 2', 'not for 0 either', 'for everyone'],
      ['not for 0', 'not for 1', 'not for 0 either', 'for everyone'],
    ];
    const got = await Promise.all(clients.map(({ rec }, i) => rec.messages.take(expected[i]!.length, `the messages of client ${i}`)));
    assert.deepEqual(got.map((messages) => messages.map((m) => m.data.toString())), expected);
  });

  test('broadcast({ filter }) reaches only the connections it accepts', async (t) => {
    const srv = await serve<{ room: string }>(t, { onConnection: (request) => ({ data: { room: request.query.get('room') ?? '' } }) });
    const rooms = ['red', 'blue', 'red'];
    const clients = [];
    for (const room of rooms) clients.push(await wsClient(t, `${srv.url}/?room=${room}`));
    await srv.connections.take(3, 'three server-side connections');
    assert.equal(srv.server.broadcast('red only', { filter: (c) => c.data.room === 'red' }), 2);
    assert.equal(srv.server.broadcast('marker'), 3);
    const firsts = await Promise.all(clients.map(({ rec }) => rec.messages.next('the first message')));
    assert.deepEqual(firsts.map((m) => m.data.toString()), ['red only', 'marker', 'red only']);
  });

  for (const size of [5, 200, 70_000]) {
    test(`broadcast({ report: true }) of ${size} bytes: a result per receiver whose wireSize is the size of the frame it read`, async (t) => {
      const srv = await serve(t, { onConnection: () => ({}) });
      const peers = await rawPeers(t, srv, 2);
      const payload = payloadBytes(size, size);
      const results = srv.server.broadcast(payload, { report: true });
      assert.equal(results.length, 2);
      for (let i = 0; i < 2; i++) {
        const { peer, connection } = peers[i]!;
        const result = results.find((r) => r.id === connection.id);
        assert.ok(result, `a result for connection ${i}`);
        const { frame, size: frameSize } = await nextFrame(peer);
        assert.equal(frame.opcode, 0x2);
        assert.equal(sha256(frame.payload), sha256(payload));
        assert.deepEqual(result, { id: connection.id, success: true, payloadSize: size, wireSize: frameSize, compressed: false });
        assert.equal(frameSize, size + headerLength(size, false));
      }
    });
  }

  test('broadcast({ report: true }) to permessage-deflate and plain receivers: compressed frames are reported with their real size', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({}) });
    const [deflated] = await rawPeers(t, srv, 1, ['Sec-WebSocket-Extensions: permessage-deflate']);
    const [plain] = await rawPeers(t, srv, 1);
    assert.match(deflated!.peer.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
    const text = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: i, status: 'ok', tags: ['a', 'b'] })));
    const size = Buffer.byteLength(text);
    const results = srv.server.broadcast(text, { report: true });
    const forDeflated = results.find((r) => r.id === deflated!.connection.id)!;
    const forPlain = results.find((r) => r.id === plain!.connection.id)!;
    const d = await nextFrame(deflated!.peer);
    assert.equal(d.frame.rsv, 0b100, 'RSV1 set on the compressed frame');
    assert.equal(inflate(d.frame.payload).toString(), text);
    assert.deepEqual(forDeflated, { id: deflated!.connection.id, success: true, payloadSize: size, wireSize: d.size, compressed: true });
    assert.ok(forDeflated.wireSize < size / 4, `compressed ${size} bytes to ${forDeflated.wireSize}`);
    const p = await nextFrame(plain!.peer);
    assert.equal(p.frame.rsv, 0);
    assert.equal(p.frame.payload.toString(), text);
    assert.deepEqual(forPlain, { id: plain!.connection.id, success: true, payloadSize: size, wireSize: p.size, compressed: false });
    // Under the threshold (1024 bytes), nothing is compressed.
    const [small] = srv.server.broadcast('tiny', { report: true, filter: (c) => c === deflated!.connection });
    const s = await nextFrame(deflated!.peer);
    assert.equal(s.frame.rsv, 0);
    assert.deepEqual(small, { id: deflated!.connection.id, success: true, payloadSize: 4, wireSize: s.size, compressed: false });
  });

  test(
    'broadcast({ report: true }) to a receiver that keeps its compression context reports the size of the frame it got',
    async (t) => {
      const srv = await serve(t, { perMessageDeflate: { serverNoContextTakeover: false }, onConnection: () => ({}) });
      const [peer] = await rawPeers(t, srv, 1, ['Sec-WebSocket-Extensions: permessage-deflate']);
      assert.doesNotMatch(peer!.peer.headers['sec-websocket-extensions'] ?? '', /server_no_context_takeover/);
      const text = 'context takeover '.repeat(1000);
      const [result] = srv.server.broadcast(text, { report: true });
      const { frame, size } = await nextFrame(peer!.peer);
      assert.equal(frame.rsv, 0b100);
      assert.equal(inflate(frame.payload).toString(), text);
      assert.deepEqual(result, { id: peer!.connection.id, success: true, payloadSize: text.length, wireSize: size, compressed: true });
    },
  );

  test('broadcast({ fragmentSize, report: true }): receivers get fragments, and wireSize counts every frame', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const [{ peer, connection }] = (await rawPeers(t, srv, 1)) as [{ peer: RawPeer; connection: Connection<unknown> }];
    const payload = payloadBytes(3000, 3);
    const [result] = srv.server.broadcast(payload, { fragmentSize: 1000, report: true });
    const frames = [await nextFrame(peer), await nextFrame(peer), await nextFrame(peer)];
    assert.deepEqual(frames.map((f) => [f.frame.opcode, f.frame.fin]), [[0x2, false], [0x0, false], [0x0, true]]);
    assert.deepEqual(Buffer.concat(frames.map((f) => f.frame.payload)), payload);
    assert.deepEqual(result, { id: connection.id, success: true, payloadSize: 3000, wireSize: frames.reduce((n, f) => n + f.size, 0), compressed: false });
  });

  test('broadcast({ report: true }) reports a closing connection as not sent (success false, wireSize 0) and it receives nothing', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const a = await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const [sideA, sideB] = (await srv.connections.take(2, 'two connections')).map((s) => s.connection);
    sideA!.close(1000, 'leaving');
    const results = srv.server.broadcast('after the close', { report: true });
    assert.deepEqual(results.find((r) => r.id === sideA!.id), { id: sideA!.id, success: false, payloadSize: 15, wireSize: 0, compressed: false });
    assert.equal(results.find((r) => r.id === sideB!.id)?.success, true);
    assert.equal((await b.rec.messages.next('the broadcast')).data.toString(), 'after the close');
    assert.equal((await a.rec.closed()).code, 1000);
    assert.equal(a.rec.messages.history.length, 0);
  });

  test('small broadcasts of one turn are framed side by side once: each receiver writes them all as one view of the same memory', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const peers = await rawPeers(t, srv, 2);
    const handed = peers.map(({ connection }) => spyWrites(t, connection as Connection<unknown>));
    for (const text of ['one', 'two', 'three']) assert.equal(srv.server.broadcast(text), 2);
    for (const { peer } of peers) {
      const frames = await peer.frames.take(3, 'the three broadcasts');
      assert.deepEqual(frames.map((frame) => frame.payload.toString()), ['one', 'two', 'three']);
    }
    const [a, b] = handed as [Buffer[], Buffer[]];
    assert.equal(a.length, 1, 'one write per receiver');
    assert.equal(b.length, 1);
    assert.equal(a[0]!.length, 2 + 3 + 2 + 3 + 2 + 5);
    assert.equal(a[0]!.buffer, b[0]!.buffer, 'both receivers were given the same memory');
    assert.equal(a[0]!.byteOffset, b[0]!.byteOffset);
  });

  test('sendTo(ids) sends to the listed connections in order, and an unknown id gets success false', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const sides = (await srv.connections.take(3, 'three connections')).map((s) => s.connection);
    const results = srv.server.sendTo([sides[2]!.id, 'unknown-id', sides[0]!.id], 'just for you');
    assert.deepEqual(results, [
      { id: sides[2]!.id, success: true, payloadSize: 12, wireSize: 14, compressed: false },
      { id: 'unknown-id', success: false, payloadSize: 12, wireSize: 0, compressed: false },
      { id: sides[0]!.id, success: true, payloadSize: 12, wireSize: 14, compressed: false },
    ]);
    srv.server.broadcast('marker');
    const firsts = await Promise.all(clients.map(({ rec }) => rec.messages.next('the first message')));
    assert.deepEqual(firsts.map((m) => m.data.toString()), ['just for you', 'marker', 'just for you']);
    const binary = srv.server.sendTo([sides[1]!.id], 'bytes', { binary: true });
    assert.equal(binary[0]!.success, true);
    const got = await clients[1]!.rec.messages.next('the binary message');
    assert.deepEqual([got.data.toString(), got.isBinary], ['bytes', true]);
  });

  test('sendTo() an id whose connection has closed reports success false', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the connection');
    ws.close(1000);
    await side.rec.closed();
    assert.deepEqual(srv.server.sendTo([side.connection.id], 'gone'), [
      { id: side.connection.id, success: false, payloadSize: 4, wireSize: 0, compressed: false },
    ]);
  });

  test('one broadcast of large compressible and binary messages reaches permessage-deflate and plain ws clients intact', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({}) });
    const deflateClients = [await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const plainClient = await wsClient(t, srv.url, undefined, { perMessageDeflate: false });
    await srv.connections.take(3, 'three connections');
    const text = 'the quick brown fox ✓ '.repeat(20_000);
    const binary = payloadBytes(300_000, 11);
    assert.equal(srv.server.broadcast(text), 3);
    assert.equal(srv.server.broadcast(binary), 3);
    for (const { rec } of [...deflateClients, plainClient]) {
      const [a, b] = await rec.messages.take(2, 'both broadcasts');
      assert.equal(a!.data.toString(), text);
      assert.equal(a!.isBinary, false);
      assert.equal(sha256(b!.data), sha256(binary));
      assert.equal(b!.isBinary, true);
    }
  });
});

describe('fan-out: what is counted and compressed', { timeout: 60_000 }, () => {
  const NO_CONTEXT = ['Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover'];
  const CONTEXT = ['Sec-WebSocket-Extensions: permessage-deflate'];


  test('broadcast() counts only the receivers that took the message: a closing connection is not counted', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const [sideA] = (await srv.connections.take(2, 'two connections')).map((s) => s.connection);
    sideA!.close(1000, 'leaving');
    assert.equal(srv.server.broadcast('after the close'), 1);
    assert.equal((await b.rec.messages.next('the broadcast')).data.toString(), 'after the close');
  });

  test('broadcast({ report: true }) of a compressible message to closing permessage-deflate connections, with and without context takeover: not sent, not compressed', async (t) => {
    const srv = await serve(t, { perMessageDeflate: { serverNoContextTakeover: false }, onConnection: () => ({}) });
    const [fresh] = await rawPeers(t, srv, 1, NO_CONTEXT);
    const [keeping] = await rawPeers(t, srv, 1, CONTEXT);
    assert.match(fresh!.peer.headers['sec-websocket-extensions'] ?? '', /server_no_context_takeover/);
    assert.doesNotMatch(keeping!.peer.headers['sec-websocket-extensions'] ?? '', /server_no_context_takeover/);
    fresh!.connection.close(1000);
    keeping!.connection.close(1000);
    const text = 'not sent '.repeat(500);
    const results = srv.server.broadcast(text, { report: true });
    for (const { connection } of [fresh!, keeping!]) {
      assert.deepEqual(results.find((r) => r.id === connection.id), { id: connection.id, success: false, payloadSize: text.length, wireSize: 0, compressed: false });
    }
    assert.equal(srv.server.broadcast(text), 0);
  });

  test('broadcast({ fragmentSize }): two fragments for a plain receiver, and fragments for compressing ones with and without context takeover', async (t) => {
    const srv = await serve(t, { perMessageDeflate: { serverNoContextTakeover: false }, onConnection: () => ({}) });
    const [plain] = await rawPeers(t, srv, 1);
    const [fresh] = await rawPeers(t, srv, 1, NO_CONTEXT);
    const [keeping] = await rawPeers(t, srv, 1, CONTEXT);
    const payload = payloadBytes(2000, 5);
    const [result] = srv.server.broadcast(payload, { fragmentSize: 1000, report: true, filter: (c) => c === plain!.connection });
    const frames = [await nextFrame(plain!.peer), await nextFrame(plain!.peer)];
    assert.deepEqual(frames.map((f) => [f.frame.opcode, f.frame.fin]), [[0x2, false], [0x0, true]]);
    assert.deepEqual(Buffer.concat(frames.map((f) => f.frame.payload)), payload);
    assert.equal(result!.wireSize, frames[0]!.size + frames[1]!.size);
    // Compressible text that still deflates to more than 100 bytes.
    const text = Array.from({ length: 300 }, (_, i) => `${i}:${(i * 7919) % 1000}`).join(',');
    const results = srv.server.broadcast(text, { fragmentSize: 100, report: true, filter: (c) => c !== plain!.connection });
    for (const { peer, connection } of [fresh!, keeping!]) {
      const parts = [await nextFrame(peer)];
      while (!parts.at(-1)!.frame.fin) parts.push(await nextFrame(peer));
      assert.ok(parts.length > 1, 'sent in fragments');
      assert.deepEqual([parts[0]!.frame.opcode, parts[0]!.frame.rsv], [0x1, 0b100]);
      assert.equal(inflate(Buffer.concat(parts.map((f) => f.frame.payload))).toString(), text);
      assert.equal(results.find((r) => r.id === connection.id)!.wireSize, parts.reduce((n, f) => n + f.size, 0));
    }
  });

  test('receivers without context takeover get the message compressed once: every one is handed the same bytes', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({}) });
    const peers = await rawPeers(t, srv, 2, NO_CONTEXT);
    const handed = peers.map(({ connection }) => spyWrites(t, connection as Connection<unknown>));
    const text = 'compressed once '.repeat(400);
    const results = srv.server.broadcast(text, { report: true });
    for (const { peer, connection } of peers) {
      const { frame, size } = await nextFrame(peer);
      assert.equal(frame.rsv, 0b100);
      assert.equal(inflate(frame.payload).toString(), text);
      assert.deepEqual(results.find((r) => r.id === connection.id), { id: connection.id, success: true, payloadSize: text.length, wireSize: size, compressed: true });
    }
    const [a, b] = handed as [Buffer[], Buffer[]];
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.equal(a[0]!.buffer, b[0]!.buffer, 'each receiver was given its own compression');
    assert.equal(a[0]!.byteOffset, b[0]!.byteOffset);
  });

  test('receivers that keep their context get the message compressed in their own: with different histories, each inflates it', async (t) => {
    const srv = await serve(t, { perMessageDeflate: { serverNoContextTakeover: false }, onConnection: () => ({}) });
    const a = await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const [sideA] = (await srv.connections.take(2, 'two connections')).map((s) => s.connection);
    assert.equal(sideA!.deflate?.outboundNoContextTakeover, false);
    const first = 'only for a: the history that b does not have. '.repeat(60);
    sideA!.send(first);
    assert.equal((await a.rec.messages.next('the message to a')).data.toString(), first);
    const text = `${first}and then something for everyone`;
    assert.equal(srv.server.broadcast(text), 2);
    for (const [name, rec] of [['a', a.rec], ['b', b.rec]] as const) {
      const message = await rec.messages.next(`the broadcast on ${name}`);
      assert.equal(message.data.toString(), text, name);
      assert.equal(message.isBinary, false, `a text message arrived as binary on ${name}`);
    }
  });

  test('a large broadcast (compressed in the thread pool for a receiver keeping its context) is reported sent with its size unknown; one reset per message gets its real size', async (t) => {
    const srv = await serve(t, { perMessageDeflate: { serverNoContextTakeover: false }, onConnection: () => ({}) });
    const [keeping] = await rawPeers(t, srv, 1, CONTEXT);
    const [fresh] = await rawPeers(t, srv, 1, NO_CONTEXT);
    const text = 'large and compressible '.repeat(20_000);
    const results = srv.server.broadcast(text, { report: true });
    assert.deepEqual(results.find((r) => r.id === keeping!.connection.id), { id: keeping!.connection.id, success: true, payloadSize: text.length, wireSize: 0, compressed: true });
    const forFresh = results.find((r) => r.id === fresh!.connection.id)!;
    for (const { peer } of [keeping!, fresh!]) {
      const { frame, size } = await nextFrame(peer);
      assert.equal(inflate(frame.payload).toString(), text);
      if (peer === fresh!.peer) assert.deepEqual(forFresh, { id: fresh!.connection.id, success: true, payloadSize: text.length, wireSize: size, compressed: true });
    }
  });
});

describe('broadcast and publish: the type of what they return', () => {
  test('report: true gives the results, no report a count, a report only known at run time either (checked by the compiler)', async () => {
    const server = new WebSocketServer<{ user: string }>();
    const verbose = process.argv.length > 0;
    const results: TargetResult[] = server.broadcast('x', { report: true });
    const count: number = server.publish('topic', 'x');
    const either = server.broadcast('x', { report: verbose });
    // @ts-expect-error with a boolean report, the answer may be the results, not a count
    const wrong: number = either;
    const topicEither = server.publish('topic', 'x', { report: verbose });
    // @ts-expect-error the same for publish()
    const wrongToo: number = topicEither;
    assert.deepEqual([results, count, either, topicEither, wrong, wrongToo], [[], 0, [], [], [], []]);
    await server.close();
  });
});
