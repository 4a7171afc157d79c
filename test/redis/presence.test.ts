/**
 * Presence on its own, against a hand-written fake of the ioredis calls it makes (MULTI chains,
 * ZRANGE, a pipeline of HMGETs, ZREM, `status`), with mocked timers and clock. Cluster-wide counts
 * over a real Redis are in redis-backplane.test.ts.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Redis } from 'ioredis';
import { BackplaneError } from '../../src/errors.js';
import { Presence } from '../../src/redis/presence.js';
import { type NodePresence } from '../../src/server/backplane.js';

type Command = [string, ...unknown[]];

/**
 * Records each MULTI's commands; `exec` resolves with a reply per command (EXISTS answers
 * `exists`, a command named in `failing` answers an error), or rejects when `failExec` is set.
 */
class FakePresenceClient {
  status = 'ready';
  failExec = false;
  exists = 1;
  failing = '';
  readonly transactions: Command[][] = [];
  readonly calls: Command[] = [];
  /** ZRANGE's reply. */
  ids: string[] = [];
  /** The pipeline's reply: one [error, values] per HMGET, or null. */
  replies: [Error | null, unknown][] | null = [];
  zrangeError: Error | undefined;

  multi(): unknown {
    const commands: Command[] = [];
    this.transactions.push(commands);
    const chain = {
      del: (...args: unknown[]) => (commands.push(['del', ...args]), chain),
      exists: (...args: unknown[]) => (commands.push(['exists', ...args]), chain),
      hset: (...args: unknown[]) => (commands.push(['hset', ...args]), chain),
      hdel: (...args: unknown[]) => (commands.push(['hdel', ...args]), chain),
      pexpire: (...args: unknown[]) => (commands.push(['pexpire', ...args]), chain),
      zadd: (...args: unknown[]) => (commands.push(['zadd', ...args]), chain),
      zrem: (...args: unknown[]) => (commands.push(['zrem', ...args]), chain),
      exec: () => {
        if (this.failExec) return Promise.reject(new Error('EXECABORT'));
        return Promise.resolve(commands.map(([name]) => (name === this.failing ? [new Error('OOM'), null] : [null, name === 'exists' ? this.exists : 1])));
      },
    };
    return chain;
  }

  zrange(...args: unknown[]): Promise<string[]> {
    this.calls.push(['zrange', ...args]);
    return this.zrangeError ? Promise.reject(this.zrangeError) : Promise.resolve(this.ids);
  }

  pipeline(): unknown {
    const pipeline = {
      hmget: (...args: unknown[]) => (this.calls.push(['hmget', ...args]), pipeline),
      exec: () => (this.calls.push(['pipeline.exec']), Promise.resolve(this.replies)),
    };
    return pipeline;
  }

  zrem(...args: unknown[]): Promise<number> {
    this.calls.push(['zrem', ...args]);
    return Promise.resolve(1);
  }

  asRedis(): Redis {
    return this as unknown as Redis;
  }
}

const KEYS = { nodes: 'p:nodes', node: (id: string) => `p:node:${id}` };

/** This node with no connection and no topic (for sums of the other nodes alone). */
const NONE = (): NodePresence => ({ connections: 0, topics: new Map() });

function presence(client: FakePresenceClient, ttl = 300, read: () => NodePresence = () => ({ connections: 3, topics: new Map([['room', 2], ['lobby', 1]]) })): Presence {
  return new Presence(client.asRedis(), KEYS, 'n1', ttl, read);
}

function mockTime(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
}

