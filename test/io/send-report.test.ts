import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { connect, ConnectionClosedError, SockwaveError, WebSocketServer, type SendReport } from '../../src/index.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { closeBody, serverFrame } from '../support/frames.js';
import { deferred, startRawWsServer, withTimeout } from '../support/net.js';

/** The completion callback of send() reports what went on the wire (issue: the seed's send report). */

async function echoServer(perMessageDeflate: boolean): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  server.route('/', () => ({ onMessage: (conn, data, isBinary) => void conn.send(data, { binary: isBinary }) }));
  const { url } = await server.listen();
  return { server, url: `${url}/` };
}

function sendWithReport(send: (callback: (error: Error | null | undefined, report?: SendReport) => void) => unknown): Promise<SendReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no send callback within 5 s')), 5000);
    send((error, report) => {
      clearTimeout(timer);
      if (error || !report) reject(error ?? new Error('no report'));
      else resolve(report);
    });
  });
}

test('an uncompressed client send reports its payload and its masked frame size', async (t) => {
  const { server, url } = await echoServer(false);
  t.after(() => server.close({ timeout: 500 }));
  const conn = await connect(url, { perMessageDeflate: false });
  t.after(() => conn.terminate());
  const small = await sendWithReport((cb) => conn.send('hello', cb));
  assert.deepEqual(small, { payloadSize: 5, wireSize: 2 + 4 + 5, compressed: false, compressionError: false });
  const medium = await sendWithReport((cb) => conn.send(Buffer.alloc(300), cb));
  assert.deepEqual(medium, { payloadSize: 300, wireSize: 4 + 4 + 300, compressed: false, compressionError: false });
  const fragmented = await sendWithReport((cb) => conn.send(Buffer.alloc(250), { fragmentSize: 100 }, cb));
  assert.deepEqual(fragmented, { payloadSize: 250, wireSize: 3 * (2 + 4) + 250, compressed: false, compressionError: false });
});

test('a compressed send reports a wire size smaller than its payload, and a small one goes uncompressed', async (t) => {
  const { server, url } = await echoServer(true);
  t.after(() => server.close({ timeout: 500 }));
  const conn = await connect(url, { perMessageDeflate: true });
  t.after(() => conn.terminate());
  const text = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, kind: 'reading', value: i % 7 })));
  const big = await sendWithReport((cb) => conn.send(text, cb));
  assert.equal(big.payloadSize, Buffer.byteLength(text));
  assert.equal(big.compressed, true);
  assert.ok(big.wireSize < big.payloadSize / 2, `wire ${big.wireSize} for payload ${big.payloadSize}`);
  const tiny = await sendWithReport((cb) => conn.send('x', cb));
  assert.deepEqual(tiny, { payloadSize: 1, wireSize: 2 + 4 + 1, compressed: false, compressionError: false });
});

test('a server send reports an unmasked frame, and a send on a closed connection calls back with an error', async (t) => {
  let serverReport: Promise<SendReport> | undefined;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.route('/', () => ({ onOpen: (conn) => void (serverReport = sendWithReport((cb) => conn.send(Buffer.alloc(70000), cb))) }));
  const { url } = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  const conn = await connect(`${url}/`, { perMessageDeflate: false });
  const arrived = new Promise<void>((resolve) => conn.once('message', () => resolve()));
  await arrived;
  assert.deepEqual(await serverReport, { payloadSize: 70000, wireSize: 10 + 70000, compressed: false, compressionError: false });
  conn.close(1000);
  await new Promise<void>((resolve) => conn.once('close', () => resolve()));
  await assert.rejects(sendWithReport((cb) => conn.send('late', cb)), { name: 'ConnectionClosedError', closeCode: 1000 });
});

/** The error a send's callback gets, or null when it was sent. */
function sendError(send: (callback: (error: Error | null | undefined, report?: SendReport) => void) => unknown): Promise<{ error: Error | null | undefined; report: SendReport | undefined }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no send callback within 5 s')), 5000);
    send((error, report) => {
      clearTimeout(timer);
      resolve({ error, report });
    });
  });
}

