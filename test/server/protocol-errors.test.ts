/**
 * A raw TCP client performs the upgrade by hand, then breaks the protocol: the sockwave server must
 * answer with the right close frame, close TCP, report the error, and keep serving other clients.
 * Also: slow and oversized upgrade requests.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';
import { ProtocolError, type ServerOptions, type SockwaveError } from '../../src/index.js';
import { clientFrame, closeBody, rawFrame } from '../support/frames.js';
import {
  Queue,
  RawClient,
  deferred,
  withTimeout,
  acceptFor,
  closePayload,
  closeWs,
  openWs,
  rawUpgrade,
  rawUpgradeOffering,
  recordWs,
  startServer,
  upgradeRequest,
  type StartedServer,
} from '../support/net.js';

interface Harness {
  srv: StartedServer<unknown>;
  /** Errors reported to the handler's onError, in order. */
  handlerErrors: Queue<SockwaveError>;
}

async function harness(t: TestContext, options: { maxPayload?: number; handshakeTimeout?: number; maxHeaderBytes?: number; perMessageDeflate?: boolean } = {}): Promise<Harness> {
  const handlerErrors = new Queue<SockwaveError>();
  const srv = await startServer({
    ...options,
    onConnection: () => ({
      onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }),
      onError: (_connection, error) => handlerErrors.push(error),
    }),
  });
  t.after(() => srv.close());
  return { srv, handlerErrors };
}

/** A fresh ws client gets its message echoed: the server still serves. */
async function assertStillServing(t: TestContext, srv: StartedServer<unknown>): Promise<void> {
  const ws = await openWs(srv.url);
  t.after(() => closeWs(ws));
  const rec = recordWs(ws);
  ws.send('still serving?');
  assert.equal((await rec.messages.next('the echo to a second client')).data.toString(), 'still serving?');
}

interface Violation {
  name: string;
  bytes: () => Buffer;
  closeCode: number;
  errorCode: string;
}

