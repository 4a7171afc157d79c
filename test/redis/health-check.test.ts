/**
 * HealthCheck on its own: a fake client whose PINGs the test answers (or not), and mocked timers.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Redis } from 'ioredis';
import { BackplaneError } from '../../src/errors.js';
import { HealthCheck } from '../../src/redis/health-check.js';

class FakePingClient {
  status = 'ready';
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

function check(t: TestContext, client: FakePingClient, timeout = 1000): HealthCheck {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const health = new HealthCheck(client.asRedis(), timeout, (error) => {
    assert.ok(error instanceof BackplaneError);
    client.log.push(error.message);
  });
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
});
