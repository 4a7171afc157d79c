/**
 * The connection helpers on their own: the options openConnection gives ioredis (a client made
 * with lazyConnect, never connected), waitReady and serverRunId against a fake client, withinTime
 * with mocked timers.
 */
import { EventEmitter } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Redis } from 'ioredis';
import { isReplyError, openConnection, serverRunId, waitReady, withinTime } from '../../src/redis/redis-connection.js';

class FakeStatusClient extends EventEmitter {
  status = 'connecting';
  infoReply = '';
  infoError: Error | undefined;
  readonly sections: string[] = [];
  readonly keys = new Map<string, string>();
  setError: Error | undefined;
  readonly calls: string[] = [];

  info(section: string): Promise<string> {
    this.sections.push(section);
    return this.infoError ? Promise.reject(this.infoError) : Promise.resolve(this.infoReply);
  }

  set(key: string, value: string, nx: string): Promise<'OK' | null> {
    this.calls.push(`SET ${key} ${nx}`);
    assert.equal(nx, 'NX');
    if (this.setError) return Promise.reject(this.setError);
    if (this.keys.has(key)) return Promise.resolve(null);
    this.keys.set(key, value);
    return Promise.resolve('OK');
  }

  get(key: string): Promise<string | null> {
    this.calls.push(`GET ${key}`);
    return Promise.resolve(this.keys.get(key) ?? null);
  }

  asRedis(): Redis {
    return this as unknown as Redis;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Whether `promise` settled, and with what, after the microtasks and immediates now queued. */
async function peek<T>(promise: Promise<T>): Promise<{ settled: boolean; value?: T }> {
  let state: { settled: boolean; value?: T } = { settled: false };
  void promise.then((value) => (state = { settled: true, value }));
  await settle();
  return state;
}

describe('openConnection', () => {
  test('RESP2, no offline queue, no resent commands, no retries per request, reconnects for ever with a capped delay', () => {
    const client = openConnection('redis://127.0.0.1:1/0', 700, { lazyConnect: true, protocol: 3, enableOfflineQueue: true, connectionName: 'extra' });
    try {
      const options = client.options;
      assert.equal(options.lazyConnect, true);
      assert.equal(options.connectionName, 'extra', 'extra options are passed on');
      assert.equal(options.protocol, 2);
      assert.equal(options.enableOfflineQueue, false);
      assert.equal(options.autoResendUnfulfilledCommands, false);
      assert.equal(options.maxRetriesPerRequest, 0);
      assert.deepEqual([1, 2, 13, 14, 15, 1000].map((attempt) => options.retryStrategy!(attempt)), [50, 100, 650, 700, 700, 700]);
      assert.equal(options.reconnectOnError!(new Error('READONLY')), false);
      assert.equal(client.status, 'wait', 'lazyConnect: not connected');
    } finally {
      client.disconnect();
    }
  });

  test("no ready check (it needs INFO, which a Redis may refuse or have renamed), even if asked; no wait for the TCP end at disconnect unless asked", () => {
    const client = openConnection('redis://127.0.0.1:1/0', 700, { lazyConnect: true, enableReadyCheck: true });
    const patient = openConnection('redis://127.0.0.1:1/0', 700, { lazyConnect: true, disconnectTimeout: 1500 });
    try {
      assert.equal(client.options.enableReadyCheck, false);
      assert.equal(client.options.disconnectTimeout, 0);
      assert.equal(patient.options.disconnectTimeout, 1500, "the caller's own value is kept");
    } finally {
      client.disconnect();
      patient.disconnect();
    }
  });
});

describe('openConnection: timeouts', () => {
  test("ioredis's own command and socket timeouts given in the extra options are switched off (the health check judges Redis)", () => {
    const client = openConnection('redis://127.0.0.1:1/0', 700, { lazyConnect: true, commandTimeout: 1500, socketTimeout: 1500, blockingTimeout: 1500, connectTimeout: 1234 });
    try {
      assert.equal(client.options.commandTimeout, undefined);
      assert.equal(client.options.socketTimeout, undefined);
      assert.equal(client.options.blockingTimeout, undefined);
      assert.equal(client.options.connectTimeout, 1234, 'the time to connect is kept');
    } finally {
      client.disconnect();
    }
  });
});

describe('waitReady', () => {
  test('true at once on a ready client; false at once on an ended client or when stopped', async () => {
    const client = new FakeStatusClient();
    client.status = 'ready';
    assert.equal(await waitReady(client.asRedis(), () => false), true);
    assert.equal(await waitReady(client.asRedis(), () => true), false);
    client.status = 'end';
    assert.equal(await waitReady(client.asRedis(), () => false), false);
  });

  test('waits for the ready event, and leaves no listener behind', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStatusClient();
    const waiting = waitReady(client.asRedis(), () => false);
    assert.equal((await peek(waiting)).settled, false);
    assert.equal(client.listenerCount('ready'), 1);
    client.status = 'ready';
    client.emit('ready');
    assert.deepEqual(await peek(waiting), { settled: true, value: true });
    assert.equal(client.listenerCount('ready'), 0);
  });

  test('looks again every 100 ms (a status changed without an event, or stop() called), one listener at a time', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStatusClient();
    let stopped = false;
    const waiting = waitReady(client.asRedis(), () => stopped);
    await settle();
    t.mock.timers.tick(99);
    assert.equal((await peek(waiting)).settled, false);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(client.listenerCount('ready'), 1, 'the first wait removed its listener');
    const silent = new FakeStatusClient();
    const quiet = waitReady(silent.asRedis(), () => false);
    await settle();
    silent.status = 'ready';
    t.mock.timers.tick(99);
    assert.equal((await peek(quiet)).settled, false, 'no event: seen at the 100 ms look');
    t.mock.timers.tick(1);
    assert.deepEqual(await peek(quiet), { settled: true, value: true });
    stopped = true;
    t.mock.timers.tick(100);
    assert.deepEqual(await peek(waiting), { settled: true, value: false });
    assert.equal(client.listenerCount('ready'), 0);
    const later = new FakeStatusClient();
    const ready = waitReady(later.asRedis(), () => false);
    await settle();
    later.status = 'ready';
    t.mock.timers.tick(100);
    assert.deepEqual(await peek(ready), { settled: true, value: true });
    const ending = new FakeStatusClient();
    const ended = waitReady(ending.asRedis(), () => false);
    await settle();
    ending.status = 'end';
    t.mock.timers.tick(100);
    assert.deepEqual(await peek(ended), { settled: true, value: false });
  });
});

