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
import { LentSocket } from '../../src/io/lent-socket.js';
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


/** Counts the timers set with setTimeout (on top of whatever clock is installed) until restore(). */
function countTimers(): { armed: number; restore(): void } {
  const mocked = globalThis.setTimeout;
  const counter = {
    armed: 0,
    restore: () => void (globalThis.setTimeout = mocked),
  };
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    counter.armed++;
    return mocked(...args);
  }) as typeof setTimeout;
  return counter;
}
describe('HeadReader', () => {
  test('a head split across chunks is read once, with the bytes after it, and the socket is left paused without its listeners', async (t) => {
    const { heads, outcomes } = reader();
    const { client, socket } = open(t);
    const listeners = socket.listenerCount('data');
    const ends = socket.listenerCount('end');
    const closes = socket.listenerCount('close');
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
    assert.equal(socket.listenerCount('end'), ends);
    assert.equal(socket.listenerCount('close'), closes);
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

describe('HeadReader: edges', () => {
  test('a head split after its first byte, or after a lone LF or CR before it, is read whole', async (t) => {
    const { heads, outcomes } = reader();
    const split = open(t);
    heads.read(split.socket);
    split.client.write(REQUEST.slice(0, 1));
    await tick();
    split.client.write(REQUEST.slice(1));
    const lf = open(t);
    heads.read(lf.socket);
    lf.client.write('\n' + REQUEST);
    const cr = open(t);
    heads.read(cr.socket);
    cr.client.write('\r' + REQUEST);
    await tick();
    assert.deepEqual(
      outcomes.map((o) => [[split.socket, lf.socket, cr.socket].indexOf(o.socket), o.head?.method, o.head?.target, o.error?.message]),
      [
        [0, 'GET', '/chat?x=1', undefined],
        [1, 'GET', '/chat?x=1', undefined],
        [2, 'GET', '/chat?x=1', undefined],
      ],
    );
  });

  test('maxHeaderBytes is inclusive: a head of exactly that many bytes is read, one byte more is 431, and so is an unfinished head once past it', async (t) => {
    const max = REQUEST.length;
    const { heads, outcomes } = reader(max);
    const exact = open(t);
    heads.read(exact.socket);
    exact.client.write(REQUEST);
    const over = open(t);
    heads.read(over.socket);
    over.client.write(REQUEST.replace('Host: example', 'Host: example1'));
    const unfinished = open(t);
    heads.read(unfinished.socket);
    // As many bytes as allowed, and no end of head yet: still waiting.
    unfinished.client.write(REQUEST.slice(0, -2) + 'XY');
    await tick();
    assert.deepEqual(outcomes.map((o) => [[exact.socket, over.socket].indexOf(o.socket), o.head?.target, o.error?.status]), [
      [0, '/chat?x=1', undefined],
      [1, undefined, 431],
    ]);
    unfinished.client.write('Z');
    await tick();
    assert.equal(outcomes.length, 3);
    assert.equal(outcomes[2]!.socket, unfinished.socket);
    assert.equal(outcomes[2]!.error!.status, 431);
  });

  test('sockets that arrive in the same millisecond or one apart are each dropped at their own deadline, to the millisecond', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 5000);
    const a = open(t);
    const b = open(t);
    heads.read(a.socket);
    heads.read(b.socket);
    await clock.advance(1, 1);
    const c = open(t);
    heads.read(c.socket);
    await clock.advance(4998, 4998); // 4999
    assert.equal(outcomes.length, 0);
    await clock.advance(1, 1); // 5000: a and b are due
    assert.deepEqual(outcomes.map((o) => o.socket), [a.socket, b.socket]);
    await clock.advance(1, 1); // 5001: c is due
    assert.deepEqual(outcomes.map((o) => o.socket), [a.socket, b.socket, c.socket]);
    assert.ok(outcomes.every((o) => o.error?.status === 408));
  });

  test('one timer serves every socket read in deadline order: reading more arms no other', async (t) => {
    const clock = FakeClock.install(t);
    const timers = countTimers();
    try {
      const { heads, outcomes } = reader(1024, 5000);
      for (let i = 0; i < 3; i++) heads.read(open(t).socket);
      await clock.advance(1, 1);
      for (let i = 0; i < 3; i++) heads.read(open(t).socket);
      assert.equal(timers.armed, 1);
      await clock.advance(4999, 4999); // 5000: the first three are due
      assert.equal(outcomes.length, 3);
      await clock.advance(1, 1);
      assert.equal(outcomes.length, 6);
      assert.equal(timers.armed, 2, 'one timer for the first three, one for the next three');
    } finally {
      timers.restore();
    }
  });

  /** Which of `sockets` the outcomes are about, in order, and their statuses. */
  const dropped = (outcomes: Outcome[], sockets: Record<string, Socket>): string[] =>
    outcomes.map((o) => `${Object.entries(sockets).find(([, socket]) => socket === o.socket)?.[0] ?? '?'} ${o.error?.status ?? 'head'}`);

  test('deadlines out of arrival order stay honoured while other sockets finish their heads', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 5000);
    const [a, x, b, c] = [open(t), open(t), open(t), open(t)];
    const sockets = { a: a.socket, x: x.socket, b: b.socket, c: c.socket };
    heads.read(a.socket);
    heads.read(x.socket);
    heads.read(b.socket, Date.now() - 3000); // due at 2000, behind a and x
    await clock.advance(10, 10);
    x.client.write(REQUEST);
    await clock.advance(10, 10);
    a.client.write(REQUEST);
    await clock.advance(10, 10);
    heads.read(c.socket, Date.now() - 3530); // due at 1500, behind b
    await clock.advance(1469, 1469); // 1499
    assert.deepEqual(dropped(outcomes, sockets), ['x head', 'a head']);
    await clock.advance(1, 1); // 1500
    assert.deepEqual(dropped(outcomes, sockets), ['x head', 'a head', 'c 408']);
    await clock.advance(499, 499); // 1999
    assert.equal(outcomes.length, 3);
    await clock.advance(1, 1); // 2000
    assert.deepEqual(dropped(outcomes, sockets), ['x head', 'a head', 'c 408', 'b 408']);
  });

  test('out of order, the next pass is for the earliest deadline left, not the first socket', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 5000);
    const [d, b, c] = [open(t), open(t), open(t)];
    const sockets = { d: d.socket, b: b.socket, c: c.socket };
    heads.read(d.socket); // due at 5000
    heads.read(b.socket, Date.now() - 3000); // 2000
    heads.read(c.socket, Date.now() - 3500); // 1500
    await clock.advance(1500, 1500);
    assert.deepEqual(dropped(outcomes, sockets), ['c 408']);
    await clock.advance(499, 499); // 1999
    assert.equal(outcomes.length, 1);
    await clock.advance(1, 1); // 2000
    assert.deepEqual(dropped(outcomes, sockets), ['c 408', 'b 408']);
  });

  test('once every socket is gone, order starts afresh: later sockets in order are each dropped at their own deadline', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 5000);
    const [a, b, c, d, e] = [open(t), open(t), open(t), open(t), open(t)];
    const sockets = { a: a.socket, b: b.socket, c: c.socket, d: d.socket, e: e.socket };
    // Out of order: b is due before a.
    heads.read(a.socket); // 5000
    heads.read(b.socket, Date.now() - 100); // 4900
    await clock.advance(5000, 100);
    assert.deepEqual(dropped(outcomes, sockets), ['b 408', 'a 408']);
    assert.equal(heads.size, 0);
    // At 5000: c, whose time ran out before it arrived (due at 4999, before a's deadline), then d
    // and e a millisecond apart.
    heads.read(c.socket, Date.now() - 5001);
    heads.read(d.socket); // 10000
    await clock.advance(1, 1); // 5001
    assert.deepEqual(dropped(outcomes, sockets).slice(2), ['c 408'], 'c is dropped at the first pass, a millisecond on');
    heads.read(e.socket); // 10001
    await clock.advance(4999, 4999); // 10000
    assert.deepEqual(dropped(outcomes, sockets).slice(3), ['d 408']);
    await clock.advance(1, 1); // 10001
    assert.deepEqual(dropped(outcomes, sockets).slice(3), ['d 408', 'e 408']);
  });

  test('out of order, passes are at least a hundredth of the timeout apart', async (t) => {
    const clock = FakeClock.install(t);
    const { heads, outcomes } = reader(1024, 100_000);
    const [a, b, e] = [open(t), open(t), open(t)];
    const sockets = { a: a.socket, b: b.socket, e: e.socket };
    heads.read(a.socket); // 100000
    heads.read(b.socket, Date.now() - 60_000); // 40000
    heads.read(e.socket, Date.now() - 59_990); // 40010
    await clock.advance(40_000, 40_000);
    assert.deepEqual(dropped(outcomes, sockets), ['b 408']);
    await clock.advance(991, 991); // 40991: e is due, but the next pass is 1000 ms after the last
    assert.equal(outcomes.length, 1);
    await clock.advance(9, 9); // 41000
    assert.deepEqual(dropped(outcomes, sockets), ['b 408', 'e 408']);
  });

  test('a client that resets the connection (a close without an end) is heard at once: abandoned before a byte, 400 after', async (t) => {
    const { heads, outcomes } = reader();
    const silent = open(t);
    const partial = open(t);
    heads.read(silent.socket);
    heads.read(partial.socket);
    partial.client.write('GET / HTTP/1.1\r\n');
    await tick();
    silent.client.destroy();
    partial.client.destroy();
    await tick();
    await tick();
    assert.deepEqual(
      outcomes.map((o) => [o.socket === silent.socket ? 'silent' : 'partial', o.abandoned === true, o.error?.status]),
      [
        ['silent', true, undefined],
        ['partial', false, 400],
      ],
    );
    assert.equal(heads.size, 0);
  });

  test('a timer replaced by one for an earlier deadline is cancelled: it makes no pass of its own', async (t) => {
    const clock = FakeClock.install(t);
    const timers = countTimers();
    try {
      const { heads, outcomes } = reader(1024, 5000);
      const [a, b, c] = [open(t), open(t), open(t)];
      heads.read(a.socket); // a timer for 5000
      heads.read(b.socket, Date.now() - 3000); // replaced by one for 2000
      await clock.advance(10, 10);
      a.client.write(REQUEST);
      await clock.advance(90, 90);
      heads.read(c.socket); // 5100
      await clock.advance(1900, 1900); // 2000: b is dropped, and a timer set for c
      assert.deepEqual(outcomes.map((o) => o.socket), [a.socket, b.socket]);
      assert.equal(timers.armed, 3);
      await clock.advance(3100, 100); // 5100
      assert.deepEqual(outcomes.map((o) => o.socket), [a.socket, b.socket, c.socket]);
      assert.equal(timers.armed, 3, 'the timer set for 5000 made a pass');
    } finally {
      timers.restore();
    }
  });

  test("the reader's timer does not keep the process alive", (t) => {
    const count = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const { heads } = reader(1024, 60_000);
    const before = count();
    heads.read(open(t).socket);
    assert.equal(count(), before);
  });

  test('lent reads (a LentSocket): a partial head is kept as a copy and the bytes after a head are copied, so later reads into the same buffer change neither; data listeners hear nothing', (t) => {
    const { heads, outcomes } = reader();
    const shared = Buffer.alloc(256);
    /** Reads `text` into the shared buffer for `socket`, then writes over the buffer, as the next read of any socket would. */
    const feed = (socket: LentSocket, text: string): void => {
      const length = shared.write(text, 'latin1');
      socket.lentRead(shared.subarray(0, length));
      shared.fill(0x41);
    };
    const split = new LentSocket();
    const whole = new LentSocket();
    t.after(() => {
      split.destroy();
      whole.destroy();
    });
    let dataEvents = 0;
    for (const socket of [split, whole]) socket.on('data', () => dataEvents++);
    heads.read(split);
    heads.read(whole);
    feed(split, REQUEST.slice(0, 20));
    feed(whole, `${REQUEST}after the whole head`);
    feed(split, `${REQUEST.slice(20)}after the split head`);
    assert.equal(outcomes.length, 2);
    const [first, second] = outcomes;
    assert.equal(first!.socket, whole);
    assert.equal(first!.head!.target, '/chat?x=1');
    assert.equal(first!.rest!.toString('latin1'), 'after the whole head');
    assert.equal(second!.socket, split);
    assert.equal(second!.head!.target, '/chat?x=1');
    assert.equal(second!.head!.headers['upgrade'], 'websocket');
    assert.equal(second!.rest!.toString('latin1'), 'after the split head');
    assert.equal(dataEvents, 0);
  });

  test('lent reads: the reader is the socket\'s target while the head is read and none after; the socket is left listening to nothing new', (t) => {
    const { heads, outcomes } = reader();
    const socket = new LentSocket();
    t.after(() => socket.destroy());
    const namesBefore = Object.keys((socket as unknown as { _events: object })._events).sort();
    heads.read(socket);
    assert.notEqual(socket.target, undefined);
    socket.lentRead(Buffer.from(REQUEST, 'latin1'));
    assert.equal(outcomes.length, 1);
    assert.equal(socket.target, undefined, 'the connection the socket becomes sets its own');
    assert.deepEqual(socket.eventNames().filter((name) => name === 'data'), []);
    // (An event name a stream once listened to stays among its events, kept undefined: the reader uses none of its own.)
    assert.deepEqual(Object.keys((socket as unknown as { _events: object })._events).sort(), namesBefore);
  });

  test('lent reads: a head with nothing after it hands on an empty rest', (t) => {
    const { heads, outcomes } = reader();
    const socket = new LentSocket();
    t.after(() => socket.destroy());
    heads.read(socket);
    socket.lentRead(Buffer.from(REQUEST, 'latin1'));
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.rest!.length, 0);
  });
});
