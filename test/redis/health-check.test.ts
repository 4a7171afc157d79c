/**
 * HealthCheck on its own: a fake client whose PINGs the test answers (or not), and mocked timers.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Redis } from 'ioredis';
import { BackplaneError } from '../../src/errors.js';
import { HealthCheck } from '../../src/redis/health-check.js';

/** The socket counters HealthCheck reads (as a net.Socket has them). */
class FakeSocket {
  bytesRead = 0;
  bytesWritten = 0;
  writableLength = 0;
  _handle = { writeQueueSize: 0 };

  /** A write of `bytes` handed to the socket, not yet taken by the kernel. */
  write(bytes: number): void {
    this.bytesWritten += bytes;
    this.writableLength += bytes;
    this._handle.writeQueueSize += bytes;
  }

  /** The kernel took `bytes` of the write under way (the peer acknowledged earlier ones). */
  take(bytes: number): void {
    this._handle.writeQueueSize -= bytes;
    if (this._handle.writeQueueSize === 0) this.writableLength = 0;
  }
}

class FakePingClient {
  status = 'ready';
  stream = new FakeSocket();
  readonly pings: { resolve: (reply: string) => void; reject: (error: Error) => void }[] = [];
  readonly log: string[] = [];

  ping(): Promise<string> {
    this.log.push('ping');
    return new Promise((resolve, reject) => void this.pings.push({ resolve, reject }));
  }

  disconnect(reconnect?: boolean): void {
    this.log.push(`disconnect(${reconnect})`);
  }

  asRedis(): Redis {
    return this as unknown as Redis;
  }
}