/** Records the timers made with setTimeout (real ones) while `t` runs, and which of them were cleared. */
function recordTimeouts(t: TestContext): { made: NodeJS.Timeout[]; cleared: Set<unknown> } {
  const made: NodeJS.Timeout[] = [];
  const cleared = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  t.mock.method(globalThis, 'setTimeout', (callback: () => void, ms: number) => {
    const timer = realSet(callback, ms);
    made.push(timer);
    return timer;
  });
  t.mock.method(globalThis, 'clearTimeout', (timer: NodeJS.Timeout | undefined) => {
    cleared.add(timer);
    realClear(timer);
  });
  return { made, cleared };
}

describe('timers left behind', () => {
  test('waitReady clears its 100 ms timer when the ready event came first', async (t) => {
    const { made, cleared } = recordTimeouts(t);
    const client = new FakeStatusClient();
    const waiting = waitReady(client.asRedis(), () => false);
    await settle();
    assert.equal(made.length, 1);
    assert.equal(cleared.size, 0);
    client.status = 'ready';
    client.emit('ready');
    assert.equal(await waiting, true);
    assert.ok(cleared.has(made[0]));
  });

  test('withinTime clears its timer when the promise settled in time', async (t) => {
    const { made, cleared } = recordTimeouts(t);
    assert.equal(await withinTime(Promise.resolve('v'), 60_000), 'v');
    assert.equal(made.length, 1);
    assert.ok(cleared.has(made[0]));
  });
});