test('a send refused after the peer closed calls back with a ConnectionClosedError carrying its close code; one cut off by terminate() with SW_SOCKET_ERROR and no report', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.route('/', () => ({ onMessage: (conn) => conn.close(4001, 'go away') }));
  const { url } = await server.listen();
  t.after(() => server.close({ timeout: 500 }));
  const conn = await connect(`${url}/`, { perMessageDeflate: false });
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  conn.send('close me');
  await closed;
  const refused = await sendError((cb) => conn.send('too late', cb));
  assert.ok(refused.error instanceof ConnectionClosedError, String(refused.error));
  assert.equal(refused.error.closeCode, 4001);
  assert.equal(refused.error.reason, 'go away');
  // The close as the 'close' event reported it: clean, started by the peer.
  assert.equal(refused.error.wasClean, true);
  assert.equal(refused.error.remote, true);
  assert.equal(refused.report, undefined);

  // Accepted, then the connection is dropped before the bytes can leave.
  const other = await connect(`${url}/`, { perMessageDeflate: false });
  const cut = sendError((cb) => other.send(Buffer.alloc(64 * 1024 * 1024), cb));
  other.terminate();
  const { error, report } = await cut;
  assert.ok(error instanceof SockwaveError && error.code === 'SW_SOCKET_ERROR', String(error));
  assert.equal(report, undefined, 'a report of bytes that were not sent');
  // Once closed, the refusal carries that close: terminated here, so not clean and not the peer's.
  if (other.status !== 'closed') await new Promise((resolve) => other.once('close', resolve));
  const after = await sendError((cb) => other.send('too late', cb));
  assert.ok(after.error instanceof ConnectionClosedError, String(after.error));
  assert.deepEqual([after.error.closeCode, after.error.wasClean, after.error.remote], [1006, false, false]);
});

test('a send compressed in the thread pool when the peer close arrives goes out before the close echo, and its callback reports it sent', async (t) => {
  const raw = await startRawWsServer(Buffer.alloc(0), { headers: ['Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover'] });
  t.after(() => raw.close());
  const conn = await connect(raw.url, { perMessageDeflate: true });
  t.after(() => conn.terminate());
  const socket = await raw.sockets.next('the raw connection');
  // What the server side reads, in order.
  const seen: string[] = [];
  const echoed = deferred<void>();
  const parser = new FrameParser(
    { role: 'server', maxPayload: Infinity, allowRsv1: true },
    {
      onMessage: (_data, _binary, compressed) => void seen.push(compressed ? 'compressed message' : 'message'),
      onPing: () => {},
      onPong: () => {},
      onClose: (code) => {
        seen.push(`close ${code}`);
        echoed.resolve();
      },
      onError: (error) => void seen.push(`error ${error.message}`),
    },
  );
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
  socket.resume();
  const sent = deferred<{ error: Error | null | undefined; report: SendReport | undefined }>();
  // Answered with 400 kB, over the size compressed in the thread pool; the close is in the same read.
  conn.on('message', () => void conn.send('x'.repeat(400_000), (error, report) => sent.resolve({ error, report })));
  socket.write(Buffer.concat([serverFrame({ opcode: 0x1, payload: 'go' }), serverFrame({ opcode: 0x8, payload: closeBody(1000) })]));
  await withTimeout(echoed.promise, 'the close echo');
  assert.deepEqual(seen, ['compressed message', 'close 1000']);
  const { error, report } = await withTimeout(sent.promise, 'the send callback');
  assert.equal(error ?? null, null);
  assert.equal(report?.compressed, true);
  socket.end();
});

test('a message whose compression fails in the thread pool goes out uncompressed, and its report says so', async (t) => {
  const { server, url } = await echoServer(true);
  t.after(() => server.close({ timeout: 500 }));
  const conn = await connect(url, { perMessageDeflate: true });
  t.after(() => conn.terminate());
  const codec = conn.deflate;
  assert.ok(codec, 'permessage-deflate was not negotiated');
  // (Over the size compressed synchronously: this one goes to the thread pool, which fails.)
  codec.compress = (_data, callback) => void setImmediate(() => callback(new Error('the thread pool failed')));
  const text = 'x'.repeat(300 * 1024);
  const echoed = new Promise<string>((resolve) => conn.once('message', (data) => resolve(String(data))));
  const report = await sendWithReport((cb) => conn.send(text, cb));
  assert.deepEqual(report, { payloadSize: text.length, wireSize: 2 + 8 + 4 + text.length, compressed: false, compressionError: true });
  assert.equal(await withTimeout(echoed, 'the echo'), text);
});