describe('Presence', () => {
  test('write() replaces the node\'s hash, sets its expiry and stamps the node in the set', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    await presence(client).write();
    assert.deepEqual(client.transactions, [
      [
        ['del', 'p:node:n1'],
        ['hset', 'p:node:n1', 'c', 3, 't:room', 2, 't:lobby', 1],
        ['pexpire', 'p:node:n1', 300],
        ['zadd', 'p:nodes', 1_000_000, 'n1'],
      ],
    ]);
  });

  test('a later write sends only what changed (HSET, HDEL for topics gone); with no change, only the expiry and the stamp, without reading the counts', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    let now: NodePresence = { connections: 3, topics: new Map([['room', 2], ['lobby', 1]]) };
    let reads = 0;
    const p = presence(client, 300, () => (reads++, now));
    await p.write();
    await p.write();
    assert.equal(reads, 1);
    now = { connections: 3, topics: new Map([['room', 5], ['new', 1]]) };
    p.changed();
    await p.write();
    now = { connections: 4, topics: new Map([['room', 5], ['new', 1]]) };
    p.changed();
    await p.write();
    assert.equal(reads, 3);
    const tail = [['pexpire', 'p:node:n1', 300], ['zadd', 'p:nodes', 1_000_000, 'n1']];
    assert.deepEqual(client.transactions.slice(1), [
      [['exists', 'p:node:n1'], ...tail],
      [['exists', 'p:node:n1'], ['hset', 'p:node:n1', 't:room', 5, 't:new', 1], ['hdel', 'p:node:n1', 't:lobby'], ...tail],
      [['exists', 'p:node:n1'], ['hset', 'p:node:n1', 'c', 4], ...tail],
    ]);
  });

  test('a hash Redis lost (EXISTS answers 0) is written whole at once; so is the next one after a failed write or a failed command', async () => {
    const client = new FakePresenceClient();
    const p = presence(client);
    const kinds = (): string[] => client.transactions.map((commands) => (commands[0]![0] === 'del' ? 'whole' : 'refresh'));
    await p.write();
    client.exists = 0;
    await p.write();
    assert.deepEqual(kinds(), ['whole', 'refresh', 'whole']);
    client.exists = 1;
    client.failExec = true;
    await p.write();
    client.failExec = false;
    await p.write();
    await p.write();
    assert.deepEqual(kinds().slice(3), ['refresh', 'whole', 'refresh'], 'the failed one, then whole, then a refresh again');
    client.failing = 'pexpire';
    await p.write();
    client.failing = '';
    await p.write();
    assert.deepEqual(kinds().slice(6), ['refresh', 'whole']);
    await p.rewrite();
    assert.deepEqual(kinds().slice(8), ['whole'], 'rewrite() after a reconnection');
  });

  test('flush() writes pending changes at once, and nothing when the hash is current; the 50 ms write then has nothing to do', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    const p = presence(client, 300);
    await p.flush();
    await p.flush();
    assert.equal(client.transactions.length, 1, 'the first flush writes the hash whole, the second nothing');
    p.changed();
    await p.flush();
    assert.equal(client.transactions.length, 2);
    t.mock.timers.tick(99);
    await p.flush();
    assert.equal(client.transactions.length, 2);
    t.mock.timers.tick(1);
    await p.flush();
    assert.equal(client.transactions.length, 3, 'a refresh older than ttl / 3 (the interval late) is renewed first');
  });

  test('flush() with nothing new waits for the write in flight, and for the whole rewrite it may lead to', async () => {
    const client = new FakePresenceClient();
    const p = presence(client);
    await p.write();
    client.exists = 0;
    void p.write();
    await p.flush();
    assert.equal(client.transactions.length, 3);
    assert.equal(client.transactions[2]![0]![0], 'del');
  });

  test('write() while Redis is unreachable, or after stop(), writes nothing; a failed write is swallowed', async () => {
    const client = new FakePresenceClient();
    const p = presence(client);
    client.status = 'reconnecting';
    await p.write();
    assert.equal(client.transactions.length, 0);
    client.status = 'ready';
    client.failExec = true;
    await p.write();
    assert.equal(client.transactions.length, 1);
    await p.stop();
    const after = client.transactions.length;
    await p.write();
    assert.equal(client.transactions.length, after);
  });

  test('start() rewrites every ttl / 3 ms', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    const p = presence(client, 300);
    p.start();
    t.after(() => p.stop());
    t.mock.timers.tick(99);
    assert.equal(client.transactions.length, 0);
    t.mock.timers.tick(1);
    assert.equal(client.transactions.length, 1);
    t.mock.timers.tick(100);
    assert.equal(client.transactions.length, 2);
  });

  test('start() rewrites every 10 ms at the least, and rounds ttl / 3 down', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    const tiny = presence(client, 12);
    tiny.start();
    t.after(() => tiny.stop());
    t.mock.timers.tick(9);
    assert.equal(client.transactions.length, 0);
    t.mock.timers.tick(1);
    assert.equal(client.transactions.length, 1);
    await tiny.stop();
    const other = new FakePresenceClient();
    const odd = presence(other, 35);
    odd.start();
    t.after(() => odd.stop());
    t.mock.timers.tick(10);
    assert.equal(other.transactions.length, 0);
    t.mock.timers.tick(1);
    assert.equal(other.transactions.length, 1, '35 / 3 rounds down to 11');
  });

  test('changed() writes 50 ms later, once for the changes in between; a later change writes again', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    const p = presence(client, 60_000);
    p.changed();
    t.mock.timers.tick(20);
    p.changed();
    t.mock.timers.tick(29);
    assert.equal(client.transactions.length, 0);
    t.mock.timers.tick(1);
    assert.equal(client.transactions.length, 1);
    t.mock.timers.tick(100);
    assert.equal(client.transactions.length, 1);
    p.changed();
    t.mock.timers.tick(50);
    assert.equal(client.transactions.length, 2);
  });

  test('changed() after stop() schedules nothing; stop() cancels a pending write and the interval', async (t) => {
    mockTime(t);
    const client = new FakePresenceClient();
    const p = presence(client, 300);
    p.start();
    p.changed();
    await p.stop();
    assert.deepEqual(client.transactions, [[['del', 'p:node:n1'], ['zrem', 'p:nodes', 'n1']]], 'stop() leaves at once');
    p.changed();
    t.mock.timers.tick(1000);
    assert.equal(client.transactions.length, 1);
  });

  test('its timers keep no process alive (both unref()ed), and stop() clears them', async (t) => {
    const made: NodeJS.Timeout[] = [];
    const cleared = new Set<unknown>();
    const realInterval = globalThis.setInterval;
    const realTimeout = globalThis.setTimeout;
    const realClearInterval = globalThis.clearInterval;
    const realClearTimeout = globalThis.clearTimeout;
    t.mock.method(globalThis, 'clearInterval', (timer: NodeJS.Timeout | undefined) => {
      cleared.add(timer);
      realClearInterval(timer);
    });
    t.mock.method(globalThis, 'clearTimeout', (timer: NodeJS.Timeout | undefined) => {
      cleared.add(timer);
      realClearTimeout(timer);
    });
    t.mock.method(globalThis, 'setInterval', (callback: () => void, ms: number) => {
      const timer = realInterval(callback, ms);
      made.push(timer);
      return timer;
    });
    t.mock.method(globalThis, 'setTimeout', (callback: () => void, ms: number) => {
      const timer = realTimeout(callback, ms);
      made.push(timer);
      return timer;
    });
    const p = presence(new FakePresenceClient(), 60_000);
    p.start();
    p.changed();
    assert.equal(made.length, 2);
    assert.deepEqual(made.map((timer) => timer.hasRef()), [false, false]);
    await p.stop();
    assert.deepEqual(made.map((timer) => cleared.has(timer)), [true, true]);
  });

  test('stop() while Redis is unreachable writes nothing; a failed leave is swallowed', async () => {
    const client = new FakePresenceClient();
    client.status = 'reconnecting';
    await presence(client).stop();
    assert.equal(client.transactions.length, 0);
    client.status = 'ready';
    client.failExec = true;
    await presence(client).stop();
    assert.equal(client.transactions.length, 1);
  });

  test("sum() counts this node's share from its own counts, not Redis's copy; a hash of its own that Redis lost is written again, and not forgotten", async () => {
    const client = new FakePresenceClient();
    client.ids = ['a', 'n1'];
    client.replies = [
      [null, ['4', '2']],
      [null, [null, null]],
    ];
    assert.equal(await presence(client).sum('t:room'), 4, "a's 2, and this node's own 2");
    assert.ok(!client.calls.some(([name]) => name === 'zrem'), 'this node is not removed from the set');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.transactions[0]?.[0]?.[0], 'del', 'its hash written whole again');
    const live = new FakePresenceClient();
    live.ids = ['n1'];
    live.replies = [[null, ['9', '9']]];
    assert.equal(await presence(live).sum('c'), 3, "its own count, not Redis's stale copy");
    assert.equal(live.transactions.length, 0, 'nothing to write');
    assert.equal(await presence(new FakePresenceClient()).sum('t:lobby'), 1, 'with no node in the set, its own share');
  });

  test('sum() adds a field over the live nodes; a node without the field counts 0; expired nodes are forgotten', async () => {
    const client = new FakePresenceClient();
    client.ids = ['a', 'b', 'c', 'd'];
    client.replies = [
      [null, ['4', '2']],
      [null, [null, null]],
      [null, ['1', null]],
      [null, ['7', '5']],
    ];
    assert.equal(await presence(client, 300, NONE).sum('t:room'), 7);
    assert.deepEqual(client.calls, [
      ['zrange', 'p:nodes', '0', '-1'],
      ['hmget', 'p:node:a', 'c', 't:room'],
      ['hmget', 'p:node:b', 'c', 't:room'],
      ['hmget', 'p:node:c', 'c', 't:room'],
      ['hmget', 'p:node:d', 'c', 't:room'],
      ['pipeline.exec'],
      ['zrem', 'p:nodes', 'b'],
    ]);
  });

  test('sum() with every node live removes nothing; with no node it is 0 without a pipeline', async () => {
    const client = new FakePresenceClient();
    client.ids = ['a'];
    client.replies = [[null, ['4', '4']]];
    assert.equal(await presence(client, 300, NONE).sum('c'), 4);
    assert.deepEqual(client.calls.map(([name]) => name), ['zrange', 'hmget', 'pipeline.exec']);
    const empty = new FakePresenceClient();
    empty.replies = null;
    assert.equal(await presence(empty, 300, NONE).sum('c'), 0);
    assert.deepEqual(empty.calls.map(([name]) => name), ['zrange']);
    const nullReply = new FakePresenceClient();
    nullReply.ids = ['a'];
    nullReply.replies = null;
    assert.equal(await presence(nullReply, 300, NONE).sum('c'), 0);
  });

  test('sum() fails with a BackplaneError while Redis is unreachable, or when a command fails (with the cause)', async () => {
    const client = new FakePresenceClient();
    client.status = 'reconnecting';
    await assert.rejects(presence(client, 300, NONE).sum('c'), (error: unknown) => error instanceof BackplaneError && /unreachable/.test(error.message));
    assert.deepEqual(client.calls, []);
    const failure = new Error('WRONGTYPE');
    const failing = new FakePresenceClient();
    failing.ids = ['a', 'b'];
    failing.replies = [
      [null, ['1', '1']],
      [failure, null],
    ];
    await assert.rejects(presence(failing, 300, NONE).sum('c'), (error: unknown) => error instanceof BackplaneError && error.cause === failure);
    assert.ok(!failing.calls.some(([name]) => name === 'zrem'));
    const broken = new FakePresenceClient();
    broken.zrangeError = failure;
    await assert.rejects(presence(broken, 300, NONE).sum('c'), (error: unknown) => error instanceof BackplaneError && error.cause === failure && /cluster-wide count failed/.test(error.message));
  });
});
