/**
 * The standalone server's request-head reader on in-memory sockets and a fake clock: heads split
 * across chunks, the size limit, a client that leaves, and the one timer that drops every socket
 * too slow to send its head, each at its own deadline.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { type Socket } from 'node:net';
import { type HandshakeError } from '../../src/errors.js';
import { type RequestHead } from '../../src/handshake/http-head.js';
import { HeadReader } from '../../src/server/handshake-reader.js';
import { FakeClock } from '../support/fake-clock.js';
import { asSocket, socketPair } from '../support/memory-socket.js';

type Outcome = { socket: Socket; head?: RequestHead; rest?: Buffer; error?: HandshakeError; abandoned?: true };

function reader(maxHeaderBytes = 1024, timeout = 5000) {
  const outcomes: Outcome[] = [];
  const heads = new HeadReader(
    {
      headRead: (socket, head, rest) => outcomes.push({ socket, head, rest }),
      headFailed: (socket, error) => outcomes.push({ socket, error }),
      headAbandoned: (socket) => outcomes.push({ socket, abandoned: true }),
    },
    maxHeaderBytes,
    timeout,
  );
  return { heads, outcomes };
}

function open(t: TestContext) {
  const { client, server } = socketPair();
  client.on('error', () => {});
  server.on('error', () => {});
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  return { client, socket: asSocket(server) };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const REQUEST = 'GET /chat?x=1 HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\n\r\n';

describe('HeadReader', () => {
  test('a head split across chunks is read once, with the bytes after it, and the socket is left paused without its listeners', async (t) => {
    const { heads, outcomes } = reader();
    const { client, socket } = open(t);
    const listeners = socket.listenerCount('data');
    heads.read(socket);
    client.write(REQUEST.slice(0, 17));
    await tick();
    assert.equal(outcomes.length, 0);
    client.write(Buffer.concat([Buffer.from(REQUEST.slice(17)), Buffer.from([0x81, 0x00])]));
    await tick();
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.head!.target, '/chat?x=1');
    assert.equal(outcomes[0]!.head!.headers['host'], 'example');
    assert.deepEqual([...outcomes[0]!.rest!], [0x81, 0x00]);
    assert.equal(socket.isPaused(), true);
    assert.equal(socket.listenerCount('data'), listeners);
    assert.equal(heads.size, 0);
  });

  test('a head past maxHeaderBytes fails with 431, a malformed one with 400, and the sink hears once', async (t) => {
    const { heads, outcomes } = reader(64);
    const big = open(t);
    heads.read(big.socket);
    big.client.write(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(100)}`);
    const bad = open(t);
    heads.read(bad.socket);
    bad.client.write('GET / HTTP/1.1\r\n Folded: x\r\n\r\n');
    await tick();
    big.client.write('more\r\n\r\n');
    await tick();
    assert.deepEqual(outcomes.map((o) => [o.socket === big.socket ? 'big' : 'bad', o.error?.status]), [['big', 431], ['bad', 400]]);
    assert.match(outcomes[1]!.error!.message, /fold/);
  });

  test('a first byte no request line starts with (a TLS ClientHello, a NUL, a space) fails with 400 at once, without waiting for a head', async (t) => {
    const { heads, outcomes } = reader();
    const starts = [[0x16, 0x03, 0x01, 0x02, 0x00], [0x00, 0x47], [0x20, 0x47, 0x45, 0x54]];
    const sockets = starts.map((bytes) => {
      const side = open(t);
      heads.read(side.socket);
      side.client.write(Buffer.from(bytes));
      return side.socket;
    });
    // A token's first byte, and an empty line before the request line, still wait for the rest.
    for (const start of ['G', 'm', '\r\n']) {
      const side = open(t);
      heads.read(side.socket);
      side.client.write(start);
    }
    await tick();
    assert.deepEqual(outcomes.map((o) => [sockets.indexOf(o.socket), o.error?.status, o.error?.message]), [
      [0, 400, 'not an HTTP request'],
      [1, 400, 'not an HTTP request'],
      [2, 400, 'not an HTTP request'],
    ]);
    assert.equal(heads.size, 3);
  });

  test('empty lines (CRLF or LF) before the request line are ignored (RFC 9112 §2.2), in their own chunks or with the request', async (t) => {
    const { heads, outcomes } = reader();
    const one = open(t);
    heads.read(one.socket);
    one.client.write('\r\n');
    await tick();
    one.client.write('\n\r\n' + REQUEST);
    const two = open(t);
    heads.read(two.socket);
    two.client.write('\r\n\r\n' + REQUEST);
    await tick();
    assert.deepEqual(outcomes.map((o) => [o.socket === one.socket ? 'one' : 'two', o.head?.method, o.head?.target, o.head?.headers['host'], o.error?.message]), [
      ['one', 'GET', '/chat?x=1', 'example', undefined],
      ['two', 'GET', '/chat?x=1', 'example', undefined],
    ]);
  });

  test('a client that closes before its head is complete fails with 400', async (t) => {
    const { heads, outcomes } = reader();
    const { client, socket } = open(t);
    heads.read(socket);
    client.end('GET / HTTP/1.1\r\n');
    await tick();
    await tick();
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.error!.status, 400);
  });

  test('a client that closes without sending a byte is abandoned, not failed (nothing to answer)', async (t) => {
    const { heads, outcomes } = reader();
    const { client, socket } = open(t);
    heads.read(socket);
    client.end();
    await tick();
    await tick();
    assert.deepEqual(outcomes.map((o) => [o.abandoned === true, o.error?.status]), [[true, undefined]]);
    assert.equal(heads.size, 0);
  });

  test('one timer drops each socket too slow to send its head at its own deadline, and spares those whose head came', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 5000);
    const early = open(t);
    heads.read(early.socket);
    await clock.advance(2000);
    const late = open(t);
    heads.read(late.socket);
    const done = open(t);
    heads.read(done.socket);
    done.client.write(REQUEST);
    await clock.advance(2900); // 4900 ms after the first
    assert.deepEqual(outcomes.map((o) => o.socket === done.socket), [true], 'only the finished head so far');
    await clock.advance(200); // 5100
    assert.equal(outcomes.length, 2);
    assert.equal(outcomes[1]!.socket, early.socket);
    assert.equal(outcomes[1]!.error!.status, 408);
    assert.equal(outcomes[1]!.error!.code, 'SW_HANDSHAKE_TIMEOUT');
    await clock.advance(1800); // 6900: the late one has 100 ms left
    assert.equal(outcomes.length, 2);
    await clock.advance(200); // 7100
    assert.equal(outcomes.length, 3);
    assert.equal(outcomes[2]!.socket, late.socket);
    assert.equal(outcomes[2]!.error!.status, 408);
    assert.equal(heads.size, 0);
  });
});

test('HeadReader: a socket whose time started earlier (TLS: at its TCP arrival) is dropped at its own deadline, even behind later ones', async (t) => {
  const clock = FakeClock.install(t);
  const { heads, outcomes } = reader(1024, 1000);
  const plain = open(t);
  heads.read(plain.socket);
  await clock.advance(600);
  // Its TLS handshake took 600 ms: 400 ms left for its head.
  const tls = open(t);
  heads.read(tls.socket, Date.now() - 600);
  await clock.advance(300); // 900
  assert.equal(outcomes.length, 0);
  await clock.advance(200); // 1100: both are past their deadlines (1000 each)
  assert.deepEqual(new Set(outcomes.map((o) => o.socket)), new Set([plain.socket, tls.socket]));
  const third = open(t);
  heads.read(third.socket); // 1100 + 1000
  const fourth = open(t);
  heads.read(fourth.socket, Date.now() - 900); // 1100 + 100: behind the third, due first
  await clock.advance(150); // 1250
  assert.equal(outcomes.at(-1)!.socket, fourth.socket);
  assert.equal(outcomes.at(-1)!.error!.status, 408);
  assert.equal(heads.size, 1);
  await clock.advance(900); // 2150
  assert.equal(outcomes.at(-1)!.socket, third.socket);
  assert.equal(heads.size, 0);
});

test('HeadReader: when what a timeout reports throws, the sockets after it still time out', async (t) => {
  const clock = FakeClock.install(t);
  const failed: Socket[] = [];
  const heads = new HeadReader(
    {
      headRead: () => {},
      headFailed: (socket) => {
        failed.push(socket);
        if (failed.length === 1) throw new Error('a listener bug');
      },
      headAbandoned: () => {},
    },
    1024,
    1000,
  );
  const first = open(t);
  const second = open(t);
  heads.read(first.socket);
  heads.read(second.socket);
  // The fake clock's tick() rethrows what the timer threw (a real timer would make it uncaught).
  await assert.rejects(clock.advance(1100), /a listener bug/);
  await clock.advance(100);
  assert.deepEqual(failed, [first.socket, second.socket]);
  assert.equal(heads.size, 0);
});