describe('serverRunId', () => {
  test('the run id from INFO server; empty when the reply has none', async () => {
    const client = new FakeStatusClient();
    client.infoReply = '# Server\r\nredis_version:7.2.4\r\nrun_id:0f3c9a77e1b2\r\ntcp_port:6379\r\n';
    assert.equal(await serverRunId(client.asRedis()), '0f3c9a77e1b2');
    assert.deepEqual(client.sections, ['default']);
    const none = new FakeStatusClient();
    none.infoReply = '# Server\r\nredis_version:7.2.4\r\n';
    assert.equal(await serverRunId(none.asRedis()), '');
  });

  test('a Redis still loading its data set rejects, and not as a refusal (the caller asks again); loaded, it answers', async () => {
    const client = new FakeStatusClient();
    client.infoReply = '# Server\r\nrun_id:0f3c9a77e1b2\r\n\r\n# Persistence\r\nloading:1\r\nasync_loading:0\r\n';
    const error = await serverRunId(client.asRedis(), 'test:run').then(
      () => undefined,
      (reason: unknown) => reason,
    );
    assert.match(String((error as Error | undefined)?.message), /loading its data set/);
    assert.equal(isReplyError(error), false);
    assert.deepEqual(client.calls, [], 'the marker key is not written for it');
    client.infoReply = client.infoReply.replace('loading:1', 'loading:0');
    assert.equal(await serverRunId(client.asRedis(), 'test:run'), '0f3c9a77e1b2');
  });
});

describe('withinTime', () => {
  test('the value when the promise settles in time; undefined for a rejection', async () => {
    assert.equal(await withinTime(Promise.resolve(7), 1000), 7);
    assert.equal(await withinTime(Promise.reject(new Error('no')), 1000), undefined);
  });

  test('undefined once ms passed; a value after that is ignored', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let resolve!: (value: number) => void;
    const late = withinTime(new Promise<number>((r) => (resolve = r)), 500);
    t.mock.timers.tick(499);
    assert.equal((await peek(late)).settled, false);
    t.mock.timers.tick(1);
    assert.deepEqual(await peek(late), { settled: true, value: undefined });
    resolve(1);
  });
});

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

describe('serverRunId where Redis refuses INFO', () => {
  test('a random value under the marker key stands in for the run id: written by the first client, the same for every later one', async () => {
    const first = new FakeStatusClient();
    first.infoError = replyError("NOPERM this user has no permissions to run the 'info' command");
    const id = await serverRunId(first.asRedis(), 'test:run');
    assert.match(id, /^marker:[0-9a-f]{16}$/);
    assert.deepEqual(first.calls, ['SET test:run NX', 'GET test:run']);
    // Another client of the same Redis (the keys are shared), and the same one again.
    const second = new FakeStatusClient();
    second.infoError = first.infoError;
    Object.assign(second, { keys: first.keys });
    assert.equal(await serverRunId(second.asRedis(), 'test:run'), id);
    assert.equal(await serverRunId(first.asRedis(), 'test:run'), id);
    // Redis lost its data: a new value, so a new "run id".
    first.keys.clear();
    assert.notEqual(await serverRunId(first.asRedis(), 'test:run'), id);
  });

  test('without a marker key, or for a failure that is not a refusal, it rejects as INFO did', async () => {
    const client = new FakeStatusClient();
    client.infoError = replyError('NOPERM no info');
    await assert.rejects(serverRunId(client.asRedis()), { message: 'NOPERM no info' });
    client.infoError = new Error('Connection is closed.');
    await assert.rejects(serverRunId(client.asRedis(), 'test:run'), { message: 'Connection is closed.' });
    // Refusals that are not about INFO: credentials missing, a script running.
    for (const message of ['NOAUTH Authentication required.', 'BUSY Redis is busy running a script.']) {
      client.infoError = replyError(message);
      await assert.rejects(serverRunId(client.asRedis(), 'test:run'), { message });
    }
    assert.deepEqual(client.calls, []);
  });

  test('INFO renamed away (an unknown command) is refused INFO too: the marker key stands in', async () => {
    const client = new FakeStatusClient();
    client.infoError = replyError("ERR unknown command 'info', with args beginning with: 'default' ");
    assert.match(await serverRunId(client.asRedis(), 'test:run'), /^marker:[0-9a-f]{16}$/);
  });

  test('the marker key refused too: an error that says both, and that counts as a refusal', async () => {
    const client = new FakeStatusClient();
    client.infoError = replyError('NOPERM no info');
    client.setError = replyError('NOPERM No permissions to access a key');
    const error = await serverRunId(client.asRedis(), 'test:run').then(
      () => assert.fail('resolved'),
      (error: unknown) => error as Error,
    );
    assert.match(error.message, /INFO \(NOPERM no info\).*test:run.*NOPERM No permissions to access a key/);
    assert.equal(isReplyError(error), true);
    assert.equal(isReplyError(new Error('Connection is closed.')), false);
  });
});