const VIOLATIONS: readonly Violation[] = [
  { name: 'an unmasked frame', bytes: () => rawFrame({ opcode: 0x1, payload: 'not masked', mask: false }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  {
    name: 'a text frame with invalid UTF-8',
    bytes: () => clientFrame({ opcode: 0x1, payload: Buffer.from([0x6f, 0x6b, 0xce, 0xba, 0xff, 0x21]) }),
    closeCode: 1007,
    errorCode: 'SW_INVALID_UTF8',
  },
  {
    name: 'a text message ending inside a UTF-8 sequence across fragments',
    bytes: () => Buffer.concat([clientFrame({ opcode: 0x1, payload: 'ok', fin: false }), clientFrame({ opcode: 0x0, payload: Buffer.from([0xf0, 0x9f]) })]),
    closeCode: 1007,
    errorCode: 'SW_INVALID_UTF8',
  },
  { name: 'a reserved data opcode (0x3)', bytes: () => clientFrame({ opcode: 0x3, payload: 'x' }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  { name: 'a reserved control opcode (0xB)', bytes: () => clientFrame({ opcode: 0xb }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  { name: 'RSV1 set with no extension', bytes: () => clientFrame({ opcode: 0x1, payload: 'x', rsv1: true }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  { name: 'a ping over 125 bytes', bytes: () => clientFrame({ opcode: 0x9, payload: Buffer.alloc(126) }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  { name: 'a fragmented ping', bytes: () => clientFrame({ opcode: 0x9, payload: 'p', fin: false }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  { name: 'a continuation with no message started', bytes: () => clientFrame({ opcode: 0x0, payload: 'x' }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  {
    name: 'a new data frame inside a fragmented message',
    bytes: () => Buffer.concat([clientFrame({ opcode: 0x1, payload: 'a', fin: false }), clientFrame({ opcode: 0x1, payload: 'b' })]),
    closeCode: 1002,
    errorCode: 'SW_PROTOCOL_ERROR',
  },
  { name: 'a close frame with code 1005', bytes: () => clientFrame({ opcode: 0x8, payload: closeBody(1005) }), closeCode: 1002, errorCode: 'SW_INVALID_CLOSE_CODE' },
  { name: 'a close frame with a 1-byte payload', bytes: () => clientFrame({ opcode: 0x8, payload: Buffer.from([3]) }), closeCode: 1002, errorCode: 'SW_PROTOCOL_ERROR' },
  {
    name: 'a close reason that is not UTF-8',
    bytes: () => clientFrame({ opcode: 0x8, payload: closeBody(1000, Buffer.from([0xff])) }),
    closeCode: 1007,
    errorCode: 'SW_INVALID_UTF8',
  },
];

/** A permessage-deflate server with `options`, and a raw client that negotiated the extension; both closed after the test. */
async function deflatePair(t: TestContext, options: ServerOptions): Promise<{ srv: StartedServer<unknown>; raw: RawClient }> {
  const srv = await startServer({ perMessageDeflate: true, ...options });
  t.after(() => srv.close());
  const { raw, extensions } = await rawUpgradeOffering(srv.port, 'permessage-deflate');
  t.after(() => raw.destroy());
  assert.match(extensions, /^permessage-deflate/);
  return { srv, raw };
}

/** `data` deflated as one message's payload (RFC 7692 §7.2.1: without the final 4 bytes). */
function deflated(data: Buffer | string): Buffer {
  return deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
}

describe('sockwave server against protocol violations (raw TCP)', { timeout: 60_000 }, () => {
  for (const violation of VIOLATIONS) {
    test(`${violation.name} gets a close frame with ${violation.closeCode}, a TCP close, an onError, and the server keeps serving`, async (t) => {
      const { srv, handlerErrors } = await harness(t);
      const raw = await rawUpgrade(srv.port);
      t.after(() => raw.destroy());
      const side = await srv.connections.next('the server-side connection');
      raw.write(violation.bytes());
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, 0x8, 'a close frame');
      assert.equal(frame.masked, false, 'a server frame is not masked');
      assert.equal(closePayload(frame.payload).code, violation.closeCode);
      await raw.waitClosed();
      assert.equal(raw.received.length, 0, 'nothing after the close frame');
      // Reported to the handler and as an 'error' event, with the close code.
      const error = await handlerErrors.next('onError');
      assert.ok(error instanceof ProtocolError, `got ${String(error)}`);
      assert.equal(error.closeCode, violation.closeCode);
      assert.equal(error.code, violation.errorCode);
      const event = await side.rec.errors.next('the error event');
      assert.equal(event, error);
      const info = await side.rec.closed();
      assert.equal(info.code, violation.closeCode);
      assert.equal(info.wasClean, false);
      await assertStillServing(t, srv);
    });
  }

  test('a violation in the read where the handler called pause(): the close frame, and the transport closes without waiting for closeTimeout', async (t) => {
    // After a failure the peer's end must still be read: a pause left in place hid it until closeTimeout.
    const srv = await startServer({ closeTimeout: 2000, onConnection: () => ({ onMessage: (connection) => connection.pause() }) });
    t.after(() => srv.close());
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    const side = await srv.connections.next('the server-side connection');
    raw.write(Buffer.concat([clientFrame({ opcode: 0x1, payload: 'pause here' }), rawFrame({ opcode: 0x1, payload: 'not masked' })]));
    const frame = await raw.readFrame();
    assert.equal(closePayload(frame.payload).code, 1002);
    await raw.waitClosed();
    const info = await side.rec.closed();
    assert.equal(info.code, 1002);
    assert.equal(srv.server.stats().limits.closeTimeout, 0, 'the close waited for closeTimeout: reading stayed paused');
    assert.equal(side.connection.isPaused, false);
  });

  test('on a deflate server, a connection that did not agree to permessage-deflate refuses RSV1 with 1002 after one that did accepted it', async (t) => {
    // A server's connections share their protocol settings: one connection's extension must not
    // reach the next.
    const { srv, handlerErrors } = await harness(t, { perMessageDeflate: true });
    const { raw: agreed, extensions } = await rawUpgradeOffering(srv.port, 'permessage-deflate');
    t.after(() => agreed.destroy());
    assert.match(extensions, /^permessage-deflate/);
    // "hi" compressed, without the 00 00 ff ff tail (RFC 7692 §7.2.1).
    const compressed = deflated('hi');
    agreed.write(clientFrame({ opcode: 0x1, payload: compressed, rsv1: true }));
    const echo = await agreed.readFrame();
    assert.deepEqual([echo.opcode, echo.payload.toString()], [0x1, 'hi']);

    const plain = await rawUpgrade(srv.port);
    t.after(() => plain.destroy());
    plain.write(clientFrame({ opcode: 0x1, payload: 'x', rsv1: true }));
    const frame = await plain.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1002);
    const error = await handlerErrors.next('onError');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1002);
  });

  test('a violation read while a large compressed message is inflating in the thread pool: the messages before it, then the error and the close', async (t) => {
    // The compressed message, the plain one behind it and the violation arrive in one write. What
    // came before the violation is delivered, as it is when the compressed message is small and
    // inflated at once; then the connection fails (RFC 6455 §7.1.7) and nothing more is processed.
    const events: string[] = [];
    const closed = deferred<void>();
    const { raw } = await deflatePair(t, {
      onConnection: () => ({
        onMessage: (_connection, data) => void events.push(`message ${data.length}`),
        onError: (_connection, error) => void events.push(`error ${error instanceof ProtocolError ? error.closeCode : error.code}`),
        onClose: (_connection, info) => {
          events.push(`close ${info.code}`);
          closed.resolve();
        },
      }),
    });
    // Random bytes do not compress: over 256 KiB compressed, so inflated in the thread pool.
    const large = deflated(randomBytes(300 * 1024));
    raw.write(
      Buffer.concat([
        clientFrame({ opcode: 0x2, payload: large, rsv1: true }),
        clientFrame({ opcode: 0x1, payload: 'behind it' }),
        clientFrame({ opcode: 0x3, payload: 'x' }),
      ]),
    );
    const frame = await raw.readFrame();
    assert.equal(closePayload(frame.payload).code, 1002);
    await withTimeout(closed.promise, 'the close');
    assert.deepEqual(events, ['message 307200', 'message 9', 'error 1002', 'close 1002']);
  });

  for (const [what, data, binary] of [
    ['random bytes, over 256 KiB on the wire', randomBytes(300 * 1024), true],
    ['text that inflates past 1 MiB', Buffer.alloc(2 * 1024 * 1024, 0x61), false],
  ] as const) {
    test(`a large compressed message (${what}, inflated in the thread pool) followed in the same write by a close frame: the handler sees the connection open, and its reply goes out before the close echo`, async (t) => {
      const events: string[] = [];
      const closed = deferred<void>();
      const { raw } = await deflatePair(t, {
        onConnection: () => ({
          onMessage: (connection, message) => {
            const result = connection.send(`got ${message.length}`);
            events.push(`message ${message.length} ${connection.status} ${result}`);
          },
          onClose: (_connection, info) => {
            events.push(`close ${info.code}`);
            closed.resolve();
          },
        }),
      });
      const compressed = deflated(data);
      raw.write(Buffer.concat([clientFrame({ opcode: binary ? 0x2 : 0x1, payload: compressed, rsv1: true }), clientFrame({ opcode: 0x8, payload: closeBody(1000) })]));
      const reply = await raw.readFrame();
      assert.equal(reply.opcode, 0x1, 'the reply comes first');
      assert.equal(reply.payload.toString(), `got ${data.length}`);
      const echo = await raw.readFrame();
      assert.equal(echo.opcode, 0x8);
      assert.equal(closePayload(echo.payload).code, 1000);
      await withTimeout(closed.promise, 'the close');
      assert.deepEqual(events, [`message ${data.length} open sent`, 'close 1000']);
    });
  }

  for (const [what, replySize, fin] of [
    ['and a FIN right after it', 10, true],
    ['answered with a reply large enough to be compressed in the thread pool', 400 * 1024, false],
  ] as const) {
    test(`a large compressed message followed in one write by a close frame, ${what}: the reply, then the close frame, reach the peer; a clean close`, async (t) => {
      const limits: string[] = [];
      const closed = deferred<{ code: number; wasClean: boolean }>();
      const { srv, raw } = await deflatePair(t, {
        onConnection: () => ({
          onMessage: (connection) => void connection.send('r'.repeat(replySize)),
          onClose: (_connection, info) => closed.resolve(info),
        }),
      });
      srv.server.on('limit', (event) => void limits.push(event.limit));
      const compressed = deflated(randomBytes(300 * 1024));
      raw.write(Buffer.concat([clientFrame({ opcode: 0x2, payload: compressed, rsv1: true }), clientFrame({ opcode: 0x8, payload: closeBody(1000) })]));
      if (fin) raw.socket.end();
      const reply = await raw.readFrame();
      assert.equal(reply.opcode, 0x1, 'the reply comes first');
      const close = await raw.readFrame();
      assert.equal(close.opcode, 0x8, 'then the close frame');
      assert.equal(closePayload(close.payload).code, 1000);
      const info = await withTimeout(closed.promise, 'the close');
      assert.equal(info.wasClean, true);
      assert.deepEqual(limits, [], 'a limit was reported');
    });
  }

  test('the handler closes while a large compressed message inflates longer than closeTimeout, with the peer close behind it: no close timeout, a clean close', async (t) => {
    const limits: string[] = [];
    const closed = deferred<{ code: number; wasClean: boolean }>();
    const { srv, raw } = await deflatePair(t, {
      closeTimeout: 20,
      onConnection: () => ({
        onMessage: (connection, message) => {
          if (message === 'first') connection.close(4000);
        },
        onClose: (_connection, info) => closed.resolve(info),
      }),
    });
    srv.server.on('limit', (event) => void limits.push(event.limit));
    // 64 MiB of zeros take longer to inflate than the 20 ms closeTimeout, which runs from close().
    const compressed = deflated(Buffer.alloc(64 * 1024 * 1024));
    raw.write(
      Buffer.concat([
        clientFrame({ opcode: 0x1, payload: 'first' }),
        clientFrame({ opcode: 0x2, payload: compressed, rsv1: true }),
        clientFrame({ opcode: 0x8, payload: closeBody(4000) }),
      ]),
    );
    const close = await raw.readFrame();
    assert.equal(closePayload(close.payload).code, 4000);
    const info = await withTimeout(closed.promise, 'the close');
    assert.deepEqual(limits, [], 'a limit was reported');
    assert.equal(info.wasClean, true);
  });

  test('a message over maxPayload gets 1009 as soon as its header arrives, before any payload is sent', async (t) => {
    const { srv, handlerErrors } = await harness(t, { maxPayload: 1024 });
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    // The header of a 2048-byte masked binary frame (with its mask key), and none of the payload.
    const header = rawFrame({ opcode: 0x2, length: 2048, mask: true });
    assert.equal(header.length, 8);
    raw.write(header);
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1009);
    await raw.waitClosed();
    const error = await handlerErrors.next('onError');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1009);
    assert.equal(error.code, 'SW_MESSAGE_TOO_BIG');
    await assertStillServing(t, srv);
  });

  test('a fragmented message whose fragments add up past maxPayload gets 1009', async (t) => {
    const { srv } = await harness(t, { maxPayload: 1024 });
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    raw.write(clientFrame({ opcode: 0x2, payload: Buffer.alloc(1000), fin: false }));
    raw.write(rawFrame({ opcode: 0x0, length: 100, mask: true }));
    const frame = await raw.readFrame();
    assert.equal(closePayload(frame.payload).code, 1009);
    await raw.waitClosed();
  });

  test('a message of exactly maxPayload bytes is accepted', async (t) => {
    const { srv } = await harness(t, { maxPayload: 1024 });
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    raw.write(clientFrame({ opcode: 0x2, payload: Buffer.alloc(1024, 7) }));
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x2);
    assert.deepEqual(frame.payload, Buffer.alloc(1024, 7));
    raw.destroy();
  });

  test('several violating clients in a row do not disturb a client that stays connected', async (t) => {
    const { srv } = await harness(t);
    const ws = await openWs(srv.url);
    t.after(() => closeWs(ws));
    const rec = recordWs(ws);
    for (const violation of VIOLATIONS) {
      const raw = await rawUpgrade(srv.port);
      t.after(() => raw.destroy());
      raw.write(violation.bytes());
      await raw.readFrame();
      await raw.waitClosed();
    }
    ws.send('and me?');
    assert.equal((await rec.messages.next('the echo')).data.toString(), 'and me?');
    assert.equal(srv.errors.history.length, 0, 'no server-level error');
  });

  test('a frame sent in the same packet as the upgrade request is processed', async (t) => {
    const { srv } = await harness(t);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    raw.write(Buffer.concat([Buffer.from(upgradeRequest({ key })), clientFrame({ opcode: 0x1, payload: 'early' })]));
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-accept'], acceptFor(key));
    const frame = await raw.readFrame();
    assert.deepEqual([frame.opcode, frame.payload.toString()], [0x1, 'early']);
    raw.destroy();
  });

  test('an upgrade request written one byte at a time is accepted', async (t) => {
    const { srv } = await harness(t);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    const key = randomBytes(16).toString('base64');
    const request = Buffer.from(upgradeRequest({ key }));
    for (let i = 0; i < request.length; i++) {
      raw.write(request.subarray(i, i + 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const response = await raw.readResponse();
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-accept'], acceptFor(key));
    raw.destroy();
  });

  test('Upgrade and Connection headers are matched as case-insensitive token lists', async (t) => {
    const { srv } = await harness(t);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest().replace('Upgrade: websocket', 'upgrade: WebSocket').replace('Connection: Upgrade', 'Connection: keep-alive, Upgrade'));
    assert.equal((await raw.readResponse()).status, 101);
    raw.destroy();
  });

  test('a masked close frame gets the echo and the server closes TCP first', async (t) => {
    const { srv } = await harness(t);
    const raw = await rawUpgrade(srv.port);
    t.after(() => raw.destroy());
    const side = await srv.connections.next('the server-side connection');
    raw.write(clientFrame({ opcode: 0x8, payload: closeBody(1000, 'done') }));
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1000);
    await raw.waitClosed('the server to close TCP after the close handshake');
    raw.socket.end();
    assert.deepEqual(await side.rec.closed(), { code: 1000, reason: 'done', wasClean: true, remote: true });
  });

  test('slowloris: a client that sends half an upgrade request is dropped after handshakeTimeout', async (t) => {
    const { srv } = await harness(t, { handshakeTimeout: 300 });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs');
    await raw.waitClosed('the server to drop the slow client');
    assert.equal(raw.received.length, 0, 'dropped without an answer');
    await assertStillServing(t, srv);
  });

  test(
    'after server.close() resolves the process can exit even though a client had sent half a request',
    async (t) => {
      const index = new URL('../../src/index.js', import.meta.url).href;
      const script = `
        import { WebSocketServer } from ${JSON.stringify(index)};
        import { connect } from 'node:net';
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handshakeTimeout: 60000, onConnection: () => ({}) });
        const { port } = await server.listen();
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write('GET / HTTP/1.1\\r\\n');
        // Let the server accept the socket and start reading the request head.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await server.close();
        socket.destroy();
        process.stdout.write('closed\\n');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exit = deferred<number | null>();
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => exit.resolve(code));
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const code = await withTimeout(exit.promise, 'the process to exit after server.close()', 5000);
      assert.equal(code, 0, output);
      assert.match(output, /closed/);
    },
  );

  test('a client that connects and sends nothing is dropped after handshakeTimeout', async (t) => {
    const { srv } = await harness(t, { handshakeTimeout: 300 });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    await raw.waitClosed('the server to drop the idle client');
  });

  test('a complete request head over maxHeaderBytes is answered 431', async (t) => {
    const { srv } = await harness(t, { maxHeaderBytes: 1024 });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ extra: [`X-Big: ${'a'.repeat(2000)}`] }));
    const response = await raw.readResponse();
    assert.equal(response.status, 431);
    await raw.waitClosed();
  });

  test('an unfinished request head that grows past maxHeaderBytes is answered 431 without waiting for its end', async (t) => {
    const { srv } = await harness(t, { maxHeaderBytes: 1024 });
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(2000)}`);
    const response = await raw.readResponse();
    assert.equal(response.status, 431);
  });

  test('a request head just under maxHeaderBytes is accepted', async (t) => {
    const { srv } = await harness(t, { maxHeaderBytes: 1024 });
    const base = upgradeRequest({ extra: ['X-Pad: '] }).length;
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write(upgradeRequest({ extra: [`X-Pad: ${'p'.repeat(1024 - base)}`] }));
    assert.equal((await raw.readResponse()).status, 101);
    raw.destroy();
  });

  const BAD_REQUESTS: ReadonlyArray<[string, string]> = [
    ['a POST upgrade', upgradeRequest().replace('GET', 'POST')],
    ['an HTTP/1.0 upgrade', upgradeRequest().replace('HTTP/1.1', 'HTTP/1.0')],
    ['a missing Sec-WebSocket-Key', upgradeRequest().replace(/Sec-WebSocket-Key: [^\r]*\r\n/, '')],
    ['a Sec-WebSocket-Key that is not 16 bytes', upgradeRequest({ key: 'c2hvcnQ=' })],
    ['an upgrade without Connection: Upgrade', upgradeRequest().replace('Connection: Upgrade', 'Connection: keep-alive')],
    ['a malformed request line', 'GARBAGE\r\n\r\n'],
    ['obsolete header folding', upgradeRequest({ extra: ['X-A: 1', ' folded'] })],
  ];
  for (const [name, request] of BAD_REQUESTS) {
    test(`${name} is answered 400 and closed`, async (t) => {
      const { srv } = await harness(t);
      const raw = await RawClient.connect(srv.port);
      t.after(() => raw.destroy());
      raw.write(request);
      const response = await raw.readResponse();
      assert.equal(response.status, 400);
      assert.equal(response.headers['connection'], 'close');
      await raw.waitClosed();
      assert.equal(srv.server.clients.size, 0);
    });
  }
});
