/**
 * The standalone server's listening socket, plain TCP and TLS, over real sockets on 127.0.0.1:
 * what it leaves open when a client ends its side first.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, test, type TestContext } from 'node:test';
import { type Socket } from 'node:net';
import { lendsReads } from '../../src/io/socket-events.js';
import { type ServerOptions } from '../../src/server/options.js';
import { WebSocketServer } from '../../src/server/server.js';
import { clientFrame, closeBody } from '../support/frames.js';
import { RawClient, upgradeRequest, withTimeout } from '../support/net.js';
import { selfSigned } from '../support/server-kit.js';

function server(t: TestContext, options: ServerOptions): WebSocketServer<unknown> {
  const srv = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: true,
    ...options,
    onConnection: () => ({ onMessage: (connection, data, binary) => void connection.send(data, { binary }) }),
  });
  srv.on('error', () => {});
  t.after(() => srv.close({ timeout: 100 }));
  return srv;
}

/** A raw client of the server on `port`: over TLS, trusting `pair`'s certificate, when given one. */
async function rawClient(port: number, pair: { cert: string | Buffer } | undefined): Promise<RawClient> {
  if (!pair) return RawClient.connect(port);
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: pair.cert, servername: 'localhost' });
  await withTimeout(new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())), 'the TLS handshake');
  return RawClient.wrap(socket);
}

describe('listener', () => {
  // A compressed message is inflated off the reading turn: the FIN is read before the echo and the
  // close echo are written, and the server's side must still be open to write them.
  for (const secure of [false, true]) {
    test(`${secure ? 'tls' : 'tcp'}: a client that ends its side right after a large compressed message and its close frame still gets the echo and the close echo`, async (t) => {
      const pair = secure ? selfSigned() : undefined;
      if (secure && !pair) return t.skip('openssl is not available');
      const srv = server(t, pair ? { tls: { cert: pair.cert, key: pair.key } } : {});
      const { port } = await srv.listen();
      const raw = await rawClient(port, pair);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest({ extra: ['Sec-WebSocket-Extensions: permessage-deflate'] }));
      assert.equal((await raw.readResponse()).status, 101);
      // (Random bytes, past the size inflated in the same turn.)
      const message = randomBytes(256 * 1024).toString('base64');
      const compressed = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
      raw.socket.end(Buffer.concat([clientFrame({ opcode: 0x1, rsv1: true, payload: compressed }), clientFrame({ opcode: 0x8, payload: closeBody(1000) })]));
      const echo = await raw.readFrame();
      assert.equal(echo.opcode, 0x1);
      const text = echo.rsv === 4 ? inflateRawSync(Buffer.concat([echo.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }) : echo.payload;
      assert.equal(text.toString(), message);
      const close = await raw.readFrame();
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1000);
    });
  }

  // While the application works out its answer to a plain request, the client's FIN is read: the
  // server's side must stay open for the answer.
  for (const secure of [false, true]) {
    test(`${secure ? 'tls' : 'tcp'}: a plain request whose client ends its side at once still gets its (asynchronous) answer`, async (t) => {
      const pair = secure ? selfSigned() : undefined;
      if (secure && !pair) return t.skip('openssl is not available');
      let answer!: () => void;
      const srv = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        ...(pair ? { tls: { cert: pair.cert, key: pair.key } } : {}),
        onHttpRequest: () => new Promise((resolve) => (answer = () => resolve({ status: 200, body: 'late answer' }))),
      });
      srv.on('error', () => {});
      t.after(() => srv.close({ timeout: 100 }));
      const { port } = await srv.listen();
      const raw = await rawClient(port, pair);
      t.after(() => raw.destroy());
      raw.socket.end('GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await withTimeout(
        (async () => {
          while (answer === undefined) await new Promise<void>((resolve) => setImmediate(resolve));
        })(),
        'the request to reach onHttpRequest',
      );
      // (Time for the FIN to reach the server, which must not end the socket meanwhile.)
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
      answer();
      const response = await raw.readResponse();
      assert.equal(response.status, 200);
    });
  }
});

/** The socket under a server's connection (a protected field: read here to tell how it reads). */
function socketOf(connection: unknown): Socket {
  return (connection as { socket: Socket }).socket;
}

describe('listener: sockets that read into the shared buffer', () => {
  for (const secure of [false, true]) {
    test(`${secure ? 'tls: sockets are Node\'s own' : 'tcp: sockets are lent'}, and binary messages the application keeps stay intact as later reads arrive`, async (t) => {
      const pair = secure ? selfSigned() : undefined;
      if (secure && !pair) return t.skip('openssl is not available');
      const kept: Buffer[] = [];
      const srv = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        ...(pair ? { tls: { cert: pair.cert, key: pair.key } } : {}),
        onConnection: () => ({ onMessage: (_connection, data) => void kept.push(data as Buffer) }),
      });
      srv.on('error', () => {});
      t.after(() => srv.close({ timeout: 100 }));
      const connected = new Promise<unknown>((resolve) => srv.once('connection', resolve));
      const { port } = await srv.listen();
      const raw = await rawClient(port, pair);
      t.after(() => raw.destroy());
      raw.write(upgradeRequest());
      assert.equal((await raw.readResponse()).status, 101);
      assert.equal(lendsReads(socketOf(await connected)), !secure);
      // Small, middling and spanning messages, several to a write, fragmented ones among them;
      // each write waits for the last, so that every write is a read of its own.
      const sent: Buffer[] = [];
      for (let write = 0; write < 12; write++) {
        const frames: Buffer[] = [];
        for (const size of [5, 300, 1500, write === 6 ? 70_000 : 20]) {
          const payload = randomBytes(size);
          sent.push(payload);
          if (size === 300) frames.push(clientFrame({ opcode: 0x2, fin: false, payload: payload.subarray(0, 100) }), clientFrame({ opcode: 0x0, payload: payload.subarray(100) }));
          else frames.push(clientFrame({ opcode: 0x2, payload }));
        }
        raw.write(Buffer.concat(frames));
        await withTimeout(
          (async () => {
            while (kept.length < sent.length) await new Promise<void>((resolve) => setTimeout(resolve, 2));
          })(),
          `the messages of write ${write}`,
        );
      }
      assert.equal(kept.length, sent.length);
      for (let i = 0; i < sent.length; i++) assert.ok(kept[i]!.equals(sent[i]!), `message ${i} (${sent[i]!.length} bytes) changed`);
    });
  }
});