function check(t: TestContext, client: FakePingClient, timeout = 1000, peer?: FakePingClient): HealthCheck {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const health = new HealthCheck(
    client.asRedis(),
    timeout,
    (error) => {
      assert.ok(error instanceof BackplaneError);
      client.log.push(error.message);
    },
    peer?.asRedis(),
  );
  t.after(() => health.stop());
  return health;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('HealthCheck', () => {
  test('every timeout ms a PING; an answer in time drops nothing', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(999);
    assert.deepEqual(client.log, []);
    t.mock.timers.tick(1);
    assert.deepEqual(client.log, ['ping']);
    client.pings[0]!.resolve('PONG');
    await settle();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping'], 'answered: a new PING at the next interval');
    client.pings[1]!.resolve('PONG');
    await settle();
    t.mock.timers.tick(999);
    assert.deepEqual(client.log, ['ping', 'ping']);
  });

  test('no answer within timeout ms: the reason is told, then the connection dropped (to reconnect)', async (t) => {
    const client = new FakePingClient();
    check(t, client, 500).start();
    t.mock.timers.tick(500);
    t.mock.timers.tick(499);
    assert.deepEqual(client.log, ['ping'], 'no second PING while one is unanswered');
    t.mock.timers.tick(1);
    assert.deepEqual(client.log, ['ping', 'Redis did not answer a PING within 500 ms', 'disconnect(true)']);
    t.mock.timers.tick(500);
    assert.deepEqual(client.log.at(-1), 'ping', 'after the deadline passed, PINGs go on');
  });

  test('a failed PING counts as an answer (ioredis reports that outage itself)', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(1000);
    client.pings[0]!.reject(new Error('Connection is closed.'));
    await settle();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping']);
  });

  test('no PING on a connection that is not ready, and no drop when it is no longer ready at the deadline', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    client.status = 'reconnecting';
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, []);
    client.status = 'ready';
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    client.status = 'reconnecting';
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    client.status = 'ready';
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping'], 'the deadline that passed is forgotten');
  });

  test('a late answer to an old PING does not cancel the deadline of the current one', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(1000);
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)']);
    t.mock.timers.tick(1000);
    assert.equal(client.pings.length, 2);
    client.pings[0]!.resolve('PONG');
    await settle();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log.slice(3), ['ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)']);
  });

  test('its timers keep no process alive (both unref()ed)', (t) => {
    const made: { callback: () => void; timer: NodeJS.Timeout }[] = [];
    const realInterval = globalThis.setInterval;
    const realTimeout = globalThis.setTimeout;
    t.mock.method(globalThis, 'setInterval', (callback: () => void, ms: number) => {
      const timer = realInterval(callback, ms);
      made.push({ callback, timer });
      return timer;
    });
    t.mock.method(globalThis, 'setTimeout', (callback: () => void, ms: number) => {
      const timer = realTimeout(callback, ms);
      made.push({ callback, timer });
      return timer;
    });
    const client = new FakePingClient();
    const health = new HealthCheck(client.asRedis(), 60_000, () => assert.fail('no deadline passes'));
    t.after(() => health.stop());
    health.start();
    assert.equal(made.length, 1);
    // Runs the interval's check by hand: a PING and its deadline timer.
    made[0]!.callback();
    assert.deepEqual(client.log, ['ping']);
    assert.equal(made.length, 2);
    assert.deepEqual(made.map(({ timer }) => timer.hasRef()), [false, false]);
  });

  test('stop() ends the PINGs and a pending deadline; start() twice runs one interval; start() after stop() runs again', async (t) => {
    const client = new FakePingClient();
    const health = check(t, client);
    health.start();
    health.start();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    health.stop();
    t.mock.timers.tick(5000);
    assert.deepEqual(client.log, ['ping']);
    health.start();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping'], 'the old deadline was cleared with the old interval');
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log.slice(2), ['Redis did not answer a PING within 1000 ms', 'disconnect(true)']);
  });

  test('a PING waiting behind a large reply: the bytes coming in show Redis is there; dropped only after a timeout without any', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    // A reply ahead of the PING comes in slowly: 3 timeouts' worth.
    for (let i = 0; i < 3; i++) {
      client.stream.bytesRead += 500_000;
      t.mock.timers.tick(1000);
      assert.deepEqual(client.log, ['ping'], `still receiving after ${i + 1} timeout(s): not dropped, no second PING`);
    }
    // Then nothing at all for a whole timeout.
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)']);
  });

  test('a PING waiting behind a large command being sent: bytes the peer takes count; the answer ends the wait', async (t) => {
    const client = new FakePingClient();
    client.stream.write(4_000_000);
    check(t, client).start();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    client.stream.write(14);
    client.stream.take(1_000_000);
    t.mock.timers.tick(1000);
    client.stream.take(2_999_986);
    t.mock.timers.tick(1000);
    client.stream.take(14);
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping'], 'sending: not dropped');
    client.pings[0]!.resolve('PONG');
    await settle();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping'], 'answered: PINGs go on as before');
  });

  test('writes the kernel takes while nothing was waiting to go out are no sign of the peer', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(1000);
    // (A small write goes into the kernel's buffer whether Redis is there or not.)
    client.stream.write(100);
    client.stream.take(100);
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)']);
  });

  test('silent, with a command ahead of the PING, while Redis answers on the other connection (a proxy passing it on slowly): waited on, for a time that grows with its size', async (t) => {
    const client = new FakePingClient();
    const peer = new FakePingClient();
    // The PING before the command was answered: only the command (4 MiB, taken at once by a proxy) is ahead of the next.
    check(t, client, 1000, peer).start();
    t.mock.timers.tick(1000);
    client.pings[0]!.resolve('PONG');
    await settle();
    client.stream.write(4 * 1024 * 1024);
    client.stream.take(4 * 1024 * 1024);
    t.mock.timers.tick(1000);
    assert.equal(client.log.length, 2);
    // 1 s + 4 MiB at 256 KiB/s = 17 s, while the peer keeps hearing from Redis.
    for (let i = 0; i < 15; i++) {
      peer.stream.bytesRead += 10;
      t.mock.timers.tick(1000);
    }
    assert.deepEqual(client.log, ['ping', 'ping'], 'not dropped within 16 s');
    peer.stream.bytesRead += 10;
    t.mock.timers.tick(1000);
    peer.stream.bytesRead += 10;
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)'], 'dropped once that time passed');
  });

  test('silent, with nothing ahead of the PING, or with the other connection silent too: dropped after one timeout', async (t) => {
    const client = new FakePingClient();
    const peer = new FakePingClient();
    check(t, client, 1000, peer).start();
    t.mock.timers.tick(1000);
    client.pings[0]!.resolve('PONG');
    await settle();
    t.mock.timers.tick(1000);
    peer.stream.bytesRead += 10;
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)'], 'nothing ahead but the PING before: Redis answering elsewhere does not help');
    client.log.length = 0;
    client.stream = new FakeSocket();
    client.stream.write(4 * 1024 * 1024);
    client.stream.take(4 * 1024 * 1024);
    t.mock.timers.tick(1000);
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'Redis did not answer a PING within 1000 ms', 'disconnect(true)'], 'a command ahead, but Redis silent on both connections');
  });

  test('a connection made again while a PING waited (a new socket): not dropped for the old one', async (t) => {
    const client = new FakePingClient();
    check(t, client).start();
    t.mock.timers.tick(1000);
    client.stream = new FakeSocket();
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping']);
    t.mock.timers.tick(1000);
    assert.deepEqual(client.log, ['ping', 'ping'], 'a new PING on the new connection');
  });
});
